"""Store: SQLAlchemy models, migrations, content-addressed recordings, the hash-chained audit log.

The store knows only its own models; the workflow decides what to write and when. The model modules of
the other areas (claims, jobs, monitoring ...) load where they are used; ``models.load_all_models()``
gives the metadata with every table.
"""

from ecgdesk.store import models
from ecgdesk.store.audit import (
    AuditProblem,
    AuditReport,
    append,
    append_many,
    append_or_defer,
    canonical_json,
    verify,
)
from ecgdesk.store.blobs import StoredBlob, file_sha256, put_files
from ecgdesk.store.db import Store, default_home, default_url, open_store, serialise
from ecgdesk.store.enums import EditKind, Role, StudyStatus

__all__ = [
    "AuditProblem",
    "AuditReport",
    "EditKind",
    "Role",
    "Store",
    "StoredBlob",
    "StudyStatus",
    "append",
    "append_many",
    "append_or_defer",
    "canonical_json",
    "default_home",
    "default_url",
    "file_sha256",
    "models",
    "open_store",
    "put_files",
    "serialise",
    "verify",
]
