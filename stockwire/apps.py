from django.apps import AppConfig


class StockwireConfig(AppConfig):
    name = "stockwire"
    verbose_name = "Stockwire live stock"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .signouts import connect_signals

        connect_signals()
