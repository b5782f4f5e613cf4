"""Several uvicorn worker processes, each listening on a socket of its own (Linux).

uvicorn's supervisor hands every worker the same listening socket. Every worker's event loop
is woken by a new connection, and the first to run accepts every connection pending: 32
keep-alive clients that connect at once (benchmarks/load.py) all landed on one of two workers
in three runs of three, which then did one core's work while the other core idled, for the
whole life of those connections. Here each worker has its own socket, all bound to the same
address with SO_REUSEPORT, and the kernel spreads new connections over them evenly (by a hash
of each connection's addresses).

The supervisor starts the workers, starts again one that exits (unless it failed to start:
then it stops the others and exits), and on SIGINT or SIGTERM stops them (uvicorn's graceful
shutdown) and returns. Each socket stays open in the supervisor, so a new worker takes over
the connections waiting on its predecessor's.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")
_spawn = multiprocessing.get_context("spawn")  # as uvicorn: no state forked from the supervisor


def reuse_port_supported() -> bool:
    """SO_REUSEPORT balances connections over a group of sockets on Linux only (elsewhere it
    may exist and send everything to one socket)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_sockets(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """count listening TCP sockets bound to (host, port) with SO_REUSEPORT; port 0 picks one
    free port for all. They are declared TCP (proto IPPROTO_TCP) so that asyncio sets
    TCP_NODELAY on their connections (see server.cli.tcp_socket). OSError (address in use)
    when something listens on the port already: with SO_REUSEPORT a second server of the
    same user would otherwise join the group and take half of the connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port:  # a server already there would share the port (and the connections) silently
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))  # EADDRINUSE while anyone listens there
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _worker(config: uvicorn.Config, sock: socket.socket) -> None:  # pragma: no cover
    """A worker process: uvicorn's server on its own socket (runs in the spawned child)."""
    config.configure_logging()
    uvicorn.Server(config).run(sockets=[sock])


def _start(config: uvicorn.Config, sock: socket.socket):
    process = _spawn.Process(target=_worker, args=(config, sock))
    process.start()
    return process


def run_workers(config: uvicorn.Config, sockets: list[socket.socket]) -> int:
    """One worker per socket until SIGINT or SIGTERM; the exit status (1 if a worker failed
    to start, else 0)."""
    stopping = threading.Event()
    failed = False
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    host, port = sockets[0].getsockname()[:2]
    logger.info("Listening on http://%s:%d with %d worker processes", host, port, len(sockets))
    processes = [_start(config, sock) for sock in sockets]
    while not stopping.wait(0.5):
        for i, process in enumerate(processes):
            if process.exitcode is None:
                continue
            if process.exitcode == STARTUP_FAILURE:
                logger.error("Worker process [%d] failed to start; stopping", process.pid)
                failed = True
                stopping.set()
                break
            logger.info("Worker process [%d] exited; starting another", process.pid)
            processes[i] = _start(config, sockets[i])
    for process in processes:
        if process.exitcode is None:
            process.terminate()
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
    return 1 if failed else 0
