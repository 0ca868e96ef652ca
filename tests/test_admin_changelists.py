"""Every model in the admin lists and searches for staff (a smoke test over the whole
registry, so a new admin cannot ship with a broken list or search)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

ADMINS = {
    f"{model._meta.app_label}.{model._meta.model_name}": model_admin
    for model, model_admin in admin.site._registry.items()
}


@pytest.mark.parametrize("label", sorted(ADMINS))
def test_changelist_and_search_render(admin_client: Client, label: str) -> None:
    model = ADMINS[label].model
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert admin_client.get(url).status_code == 200
    if ADMINS[label].search_fields:
        assert admin_client.get(url, {"q": "nothing-matches-this"}).status_code == 200
