"""``bpttlab serve [--host 127.0.0.1] [--port 8000] [--workers 1] [--access-log]``,
``bpttlab export <view> --query "<query>" [--vary FIELDS] --out DIR [--max-mb 10]`` and
``bpttlab analyze model.safetensors [--inputs x.npy] [--seq-len T] --html report.html
[--json report.json]``."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import textwrap
from pathlib import Path

from .settings import get_settings


def main(argv: list[str] | None = None) -> None:
    for name in BLAS_THREADS:  # before anything imports NumPy (see run_server)
        os.environ.setdefault(name, "1")
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
        "export",
        help="write a self-contained folder of one view (no server, no network)",
        description=textwrap.fill(
            "Write a folder that shows one view with no server and no network. The figures "
            "are computed in advance for every combination of the values of the controls "
            "that move; every other control is fixed at the query's value, and the page "
            "lists them.",
            width=92,
        ),
        epilog=export_epilog(VIEWS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("view", choices=list(VIEWS), help="the view")
    export.add_argument("--query", default="", help='the view\'s query, e.g. "seq_len=200"')
    export.add_argument(
        "--vary",
        metavar="FIELDS",
        help="the controls that move, comma-separated, each with its own values if wanted: "
        '"forget_bias,seq_len=50:100:200" (default: the view\'s, marked * below)',
    )
    export.add_argument("--out", type=Path, required=True, help="the folder to write")
    export.add_argument(
        "--max-mb",
        type=float,
        default=MAX_BYTES / 2**20,
        help="size limit; the grid shrinks to fit (default %(default)g)",
    )
    _analyze_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "analyze":
        sys.exit(_analyze(args))
    if args.command == "export":
        sys.exit(_export(args, export))
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


def export_epilog(views) -> str:
    """Per view, the controls an export can move and their values; * marks the default."""
    from .static_export import default_vary, movable

    lines = [
        "controls that can move (--vary), per view, with the values they take unless given;",
        "* = moved by default. Selects and checkboxes take all their options; a number listed",
        "as 'give values' moves only over the values given: --vary 'input_size=1:4:16'.",
    ]
    for name, view in views.items():
        default = set(default_vary(view))
        items = ", ".join(
            f"{field}{'*' if field in default else ''} ({how})" for field, how in movable(view)
        )
        lines.append("")
        lines += textwrap.wrap(
            f"{name}: {items}", width=92, initial_indent="  ", subsequent_indent="    "
        )
    lines += [
        "",
        "examples:",
        "  bpttlab export explore --query 'cell=lstm' --vary forget_bias,seq_len --out lstm",
        "  bpttlab export explore --vary 'seq_len=50:100:200,scale' --out explore",
    ]
    return "\n".join(lines)


def _vs(values) -> str:
    from .schemas import query_value

    return ", ".join(query_value(v) for v in values)


def _progress(done: int, total: int) -> None:
    """'computing 40/245' on the terminal, rewritten in place."""
    end = "\n" if done == total else ""
    print(f"\rcomputing {done}/{total}", end=end, file=sys.stderr, flush=True)


def _export(args, parser: argparse.ArgumentParser) -> int:
    from .static_export import ExportError, VaryError, export

    try:
        done = export(
            args.view,
            args.query,
            args.out,
            int(args.max_mb * 2**20),
            vary=args.vary,
            progress=_progress if sys.stderr.isatty() else None,
        )
    except VaryError as exc:  # a usage error, as argparse reports one (exit code 2)
        parser.print_usage(sys.stderr)
        print(f"bpttlab export: error: {exc}", file=sys.stderr)
        return 2
    except ExportError as exc:
        print(f"bpttlab export: {exc}", file=sys.stderr)
        return 1
    for name, refused in done.left_out.items():
        for value, why in refused:
            print(f"left out {name} = {value}: refused with the other values ({why})")
    if done.dropped:
        dropped = "; ".join(f"{name} {_vs(values)}" for name, values in done.dropped.items())
        print(f"to fit in {args.max_mb:g} MB, dropped: {dropped}")
    if done.missing:
        print(f"{len(done.missing)} combinations refused by the query, not computed:")
        for key, why in done.missing.items():
            print(f"  {key}: {why}")
    grid = " x ".join(f"{name} [{_vs(values)}]" for name, values in done.grid.items())
    print(
        f"wrote {done.out}: {done.bytes / 2**20:.2f} MB, {done.points} grid points ({grid}); "
        f"open {done.out / 'index.html'}"
    )
    return 0


def _analyze_parser(commands) -> None:
    a = commands.add_parser(
        "analyze",
        help="analyse a trained torch.nn.RNN/LSTM/GRU state_dict; write an HTML report",
        description=textwrap.fill(
            "Read a PyTorch state_dict (.safetensors, .npz or .json; nothing is unpickled or "
            "executed), infer the architecture, run it on the inputs (or drawn ones) and "
            "write the gradient flow through its layers and steps: an offline HTML report "
            "(figures, captions, tables) and/or the API's JSON. Exact where the estimated "
            "cost allows, matrix-free (random probes, with standard errors) beyond.",
            width=92,
        ),
    )
    a.add_argument("model", type=Path, help="the state_dict file")
    a.add_argument("--inputs", type=Path, help=".npy inputs, (T, d) or (B, T, d)")
    a.add_argument("--targets", type=Path, help=".npy integer targets (default: drawn)")
    a.add_argument("--seq-len", type=int, default=100, help="T of drawn inputs (default 100)")
    a.add_argument("--nonlinearity", choices=["tanh", "relu"], help="an nn.RNN's (required)")
    a.add_argument("--loss", choices=["every", "last"], default="every", help="default every")
    a.add_argument("--seed", type=int, default=0, help="of the drawn inputs/targets/output")
    a.add_argument("--mode", choices=["auto", "exact", "matrix_free"], default="auto",
                   help="default auto: exact when its estimated cost fits the cost budget "
                   "(BPTTLAB_COST_BUDGET), matrix-free beyond")  # fmt: skip
    a.add_argument("--probes", type=int, default=32,
                   help="k of the matrix-free estimates (default 32)")  # fmt: skip
    a.add_argument("--sequence", type=int, default=0, help="which sequence of a batch")
    a.add_argument("--precision", choices=["float64", "float32"], default="float64",
                   help="arithmetic of the probes' sweep (default float64)")  # fmt: skip
    a.add_argument("--html", type=Path, help="write the report here")
    a.add_argument("--json", type=Path, help="write the API's JSON here")
    a.add_argument("--quiet", action="store_true", help="no progress bar")


def _analyze(args) -> int:
    import json

    import numpy as np

    from .model_report import analyze

    try:
        targets = None if args.targets is None else np.load(args.targets, allow_pickle=False)
        result = analyze(
            args.model, args.inputs, targets=targets, nonlinearity=args.nonlinearity,
            seq_len=args.seq_len, loss=args.loss, seed=args.seed, mode=args.mode,
            probes=args.probes, sequence=args.sequence, precision=args.precision,
            progress=not args.quiet,
        )  # fmt: skip
    except (ValueError, OSError) as exc:  # a refused file (ModelFileError), a bad option
        print(f"bpttlab analyze: {exc}", file=sys.stderr)
        return 2
    print(repr(result)[len("<bpttlab Analysis: ") : -1])
    for title, summary in result.captions():
        print(f"\n{title}\n  {summary}")
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), allow_nan=False))
        print(f"\nwrote {args.json}")
    if args.html:
        result.to_html(args.html)
        print(f"wrote {args.html} (self-contained: open it in any browser, no network needed)")
    return 0


if __name__ == "__main__":
    main()
