"""A user's sockets end with their login, on every process, with 4401 (log in again).

A logout closes the sockets of that session; a deactivation or deletion of the user closes
every socket of theirs, cookie and token alike (a token outlives neither: a new socket with
it is refused). Connected to Django's own signals by StockwireConfig.ready, so a shop needs
no code: any logout through django.contrib.auth.logout, any save of an inactive user.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save

from .auth import session_digest
from .publish import sign_out


def connect_signals() -> None:
    user_logged_out.connect(logged_out, dispatch_uid="stockwire.signouts.logged_out")
    post_save.connect(
        saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="stockwire.signouts.saved"
    )
    post_delete.connect(
        deleted, sender=settings.AUTH_USER_MODEL, dispatch_uid="stockwire.signouts.deleted"
    )


def logged_out(sender, request, user, **kwargs) -> None:
    # Sent before the session is flushed: its key is still the one the sockets opened with.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        sign_out(user.pk, session_digest(session_key))


def saved(sender, instance, created, using, **kwargs) -> None:
    # Every save of an inactive user, not only the one that deactivated it: finding out which
    # would cost a query on every save of any user (a login saves last_login).
    if not created and not getattr(instance, "is_active", True):
        sign_out(instance.pk, using=using)


def deleted(sender, instance, using, **kwargs) -> None:
    sign_out(instance.pk, using=using)
