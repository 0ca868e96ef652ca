"""No index on the account's tier: no query looks accounts up by tier, and without it the
monthly job's update of a moved member's tier can be HOT (no index entries to add)."""

from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):

    dependencies = [
        ("loyalty", "0012_tierchange_member_key_via_account"),
    ]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="tier",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="loyalty.tier",
                verbose_name="tier",
            ),
        ),
    ]
