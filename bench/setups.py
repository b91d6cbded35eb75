"""The server set-ups under test, each started on free 127.0.0.1 ports and always stopped.

Every run gets a database of its own (a SQLite file in a temp dir, or a fresh PostgreSQL
database) and, on Redis, a CHANNEL_PREFIX of its own, so runs never see each other's data.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import DEMO
from .procs import started

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"
PYTHON = sys.executable

SETUPS = ("embedded", "redis-core", "redis-pubsub", "legacy-refetch", "bare")


@dataclass
class Site:
    """What the load generator needs to know about a running set-up."""

    setup: str
    http_ports: list[int]
    ws_ports: list[int]
    ws_path: str
    pids: list[int]
    logs: list[Path]
    facts: dict = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raise_open_file_limit() -> None:
    """Soft limit up to the hard limit (20,000 on our machines); children inherit it."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _django_env(**overrides: str) -> dict[str, str]:
    drop = {"DATABASE_URL", "REDIS_URL", "REDIS_LAYER", "CHANNEL_PREFIX", "DEBUG"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        # The demo project is not installed: its server imports it from the repository.
        PYTHONPATH=str(DEMO),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        # Subscribers authenticate once, at connect; a long run must not outlive the token.
        JWT_ACCESS_LIFETIME="7200",
        # The load generator buys as fast as it can, far above a shopper's limit, and opens
        # thousands of sockets as a few demo users.
        PURCHASE_RATE="1000000/min",
        MAX_SOCKETS_PER_USER="1000000",
    )
    env.update(overrides)
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    """Run demo/manage.py; what it printed."""
    result = subprocess.run(
        [PYTHON, "demo/manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"demo/manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def server_command(port: int) -> list[str]:
    """The server as `make serve` starts it (config/server.py), one process per port."""
    return [PYTHON, "-m", "config.server", "--port", str(port)]


def _log_path(run_id: str, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS / f"{run_id}-{name}.log"


@contextmanager
def embedded(run_id: str, ws_path: str = "/ws/stock/"):
    """(a) One uvicorn process, SQLite file, in-memory channel layer: `make run` without DEBUG."""
    tmp = Path(tempfile.mkdtemp(prefix="stockwire-bench-"))
    try:
        env = _django_env(DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite3")
        _manage(env, "migrate", "--noinput")
        _manage(env, "load_demo")
        port = free_port()
        log = _log_path(run_id, f"server-{port}")
        url = f"http://127.0.0.1:{port}/api/items/1"
        with started(server_command(port), env, log, url) as process:
            yield Site("embedded", [port], [port], ws_path, [process.pid], [log])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def scratch_database():
    """A fresh PostgreSQL database, dropped afterwards (as tests/services.py does)."""
    import psycopg
    from psycopg import sql

    name = f"stockwire_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{POSTGRES_URL}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _drop_redis_keys(prefix: str) -> None:
    """Group memberships live for group_expiry (a day): remove this run's keys now."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@contextmanager
def redis_pair(run_id: str, layer: str):
    """(b) Two single-process servers on two ports sharing PostgreSQL and Redis."""
    prefix = f"stockwire-bench-{uuid.uuid4().hex[:10]}"
    with scratch_database() as database_url, ExitStack() as stack:
        stack.callback(_drop_redis_keys, prefix)
        env = _django_env(
            DATABASE_URL=database_url, REDIS_URL=REDIS_URL, REDIS_LAYER=layer,
            CHANNEL_PREFIX=prefix,
        )  # fmt: skip
        _manage(env, "migrate", "--noinput")
        _manage(env, "load_demo")
        ports, pids, logs = [], [], []
        for _ in range(2):
            port = free_port()
            log = _log_path(run_id, f"server-{port}")
            url = f"http://127.0.0.1:{port}/api/items/1"
            process = stack.enter_context(started(server_command(port), env, log, url))
            ports.append(port)
            pids.append(process.pid)
            logs.append(log)
        yield Site(f"redis-{layer}", ports, ports, "/ws/stock/", pids, logs, {"prefix": prefix})


@contextmanager
def bare(run_id: str):
    """(d) The limit: a bare `websockets` broadcast server with a minimal HTTP trigger."""
    ws_port, http_port = free_port(), free_port()
    log = _log_path(run_id, f"bare-{ws_port}")
    command = [PYTHON, "-m", "bench.bare_server", "--ws-port", str(ws_port),
               "--http-port", str(http_port)]  # fmt: skip
    url = f"http://127.0.0.1:{http_port}/api/items/1"
    with started(command, dict(os.environ), log, url) as process:
        yield Site("bare", [http_port], [ws_port], "/ws/stock/", [process.pid], [log])


@contextmanager
def start(setup: str, run_id: str):
    if setup == "embedded":
        cm = embedded(run_id)
    elif setup == "legacy-refetch":
        cm = embedded(run_id, ws_path="/notification/count")
    elif setup in ("redis-core", "redis-pubsub"):
        cm = redis_pair(run_id, setup.removeprefix("redis-"))
    elif setup == "bare":
        cm = bare(run_id)
    else:
        raise ValueError(f"unknown set-up {setup!r}; one of {', '.join(SETUPS)}")
    with cm as site:
        if setup == "legacy-refetch":
            site.setup = setup
        yield site
