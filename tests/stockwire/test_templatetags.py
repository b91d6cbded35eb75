"""`{% load stockwire %}{% stockwire_script %}` in any template."""

from pathlib import Path

from django.contrib.staticfiles import finders
from django.template import Context, Template


def render(source: str) -> str:
    return Template("{% load stockwire %}" + source).render(Context())


def test_the_script_tag_loads_the_client_from_static_files_and_connects_by_itself():
    assert render("{% stockwire_script %}") == (
        '<script src="/static/stockwire/stockwire.js" defer data-autoconnect></script>'
    )


def test_a_page_that_connects_itself_gets_the_script_without_autoconnect():
    assert "autoconnect" not in render("{% stockwire_script autoconnect=False %}")


def test_the_client_is_a_static_file_of_the_app_that_collectstatic_finds():
    found = finders.find("stockwire/stockwire.js")
    assert found is not None and "window.Stockwire" in Path(found).read_text()
