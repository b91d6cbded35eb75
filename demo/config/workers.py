"""Several uvicorn worker processes on one port, each with a listening socket of its own.

uvicorn's own workers share one listening socket, and whichever worker is least busy at that
moment accepts the next connection: in a flash sale one worker held 382 of 400 buyers while
the other idled, and the sale lasted as long as the busy one took. Here each worker listens
on a socket of its own, all bound to the same port with SO_REUSEPORT, so the kernel spreads
connections over the workers evenly, busy or not.

The rest is uvicorn's: each worker is started as uvicorn starts its own (a spawned process
serving the sockets it is given) and serves the same config. A worker that dies is started
again on its socket (connections that arrive meanwhile wait in its backlog); SIGTERM or
SIGINT stops every worker gracefully and then the parent. SO_REUSEPORT spreads connections
on Linux, where the demo is served.
"""

import logging
import signal
import socket
import threading

import uvicorn
from uvicorn._subprocess import get_subprocess
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")

# How often the parent looks for a worker that died.
WATCH_SECONDS = 0.5


def run(config: uvicorn.Config) -> None:
    """Serve `config` with config.workers processes until SIGTERM or SIGINT."""
    sockets = [_listening_socket(config) for _ in range(config.workers)]
    server = uvicorn.Server(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    workers = [_start(config, server, sock) for sock in sockets]
    logger.info("Started %d workers, each on a socket of its own", len(workers))
    while not stop.wait(WATCH_SECONDS):
        for n, worker in enumerate(workers):
            if worker.is_alive():
                continue
            if worker.exitcode == STARTUP_FAILURE:
                logger.error("Worker [%s] failed to start; stopping", worker.pid)
                stop.set()
                break
            logger.warning("Worker [%s] died (exit code %s); starting another", worker.pid,
                           worker.exitcode)  # fmt: skip
            workers[n] = _start(config, server, sockets[n])
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: the worker's own graceful shutdown
    for worker in workers:
        worker.join()
    for sock in sockets:
        sock.close()


def _start(config: uvicorn.Config, server: uvicorn.Server, sock: socket.socket):
    worker = get_subprocess(config, target=server.run, sockets=[sock])
    worker.start()
    return worker


def _listening_socket(config: uvicorn.Config) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((config.host, config.port))
    sock.listen(config.backlog)
    sock.set_inheritable(True)
    return sock
