"""The shapes of pathgrad's results, for type checkers (docs/CONTRACT.md sections 2, 3).

>>> from pathgrad.types import AnalysisResult
"""

from __future__ import annotations

from worker.engine.shapes import (
    AgreementRecord,
    AnalysisResult,
    BiasRecord,
    FiniteDifferenceAgreement,
    Formula,
    NodeRecord,
    PathPage,
    PathRecord,
    WeightRecord,
)

__all__ = [
    "AgreementRecord",
    "AnalysisResult",
    "BiasRecord",
    "FiniteDifferenceAgreement",
    "Formula",
    "NodeRecord",
    "PathPage",
    "PathRecord",
    "WeightRecord",
]
