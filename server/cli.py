"""``bpttlab serve [--host 127.0.0.1] [--port 8000] [--workers 1]``."""

from __future__ import annotations

import argparse

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
    args = parser.parse_args(argv)
    if args.command == "serve":
        import uvicorn

        uvicorn.run(
            "server.app:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
        )


if __name__ == "__main__":
    main()
