"""Model fields that store text in the form the program compares it (core.text)."""

from __future__ import annotations

from typing import Any

from django.db import models

from . import text


class CategoryListField(models.CharField):  # type: ignore[type-arg]
    """A comma-separated list of categories, stored normalised ("Shoes,　Bags" is stored as
    "shoes, bags") on every write: save, bulk_create and update."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = text.category_text(getattr(model_instance, self.attname) or "")
        setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return text.category_text(value) if isinstance(value, str) else value


class CategoriesField(models.JSONField):  # type: ignore[type-arg]
    """A JSON list of categories (an order's), stored normalised, distinct and sorted."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if isinstance(value, list | tuple):
            value = text.categories(str(v) for v in value)
            setattr(model_instance, self.attname, value)
        return value

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            value = text.categories(str(v) for v in value)
        return super().get_prep_value(value)
