"""Complete, versioned archives of one review: export to a zip, import as a new review.

`export.review_export` and `restore.review_import` are the two entry points (the
management commands `export_review`/`import_review` and the lead's settings page call
them). Each app registers the tables it owns through :mod:`reviews.archive.registry`.
"""

from .format import FORMAT_VERSION, ArchiveError
from .registry import Table, register_exclusion, register_tables
from .users import UserExtra, register_user_extra

__all__ = [
    "FORMAT_VERSION",
    "ArchiveError",
    "Table",
    "UserExtra",
    "register_exclusion",
    "register_tables",
    "register_user_extra",
]
