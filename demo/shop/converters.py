"""URL converters shared by the API and the pages."""

from django.urls import register_converter


class IdConverter:
    """A positive id that fits a 64-bit key; anything else is an unknown URL, not a crash."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "item_id")
register_converter(IdConverter, "hold_id")
register_converter(IdConverter, "alert_id")
