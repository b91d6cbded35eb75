"""Failed logins leave a trace an operator can act on: the username tried and the client's
address, on every login path (the API's token, the login page, the admin). Never the password
(Django's signal has already masked it) and never a token."""

import logging

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

logger = logging.getLogger("stockwire.shop.logins")


@receiver(user_login_failed)
def log_failed_login(sender, credentials, request=None, **kwargs) -> None:
    client = request.META.get("REMOTE_ADDR", "-") if request is not None else "-"
    path = request.path if request is not None else "-"
    logger.warning(
        "login failed: username=%r client=%s path=%s", credentials.get("username"), client, path
    )
