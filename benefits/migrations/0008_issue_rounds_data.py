"""Each existing staff job becomes its own round of its template (the first job of a template,
by creation, is its ordinary round 0), and its coupons carry that round. A job that was not
done keeps its counters; its position is the highest member it issued to."""

from django.db import migrations
from django.db.models import Max


def assign(apps, schema_editor):
    Job = apps.get_model("benefits", "CouponIssueJob")
    Coupon = apps.get_model("benefits", "Coupon")
    rounds: dict[int, int] = {}
    for job in Job.objects.order_by("created_at", "pk"):
        number = rounds.get(job.template_id, 0)
        rounds[job.template_id] = number + 1
        last = Coupon.objects.filter(job_id=job.pk).aggregate(m=Max("member_id"))["m"] or 0
        Job.objects.filter(pk=job.pk).update(round=number, last_member_id=last)
        Coupon.objects.filter(job_id=job.pk).update(job_round=number)


def unassign(apps, schema_editor):
    apps.get_model("benefits", "Coupon").objects.update(job_round=None)
    apps.get_model("benefits", "CouponIssueJob").objects.update(round=0, last_member_id=0)


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0007_issue_rounds_and_created_at"),
    ]

    operations = [migrations.RunPython(assign, unassign)]
