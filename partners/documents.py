"""Uploaded documents: the type is read from the content (never the name or the browser's
claim), the size is limited, the content is checksummed; an upload that fails any check is
refused before anything is stored, and files stored by a write that fails later are removed
(`files_cleaned_on_error`)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .errors import PartnerError
from .models import Document, PartnerProgram
from .storage import document_storage

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", WEBP: "webp"}
IMAGES = (PNG, JPEG, WEBP)

ALLOWED: dict[str, tuple[str, ...]] = {
    Document.Kind.BUSINESS_LICENCE: (PDF, *IMAGES),
    Document.Kind.CONTRACT: (PDF, *IMAGES),
    Document.Kind.IDENTITY: (PDF, *IMAGES),
    Document.Kind.IDENTITY_SECOND: IMAGES,
    Document.Kind.PRESENTATION: (PDF,),
}
LABELS = {PDF: "PDF", PNG: "PNG", JPEG: "JPEG", WEBP: "WebP"}


def sniff(head: bytes) -> str | None:
    """The type of a file from its first bytes (its "magic number"), or None."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


@dataclass(frozen=True)
class CheckedUpload:
    name: str
    content: bytes
    content_type: str
    sha256: str


def upload_check(upload: Any, *, kind: str, field: str) -> CheckedUpload:
    """Read and check an uploaded file (a Django UploadedFile); refuse it beside `field`."""
    limit = PartnerProgram.load().max_document_mb * 1024 * 1024
    if upload is None:
        raise PartnerError("document_missing", _("Choose a file to upload."), field)
    if upload.size is not None and upload.size > limit:
        raise PartnerError(
            "document_too_large",
            _("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
            field,
        )
    content = b"".join(upload.chunks())
    if len(content) > limit:
        raise PartnerError(
            "document_too_large",
            _("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
            field,
        )
    if not content:
        raise PartnerError("document_empty", _("The file is empty."), field)
    content_type = sniff(content[:16])
    allowed = ALLOWED[kind]
    if content_type not in allowed:
        raise PartnerError(
            "document_type",
            _("This file is not a %(types)s file (its content was checked, not its name).")
            % {"types": " / ".join(LABELS[t] for t in allowed)},
            field,
        )
    name = str(getattr(upload, "name", "") or "document")[-200:]
    return CheckedUpload(name, content, content_type, hashlib.sha256(content).hexdigest())


_STORED: ContextVar[list[str] | None] = ContextVar("partner_documents_stored", default=None)


@contextmanager
def files_cleaned_on_error() -> Iterator[None]:
    """Files stored within the block are deleted if the block raises (the rows that named
    them are rolled back with the transaction)."""
    names: list[str] = []
    token = _STORED.set(names)
    try:
        yield
    except BaseException:
        storage = document_storage()
        for name in names:
            storage.delete(name)
        raise
    finally:
        _STORED.reset(token)


def document_store(
    *,
    checked: CheckedUpload,
    kind: str,
    provider_id: int,
    uploaded_by_id: int,
    application_id: int | None = None,
) -> Document:
    """Store a checked upload under a random name and record it."""
    now = timezone.now()
    name = f"partners/{now:%Y/%m}/{secrets.token_hex(16)}.{EXTENSIONS[checked.content_type]}"
    stored = document_storage().save(name, ContentFile(checked.content))
    collected = _STORED.get()
    if collected is not None:
        collected.append(stored)
    return Document.objects.create(
        provider_id=provider_id,
        application_id=application_id,
        kind=kind,
        file=stored,
        original_name=checked.name,
        content_type=checked.content_type,
        size=len(checked.content),
        sha256=checked.sha256,
        uploaded_by_id=uploaded_by_id,
    )
