"""One coupon per member per template and issuing round; the old one-per-job constraint is
implied by it (a job has one template and one round) and dropped."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0008_issue_rounds_data"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="coupon",
            constraint=models.UniqueConstraint(
                condition=models.Q(("job_round__isnull", False)),
                fields=("template", "job_round", "member"),
                name="coupon_once_per_template_round",
            ),
        ),
        migrations.AddConstraint(
            model_name="coupon",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("job__isnull", True), ("job_round__isnull", True)),
                    models.Q(("job__isnull", False), ("job_round__isnull", False)),
                    _connector="OR",
                ),
                name="coupon_job_has_round",
            ),
        ),
        migrations.RemoveConstraint(
            model_name="coupon",
            name="coupon_once_per_issue_job",
        ),
    ]
