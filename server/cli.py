"""``bpttlab serve [--host 127.0.0.1] [--port 8000] [--workers 1]`` and
``bpttlab export <view> --query "<query>" --out DIR [--max-mb 10]``."""

from __future__ import annotations

import argparse
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
    from .static_export import MAX_BYTES
    from .views import VIEWS

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
        import uvicorn

        uvicorn.run(
            "server.app:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
        )


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
