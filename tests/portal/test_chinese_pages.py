"""Every member page in Simplified Chinese: the navigation shows no English label."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from members.models import Member
from portal.context_processors import MEMBER_NAV

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
    assert reverse("portal:inbox") == "/me/inbox/"


def test_preset_names_read_in_chinese_and_admin_names_as_typed(member: Member) -> None:
    from loyalty.program.models import Tier

    member.language = "zh-hans"
    member.save()
    client = Client()
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"
    html = client.get("/me/how-points-work/").content.decode()
    assert "黄金会员" in html and "钻石会员" in html  # preset tier names, translated
    assert "购物" in html  # the shopping rule's name
    assert ">Gold<" not in html
    Tier.objects.filter(code="gold").update(name="Gold Club")  # an administrator's own name
    html = client.get("/me/how-points-work/").content.decode()
    assert "Gold Club" in html and "黄金会员" not in html
    english = Client()
    english.force_login(member)
    english.cookies["django_language"] = "en"
    member.language = "en"
    member.save()
    assert "Diamond" in english.get("/me/how-points-work/").content.decode()
