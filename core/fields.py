"""Model fields that store text in the form the program compares it (core.text)."""

from __future__ import annotations

from typing import Any

from django.core import exceptions
from django.db import models
from django.utils.translation import gettext_lazy as _

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

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        """The length that counts is the stored one: one ", " between names, and case folding
        can lengthen a name ("ß" is stored as "ss")."""
        super().validate(value, model_instance)
        stored = text.category_text(value or "")
        if self.max_length is not None and len(stored) > self.max_length:
            raise exceptions.ValidationError(
                _(
                    "Stored as one form per category with a comma and a space between, this "
                    "list has %(length)d characters: at most %(max)d."
                ),
                code="max_length",
                params={"length": len(stored), "max": self.max_length},
            )


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
