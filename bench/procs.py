"""Server processes: started and always stopped; CPU seconds and resident memory from /proc;
their workers and which of them holds which connection.

Servers, load generator, PostgreSQL and Redis all share the machine's cores, so each one's
CPU time says where the cores went during a measurement. tests/servers.py starts its servers
here too.
"""

import os
import re
import resource
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@contextmanager
def started(
    command: list[str], env: dict[str, str], log_path: Path, ready_url: str, *, timeout: float = 60
):
    """A server process in a session of its own, once `ready_url` answers; stopped on exit.

    A session of its own, so stopping it also stops what it started (make, uvicorn workers).
    """
    log = open(log_path, "w")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(ready_url, timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                if time.monotonic() > deadline:
                    tail = log_path.read_text()[-3000:]
                    raise RuntimeError(f"server did not start:\n{tail}") from error
                time.sleep(0.1)
        yield process
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM the process group (a graceful stop), then SIGKILL if it hangs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of one process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _all() -> dict[int, tuple[str, int, float]]:
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            stats[int(entry)] = stat
    return stats


def tree(roots: list[int]) -> list[int]:
    """The roots and all their descendants (e.g. uvicorn workers)."""
    stats = _all()
    found, frontier = [], [pid for pid in roots if pid in stats]
    while frontier:
        found.extend(frontier)
        frontier = [pid for pid, (_, ppid, _) in stats.items() if ppid in frontier]
    return found


def cpu_seconds(roots: list[int]) -> float:
    return sum(stat[2] for pid in tree(roots) if (stat := _stat(pid)) is not None)


def rss_kib(roots: list[int]) -> int:
    total = 0
    for pid in tree(roots):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_KIB
        except OSError:
            pass
    return total


def cpu_by_name(*names: str) -> float:
    """CPU seconds of every process with one of these names (the shared PostgreSQL, Redis)."""
    return sum(cpu for name, _, cpu in _all().values() if name in names)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def open_file_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return " ".join(line.split()[3:5])
    return "?"


def workers(parent: int) -> list[int]:
    """The server's worker processes under `parent` (multiprocessing's spawned children)."""
    found = []
    for pid in tree([parent]):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def connection_owners(port: int, client_ports: set[int]) -> Counter:
    """How many of the connections from `client_ports` to `port` each process holds (as ss
    names the owner of the server's end)."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    owners = Counter()
    for line in listing.splitlines():
        owner = re.search(r"pid=(\d+)", line)
        if owner and int(line.split()[3].rpartition(":")[2]) in client_ports:
            owners[int(owner[1])] += 1
    return owners
