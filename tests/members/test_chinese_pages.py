"""Every member page in Simplified Chinese: the navigation shows no English label."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from members.context_processors import MEMBER_NAV
from members.models import Member

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("program")]

PAGES = [
    "/me/",
    "/me/inbox/",
    "/me/tier/",
    "/me/points/",
    "/me/coupons/",
    "/me/how-points-work/",
    "/me/profile/",
    "/accounts/email/",
    "/accounts/password/change/",
    "/accounts/2fa/",
]


def test_every_member_page_in_chinese_has_a_translated_nav(member: Member) -> None:
    member.language = "zh-hans"
    member.save()
    client = Client()
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"
    english = [str(label) for _name, label in MEMBER_NAV]
    with translation.override("zh-hans"):
        chinese = [str(label) for _name, label in MEMBER_NAV]
    assert "会员首页" in chinese and "消息" in chinese
    for url in PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        nav = html[
            html.index('class="member-nav"') : html.index(
                "</nav>", html.index('class="member-nav"')
            )
        ]
        labels = [
            re.sub(r"<[^>]+>|\s+\d+.*", "", a).strip()
            for a in re.findall(r"<a [^>]*>(.*?)</a>", nav)
        ]
        assert labels == chinese, url
        assert not set(labels) & set(english), url
    assert reverse("members:inbox") == "/me/inbox/"
