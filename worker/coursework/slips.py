"""Common slips in hand-computed gradients, and feedback that names them.

A wrong answer is compared with what each slip would have produced, in this
order: a sign error; the dLoss/dOut factor missing; every activation derivative
sigma' missing; both missing; a sum over only some of the paths (every subset
of up to :data:`SUBSET_PATHS` paths; else each "all but one", each "all but two"
up to :data:`LEAVE_TWO_PATHS` paths, and each single path, up to
:data:`MAX_DIAGNOSIS_PATHS` paths). The slips' values come from the same forward
pass: the delta recursion with sigma' or dLoss/dOut set to 1, and the explicit
path contributions of :class:`~worker.engine.paths.SuffixPaths`. An exercise's
distractors (:mod:`worker.coursework.distractors`) are these same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from ..engine.backprop import deltas
from ..engine.batch import Batch
from ..engine.exact import as_float
from ..engine.forward import Forward
from ..engine.names import Names
from ..engine.options import Options
from ..engine.paths import SuffixPaths, paths_per_node
from ..engine.pipeline import analyze_checked
from ..engine.spec import Network
from .tolerance import DEFAULT_ATOL, DEFAULT_RTOL, Tolerance

__all__ = [
    "CLOSE_RTOL",
    "DEFAULT_ATOL",
    "DEFAULT_RTOL",
    "DERIVATIVE_SLIPS",
    "LEAVE_TWO_PATHS",
    "MAX_DIAGNOSIS_PATHS",
    "SUBSET_PATHS",
    "Diagnoser",
    "Number",
    "Parameter",
    "RuleAnalysis",
    "Tolerance",
    "describe_kinks",
    "show",
]

Array = npt.NDArray[Any]
Number = float | Fraction
# The slips of a derivative left out (or a sign flipped), in the order they are matched.
DERIVATIVE_SLIPS = ("sign_error", "missing_loss_derivative", "missing_activation_derivative",
                    "missing_activation_and_loss_derivatives")
_VARIANTS = {"missing_loss_derivative": "loss", "missing_activation_derivative": "sigma",
             "missing_activation_and_loss_derivatives": "both"}

SUBSET_PATHS = 10
# Up to this many paths, every "all but two" subset is matched too (an exercise's limit).
LEAVE_TWO_PATHS = 64
MAX_DIAGNOSIS_PATHS = 100_000
# An answer this close to the expected value is a rounding problem, not a slip.
CLOSE_RTOL = 1e-2
# Paths named in feedback, and listed in a diagnosis's details.
SHOWN_PATHS = 4
DETAIL_PATHS = 10

@dataclass(frozen=True)
class Parameter:
    """A weight or bias: where it sits and the flat index of its gradient.

    Attributes
    ----------
    name : str
        ``W7`` or ``b_H1``.
    l, i : int
        Layer (1-based) and row of the neuron it feeds.
    j : int or None
        Source column of a weight; None for a bias.
    index : int
        Position among the weights (or the biases) in name order.
    """

    name: str
    l: int
    i: int
    j: int | None
    index: int

    @property
    def label(self) -> str:
        """The derivative's name, ``dLoss/dW7``."""
        return f"dLoss/d{self.name}"


class RuleAnalysis:
    """The analysis of one network under one subgradient rule, and the slips' values.

    Parameters
    ----------
    batch : Batch
        The network, stacked as a batch of one.
    options : Options
        Analysis options; ``options.subgradient`` is the rule.

    Raises
    ------
    PathgradError
        From the analysis (path limit, overflow, disagreement).
    """

    def __init__(self, batch: Batch, options: Options) -> None:
        self.subgradient = options.subgradient
        analysis, (self.result,) = analyze_checked(batch, options)
        self.passed: Forward = analysis.passed
        self.batch = batch
        self.expected = (analysis.backprop[0][0].tolist(), analysis.backprop[1][0].tolist())
        self._variants: dict[str, list[Array]] = {}
        self._suffix: SuffixPaths | None = None

    def gradient(self, param: Parameter) -> Number:
        """dLoss/d(param) under this rule."""
        which = 0 if param.j is not None else 1
        value: Number = self.expected[which][param.index]
        return value

    def source(self, param: Parameter) -> Any:
        """a_u of a weight's source neuron; 1 for a bias."""
        return 1 if param.j is None else self.passed.values[param.l - 1][0, 0, param.j]

    def variant(self, param: Parameter, what: str) -> Any:
        """The gradient with sigma' ("sigma"), dLoss/dOut ("loss") or both set to 1."""
        if what not in self._variants:
            passed = self.passed
            slopes: list[Array | None] = list(passed.derivatives)
            loss = passed.loss_gradient
            if what in ("sigma", "both"):
                slopes = [None] + [np.ones_like(s) for s in passed.derivatives[1:]]
            if what in ("loss", "both"):
                loss = np.ones_like(loss)
            self._variants[what] = deltas(self.batch.weights, slopes, loss)
        return self._variants[what][param.l][0, 0, param.i] * self.source(param)

    def derivative_slips(self, param: Parameter) -> list[tuple[str, Number]]:
        """What each slip of :data:`DERIVATIVE_SLIPS` gives for ``param``, in that order."""
        expected = self.gradient(param)
        return [(code, -expected if code == "sign_error" else
                 self.variant(param, _VARIANTS[code])) for code in DERIVATIVE_SLIPS]

    def contributions(self, param: Parameter) -> Array:
        """Each path's contribution, in lexicographic path order."""
        if self._suffix is None:
            passed = self.passed
            # Coursework networks have one sample: enumerate it (index 0 of the sample axis).
            self._suffix = SuffixPaths(self.batch.weights,
                                       [None if d is None else d[:, 0] for d in passed.derivatives],
                                       passed.loss_gradient[:, 0])
        blocks = [block.ravel() for _, block in self._suffix.rows(param.l, 0, node=param.i)]
        return np.concatenate(blocks) * self.source(param)


class Diagnoser:
    """Finds the slip behind a wrong answer and words the feedback.

    Parameters
    ----------
    network : Network
    rules : sequence of RuleAnalysis
        The chosen subgradient first; the others too when the network has a kink.
    kinks : str
        The kinks hit, described (empty when none).
    """

    def __init__(self, network: Network, rules: Sequence[RuleAnalysis], kinks: str) -> None:
        self.network = network
        self.names = Names.of(network.layers)
        self.rules = list(rules)
        self.kinks = kinks
        self.exact = network.exact
        self._paths: dict[tuple[int, str], tuple[Array, Array] | None] = {}

    def __repr__(self) -> str:
        return f"Diagnoser({self.network!r}, rules={[r.subgradient for r in self.rules]})"

    def _equal(self, given: Number, expected: Number, tol: Tolerance) -> bool:
        return tol.equal(given, expected, exact=self.exact)

    def diagnose(
        self, param: Parameter, given: Number, tol: Tolerance, values: list[Number]
    ) -> dict[str, Any]:
        """Return ``diagnosis`` and ``feedback`` (and ``details``) for a wrong answer.

        Parameters
        ----------
        param : Parameter
        given : float or Fraction
        tol : Tolerance
        values : list
            The gradient under each rule of :attr:`rules` (they differ at a kink).
        """
        kinked = any(v != values[0] for v in values)
        for rule in self.rules:
            found = self._slips(rule, param, given, tol) or self._partial(rule, param, given, tol)
            if found is not None:
                if kinked:
                    found["feedback"] += f" (With the {rule.subgradient} subgradient at the kink.)"
                return found
        return self._wrong(param, given, tol)

    def _slips(
        self, rule: RuleAnalysis, param: Parameter, given: Number, tol: Tolerance
    ) -> dict[str, Any] | None:
        """Sign error, missing dLoss/dOut, missing sigma', both: every one that matches."""
        expected = rule.gradient(param)
        hits = [code for code, value in rule.derivative_slips(param)
                if not self._equal(value, expected, tol) and self._equal(given, value, tol)]
        if not hits:
            return None
        texts = {code: self._slip_text(code, rule, param) for code in hits}
        feedback = texts[hits[0]]
        if len(hits) > 1:
            feedback += " It also equals what this slip gives: " + "; ".join(
                texts[code].split(":", 1)[0].lower() for code in hits[1:]) + "."
        return _verdict(hits[0], feedback)

    def _slip_text(self, code: str, rule: RuleAnalysis, param: Parameter) -> str:
        loss = self._loss_text(rule)
        sigma = self._sigma_text(param)
        if code == "sign_error":
            return (f"Sign error: your answer is the negative of {param.label}. Check the sign "
                    f"of dLoss/dOut ({loss}) and of every factor on the paths (negative "
                    "weights and inputs).")
        if code == "missing_loss_derivative":
            return (f"Missing dLoss/dOut: your answer equals the path sum of {param.label} "
                    f"without the loss derivative. Multiply each path by dLoss/dOut ({loss}).")
        if code == "missing_activation_derivative":
            return (f"Missing activation derivative: your answer equals the path sum of "
                    f"{param.label} with every activation derivative sigma'(z) set to 1. "
                    f"Multiply each path by sigma'(z) of every neuron it passes from "
                    f"{self.names.nodes[param.l][param.i]} on ({sigma}).")
        return (f"Missing activation and loss derivatives: your answer equals the path sum "
                f"of {param.label} with every sigma'(z) and dLoss/dOut set to 1. Multiply each "
                f"path by sigma'(z) of its neurons ({sigma}) and by dLoss/dOut ({loss}).")

    def _loss_text(self, rule: RuleAnalysis) -> str:
        formula = self.network.loss.derivative_rule
        slopes = rule.passed.loss_gradient[0, 0]
        if len(slopes) == 1:
            return f"{formula} = {show(slopes[0])} here"
        return f"{formula}, for the output each path ends at"

    def _sigma_text(self, param: Parameter) -> str:
        rules = dict.fromkeys(a.derivative_rule for a in self.network.activations[param.l - 1:])
        return "; ".join(rule for rule in rules if rule) or "identity'(z) = 1"

    def _partial(
        self, rule: RuleAnalysis, param: Parameter, given: Number, tol: Tolerance
    ) -> dict[str, Any] | None:
        """A sum over only some of the paths: the match that misses the fewest."""
        if given == 0:
            return None  # a path through a dead neuron contributes 0: no evidence of a slip
        found = self._path_candidates(rule, param)
        if found is None:
            return None
        sums, masks = found
        if self.exact:
            hits = np.flatnonzero(np.array([s == given for s in sums.tolist()], dtype=bool))
        else:
            hits = np.flatnonzero(tol.accepts(float(given), sums))
        if not len(hits):
            return None
        used = masks[hits[0]]
        contributions = rule.contributions(param)
        return self._partial_verdict(param, used, contributions)

    def _path_candidates(self, rule: RuleAnalysis, param: Parameter) -> tuple[Array, Array] | None:
        """Partial sums and their masks (True = path used), most paths used first."""
        key = (self.rules.index(rule), param.name)
        if key not in self._paths:
            self._paths[key] = None
            count = paths_per_node(self.network.layers, param.l)
            if 2 <= count <= MAX_DIAGNOSIS_PATHS:
                contributions = rule.contributions(param)
                masks = _masks(count)
                dtype = object if self.exact else np.float64
                self._paths[key] = (masks.astype(dtype) @ contributions, masks)
        return self._paths[key]

    def _partial_verdict(
        self, param: Parameter, used: Array, contributions: Array
    ) -> dict[str, Any]:
        total = len(used)
        used_index, missed_index = np.flatnonzero(used), np.flatnonzero(~used)
        used_paths = [self.path(param, k, contributions[k]) for k in used_index[:DETAIL_PATHS]]
        missed_paths = [self.path(param, k, contributions[k])
                        for k in missed_index[:DETAIL_PATHS]]
        if len(used_index) == 1:
            through = [n for n in used_paths[0]["nodes"][2 if param.j is not None else 1:]
                       if all(n not in p["nodes"] for p in missed_paths)]
            where = f"through {', '.join(through)} " if through and len(missed_index) <= \
                DETAIL_PATHS else ""
            head = f"the path {where}alone, {_chain(used_paths[0])}"
        else:
            head = f"the sum of only {len(used_index)} of its {total} paths"
        shown = [_chain(p) for p in missed_paths[:SHOWN_PATHS]]
        more = len(missed_index) - len(shown)
        listed = ", ".join(shown) + (f" and {more} more" if more else "")
        verb = "is" if len(missed_index) == 1 else "are"
        noun = "path" if len(missed_index) == 1 else "paths"
        outputs = "output" if self.network.layers[-1] == 1 else "outputs"
        feedback = (f"Only some of the paths: your answer equals {head}; the {noun} {listed} "
                    f"{verb} missing. {param.label} adds up all {total} paths from "
                    f"{self.names.nodes[param.l][param.i]} to the {outputs}.")
        details = {"paths_total": total, "paths_used": len(used_index),
                   "paths_missing": len(missed_index), "used": used_paths,
                   "missing": missed_paths}
        return _verdict("missing_paths", feedback, details=details)

    def _wrong(self, param: Parameter, given: Number, tol: Tolerance) -> dict[str, Any]:
        expected = self.rules[0].gradient(param)
        start = self.names.nodes[param.l][param.i]
        if self.exact:
            # In fractions: an exact value may be beyond float64.
            miss = abs(Fraction(given) - Fraction(expected))
            if miss <= abs(Fraction(expected)) / 10**6 + Fraction(1, 10**12):
                return _verdict("inexact", f"Rounded: your answer agrees with {param.label} to "
                                "about 6 digits, but arithmetic is exact here: give the exact "
                                "value, as a fraction such as 3/4 or a terminating decimal.")
        elif (gap := abs(float(given) - float(expected))) <= CLOSE_RTOL * (
                scale := abs(float(expected))):
            return _verdict("close", f"Close but outside the tolerance: your answer is "
                            f"{gap / scale:.2%} off {param.label}, and {tol.describe()} is "
                            "accepted. Keep more digits in intermediate results.")
        count = paths_per_node(self.network.layers, param.l)
        factor = f"a_{self.names.nodes[param.l - 1][param.j]} * " if param.j is not None else ""
        product = (f"{factor}sigma'(z) of every neuron from {start} on * the later weights "
                   "* dLoss/dOut")
        head = ("Incorrect, and not one of the common slips (sign, missing dLoss/dOut or "
                "sigma', missing paths).")
        if count == 1:
            path = _chain(self.path(param, 0, 0))
            return _verdict("wrong", f"{head} {param.label} has a single path, {path}: the "
                            f"product {product}.")
        paths = ""
        if count <= SHOWN_PATHS:
            paths = ": " + "; ".join(_chain(self.path(param, k, 0)) for k in range(count))
        outputs = "output" if self.network.layers[-1] == 1 else "outputs"
        return _verdict("wrong", f"{head} {param.label} is the sum over its {count} paths "
                        f"from {start} to the {outputs}, each the product {product}{paths}.")

    def path(self, param: Parameter, k: int, contribution: Any) -> dict[str, Any]:
        """Path ``k`` of a parameter (lexicographic order): nodes, later weights, contribution."""
        later = self.network.layers[param.l + 1:]
        digits = [int(d) for d in np.unravel_index(int(k), later)] if later else []
        prev = param.i
        nodes = [self.names.nodes[param.l][param.i]]
        if param.j is not None:
            nodes.insert(0, self.names.nodes[param.l - 1][param.j])
        weights = []
        for m, node in enumerate(digits, start=param.l + 1):
            nodes.append(self.names.nodes[m][node])
            weights.append(self.names.weights[m - 1][node][prev])
            prev = node
        return {"nodes": nodes, "weights": weights, "contribution": as_float(contribution)}


def describe_kinks(passed: Forward, network: Network, names: Names) -> str:
    """Describe every kink the forward pass hit, or "" when there is none."""
    found = []
    for l, (kinks, name) in enumerate(zip(passed.kinks[1:], network.activations, strict=True),
                                      start=1):
        if kinks is not None:
            found += [f"{names.nodes[l][i]} has pre-activation 0, a kink of {name}"
                      for i in np.flatnonzero(kinks[0, 0]).tolist()]
    found += [f"{names.nodes[-1][k]} = {names.targets[k]}, a kink of |{names.nodes[-1][k]} - "
              f"{names.targets[k]}|" for k in np.flatnonzero(passed.loss_kinks[0, 0]).tolist()]
    return "; ".join(found)


def _masks(count: int) -> Array:
    """The subsets of paths an answer is matched against (True = path used), in order."""
    if count <= SUBSET_PATHS:
        return _subset_masks(count)
    if count <= LEAVE_TWO_PATHS:
        return _leave_two_masks(count)
    return _leave_one_masks(count)


@lru_cache(maxsize=SUBSET_PATHS + 1)
def _subset_masks(count: int) -> Array:
    """Every proper non-empty subset of ``count`` paths, those using the most first."""
    codes = np.arange(1, 2**count - 1)
    masks = (codes[:, None] >> np.arange(count)[None, :]) & 1
    order = np.argsort(-masks.sum(axis=1), kind="stable")
    result: Array = masks[order].astype(bool)
    return result


@lru_cache(maxsize=16)
def _leave_one_masks(count: int) -> Array:
    """Each "all but one" subset, then each single path."""
    eye = np.eye(count, dtype=bool)
    result: Array = np.concatenate([~eye, eye])
    return result


@lru_cache(maxsize=16)
def _leave_two_masks(count: int) -> Array:
    """Each "all but one", each "all but two" (in lexicographic order), then each single path."""
    eye = np.eye(count, dtype=bool)
    first, second = np.triu_indices(count, k=1)
    result: Array = np.concatenate([~eye, ~(eye[first] | eye[second]), eye])
    return result


def _chain(path: Mapping[str, Any]) -> str:
    weights = "\u00b7".join(path["weights"]) or "no later weights"
    return "\u2192".join(path["nodes"]) + f" ({weights})"


def _verdict(diagnosis: str, feedback: str, **extra: Any) -> dict[str, Any]:
    return {"diagnosis": diagnosis, "feedback": feedback, **extra}

def show(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(value)
    return f"{float(value):.6g}"

