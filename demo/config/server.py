"""The ASGI server as Stockwire runs it: `python -m config.server --port 8000 --workers 2`.

One place for the server's options, used by `make run`, `make serve`, the tests and the
benchmark, so what is measured and tested is what is deployed.
"""

import argparse
import atexit
import os
import shutil
import tempfile

import uvicorn

from config import workers

# The server pings every socket this often and closes it if no pong comes back within
# PING_TIMEOUT: under the 30-60 s after which proxies and home routers drop idle connections,
# and it frees a half-open socket (a laptop gone to sleep) within a minute.
PING_INTERVAL = float(os.environ.get("WS_PING_INTERVAL", 25))
PING_TIMEOUT = float(os.environ.get("WS_PING_TIMEOUT", 20))

# Client frames are small commands; a subscribe to the 200-item maximum is about 4 KiB.
# Larger frames are refused with close code 1009 (message too big).
MAX_FRAME_BYTES = 16 * 1024

# An idle HTTP keep-alive connection stays open this long. Longer than any client keeps one
# idle (deploy/nginx.conf's upstream keepalive_timeout is 60 s; browsers' pools are shorter),
# so the client always closes first: at uvicorn's default of 5 s, a request sent just as the
# server closed the connection was lost (nginx answers a POST lost that way with a 502).
KEEP_ALIVE_SECONDS = float(os.environ.get("KEEP_ALIVE_SECONDS", 75))

# Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (the client's address,
# whether it came over TLS): comma-separated addresses or networks, loopback by default for a
# proxy on the same host. From anyone else those headers are ignored.
TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES", "127.0.0.1,::1")

# On SIGTERM: stop accepting, close sockets with 1012 (service restart) so clients reconnect
# to another process at once, and give in-flight requests this long to finish.
GRACEFUL_SHUTDOWN_SECONDS = 10


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Metrics of all worker processes meet in files here; a fresh folder per server start.
        metrics_dir = tempfile.mkdtemp(prefix="stockwire-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    options = dict(
        app="config.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        # Measured here: uvloop and httptools, with limits on request heads (config/http.py:
        # their timeout and sizes); uvicorn's sans-I/O websockets protocol, with the frame
        # writer our fan-out uses (stockwire/uvicorn.py). Named, not imported: the worker
        # imports them after the metrics folder is set.
        loop="uvloop",
        http="config.http:HttpToolsProtocol",
        ws="stockwire.uvicorn:WebSocketProtocol",
        # Frames are ~60-byte JSON sent to thousands of sockets: compressing them per socket
        # costs CPU on the fan-out path and saves nothing.
        ws_per_message_deflate=False,
        ws_ping_interval=PING_INTERVAL,
        ws_ping_timeout=PING_TIMEOUT,
        ws_max_size=MAX_FRAME_BYTES,
        # Channels' router has no lifespan protocol.
        lifespan="off",
        access_log=args.access_log,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        proxy_headers=True,
        forwarded_allow_ips=TRUSTED_PROXIES,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    if args.workers > 1:
        # A listening socket per worker, so connections spread evenly (config/workers.py).
        workers.run(uvicorn.Config(**options))
    else:
        uvicorn.run(**options)


if __name__ == "__main__":
    main()
