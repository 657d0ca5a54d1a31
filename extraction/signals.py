"""Keep extraction in step with the reviews and screening apps without them importing us.

- A new review gets its extraction settings, default outcome domains and the
  default peer-support form.
- A record included at full text becomes a study at once; if that inclusion is
  withdrawn, a study without any extraction work is removed again (one with work
  stays, so nothing entered is lost).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from reviews.models import Review


@receiver(post_save, sender=Review, dispatch_uid="extraction_review_setup")
def _review_created(sender, instance: Review, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        from .services import extraction_setup

        extraction_setup(review=instance, actor=instance.created_by)


try:
    from screening.models import Resolution
except ImportError:  # pragma: no cover - screening is always installed in this project
    Resolution = None

if Resolution is not None:

    def _is_ft_include(resolution) -> bool:
        return resolution.stage == "ft" and resolution.decision == "include"

    @receiver(post_save, sender=Resolution, dispatch_uid="extraction_study_from_resolution")
    def _resolution_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
        if not raw and _is_ft_include(instance):
            from .services import studies_sync

            studies_sync(review=instance.review, actor=None)

    @receiver(post_delete, sender=Resolution, dispatch_uid="extraction_study_unincluded")
    def _resolution_deleted(sender, instance, **kwargs) -> None:
        if _is_ft_include(instance):
            from .services import study_report_withdraw

            study_report_withdraw(record_id=instance.record_id)
