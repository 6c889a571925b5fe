"""pathgrad's HTTP service: a Flask API in front of Celery workers and Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import celery_init_app, create_app

__all__ = ["celery_init_app", "create_app"]


def __getattr__(name: str) -> Any:
    """Import Flask and Celery on first use: the offline CLI (`pathgrad grade`) starts fast."""
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
