"""Results: one JSON per run, machine facts, the Markdown table and the p99 plot."""

import hashlib
import json
import math
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("django", "channels", "channels-redis", "uvicorn", "websockets", "uvloop",
            "httptools", "orjson", "redis", "psycopg")  # fmt: skip


def machine() -> dict:
    """What the numbers depend on, recorded with them."""
    facts = {"nproc": os.cpu_count(), "python": platform.python_version(),
             "kernel": platform.release()}  # fmt: skip
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            facts["cpu_model"] = line.split(":", 1)[1].strip()
            break
    facts["code_digest"] = code_digest()
    facts["mem_total_kib"] = int(Path("/proc/meminfo").read_text().split()[1])
    facts["packages"] = {}
    for name in PACKAGES:
        try:
            facts["packages"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            facts["packages"][name] = None
    try:
        import redis

        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        facts["redis_server"] = client.info("server")["redis_version"]
        client.close()
    except Exception as error:
        facts["redis_server"] = f"unavailable: {error}"
    try:
        command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"]
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        facts["postgres_server"] = out.stdout.strip() or out.stderr.strip()
    except OSError as error:
        facts["postgres_server"] = f"unavailable: {error}"
    return facts


def code_digest() -> str:
    """A digest of the code under test: the repository changes while benchmarks run."""
    digest = hashlib.sha256()
    root = RESULTS.parent.parent
    for package in ("stockwire", "demo"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def write_json(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def figure(value, digits=0) -> str:
    """A number as the tables show it: thousands separated, "-" for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{digits}f}"


def table(rows: list[dict]) -> str:
    lines = [
        "| setup | N | p50 ms | p99 ms | max ms | changes/s | deliveries/s | missed "
        "fan-out / sustained | stale | KiB RSS per socket | server CPU s | loadgen CPU s "
        "| pg+redis CPU s | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['setup']} | {row['n']} | failed: {row['error'][:120]} |")
            continue
        fan, sus, cpu = row["fan_out"], row["sustained"], row["cpu"]
        lines.append(
            f"| {row['setup']} | {row['n']:,} | {figure(fan['p50_ms'])} | {figure(fan['p99_ms'])} "
            f"| {figure(fan['max_ms'])} | {figure(sus['changes_per_s'], 1)} "
            f"| {figure(sus['deliveries_per_s'])} "
            f"| {fan['missed']:,} / {sus['missed']:,} | {sus['stale']:,} "
            f"| {figure(row['kib_per_socket'], 1)} | {figure(cpu['server_cpu_s'], 1)} "
            f"| {figure(cpu['loadgen_cpu_s'], 1)} "
            f"| {figure(cpu['postgres_cpu_s'] + cpu['redis_cpu_s'], 1)} "
            f"| {figure(cpu['wall_s'], 1)} |"
        )
    return "\n".join(lines)


NOTE = (
    "Latency: purchase request written -> subscriber holds the new version, over all "
    "(subscriber, change) pairs of the sequential fan-out. CPU s and wall s cover the fan-out "
    "and sustained phases; the server(s), the load generator, PostgreSQL and Redis all share "
    "the machine's {nproc} cores, so CPU s of one slows the others. KiB RSS per socket = "
    "server RSS growth (all server processes) from before to after opening and subscribing "
    "the sockets, divided by N; before, after 20 sockets per process were opened and closed."
)


def plot(rows: list[dict], path: Path) -> Path | None:
    """p99 fan-out latency against N, one line per set-up (Agg: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=120)
    for setup in dict.fromkeys(row["setup"] for row in rows):
        points = sorted(
            (row["n"], row["fan_out"]["p99_ms"])
            for row in rows
            if row["setup"] == setup
            and "error" not in row
            and not math.isnan(row["fan_out"]["p99_ms"])
        )
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", label=setup)
    axes.set_xlabel("subscribers to one item (N)")
    axes.set_ylabel("p99 fan-out latency (ms)")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    axes.set_title("Stockwire: purchase to every subscriber, p99")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
