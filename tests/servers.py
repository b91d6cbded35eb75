"""Real Stockwire server processes for tests: uvicorn on a free 127.0.0.1 port, stopped after."""

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg

from bench.procs import started
from tests.services import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "stockwire-live-tests-only-not-a-secret-0123456789abcdefghijklmnop"
# Prometheus' bearer token for /metrics on the test servers (scrape_metrics).
METRICS_TOKEN = "stockwire-live-tests-metrics-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(SECRET_KEY=SECRET_KEY, DEBUG="false", ALLOWED_HOSTS="127.0.0.1,localhost")
    # The demo project is not installed: its server imports it from the repository.
    env["PYTHONPATH"] = str(ROOT / "demo")
    env.setdefault("PURCHASE_RATE", "100000/min")
    env.setdefault("REGISTER_RATE", "100000/min")
    # Load tests open thousands of sockets as one demo user; the limit has its own test.
    env.setdefault("MAX_SOCKETS_PER_USER", "100000")
    env["METRICS_TOKEN"] = METRICS_TOKEN
    env.update(overrides)
    return env


DEMO_PASSWORD = "stockwire-demo"


@cache
def collected_static_files() -> str:
    """A STATIC_ROOT filled by collectstatic once per test run: servers run with DEBUG off."""
    root = tempfile.mkdtemp(prefix="stockwire-static-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    manage("collectstatic", "--noinput", "-v0", env=server_env(STATIC_ROOT=root))
    return root


def demo_shop_env(**overrides: str) -> dict[str, str]:
    """A server environment whose database (DATABASE_URL, required) is migrated and holds the
    demo shop.

    Migrating and loading the shop takes seconds (two Django start-ups, the migrations, three
    password hashes); a run does it once per database server and copies the result into each
    test's database, which takes a fraction of a second.
    """
    env = server_env(STATIC_ROOT=collected_static_files(), **overrides)
    target = urllib.parse.urlsplit(overrides["DATABASE_URL"])
    if target.scheme == "sqlite":
        with (
            contextlib.closing(sqlite3.connect(_demo_shop_sqlite())) as source,
            contextlib.closing(sqlite3.connect(target.path[1:])) as copy,
        ):
            source.backup(copy)
    else:
        server, name = target._replace(path="").geturl(), target.path[1:]
        drop_database(server, name)
        create_database(server, name, template=_demo_shop_postgres(server))
    return env


def _load_demo_shop(database_url: str) -> None:
    env = server_env(DATABASE_URL=database_url)
    manage("migrate", "--noinput", env=env)
    manage("load_demo", env=env)


@cache
def _demo_shop_sqlite() -> str:
    """A SQLite file holding the demo shop, made once per run."""
    directory = tempfile.mkdtemp(prefix="stockwire-demo-shop-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    path = f"{directory}/shop.sqlite3"
    _load_demo_shop(f"sqlite:///{path}")
    return path


@cache
def _demo_shop_postgres(server: str) -> str:
    """The name of a database on `server` holding the demo shop, made once per run and
    dropped at its end; PostgreSQL copies it into a new database as a template."""
    name = f"stockwire_demo_shop_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    create_database(server, name)
    atexit.register(_drop_at_exit, server, name)
    _load_demo_shop(f"{server}/{name}")
    return name


def _drop_at_exit(server: str, name: str) -> None:
    """A private server stopped by the end of the run took its databases with it."""
    with contextlib.suppress(psycopg.OperationalError):
        drop_database(server, name)


def token_for(base_url: str, username: str) -> str:
    """An access token for a demo user, from the server at `base_url`."""
    status, body = http_json(
        "POST", f"{base_url}/api/auth/token", {"username": username, "password": DEMO_PASSWORD}
    )
    assert status == 200, body
    return body["access"]


def manage(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "demo/manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass(frozen=True)
class Server:
    url: str
    log: Path
    process: subprocess.Popen

    def kill(self) -> None:
        """Kill the server's whole process group at once: a crash, no graceful anything."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)


def run_command(port: int) -> list[str]:
    """The server as `make run` starts it."""
    return [sys.executable, "-m", "config.server", "--port", str(port), "--access-log"]


def make_serve_command(port: int, workers: int = 1) -> list[str]:
    """The production entry point itself: migrations, collectstatic, check --deploy, uvicorn."""
    return ["make", "--no-print-directory", "serve", f"PORT={port}", f"WORKERS={workers}"]


@contextmanager
def running_server(
    env: dict[str, str], *, port: int | None = None, command=run_command, ready_path="/api/items"
):
    """Start a server process on a free port and yield it once it answers HTTP."""
    port = port or free_port()
    log_path = ROOT / f".server-{port}.log"
    base = f"http://127.0.0.1:{port}"
    try:
        with started(command(port), env, log_path, f"{base}{ready_path}", timeout=90) as process:
            yield Server(base, log_path, process)
    finally:
        log_path.unlink(missing_ok=True)


def http_json(method: str, url: str, body=None, token: str | None = None):
    """(status, parsed JSON body) of one request; never raises for 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()  # empty for a 204
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def scrape_metrics(base_url: str) -> str:
    """/metrics of the server at `base_url`, as Prometheus scrapes it: with the bearer token."""
    request = urllib.request.Request(f"{base_url}/metrics")
    request.add_header("Authorization", f"Bearer {METRICS_TOKEN}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()
