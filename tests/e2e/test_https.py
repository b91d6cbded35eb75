"""Behind a TLS proxy: X-Forwarded-Proto is believed from the trusted proxy only."""

import urllib.error
import urllib.request

import pytest

from tests.servers import demo_shop_env, running_server


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_of(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize(
    ("trusted_proxies", "believed"), [("127.0.0.1", True), ("10.9.9.9", False)]
)
def test_a_forwarded_proto_counts_only_from_a_trusted_proxy(tmp_path, trusted_proxies, believed):
    env = demo_shop_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        HTTPS="true",
        TRUSTED_PROXIES=trusted_proxies,
    )
    with running_server(env, ready_path="/healthz") as server:
        assert status_of(f"{server.url}/api/items") == 301  # plain HTTP: to HTTPS
        forwarded = status_of(f"{server.url}/api/items", **{"X-Forwarded-Proto": "https"})
        assert forwarded == (200 if believed else 301)
        assert status_of(f"{server.url}/healthz") == 200  # probes stay on plain HTTP
