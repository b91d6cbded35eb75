from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Shop"

    def ready(self) -> None:
        from . import logins, tokens  # noqa: F401  (logs failed logins; revokes tokens)
