"""Backprop exercises: small networks with exact answers, one per student.

An exercise is a network with small integer (or half-integer) weights, inputs and
target, drawn deterministically from a seed; the question in Markdown, modelled
on the seed question (shared/seed-question.txt); and the answer key: each asked
dLoss/dW as an exact fraction, its float, its symbolic path sum and its paths.

Networks are redrawn (deterministically) until no asked gradient sits on a kink
(a relu/leaky_relu pre-activation exactly 0 on its paths, or an l1 output exactly
on its target), the asked gradients are not all zero, and every common slip is
told apart: the values of the slips of different diagnoses (the key's
``distractors``, :mod:`worker.coursework.distractors`) differ from the answer and
from each other by more than the grading tolerance, so a wrong answer's diagnosis
is never a guess. Every answer is then a plain derivative, the same under every
subgradient rule.

Only rational activations and losses are allowed, so every answer is exact.
Randomness comes from ``random.Random(seed).random()`` alone, whose sequence
Python guarantees across versions: the same seed gives the same exercise on
every machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..engine.activations import ACTIVATIONS
from ..engine.backprop import deltas
from ..engine.batch import Batch, stack
from ..engine.contributions import contributions
from ..engine.errors import InvalidInputError, brief
from ..engine.exact import is_finite_number
from ..engine.forward import forward
from ..engine.losses import LOSSES
from ..engine.names import Names
from ..engine.options import parse_options
from ..engine.paths import paths_per_node, suffix_path_count
from ..engine.spec import Network, parse_spec
from .distractors import Slip, collision, distractors, slips
from .errors import GradingError
from .grading import MAX_POINTS, parse_partial
from .question import question
from .slips import Diagnoser, Parameter, RuleAnalysis
from .tolerance import Tolerance, parse_tolerance

RATIONAL_ACTIVATIONS = tuple(name for name, record in ACTIVATIONS.items() if record.rational)
RATIONAL_LOSSES = tuple(name for name, record in LOSSES.items() if record.rational)

__all__ = [
    "EXERCISE_VERSION",
    "MAX_BOUND",
    "MAX_COUNT",
    "DEFAULT_DRAWS",
    "MAX_DRAWS",
    "MAX_TOTAL_DRAWS",
    "MAX_EXERCISE_PATHS",
    "MAX_LAYERS",
    "MAX_LAYER_SIZE",
    "MAX_NETWORK_PATHS",
    "MAX_SEED",
    "ExerciseError",
    "ExerciseParams",
    "exercise",
    "exercises",
    "parse_exercise",
]

# Part of the service's cache key: bump it whenever the same request may give a new exercise.
EXERCISE_VERSION = "2"

MAX_LAYERS = 6  # layer sizes n0 ... nL, so at most 5 weight layers
MAX_LAYER_SIZE = 10
MAX_EXERCISE_PATHS = 64  # paths of one asked weight: a formula a student can still read
MAX_NETWORK_PATHS = 10_000  # suffix paths the exact key enumerates: bounds the time per variant
MAX_BOUND = 20  # |lower|, |upper| of the number range
MAX_COUNT = 500
MAX_SEED = 2**53 - 1  # seeds survive a round trip through a JavaScript number
DEFAULT_DRAWS = 1000  # networks drawn per variant before giving up
MAX_DRAWS = 10_000
MAX_TOTAL_DRAWS = 500_000  # count * max_draws: bounds the work of one request


class ExerciseError(InvalidInputError):
    """An exercise request is invalid, or no network fits it."""

    title = "Invalid exercise request"


@dataclass(frozen=True)
class ExerciseParams:
    """A validated exercise request (everything but the seed and the count).

    Attributes
    ----------
    layers : tuple of int
        Sizes n0 (inputs) ... nL (outputs).
    activations : tuple of str
        One rational activation per non-input layer.
    loss : str
        ``l1``, ``mse`` or ``half_sse``.
    ask : tuple of str
        The weights whose gradient is asked, e.g. ``("W1", "W7")``.
    integers : tuple of int
        The range ``(lower, upper)`` every number is drawn from.
    fractions : bool
        Draw halves (``-3/2``, ``1/2``, ...) as well as integers.
    tolerance : Tolerance
        The grading tolerance the key is given with; its slips are told apart by it.
    partial : dict
        Diagnosis -> partial credit (0..1), written into the key.
    points : dict
        Asked weight -> its points (default 1 each).
    max_draws : int
        Networks drawn per variant before giving up.
    """

    layers: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    ask: tuple[str, ...]
    integers: tuple[int, int]
    fractions: bool
    tolerance: Tolerance = Tolerance()
    partial: Mapping[str, float] = dataclasses.field(default_factory=dict)
    points: Mapping[str, float] = dataclasses.field(default_factory=dict)
    max_draws: int = DEFAULT_DRAWS

    def to_dict(self) -> dict[str, Any]:
        """Return the canonical request (for cache keys and echoing back)."""
        return {
            "layers": list(self.layers),
            "activation": list(self.activations),
            "loss": self.loss,
            "ask": list(self.ask),
            "integers": list(self.integers),
            "fractions": self.fractions,
            "tolerance": self.tolerance.to_dict(),
            "partial": dict(self.partial),
            "points": {weight: self.points.get(weight, 1.0) for weight in self.ask},
            "max_draws": self.max_draws,
        }

    @property
    def numbers(self) -> tuple[Fraction, ...]:
        """Every number a weight, input or target may take, in increasing order."""
        lower, upper = self.integers
        step = 2 if self.fractions else 1
        return tuple(Fraction(k, step) for k in range(lower * step, upper * step + 1))


def parse_exercise(
    *,
    layers: Any,
    activation: Any = "identity",
    loss: Any = "l1",
    ask: Any = ("W1",),
    integers: Any = (-3, 3),
    fractions: Any = False,
    tolerance: Any = None,
    partial: Any = None,
    points: Any = None,
    max_draws: Any = DEFAULT_DRAWS,
) -> ExerciseParams:
    """Validate an exercise request.

    Parameters
    ----------
    layers : sequence of int
        2 to :data:`MAX_LAYERS` sizes, each from 1 to :data:`MAX_LAYER_SIZE`, with at
        most :data:`MAX_NETWORK_PATHS` suffix paths in all.
    activation : str or sequence of str
        ``identity``, ``relu`` or ``leaky_relu``, for all layers or one per layer.
    loss : {"l1", "mse", "half_sse"}
    ask : sequence of str
        Weight names (duplicates dropped), each with at most
        :data:`MAX_EXERCISE_PATHS` paths.
    integers : (int, int)
        ``(lower, upper)``, ``-MAX_BOUND <= lower <= upper <= MAX_BOUND``, not both 0.
    fractions : bool
    tolerance : mapping, optional
        The grading tolerance of the key (``{"rtol", "atol"}``, ``{"sigfig": n}`` or
        ``{"decdig": n}``); slips must be told apart by it.
    partial : mapping, optional
        Partial credit per diagnosis, e.g. ``{"sign_error": 0.5}``.
    points : mapping, optional
        Asked weight -> points (default 1 each).
    max_draws : int
        1 to :data:`MAX_DRAWS` networks drawn per variant before giving up.

    Returns
    -------
    ExerciseParams

    Raises
    ------
    ExerciseError, GradingError
        Naming the offending field.
    """
    sizes = _check_layers(layers)
    activations = _check_activation(activation, len(sizes) - 1)
    _check_loss(loss)
    asked = _check_ask(ask, sizes)
    bounds = _check_integers(integers)
    if not isinstance(fractions, bool):
        raise ExerciseError("fractions", f"expected true or false, got {fractions!r}")
    return ExerciseParams(sizes, activations, loss, asked, bounds, fractions,
                          parse_tolerance(tolerance), parse_partial(partial),
                          _check_points(points, asked), _check_draws(max_draws))


def exercise(
    *,
    layers: Sequence[int],
    activation: str | Sequence[str] = "identity",
    loss: str = "l1",
    seed: int = 0,
    ask: Sequence[str] = ("W1",),
    integers: tuple[int, int] = (-3, 3),
    fractions: bool = False,
    tolerance: Mapping[str, Any] | None = None,
    partial: Mapping[str, Any] | None = None,
    points: Mapping[str, Any] | None = None,
    max_draws: int = DEFAULT_DRAWS,
) -> dict[str, Any]:
    """Draw one exercise: a network, its question and its answer key.

    Parameters
    ----------
    layers : sequence of int
        Sizes n0 (inputs) ... nL (outputs), e.g. ``(2, 3, 2, 1)`` for the seed network.
    activation : str or sequence of str
        ``identity``, ``relu`` or ``leaky_relu`` (one name, or one per non-input layer).
    loss : {"l1", "mse", "half_sse"}
    seed : int
        0 ... :data:`MAX_SEED`; the same seed always gives the same exercise.
    ask : sequence of str
        The weights to ask dLoss/dW of.
    integers : (int, int)
        Range of the weights, inputs and target. Weights and inputs are never 0.
    fractions : bool
        Also draw halves such as ``1/2`` and ``-3/2``.
    tolerance : mapping, optional
        The grading tolerance the key is given with (default rtol 1e-6, atol 1e-9).
    partial : mapping, optional
        Partial credit per diagnosis, e.g. ``{"sign_error": 0.5}`` (default 0).
    points : mapping, optional
        Points per asked weight (default 1).
    max_draws : int
        Networks drawn before giving up (default :data:`DEFAULT_DRAWS`).

    Returns
    -------
    dict
        ``network`` (docs/CONTRACT.md section 1; biases all 0), ``question`` (Markdown),
        ``answers`` (per asked weight: ``value`` as an exact fraction string,
        ``float``, ``formula`` in SymPy syntax, ``paths`` as ``"X1→H1→H4→Out"`` and
        their exact ``contributions`` in the same order, ``distractors`` (each
        slip's ``diagnosis``, ``value``, ``float``, ``feedback``, ``credit``, and for
        missing paths the ``missing`` ones), ``points``, ``tolerance`` and
        ``partial``), ``seed`` and ``draws`` (networks drawn for this one).

    Raises
    ------
    ExerciseError
        For invalid input, or when ``max_draws`` networks all fail a constraint
        (the message names which, and how often).

    Examples
    --------
    >>> ex = exercise(layers=(2, 3, 2, 1), seed=7, ask=("W1", "W7"))
    >>> sorted(ex["answers"]), "What is dLoss/dW7?" in ex["question"]
    (['W1', 'W7'], True)
    """
    params = parse_exercise(layers=layers, activation=activation, loss=loss, ask=ask,
                            integers=integers, fractions=fractions, tolerance=tolerance,
                            partial=partial, points=points, max_draws=max_draws)
    return _exercise(params, _check_seed(seed))


def exercises(count: int, *, seed: int = 0, **request: Any) -> list[dict[str, Any]]:
    """Draw ``count`` distinct exercises of one shape: one variant per student.

    Variant 0 is ``exercise(seed=seed, ...)``; variant i > 0 uses a seed derived
    from ``(seed, i)`` by SHA-256, reported in its ``seed``, so any variant can be
    drawn again on its own. A variant whose network repeats an earlier one is
    skipped for the next derived seed.

    Parameters
    ----------
    count : int
        1 ... :data:`MAX_COUNT`.
    seed : int
    **request
        The keyword arguments of :func:`exercise`.

    Returns
    -------
    list of dict
        ``count`` exercises, as :func:`exercise` returns them.

    Raises
    ------
    ExerciseError
        For invalid input, or when the number range is too small for ``count``
        distinct networks.
    """
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ExerciseError("count", f"expected an integer from 1 to {MAX_COUNT}, got {count!r}")
    params = parse_exercise(**request)
    if count * params.max_draws > MAX_TOTAL_DRAWS:
        raise ExerciseError("max_draws", f"expected count * max_draws of at most "
                            f"{MAX_TOTAL_DRAWS:,}, got {count} * {params.max_draws}")
    base = _check_seed(seed)
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index in range(4 * count + 16):
        drawn = _exercise(params, variant_seed(base, index))
        key = repr(drawn["network"])
        if key not in seen:
            seen.add(key)
            found.append(drawn)
            if len(found) == count:
                return found
    raise ExerciseError(
        "count",
        f"only {len(found)} distinct networks found for count={count}; "
        "widen integers or allow fractions",
    )


def variant_seed(seed: int, index: int) -> int:
    """Return the seed of variant ``index`` of a set drawn with ``seed`` (variant 0: seed)."""
    if index == 0:
        return seed
    digest = hashlib.sha256(f"pathgrad-exercise:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED + 1)


# --- validation -------------------------------------------------------------------------


def _check_layers(layers: Any) -> tuple[int, ...]:
    if isinstance(layers, str | bytes) or not isinstance(layers, Sequence):
        raise ExerciseError("layers", f"expected a list of layer sizes, got {layers!r}")
    if not 2 <= len(layers) <= MAX_LAYERS:
        raise ExerciseError(
            "layers", f"expected 2 to {MAX_LAYERS} layer sizes (n0 ... nL), got {len(layers)}"
        )
    for index, size in enumerate(layers):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_LAYER_SIZE:
            raise ExerciseError(
                f"layers[{index}]", f"expected an integer from 1 to {MAX_LAYER_SIZE}, got {size!r}"
            )
    paths = suffix_path_count(layers)
    if paths > MAX_NETWORK_PATHS:
        raise ExerciseError(
            "layers", f"expected a network of at most {MAX_NETWORK_PATHS} paths for an exercise, "
            f"got {paths}; use smaller layers"
        )
    return tuple(layers)


def _check_activation(activation: Any, depth: int) -> tuple[str, ...]:
    if isinstance(activation, str):
        names, fields = [activation] * depth, ["activation"] * depth
    elif isinstance(activation, Sequence) and not isinstance(activation, bytes):
        if len(activation) != depth:
            raise ExerciseError(
                "activation",
                f"expected one name or a list of {depth} names, got a list of {len(activation)}",
            )
        names, fields = list(activation), [f"activation[{l}]" for l in range(depth)]
    else:
        raise ExerciseError("activation", f"expected a name or a list of names, got {activation!r}")
    for name, field in zip(names, fields, strict=True):
        if name not in RATIONAL_ACTIVATIONS:
            raise ExerciseError(
                field,
                f"expected one of {', '.join(RATIONAL_ACTIVATIONS)} (exercises have exact "
                f"answers, so the activation must be rational), got {name!r}",
            )
    return tuple(names)


def _check_loss(loss: Any) -> None:
    if loss not in RATIONAL_LOSSES:
        raise ExerciseError(
            "loss",
            f"expected one of {', '.join(RATIONAL_LOSSES)} (exercises have exact answers, "
            f"so the loss must be rational), got {loss!r}",
        )


def _check_ask(ask: Any, layers: tuple[int, ...]) -> tuple[str, ...]:
    if isinstance(ask, str):
        ask = [ask]
    if not isinstance(ask, Sequence) or not ask:
        raise ExerciseError("ask", f"expected a non-empty list of weight names, got {ask!r}")
    names = Names.of(layers)
    for index, weight in enumerate(ask):
        try:
            l, _, _ = names.locate(weight)
        except InvalidInputError as exc:
            raise ExerciseError(f"ask[{index}]", exc.message) from None
        paths = paths_per_node(layers, l)
        if paths > MAX_EXERCISE_PATHS:
            raise ExerciseError(
                f"ask[{index}]",
                f"{weight} has {paths} paths, over {MAX_EXERCISE_PATHS} for an exercise; "
                "use smaller later layers",
            )
    return tuple(dict.fromkeys(ask))


def _check_integers(integers: Any) -> tuple[int, int]:
    valid = (
        isinstance(integers, Sequence) and not isinstance(integers, str | bytes)
        and len(integers) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in integers)
    )
    if not valid:
        raise ExerciseError("integers", f"expected [lower, upper], two integers, got {integers!r}")
    lower, upper = integers
    if not -MAX_BOUND <= lower <= upper <= MAX_BOUND or lower == upper == 0:
        raise ExerciseError(
            "integers",
            f"expected -{MAX_BOUND} <= lower <= upper <= {MAX_BOUND}, not both 0, "
            f"got [{lower}, {upper}]",
        )
    return lower, upper


def _check_points(points: Any, asked: tuple[str, ...]) -> dict[str, float]:
    if points is None:
        return {}
    if not isinstance(points, Mapping):
        raise GradingError("points", f"expected an object mapping asked weights to points, got "
                           f"{brief(points)}")
    for name, value in points.items():
        if name not in asked:
            raise GradingError(f"points.{name}", f"{brief(name)} is not asked; points may only "
                               f"name asked weights ({', '.join(asked)})")
        if not (is_finite_number(value) and 0 <= value <= MAX_POINTS):
            raise GradingError(f"points.{name}", f"expected a number from 0 to {MAX_POINTS:g}, "
                               f"got {brief(value)}")
    return {str(name): float(value) for name, value in points.items()}


def _check_draws(max_draws: Any) -> int:
    if isinstance(max_draws, bool) or not isinstance(max_draws, int) or not (
            1 <= max_draws <= MAX_DRAWS):
        raise ExerciseError("max_draws", f"expected an integer from 1 to {MAX_DRAWS}, got "
                            f"{brief(max_draws)}")
    return max_draws


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ExerciseError("seed", f"expected an integer from 0 to {MAX_SEED}, got {seed!r}")
    return seed


# --- drawing ----------------------------------------------------------------------------


def _exercise(params: ExerciseParams, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    names = Names.of(params.layers)
    located = [Parameter(weight, *names.locate(weight), names.weight_index(weight))
               for weight in params.ask]
    rejected: Counter[str] = Counter()
    clashes: Counter[str] = Counter()
    for draw in range(1, params.max_draws + 1):
        spec = _draw(rng, params)
        net = parse_spec(spec, exact=True)
        batch = stack([net])
        reason = _unfit(batch, located)
        if reason is not None:
            rejected[reason] += 1
            continue
        rule = RuleAnalysis(batch, parse_options({"arithmetic": "exact"}))
        found = {param.name: slips(rule, param) for param in located}
        clash = next((c for param in located if (c := collision(
            param.name, rule.gradient(param), found[param.name], params.tolerance))), None)
        if clash is not None:
            rejected["slips"] += 1
            clashes[clash.describe()] += 1
            continue
        return {
            "network": spec,
            "question": question(spec, params.ask, seed),
            "answers": _answers(spec, net, rule, located, found, params),
            "seed": seed,
            "draws": draw,
        }
    raise ExerciseError("max_draws", _no_fit(params, rejected, clashes))


def _no_fit(params: ExerciseParams, rejected: Counter[str], clashes: Counter[str]) -> str:
    """Why no network fitted: each constraint and how many draws it rejected, most first."""
    said = {"kink": f"put {_listing(params.ask)} on a kink",
            "zero": "gave every asked gradient 0",
            "slips": "had slips of different diagnoses that an answer within the tolerance "
                     f"({params.tolerance.describe()}) cannot tell apart"}
    parts = []
    for reason, times in rejected.most_common():
        text = f"{times} {said[reason]}"
        if reason == "slips":
            text += ", most often " + ", ".join(f"{pair} ({count})"
                                                for pair, count in clashes.most_common(3))
        parts.append(text)
    return (f"no network of {params.max_draws} drawn fits every constraint: "
            f"{'; '.join(parts)}. Raise max_draws, widen integers, allow fractions, loosen the "
            "tolerance or use another activation or loss")


def _listing(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _pick(rng: random.Random, values: Sequence[Fraction]) -> Fraction:
    # Only random() is guaranteed the same sequence across Python versions.
    return values[min(int(rng.random() * len(values)), len(values) - 1)]


def _json_number(value: Fraction) -> int | float:
    """An int, or a float for a half: exact in binary, so both arithmetics read it."""
    return int(value) if value.denominator == 1 else float(value)


def _draw(rng: random.Random, params: ExerciseParams) -> dict[str, Any]:
    """Draw a network: weights and inputs nonzero (a 0 would silence whole paths)."""
    numbers = params.numbers
    nonzero = [v for v in numbers if v != 0]
    layers = params.layers

    def draw(pool: Sequence[Fraction], size: int) -> list[int | float]:
        return [_json_number(_pick(rng, pool)) for _ in range(size)]

    return {
        "layers": list(layers),
        "weights": [[draw(nonzero, src) for _ in range(dst)]
                    for src, dst in zip(layers[:-1], layers[1:], strict=True)],
        "biases": [[0] * size for size in layers[1:]],
        "activation": params.activations[0] if len(set(params.activations)) == 1
        else list(params.activations),
        "input": draw(nonzero, layers[0]),
        "target": draw(numbers, layers[-1]),
        "loss": params.loss,
    }


def _unfit(batch: Batch, located: Sequence[Parameter]) -> str | None:
    """``kink`` when an asked weight's paths touch a kink, ``zero`` when every asked
    gradient is 0, else None."""
    passed = forward(batch)
    if passed.loss_kinks.any():  # every output is on a path of every weight
        return "kink"
    for param in located:
        head = passed.kinks[param.l]
        if head is not None and head[0, 0, param.i]:
            return "kink"
        if any(k is not None and k.any() for k in passed.kinks[param.l + 1:]):
            return "kink"
    delta = deltas(batch.weights, passed.derivatives, passed.loss_gradient)
    if all(delta[p.l][0, 0, p.i] * passed.values[p.l - 1][0, 0, p.j] == 0 for p in located):
        return "zero"
    return None


# --- the answer key ---------------------------------------------------------------------


def _answers(
    spec: dict[str, Any], net: Network, rule: RuleAnalysis, located: Sequence[Parameter],
    found: Mapping[str, list[Slip]], params: ExerciseParams,
) -> dict[str, Any]:
    """The key of each asked weight, its distractors worded by the grader itself."""
    diagnoser = Diagnoser(net, [rule], "")
    partial = dict(params.partial)
    answers = {}
    for param in located:
        page = contributions(net, param.name, order="index")
        value = Fraction(rule.gradient(param))
        answers[param.name] = {
            "value": str(value),
            "float": float(value),
            "formula": _formula_text(spec, param.name),
            "paths": ["→".join(p["nodes"]) for p in page["paths"]],
            "contributions": [p["contribution_exact"] for p in page["paths"]],
            "distractors": distractors(diagnoser, param, found[param.name],
                                       params.tolerance, partial),
            "points": params.points.get(param.name, 1.0),
            "tolerance": params.tolerance.to_dict(),
            "partial": partial,
        }
    return answers


_FORMULAS: dict[tuple[Any, ...], str] = {}


def _formula_text(spec: dict[str, Any], weight: str) -> str:
    """The weight's symbolic path sum, computed once per network shape and weight.

    A formula is structural (see :mod:`worker.engine.formula`): every variant of
    one request shares it, and SymPy need not rebuild it per student.
    """
    # Imported here: SymPy is slow to import, and only answer keys need it.
    from ..engine.formula import formula

    key = (tuple(spec["layers"]), repr(spec["activation"]), spec["loss"], weight)
    if key not in _FORMULAS:
        if len(_FORMULAS) >= 4096:
            _FORMULAS.clear()
        _FORMULAS[key] = str(formula(spec, weight, max_paths=MAX_EXERCISE_PATHS)["text"])
    return _FORMULAS[key]
