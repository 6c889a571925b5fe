"""`pathgrad serve`, `pathgrad api` and `pathgrad worker`: run the service, or a part of it."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    """Add the ``serve``, ``api`` and ``worker`` subcommands."""
    serve = commands.add_parser("serve", help="run API, worker and embedded Redis on one machine")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=_port, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=_count, default=None,
                       help="worker processes (default: one per core)")
    api = commands.add_parser("api", help="run the HTTP API alone, for REDIS_URL")
    api.add_argument("--host", default="127.0.0.1", help="address to listen on")
    api.add_argument("--port", type=_port, default=8000, help="port to listen on")
    api.add_argument("--threads", type=_count, default=None,
                     help="request threads (a waiting request holds one; default 32)")
    worker = commands.add_parser("worker", help="run one Celery worker for REDIS_URL")
    worker.add_argument("--concurrency", type=_count, default=None,
                        help="worker processes (default: one per core)")
    worker.add_argument("--loglevel", default="info", help="Celery log level")


def run(args: argparse.Namespace) -> int:
    """Run the service or the part asked for; return its exit status."""
    from ..processes import runner

    if args.command == "serve":
        return runner.serve(args.host, args.port, args.workers)
    if args.command == "api":
        return runner.api(args.host, args.port, args.threads)
    return runner.worker(args.concurrency, args.loglevel)


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)
