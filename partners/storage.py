"""Where partner documents live: `settings.PARTNER_DOCUMENTS_STORAGE`, private files on the
filesystem under var/ by default, an S3-compatible bucket through django-storages in
production (private ACL, signed URLs never handed out). Nothing here has a public URL:
documents are served by a view that checks who asks (partners.views.document_file)."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages


class PrivateFileSystemStorage(FileSystemStorage):
    """Files on disk that no URL points to."""

    def url(self, name: str | None) -> str:
        raise ValueError(
            "partner documents have no public URL: serve them through the checked view"
        )


@cache
def document_storage() -> Storage:
    return storages.create_storage(settings.PARTNER_DOCUMENTS_STORAGE)
