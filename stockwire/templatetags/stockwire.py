"""`{% load stockwire %}{% stockwire_script %}`: the live stock client for any template.

The script keeps every `data-stock-item` element of the page current, counts the page's
`data-view-item` items as viewed and shows their viewers in `data-presence-item` elements.
"""

from django import template
from django.templatetags.static import static
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def stockwire_script(autoconnect: bool = True) -> str:
    """The client's script tag; with autoconnect=False the page calls Stockwire.connect()."""
    return format_html(
        '<script src="{}" defer{}></script>',
        static("stockwire/stockwire.js"),
        " data-autoconnect" if autoconnect else "",
    )
