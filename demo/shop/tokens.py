"""A user's refresh tokens end with their password or their account: a password change or a
deactivation blacklists every refresh token issued to them (simplejwt's blacklist). Access
tokens need no list: they carry a hash of the password (CHECK_REVOKE_TOKEN) and simplejwt
refuses an inactive user's."""

from django.conf import settings
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def note_revoking_change(sender, instance, **kwargs) -> None:
    if instance.pk is None:
        return
    before = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    instance._revokes_tokens = before is not None and (
        before["password"] != instance.password or (before["is_active"] and not instance.is_active)
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def revoke_refresh_tokens(sender, instance, created, **kwargs) -> None:
    if created or not getattr(instance, "_revokes_tokens", False):
        return
    outstanding = OutstandingToken.objects.filter(user=instance).exclude(
        blacklistedtoken__isnull=False
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
