"""The Flask application factory and its Celery app, wired as Flask's docs show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery, Task
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

from worker.settings import VISIBILITY_MARGIN, celery_config

from . import extensions
from .settings import DEFAULTS, check_config, default_redis_url

__all__ = ["celery_init_app", "create_app"]


class _Flask(Flask):
    """Flask, answering ``OPTIONS`` on a route with 204 and ``Allow``, not an empty page."""

    def make_default_options_response(self) -> Response:
        """Return the answer to ``OPTIONS``: no content, the route's methods in ``Allow``."""
        response = super().make_default_options_response()
        response.status_code = 204
        del response.headers["Content-Type"]
        return response


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create the API: defaults, then ``PATHGRAD_*`` variables, then ``config``."""
    app = _Flask(__name__)
    app.config.from_mapping(DEFAULTS, REDIS_URL=default_redis_url())
    app.config.from_prefixed_env("PATHGRAD")
    if config is not None:
        app.config.from_mapping(config)
    check_config(app.config)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_BODY"])
    if isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = False  # keep the contract's field order in responses
    app.config["CELERY"] = celery_config(
        app.config["REDIS_URL"],
        soft_time_limit=int(app.config["SOFT_TIME_LIMIT"]),
        hard_time_limit=int(app.config["HARD_TIME_LIMIT"]),
        queue=str(app.config["QUEUE"]),
    ) | {"pathgrad": _store_settings(app)}
    extensions.init_app(app)
    celery_init_app(app)

    from . import (
        auth,
        batches,
        convert,
        docs,
        exercises,
        explore,
        grade,
        health,
        jobs,
        problems,
        security,
    )

    problems.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(batches.bp)
    app.register_blueprint(exercises.bp)
    app.register_blueprint(grade.bp)
    app.register_blueprint(convert.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    docs.init_app(app)
    app.register_blueprint(explore.bp)
    return app


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app from ``app.config["CELERY"]``; tasks run in an app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def _store_settings(app: Flask) -> dict[str, Any]:
    return {
        "redis_url": app.config["REDIS_URL"],
        "job_ttl": int(app.config["JOB_TTL"]),
        "cache_ttl": int(app.config["CACHE_TTL"]),
        "inflight_ttl": int(app.config["HARD_TIME_LIMIT"]) + VISIBILITY_MARGIN,
        "retry_seconds": float(app.config["REDIS_RETRY"]),
        "running_lease": int(app.config["HARD_TIME_LIMIT"]) + VISIBILITY_MARGIN,
        "queued_lease": float(app.config["QUEUED_LEASE"]),
        "max_attempts": int(app.config["MAX_ATTEMPTS"]),
        "sweep_interval": float(app.config["SWEEP_INTERVAL"]),
        "queue": str(app.config["QUEUE"]),
    }
