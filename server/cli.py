"""``bpttlab serve [--host 127.0.0.1] [--port 8000] [--workers 1] [--access-log]`` and
``bpttlab export <view> --query "<query>" --out DIR [--max-mb 10]``."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from .settings import get_settings


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="bpttlab", description="BPTT Lab")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the web server")
    serve.add_argument(
        "--host", default=settings.host, help="address to bind (default %(default)s)"
    )
    serve.add_argument("--port", type=int, default=settings.port, help="default %(default)s")
    serve.add_argument(
        "--workers", type=int, default=settings.workers, help="processes (default %(default)s)"
    )
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: it costs CPU on every request)",
    )
    from .catalog import VIEWS
    from .static_export import MAX_BYTES

    export = commands.add_parser(
        "export", help="write a self-contained folder of one view (no server, no network)"
    )
    export.add_argument("view", choices=list(VIEWS), help="the view")
    export.add_argument("--query", default="", help='the view\'s query, e.g. "seq_len=200"')
    export.add_argument("--out", type=Path, required=True, help="the folder to write")
    export.add_argument(
        "--max-mb",
        type=float,
        default=MAX_BYTES / 2**20,
        help="size limit; the grid shrinks to fit (default %(default)g)",
    )
    args = parser.parse_args(argv)
    if args.command == "export":
        sys.exit(_export(args))
    if args.command == "serve":
        run_server(args.host, args.port, args.workers, args.access_log or settings.access_log)


# One BLAS thread per computation: the server runs a computation per core already (and more
# with several workers), and idle OpenBLAS threads spin, taking the cores from the others.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_server(host: str, port: int, workers: int, access_log: bool = False) -> None:
    """uvicorn.run, except that with several workers each has a listening socket of its own
    on Linux (server/workers.py: the kernel spreads connections over them, where one shared
    socket can leave every connection to one worker), and elsewhere the shared socket is
    declared TCP: uvicorn binds it with proto 0, so asyncio leaves TCP_NODELAY off on its
    connections (Kludex/uvicorn#3149) and every keep-alive response after the first waits
    ~40 ms for the client's delayed ACK. The BLAS thread counts default to 1 (the environment
    may say else). The access log (a line per request) is off unless asked for."""
    for name in BLAS_THREADS:
        os.environ.setdefault(name, "1")
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from . import workers as processes

    options = {"host": host, "port": port, "log_level": "info", "access_log": access_log}
    if workers == 1:
        uvicorn.run("bpttlab.server.app:app", **options)
        return
    config = uvicorn.Config("bpttlab.server.app:app", workers=workers, **options)
    if processes.reuse_port_supported():
        try:
            sockets = processes.listening_sockets(host, port, workers, config.backlog)
        except OSError as exc:  # as uvicorn reports a socket it cannot bind
            print(f"bpttlab serve: {host}:{port}: {exc}", file=sys.stderr)
            sys.exit(STARTUP_FAILURE)
        sys.exit(processes.run_workers(config, sockets))
    Multiprocess(config, sockets=[tcp_socket(config)]).run()


def tcp_socket(config) -> socket.socket:
    """uvicorn's listening socket for the workers, declared TCP (proto IPPROTO_TCP), which
    the connections it accepts inherit and asyncio checks before setting TCP_NODELAY."""
    bound = config.bind_socket()
    tcp = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    tcp.set_inheritable(True)
    return tcp


def _export(args) -> int:
    from .static_export import ExportError, export

    try:
        done = export(args.view, args.query, args.out, int(args.max_mb * 2**20))
    except ExportError as exc:
        print(f"bpttlab export: {exc}", file=sys.stderr)
        return 1
    grid = " x ".join(f"{name} {values}" for name, values in done.grid.items())
    print(
        f"wrote {done.out}: {done.bytes / 2**20:.2f} MB, {done.points} grid points ({grid}); "
        f"open {done.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    main()
