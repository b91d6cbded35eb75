"""Running the new project's commands and servers, and asking them over HTTP."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.package.new_project import ITEM, UNPUBLISHED_CHANGE

ROOT = Path(__file__).resolve().parents[2]

# The repository's test settings, none of which a new project has.
NOT_INHERITED = {
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "PURCHASE_RATE",
    "CHANNEL_PREFIX",
}


def user_env(venv: Path | None = None) -> dict[str, str]:
    """A new user's environment: none of the repository's settings, the venv first on PATH."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(command: list, *, cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    """Run a command to completion; its stdout, or a failure that shows its output."""
    command = [str(part) for part in command]
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"`{' '.join(command)}` exited {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def copy_checkout(destination: Path) -> None:
    """The checkout's files, tracked or new, without what is ignored (.venv, build/, egg-info).

    pip builds a local directory in place: building this copy keeps build/ and egg-info out of
    the repository, and a stale build/lib out of the wheel.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split(b"\0")):
        source = ROOT / os.fsdecode(name)
        if source.is_file():  # a tracked file may be deleted in the working tree
            target = destination / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(method: str, url: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request; never raises for an HTTP error status."""
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    venv: Path
    project: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stock_socket(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/stock/"

    def manage(self, *args: str) -> str:
        return run(
            [self.venv / "bin" / "python", "manage.py", *args],
            cwd=self.project,
            env=user_env(self.venv),
            timeout=60,
        )

    def set_stock_unpublished(self, quantity: int) -> tuple[int, int]:
        """Change the product's stock behind Stockwire's back; its (quantity, version) after."""
        out = self.manage("shell", "-c", UNPUBLISHED_CHANGE.format(item=ITEM, quantity=quantity))
        (line,) = [line for line in out.splitlines() if line.startswith("STOCK ")]
        _, quantity_after, version_after = line.split()
        return int(quantity_after), int(version_after)

    def buy(self, item: int = ITEM) -> tuple[int, dict]:
        status, _, body = http("POST", f"{self.url}/products/{item}/buy/")
        return status, json.loads(body)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def wait_until_serving(process: subprocess.Popen, server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{server.name} exited {process.returncode}:\n{server.log_tail()}")
        try:
            status, _, _ = http("GET", f"{server.url}/", timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{server.name} did not answer within {timeout} s:\n{server.log_tail()}"
                ) from error
            time.sleep(0.1)  # polling interval, not synchronization: the loop checks readiness
            continue
        assert status == 200, f"{server.name} answered {status}:\n{server.log_tail()}"
        return


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
