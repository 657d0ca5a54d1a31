"""File storage that never leaves half a file behind (disk full, directory unwritable)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from typing import Any

from django.core.files.storage import FileSystemStorage

__all__ = ["AtomicFileSystemStorage"]


class AtomicFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose files appear whole or not at all.

    Django's storage writes straight into the final name, so a full disk leaves a
    truncated upload that a later import or PDF view would read as real. Here the bytes
    go to a hidden temporary file in the same directory, which is hard-linked under the
    final name only once completely written (and removed whatever happens).
    """

    def _save(self, name: str, content: Any) -> str:
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        if self.directory_permissions_mode is not None:
            os.chmod(directory, self.directory_permissions_mode)
        if hasattr(content, "temporary_file_path"):
            # A complete file already on disk (a large upload, an import's spill): a hard
            # link gives it its name at once instead of copying hundreds of megabytes.
            linked = self._link(name, content.temporary_file_path())
            if linked is not None:
                return linked
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                if hasattr(content, "seek"):
                    with contextlib.suppress(AttributeError, OSError, ValueError):
                        content.seek(0)
                for chunk in content.chunks():
                    out.write(chunk)
            while True:
                try:
                    os.link(tmp_path, full_path)  # fails, rather than overwrites, if taken
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
                except OSError as exc:
                    if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                        raise
                    # A filesystem without hard links: a rename is still all-or-nothing.
                    if os.path.exists(full_path):
                        name = self.get_available_name(name)
                        full_path = self.path(name)
                    os.replace(tmp_path, full_path)
                    break
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)
        if self.file_permissions_mode is not None:
            os.chmod(full_path, self.file_permissions_mode)
        return str(name).replace("\\", "/")

    def _link(self, name: str, source: str) -> str | None:
        """Link `source` under `name` (or a free variant); None when it cannot be linked
        (another file system, no hard links), and the caller copies it."""
        full_path = self.path(name)
        while True:
            try:
                os.link(source, full_path)
                break
            except FileExistsError:
                name = self.get_available_name(name)
                full_path = self.path(name)
            except OSError as exc:
                if exc.errno in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    return None
                raise
        if self.file_permissions_mode is not None:
            os.chmod(full_path, self.file_permissions_mode)
        return str(name).replace("\\", "/")
