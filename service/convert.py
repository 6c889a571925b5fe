"""The conversion resource: an ONNX model in, its network spec out (docs/CONTRACT.md 10).

``POST /v1/convert`` takes the model file as the body (``Content-Type:
application/onnx``) and answers the spec, or a 422 problem naming the operator and
node it does not read. The model is parsed (protobuf), never executed; the body
limit bounds the work. It runs in the API process: parsing is quick, and the answer
is the caller's to submit as a job.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, request

from worker.engine import from_onnx
from worker.engine.errors import SpecError
from worker.problems import problem

from .models import ConvertQuery
from .problems import ProblemError

__all__ = ["MEDIA_TYPES", "bp"]

bp = Blueprint("convert", __name__, url_prefix="/v1/convert")

#: The body's media types read as an ONNX model.
MEDIA_TYPES = ("application/onnx", "application/octet-stream")


@bp.post("")
def convert() -> Any:
    """Read the body's ONNX model into a network spec."""
    query = ConvertQuery.model_validate(request.args.to_dict())
    if request.mimetype not in MEDIA_TYPES:
        raise ProblemError(problem(
            415, "Unsupported media type", f"expected the ONNX file as the body, with "
            f"Content-Type: application/onnx; got {request.mimetype or 'no Content-Type'}",
            slug="media-type"))
    data = request.get_data(cache=False)
    samples = _json(query.input, "input")
    targets = _json(query.target, "target")
    return from_onnx(data, samples, targets, query.loss)


def _json(text: str | None, name: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise SpecError(name, "expected JSON numbers (n0 numbers, or N rows of them) in the "
                        f"query parameter {name}") from None
