"""Staff issuing jobs get rounds and a resumable position; coupons record when they were
written (NULL for older rows) and the round of the job that issued them."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0006_categories_normalised_data"),
    ]

    operations = [
        # Added without a default so existing rows stay NULL; the default is Python's only.
        migrations.AddField(
            model_name="coupon",
            name="created_at",
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="coupon",
            name="created_at",
            field=models.DateTimeField(
                blank=True,
                db_index=True,
                default=django.utils.timezone.now,
                null=True,
                verbose_name="created",
            ),
        ),
        migrations.AddField(
            model_name="coupon",
            name="job_round",
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name="issuing round"),
        ),
        migrations.AddField(
            model_name="couponissuejob",
            name="issue_again",
            field=models.BooleanField(
                default=False,
                help_text=(
                    "Unticked: members who already got this template from an earlier job are"
                    " skipped."
                ),
                verbose_name="issue again to members who already got this template from a job",
            ),
        ),
        migrations.AddField(
            model_name="couponissuejob",
            name="last_member_id",
            field=models.BigIntegerField(
                default=0, editable=False, verbose_name="last member handled"
            ),
        ),
        migrations.AddField(
            model_name="couponissuejob",
            name="progressed_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="last progress"
            ),
        ),
        migrations.AddField(
            model_name="couponissuejob",
            name="round",
            field=models.PositiveIntegerField(
                default=0, editable=False, verbose_name="issuing round"
            ),
        ),
    ]
