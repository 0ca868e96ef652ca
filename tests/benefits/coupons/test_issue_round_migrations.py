"""Migrations benefits 0007-0009 and loyalty 0020-0021, members 0004-0005: existing staff jobs
become rounds of their own (so the incident's double coupons fit the new constraint), and the
data migrations reverse."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("benefits", "0006_categories_normalised_data"),
    ("members", "0003_dashboard_page_versions"),
    ("loyalty", "0019_drop_order_receive_function"),
]
AFTER = [
    ("benefits", "0009_issue_round_constraints"),
    ("members", "0005_notices_emailed_data"),
    ("loyalty", "0021_tierrunchunk_follow_ups_data"),
]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_jobs_become_rounds_and_notices_are_marked_emailed() -> None:
    try:
        apps = _migrate(BEFORE)
        member_model = apps.get_model("members", "Member")
        members = [
            member_model.objects.create(email=f"m{i}@example.com", number=f"10000000{i:02d}")
            for i in range(3)
        ]
        template = apps.get_model("benefits", "CouponTemplate").objects.create(
            code="sorry", name="Sorry", kind="amount_off", value=5, currency="EUR", valid_days=30
        )
        job_model = apps.get_model("benefits", "CouponIssueJob")
        coupon_model = apps.get_model("benefits", "Coupon")
        now = timezone.now()
        jobs = [
            job_model.objects.create(template=template, reason=f"job {i}", status="done")
            for i in range(2)
        ]
        for job in jobs:  # the incident: both jobs issued to every member
            for member in members:
                coupon_model.objects.create(
                    code=f"C{job.pk}-{member.pk}",
                    member=member,
                    template=template,
                    occasion="manual",
                    job=job,
                    valid_from=now,
                    valid_until=now + timedelta(days=30),
                    reason="x",
                )
        apps.get_model("members", "Notice").objects.create(
            member=members[0], kind="tier_changed", key="tier:x", created_at=now
        )

        run = apps.get_model("loyalty", "TierRun").objects.create(
            period=now.date().replace(day=1),
            as_of=now.date(),
            window_start=now - timedelta(days=365),
            window_end=now,
            effective_on=now.date(),
            status="done",
            finished_at=now,
        )
        chunks = apps.get_model("loyalty", "TierRunChunk").objects
        chunks.create(run=run, first_member_id=1, end_member_id=10, done=True)
        chunks.create(run=run, first_member_id=10, end_member_id=20, done=False)

        apps = _migrate(AFTER)
        chunk_flags = apps.get_model("loyalty", "TierRunChunk").objects.order_by("first_member_id")
        assert list(chunk_flags.values_list("rewards_done", "notices_done", "done_at")) == [
            (True, True, now),
            (False, False, None),
        ]
        job_model = apps.get_model("benefits", "CouponIssueJob")
        assert list(job_model.objects.order_by("pk").values_list("round", "last_member_id")) == [
            (0, members[-1].pk),
            (1, members[-1].pk),
        ]
        rounds = apps.get_model("benefits", "Coupon").objects.values_list("job_id", "job_round")
        assert {(job_id, r) for job_id, r in rounds} == {(jobs[0].pk, 0), (jobs[1].pk, 1)}
        assert apps.get_model("benefits", "Coupon").objects.filter(created_at=None).count() == 6
        notice = apps.get_model("members", "Notice").objects.get()
        assert notice.emailed_at == notice.created_at

        apps = _migrate(BEFORE)  # and back
        assert apps.get_model("benefits", "Coupon").objects.count() == 6
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())  # the latest, for the tests after
