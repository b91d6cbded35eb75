"""deploy/nginx.conf in front of two `make serve` processes: one site over one port."""

import asyncio
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websockets

from tests.servers import (
    ROOT,
    demo_shop_env,
    free_port,
    http_json,
    make_serve_command,
    running_server,
    token_for,
)
from tests.services import REDIS_URL, channel_prefix, needs_services, scratch_database

pytestmark = needs_services

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_config(site: str, *, listen: int, upstreams: list[int], workdir: Path) -> str:
    """Our site file, with this test's ports and paths, inside a minimal main config."""
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    site = re.sub(r"server 127\.0\.0\.1:810\d", "{upstream}", site)
    for port in upstreams:
        site = site.replace("{upstream}", f"server 127.0.0.1:{port}", 1)
    site = site.replace("/var/log/nginx/stockwire.access.log", str(workdir / "access.log"))
    temp = "\n".join(
        f"    {kind}_temp_path {workdir / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
worker_processes 1;
user root;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
{temp}
{site}
}}
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed (.ci/run installs Debian's nginx)")
    workdir = tmp_path_factory.mktemp("nginx")
    with scratch_database() as url:
        env = demo_shop_env(DATABASE_URL=url, REDIS_URL=REDIS_URL, CHANNEL_PREFIX=channel_prefix())
        with running_server(env, command=make_serve_command) as first:
            with running_server(env, command=make_serve_command) as second:
                port = free_port()
                upstreams = [int(s.url.rsplit(":", 1)[1]) for s in (first, second)]
                config = workdir / "nginx.conf"
                config.write_text(
                    nginx_config(
                        (ROOT / "deploy/nginx.conf").read_text(),
                        listen=port,
                        upstreams=upstreams,
                        workdir=workdir,
                    )
                )
                nginx = subprocess.Popen(
                    [NGINX, "-c", str(config), "-p", str(workdir)], stderr=subprocess.PIPE
                )
                try:
                    _wait_for(f"http://127.0.0.1:{port}/api/items", nginx)
                    yield f"http://127.0.0.1:{port}", (first, second), workdir
                finally:
                    nginx.terminate()
                    nginx.wait(timeout=10)


def _wait_for(url, process):
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "nginx did not answer"
            time.sleep(0.1)


async def test_sockets_through_nginx_are_spread_over_both_processes_and_all_get_a_purchase(site):
    base, servers, _ = site
    ws_base = base.replace("http://", "ws://")
    alice = token_for(base, "alice")
    sockets = [await websockets.connect(f"{ws_base}/ws/stock/?token={alice}") for _ in range(6)]
    try:
        for socket in sockets:
            assert json.loads(await socket.recv())["type"] == "hello"
            await socket.send(json.dumps({"action": "subscribe", "items": [7]}))
        snapshots = [json.loads(await socket.recv()) for socket in sockets]

        status, body = await asyncio.to_thread(
            http_json,
            "POST",
            f"{base}/api/items/7/purchase",
            {"quantity": 1},
            token_for(base, "bob"),
        )
        assert status == 201, body
        for socket, snapshot in zip(sockets, snapshots, strict=True):
            update = json.loads(await asyncio.wait_for(socket.recv(), 5))
            assert (update["item"], update["version"]) == (7, snapshot["version"] + 1)
    finally:
        for socket in sockets:
            await socket.close()

    for server in servers:
        accepted = server.log.read_text().count('"WebSocket /ws/stock/" [accepted]')
        assert accepted >= 2, f"{server.url} took {accepted} of 6 sockets"


def test_http_through_nginx_is_json_and_its_log_has_no_query_strings(site):
    base, _, workdir = site
    assert http_json("GET", f"{base}/api/items/1")[1]["id"] == 1
    status, body = http_json("GET", f"{base}/api/items/999999")
    assert (status, body["error"]) == (404, "not_found")
    urllib.request.urlopen(f"{base}/api/items?token=never-logged", timeout=5).close()

    log = (workdir / "access.log").read_text()
    assert "GET /api/items" in log
    assert "never-logged" not in log
