"""Stored category lists brought to the one form the rules compare (core.text), for the data
migrations that normalise what was saved before."""

from __future__ import annotations

from typing import Any

from . import text

BATCH = 1000


def normalise_lists(model: Any, field: str = "categories") -> None:
    """Normalise a model's comma-separated lists; those that would not fit are reported."""
    max_length = model._meta.get_field(field).max_length
    for row in model.objects.only("pk", field).iterator(chunk_size=BATCH):
        listed = getattr(row, field)
        normalised = text.category_text(listed)
        if normalised == listed:
            continue
        if max_length is not None and len(normalised) > max_length:
            print(
                f"\n  {model.__name__} {row.pk}: categories left as typed ({len(normalised)}"
                f" characters once normalised, at most {max_length}): shorten them in the admin"
            )
            continue
        model.objects.filter(pk=row.pk).update(**{field: normalised})
