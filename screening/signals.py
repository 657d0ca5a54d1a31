"""Audit of the blinding switch, wherever it is flipped (this app's page or the review form)."""

from __future__ import annotations

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from reviews.models import Review


@receiver(pre_save, sender=Review, dispatch_uid="screening_blinding_pre_save")
def _remember_blinding(sender, instance: Review, **kwargs) -> None:
    if instance.pk is None:
        instance._blinding_changed = False
        return
    old = Review.objects.filter(pk=instance.pk).values_list("blinded", flat=True).first()
    instance._blinding_changed = old is not None and old != instance.blinded


@receiver(post_save, sender=Review, dispatch_uid="screening_blinding_post_save")
def _log_blinding(sender, instance: Review, created: bool, **kwargs) -> None:
    if created or not getattr(instance, "_blinding_changed", False):
        return
    from .services import blinding_log

    # The actor is known when the change came through screening.services.blinding_set;
    # a change saved by another form is still logged, without an actor.
    blinding_log(
        instance, blinded=instance.blinded, actor=getattr(instance, "_blinding_actor", None)
    )
    instance._blinding_changed = False
