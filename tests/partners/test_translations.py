"""Every string a partner or an auditor sees has its Simplified Chinese (partners/locale)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from members.models import Member

from .conftest import owner_of, register

PO = Path(__file__).resolve().parents[2] / "partners/locale/zh_Hans/LC_MESSAGES/django.po"


def entries() -> list[tuple[str, str, bool]]:
    found = []
    for block in PO.read_text().split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if msgid and msgstr:
            join = lambda m: "".join(re.findall(r'"(.*)"', m.group(1)))  # noqa: E731
            found.append((join(msgid), join(msgstr), "#, fuzzy" in block))
    return found


def test_every_partner_string_is_translated() -> None:
    missing = [mid for mid, text, fuzzy in entries() if mid and (not text or fuzzy)]
    assert missing == []
    assert len(entries()) > 300


def test_the_compiled_catalogue_matches_the_source() -> None:
    """The committed .mo says what the .po says (CI has no gettext: read it with Python's)."""
    with PO.with_suffix(".mo").open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    for msgid, text, _fuzzy in entries():
        if msgid:
            unescaped = msgid.replace('\\"', '"')
            assert catalogue.gettext(unescaped) == text.replace('\\"', '"'), msgid


@pytest.mark.django_db
def test_the_roadmap_in_chinese() -> None:
    member: Member = owner_of(register())
    client = Client()
    client.force_login(member)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("partners:home"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "您的认证路线图" in html
    assert "等待工作人员审核。" in html
    assert "服务商入驻" in html
