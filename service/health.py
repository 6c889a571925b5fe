"""The health resource: is Redis reachable, how many worker processes are listening."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint

from worker import engine

from . import extensions

__all__ = ["bp"]

bp = Blueprint("health", __name__, url_prefix="/v1")


@bp.get("/health")
def health() -> tuple[dict[str, Any], int]:
    """Report whether Redis answers, and the worker processes that sent a heartbeat recently."""
    store = extensions.store()
    try:
        pools = store.worker_processes()
        redis_ok = True
    except redis.RedisError:
        pools, redis_ok = {}, False
    workers = sum(pools.values())
    status = "ok" if redis_ok and workers else "degraded" if redis_ok else "down"
    body = {
        "status": status,
        "redis": redis_ok,
        "workers": workers,
        "nodes": len(pools),
        "engine_version": engine.ENGINE_VERSION,
    }
    return body, 200 if redis_ok else 503
