"""Stale files in the media storage: old review archives, orphaned and half-written uploads.

Nothing else deletes them: an archive export stays for its download link, an upload whose
preview failed (or a CSV whose mapping was never chosen) stays where the request stored it,
a replaced full-text PDF stays beside the new one, and a process killed inside
``AtomicFileSystemStorage._save`` leaves its ``.upload-*.part``. ``files_cleanup`` (run by
``manage.py cleanup_files``, daily from a timer: docs/deploy.md) deletes those older than a
cutoff, and discards import previews left unconfirmed that long. It never deletes a file a
model's ``FileField`` names (an import batch awaiting confirmation, an imported export, a
full text), nor one a queued or running job's parameters name.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.files.storage import Storage, default_storage
from django.db import models
from django.utils import timezone

from . import services
from .errors import ConflictError
from .models import ImportBatch, Job

# Deleted once old, whatever names them: archives a lead downloads within days, and
# uploaded archives an import job reads (and deletes) at once.
TEMPORARY = {"exports": "review archive", "archives/incoming": "uploaded archive"}
# Deleted once old and named by no model's file field and no unfinished job.
UPLOADS = {"imports": "import upload", "fulltexts": "full-text PDF"}
PARTIAL_PREFIX, PARTIAL_SUFFIX = ".upload-", ".part"  # AtomicFileSystemStorage's temporary
IMPORT_CONFIRM = "import_confirm"


@dataclass(frozen=True)
class StaleFile:
    name: str  # the storage name, e.g. "exports/3/41/peer-support-2026-01-02.zip"
    kind: str  # "review archive", "import upload", "partial upload"...
    size: int
    modified: dt.datetime


@dataclass
class CleanupReport:
    files: list[StaleFile] = field(default_factory=list)
    previews: list[ImportBatch] = field(default_factory=list)  # discarded
    dry_run: bool = False

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


def _walk(storage: Storage, directory: str) -> Iterator[str]:
    """Every file under ``directory`` (a storage name), depth first."""
    try:
        subdirs, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield posixpath.join(directory, name)
    for sub in subdirs:
        yield from _walk(storage, posixpath.join(directory, sub))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _unfinished_jobs() -> list[Job]:
    return list(Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]))


def _referenced(jobs: list[Job]) -> set[str]:
    """Storage names that a model's file field or an unfinished job's parameters hold."""
    names: set[str] = set()
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if isinstance(f, models.FileField):
                values = model._default_manager.exclude(**{f.name: ""}).values_list(f.name)
                names.update(name for (name,) in values.iterator() if name)
    for job in jobs:
        names.update(_strings(job.params))
    return names


def _partial(name: str) -> bool:
    base = posixpath.basename(name)
    return base.startswith(PARTIAL_PREFIX) and base.endswith(PARTIAL_SUFFIX)


def stale_files(*, older_than: dt.timedelta, storage: Storage = default_storage) -> list[StaleFile]:
    """The files ``files_cleanup`` would delete now, oldest first."""
    cutoff = timezone.now() - older_than
    jobs = _unfinished_jobs()
    # Unfinished jobs only for the temporary areas: an archive export names its file once
    # it succeeded, and that is the file to delete a week later.
    running = {name for job in jobs for name in _strings(job.params)}
    referenced = _referenced(jobs)
    found: list[StaleFile] = []
    for prefix, kind in (*TEMPORARY.items(), *UPLOADS.items()):
        keep = running if prefix in TEMPORARY else referenced
        for name in _walk(storage, prefix):
            if name in keep:
                continue
            modified = storage.get_modified_time(name)
            if modified >= cutoff:
                continue
            label = "partial upload" if _partial(name) else kind
            found.append(StaleFile(name, label, storage.size(name), modified))
    found.sort(key=lambda f: f.modified)
    return found


def stale_previews(*, older_than: dt.timedelta) -> list[ImportBatch]:
    """Import previews nobody confirmed or discarded for longer than ``older_than`` and no
    queued or running job is confirming."""
    confirming = {
        job.params.get("batch_id")
        for job in _unfinished_jobs()
        if job.kind == IMPORT_CONFIRM and isinstance(job.params, dict)
    }
    batches = ImportBatch.objects.filter(
        status=ImportBatch.Status.PREVIEW, created_at__lt=timezone.now() - older_than
    ).select_related("review")
    return [b for b in batches.order_by("created_at", "pk") if b.pk not in confirming]


def files_cleanup(
    *, older_than: dt.timedelta, dry_run: bool = False, storage: Storage = default_storage
) -> CleanupReport:
    """Discard stale import previews, then delete the stale files (see the module's doc).

    Previews go first: discarding one deletes its upload and parse spill, so they are not
    counted twice. With ``dry_run`` nothing changes and the report lists what would.
    """
    report = CleanupReport(dry_run=dry_run)
    for batch in stale_previews(older_than=older_than):
        if not dry_run:
            try:
                services.import_discard(batch=batch, actor=None)
            except ConflictError:  # confirmed or discarded meanwhile
                continue
        report.previews.append(batch)
    # A preview's files stay named by its batch in a dry run: they are not listed twice.
    files = stale_files(older_than=older_than, storage=storage)
    if dry_run:
        report.files = files
        return report
    for stale in files:
        try:
            storage.delete(stale.name)
        except OSError:
            continue
        report.files.append(stale)
        _prune_empty_dirs(storage, posixpath.dirname(stale.name))
    return report


def _prune_empty_dirs(storage: Storage, directory: str) -> None:
    """Remove the directories a deletion left empty, up to the area's root (``exports``)."""
    roots = set(TEMPORARY) | set(UPLOADS)
    while directory and directory not in roots:
        try:
            os.rmdir(storage.path(directory))  # refused if the directory is not empty
        except (NotImplementedError, OSError):  # a storage without paths; not empty
            return
        directory = posixpath.dirname(directory)


def describe(stale: StaleFile) -> str:
    """One line for the command's output."""
    return f"{stale.modified:%Y-%m-%d} {stale.size:>12,} {stale.kind:<16} {stale.name}"
