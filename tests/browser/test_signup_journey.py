"""A newcomer signs up, verifies by the emailed link, logs in, edits the profile, logs out."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-and-unusual-passphrase-42"


def test_newcomer_journey(live_server, page, shoot) -> None:
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("link", name="Join for free").click()
    page.get_by_label("Email").fill("newbie@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    shoot(page, "signup-form")
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))
    assert "Verify Your Email Address" in page.content()

    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body)
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirm").click()

    # Verified and logged in: the dashboard shows the new member's number.
    page.wait_for_url(re.compile(r"/me/$"))
    member = Member.objects.get(email="newbie@example.com")
    assert page.get_by_test_id("member-number").inner_text() == member.number
    assert page.get_by_test_id("completeness").inner_text() == "33% complete"

    # Log out, then log in again with the password.
    page.get_by_role("button", name="Sign out").click()
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill("newbie@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/me/$"))

    # Edit the profile; a bad birthday is shown beside its field and keeps the input.
    page.get_by_role("link", name="Profile", exact=True).click()
    page.get_by_label("Name").fill("Nina Newbie")
    page.get_by_label("Birthday").fill("2999-01-01")
    page.get_by_role("button", name="Save").click()
    error = page.locator("#id_birthday_error")
    assert "cannot be in the future" in error.inner_text()
    assert page.get_by_label("Name").input_value() == "Nina Newbie"
    shoot(page, "profile-error")

    page.get_by_label("Birthday").fill("1994-08-09")
    page.get_by_role("button", name="Save").click()
    assert "Your profile was saved." in page.content()

    page.get_by_role("link", name="Dashboard", exact=True).click()
    assert page.get_by_test_id("completeness").inner_text() == "100% complete"
    assert "Hello, Nina Newbie" in page.content()
    shoot(page, "dashboard-desktop")
    page.set_viewport_size({"width": 375, "height": 812})
    shoot(page, "dashboard-phone")

    page.get_by_role("button", name="Sign out").click()
    page.goto(base + "/me/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    member.refresh_from_db()
    assert member.name == "Nina Newbie"
