"""The app's security headers: a Content-Security-Policy that forbids every other origin.

Every response says the same: scripts, styles, images, fonts and requests from this
origin only; no plugins, no ``<base>``, never framed (``frame-ancestors 'none'``).
The explorer needs nothing more: its script and stylesheet are files, its formulas
MathML and its drawings SVG. Swagger UI at ``/docs/`` starts from one inline script
and styles its elements inline: its page gets the hash of that script (computed from
the page served, so it follows the package's template) and inline styles, and still
nothing from another origin.
"""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response, request

__all__ = ["DOCS_POLICY", "POLICY", "init_app"]

POLICY = ("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
          "object-src 'none'")
DOCS_POLICY = ("default-src 'self'; script-src 'self' {hashes}; style-src 'self' "
               "'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
               "frame-ancestors 'none'; object-src 'none'")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def init_app(app: Flask) -> None:
    """Add the security headers to every response of ``app``."""
    app.after_request(_headers)


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # A job's id is in the explorer's address: no other site learns it from a link.
    headers.setdefault("Referrer-Policy", "no-referrer")
    if request.blueprint == "swagger_ui" and response.mimetype == "text/html" \
            and not response.is_streamed:
        hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
                          for body in _INLINE_SCRIPT.findall(response.get_data()))
        headers["Content-Security-Policy"] = DOCS_POLICY.format(hashes=hashes)
    else:
        headers.setdefault("Content-Security-Policy", POLICY)
    return response
