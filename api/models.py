"""Personal API tokens. Only a hash of the key is stored: the key is shown once, at creation."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models

TOKEN_PREFIX_LEN = 8


def token_hash(key: str) -> str:
    """SHA-256 of the key. Keys are 256 random bits, so a plain fast hash is enough here
    (a slow password hash protects low-entropy secrets; this one cannot be guessed)."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “R script”.")
    # The first characters of the key, to tell tokens apart on the page; not a secret.
    prefix = models.CharField(max_length=TOKEN_PREFIX_LEN)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_user_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DecisionsImport(models.Model):
    """One import of another tool's screening decisions, as the lead confirmed it: the
    history row of the Activity log, keeping the whole report (votes read, written and not
    written, per reviewer and round or stage, and every vote left out with the reason)."""

    review = models.ForeignKey(
        "reviews.Review", on_delete=models.CASCADE, related_name="decisions_imports"
    )
    batch = models.ForeignKey(
        "reviews.ImportBatch", on_delete=models.PROTECT, related_name="decisions_imports"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    tool = models.CharField(max_length=20)
    options = models.JSONField(default=dict, blank=True)
    report = models.JSONField(default=dict, blank=True)
    n_read = models.PositiveIntegerField(default=0)
    n_written = models.PositiveIntegerField(default=0)
    n_not_written = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["review", "at"], name="api_decisions_review_at")]

    def __str__(self) -> str:
        return f"{self.tool} decisions from {self.batch_id} ({self.n_written}/{self.n_read})"
