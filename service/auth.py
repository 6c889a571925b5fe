"""API keys: with ``PATHGRAD_API_KEYS`` set, every route but health and docs needs a key.

Format: comma-separated keys, each optionally named, ``alice:k3y-one,bob:k3y-two``; a
key without a name is named by the first 12 hex digits of its SHA-256. The name owns
the jobs and batches made with the key; another key gets 404 for them. Keys are
compared in constant time and never logged. Without the variable the service is open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, g, request

from worker.problems import problem

from .problems import ProblemError
from .settings import ConfigError

__all__ = ["OPEN_ENDPOINTS", "init_app", "owner", "owns", "parse_keys"]

#: Endpoints served without a key: health checks, the API documentation, and the
#: explorer's page and assets (what it shows of a job needs a key, sent by the page).
OPEN_ENDPOINTS = frozenset({"health.health", "docs.openapi", "static", "explore.root",
                            "explore.page", "explore.static", "explore.example"})
_OPEN_BLUEPRINTS = frozenset({"swagger_ui"})
# /docs redirects to /docs/ before any endpoint is matched: open by path too.
_OPEN_PREFIXES = ("/docs/",)
_OPEN_PATHS = frozenset({"/docs"})


def parse_keys(raw: Any) -> dict[str, str]:
    """Return {key: owner name} from the ``PATHGRAD_API_KEYS`` value."""
    keys: dict[str, str] = {}
    for item in str(raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, key = item.partition(":")
        if not sep:
            name, key = hashlib.sha256(item.encode()).hexdigest()[:12], item
        if not key or not name:
            raise ConfigError("PATHGRAD_API_KEYS: expected comma-separated 'name:key' or 'key' "
                              "(a name or key is empty)")
        keys[key] = name
    return keys


def init_app(app: Flask) -> None:
    """Parse the configured keys and check every request against them."""
    raw = app.config.get("API_KEYS")
    if raw is not None and not isinstance(raw, str):
        # from_prefixed_env read the variable as JSON (a key such as "1e5" became a
        # number): take it as written.
        raw = os.environ.get("PATHGRAD_API_KEYS", str(raw))
    app.extensions["pathgrad_keys"] = parse_keys(raw)
    app.before_request(_authenticate)


def _authenticate() -> None:
    keys: Mapping[str, str] = current_app.extensions["pathgrad_keys"]
    g.pathgrad_owner = None
    # A request matching no route or method gets its 404 or 405 with or without a key:
    # the routes are public (/openapi.json lists them), only what they serve needs one.
    if request.routing_exception is not None:
        return
    if (not keys or request.endpoint in OPEN_ENDPOINTS or request.blueprint in _OPEN_BLUEPRINTS
            or request.path in _OPEN_PATHS or request.path.startswith(_OPEN_PREFIXES)):
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    found = None
    if scheme.lower() == "bearer" and given:
        for key, name in keys.items():  # every key, so timing says nothing of which matched
            if hmac.compare_digest(key.encode(), given.strip().encode()):
                found = name
    if found is None:
        detail = ("a valid API key is required: send 'Authorization: Bearer <key>'"
                  if scheme or given else "this service needs an API key: "
                  "send 'Authorization: Bearer <key>'")
        raise ProblemError(problem(401, "Unauthorized", detail, slug="unauthorized"),
                           headers={"WWW-Authenticate": 'Bearer realm="pathgrad"'})
    g.pathgrad_owner = found


def owner() -> str | None:
    """Return the name of the key of this request (None on an open service)."""
    return getattr(g, "pathgrad_owner", None)


def owns(record: Mapping[str, Any]) -> bool:
    """Whether this request's key may see a job or batch record."""
    return record.get("owner") == owner()
