from django.apps import AppConfig


class StockwireConfig(AppConfig):
    name = "stockwire"
    # Its own, so its migrations never depend on the project's DEFAULT_AUTO_FIELD.
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Stockwire live stock"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .signouts import connect_signals

        connect_signals()
