"""Request and response models of the HTTP API; ``/openapi.json`` is generated from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from worker.coursework import exercises as _exercises
from worker.coursework import grading as _grading
from worker.coursework import tolerance as _tolerance
from worker.coursework.exercises import RATIONAL_ACTIVATIONS, RATIONAL_LOSSES
from worker.engine import options as _options
from worker.engine import spec as _spec
from worker.engine.activations import ACTIVATIONS
from worker.engine.losses import LOSSES

__all__ = [
    "ActivationObject",
    "AnalysisOptions",
    "ConvertQuery",
    "ConvertedNetwork",
    "BatchInterrupted",
    "BatchLine",
    "BatchRequest",
    "BatchResultsQuery",
    "BatchStatus",
    "Exercise",
    "ExerciseAnswer",
    "ExerciseDistractor",
    "ExerciseList",
    "ExerciseRequest",
    "Formula",
    "GradeQuery",
    "GradeRequest",
    "GradeTolerance",
    "GradedAnswer",
    "GradescopeResults",
    "GradescopeTest",
    "Grading",
    "Health",
    "IgnoredAnswer",
    "Job",
    "JobAccepted",
    "JobRequest",
    "NetworkSpec",
    "NetworkPathPage",
    "NetworkPathsQuery",
    "NodeFlow",
    "PathPage",
    "PathRecord",
    "PathsQuery",
    "Problem",
    "ProblemField",
    "Result",
    "WaitQuery",
]

Number = Annotated[
    StrictInt | StrictFloat | StrictStr,
    Field(description='A number; with arithmetic "exact" also a string such as "1/3".'),
]
# The names the engine's records know (worker.engine.activations, .losses); a type
# checker sees them as strings.
if TYPE_CHECKING:
    Activation: TypeAlias = str
    Loss: TypeAlias = str
    RationalActivation: TypeAlias = str
    RationalLoss: TypeAlias = str
    PartialDiagnosis: TypeAlias = str
else:
    Activation = Literal[tuple(ACTIVATIONS)]
    Loss = Literal[tuple(LOSSES)]
    RationalActivation = Literal[RATIONAL_ACTIVATIONS]
    RationalLoss = Literal[RATIONAL_LOSSES]
    PartialDiagnosis = Literal[_grading.PARTIAL_DIAGNOSES]
Status = Literal["queued", "running", "succeeded", "failed"]
# A float the server may write as null: NaN, or beyond float64 (an exact value can be).
Float = float | None


def _rules(**keywords: Any) -> Any:
    """JSON Schema keywords of a rule the engine checks itself (with its own message).

    Networks, exercise requests and grading points are checked by the engine, as the
    library and the command line check them; pydantic checks their outline. These
    keywords put the engine's limits in /openapi.json without a second check that
    would answer with other words.
    """
    return Field(json_schema_extra=keywords)


_MAX_SIZE = _spec.MAX_LAYER_SIZE
_MAX_DEPTH = _spec.MAX_DEPTH
LayerSize = Annotated[StrictInt, _rules(minimum=1, maximum=_MAX_SIZE)]
Vector = Annotated[list[Number], _rules(minItems=1, maxItems=_MAX_SIZE)]
Matrix = Annotated[list[Vector], _rules(minItems=1, maxItems=_MAX_SIZE)]
Samples = Annotated[list[Vector], _rules(minItems=1, maxItems=_spec.MAX_SAMPLES)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivationObject(_Closed):
    """An activation with its parameters (docs/CONTRACT.md section 10)."""

    name: Activation
    slope: Number | None = Field(
        default=None, description="leaky_relu's slope below zero (default 0.01); with "
        'arithmetic "exact" also a string such as "1/5".')


AnyActivation = Activation | ActivationObject


class NetworkSpec(_Closed):
    """A network (docs/CONTRACT.md section 1); shapes are checked by the engine."""

    layers: list[LayerSize] = Field(
        description=f"Sizes n0 (inputs) ... nL (outputs): 2 to {_MAX_DEPTH + 1} sizes, each "
        f"1 to {_MAX_SIZE}.", json_schema_extra={"minItems": 2, "maxItems": _MAX_DEPTH + 1})
    weights: list[Matrix] = Field(
        description="weights[l-1] has shape (n_l, n_{l-1}): row = destination neuron "
        "(shapes that do not match layers are refused with 422).",
        json_schema_extra={"minItems": 1, "maxItems": _MAX_DEPTH},
    )
    biases: Annotated[list[Vector], _rules(minItems=1, maxItems=_MAX_DEPTH)] | None = Field(
        default=None, description="Zeros when absent; biases[l-1] has n_l numbers.")
    activation: AnyActivation | Annotated[list[AnyActivation], _rules(
        minItems=1, maxItems=_MAX_DEPTH)] = Field(
        description='One for every layer, or one per non-input layer: a name, or an object '
        'such as {"name": "leaky_relu", "slope": 0.2}.')
    input: Vector | Samples = Field(
        description=f"n0 numbers (one sample), or a mini-batch: N lists of n0 numbers "
        f"(N up to {_spec.MAX_SAMPLES}).")
    target: Vector | Samples = Field(
        description="nL numbers, or for a mini-batch N lists of nL numbers.")
    loss: Loss


_DEFAULTS = _options.Options()


class AnalysisOptions(_Closed):
    """Analysis options; every one is optional (none may be null)."""

    subgradient: Literal["min_norm", "left", "right"] = "min_norm"
    arithmetic: Literal["float", "exact"] = "float"
    finite_difference: StrictBool = _DEFAULTS.finite_difference
    path_sum: StrictBool = _DEFAULTS.path_sum
    max_paths: StrictInt = Field(
        default=_DEFAULTS.max_paths, ge=1,
        description="Most suffix paths to enumerate; default and ceiling PATHGRAD_MAX_PATHS.")
    rtol: StrictFloat = Field(default=_DEFAULTS.rtol, ge=0)
    atol: StrictFloat = Field(default=_DEFAULTS.atol, ge=0)


class JobRequest(_Closed):
    """The body of ``POST /v1/jobs``."""

    network: NetworkSpec
    options: AnalysisOptions = Field(default_factory=AnalysisOptions)


class WaitQuery(BaseModel):
    """Query of ``POST /v1/jobs``."""

    wait: float = Field(0.0, ge=0, description="Seconds to wait for the result (capped by "
                        "PATHGRAD_MAX_WAIT).")


class PathsQuery(BaseModel):
    """Query of the path-contributions route."""

    order: Literal["abs_desc", "abs_asc", "index"] = "abs_desc"
    limit: int = Field(100, ge=1, description="Paths per page, at most PATHGRAD_PAGE_LIMIT.")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page "
                               "(of this weight, in this order).",
                               json_schema_extra={"pattern": "^[A-Za-z0-9_-]+$"})


class ConvertQuery(BaseModel):
    """Query of the model conversion route: the samples to put in the spec, as JSON."""

    input: str | None = Field(default=None, description="JSON: n0 numbers, or N rows of n0 "
                              "(given with target).")
    target: str | None = Field(default=None, description="JSON: nL numbers, or N rows "
                               "(one-hot rows for softmax_cross_entropy).")
    loss: Loss | None = None


class ConvertedNetwork(BaseModel):
    """A model as a network spec (docs/CONTRACT.md section 10): input, target and loss only
    when given."""

    model_config = ConfigDict(extra="forbid")

    layers: list[int]
    weights: list[list[list[float]]]
    biases: list[list[float]] | None = None
    activation: list[Activation | ActivationObject]
    input: list[float] | list[list[float]] | None = None
    target: list[float] | list[list[float]] | None = None
    loss: Loss | None = None


class ProblemField(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details body (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemField] | None = None


class Result(BaseModel):
    """The analysis result (docs/CONTRACT.md section 2)."""

    model_config = ConfigDict(extra="allow")

    loss: Float
    outputs: dict[str, Float | list[Float]] = Field(
        description="Each output's value; for a mini-batch a list of N, one per sample.")
    nodes: list[dict[str, Any]]
    weights: list[dict[str, Any]]
    biases: list[dict[str, Any]]
    agreement: dict[str, Any]
    paths_enumerated: int
    warnings: list[str]


class JobAccepted(BaseModel):
    """A job queued (202) or still running after ``?wait``."""

    id: str
    status: Status


class Job(BaseModel):
    """A job: its status and, once finished, its result or its error."""

    id: str
    status: Status
    cached: bool = Field(description="True when answered from the result cache.")
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: Result | None = None
    error: Problem | None = None


class PathRecord(BaseModel):
    """One path of a page: its neurons, its weights and its contribution."""

    model_config = ConfigDict(extra="allow")

    rank: int = Field(description="1 for the first path of the first page, counted across pages.")
    nodes: list[str]
    weights: list[str]
    contribution: Float


class PathPage(BaseModel):
    """One page of a weight's or a bias's paths (docs/CONTRACT.md sections 3 and 8).

    What the unlisted paths can still add is bounded: ``|gradient - listed_sum| <=
    abs_sum - listed_abs_sum``.
    """

    model_config = ConfigDict(extra="allow")

    weight: str = Field(description="The weight (W1 ...) or bias (b_H1 ...).")
    gradient: Float = Field(description="dLoss/dW (or dLoss/db), by backprop.")
    total_paths: int = Field(description="Every path of the parameter (may exceed 2^63).")
    order: Literal["abs_desc", "abs_asc", "index"]
    abs_sum: Float = Field(description="The sum of |contribution| over all its paths.")
    listed_sum: Float = Field(description="The sum of the contributions listed so far, this "
                              "page and those before it.")
    listed_abs_sum: Float = Field(description="The same of their absolute values.")
    paths: list[PathRecord]
    next_cursor: str | None


class NetworkPathsQuery(BaseModel):
    """Query of the whole-network paths route."""

    through: str | None = Field(default=None, description="Keep the paths through this "
                                "neuron (H4) or weight (W7).",
                                json_schema_extra={"pattern": "^(X|H|Out|W)[0-9]*$"})
    output: str | None = Field(default=None, description="Keep the paths ending at this "
                               "output (Out, Out2).", json_schema_extra={"pattern": "^Out[0-9]*$"})
    order: Literal["abs_desc", "abs_asc", "index"] = "abs_desc"
    limit: int = Field(100, ge=1, description="Paths per page, at most PATHGRAD_PAGE_LIMIT.")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page "
                               "(of these paths, in this order).",
                               json_schema_extra={"pattern": "^[A-Za-z0-9_-]+$"})


class NetworkPathPage(BaseModel):
    """One page of the network's input-to-output paths (docs/CONTRACT.md section 8).

    A path's contribution is X_i * (sigma' of every neuron on it) * (its weights) *
    dLoss/dOut_k; all of them add up to sum_i X_i * dLoss/dX_i.
    """

    model_config = ConfigDict(extra="allow")

    through: str | None
    output: str | None
    total_paths: int
    order: Literal["abs_desc", "abs_asc", "index"]
    abs_sum: Float
    listed_sum: Float
    listed_abs_sum: Float
    paths: list[PathRecord]
    next_cursor: str | None


class NodeFlow(BaseModel):
    """A neuron, and the flow of the network's paths through it (docs/CONTRACT.md section 8)."""

    model_config = ConfigDict(extra="allow")

    node: str
    value: Float | list[Float] = Field(
        description="Its activation (an input: its value); for a mini-batch one per sample.")
    delta: Float | list[Float] = Field(
        description="dLoss/dz at it (an input: dLoss/dX); for a mini-batch one per sample.")
    flow: Float = Field(description="The sum of the contributions of the paths through it.")
    abs_flow: Float = Field(description="The sum of their absolute values.")
    paths_through: int


class Formula(BaseModel):
    """The symbolic gradient of one weight: ``text`` parses with ``sympy.sympify``."""

    weight: str
    text: str
    latex: str
    mathml: str = Field(description="The same as presentation MathML: one <math> element, "
                        "well-formed XML (a browser renders it with no script).")
    paths: int = Field(description="How many paths the formula sums over.")


class Health(BaseModel):
    """Whether Redis answers, and the workers that sent a heartbeat in the last 10 s."""

    status: Literal["ok", "degraded", "down"]
    redis: bool
    workers: int = Field(description="worker processes: the pools of every live node, summed")
    nodes: int = Field(description="live worker nodes (`pathgrad worker`s, or serve's one)")
    engine_version: str


# --- batches ----------------------------------------------------------------------------


class BatchRequest(_Closed):
    """The JSON body of ``POST /v1/batches``; or send ``application/x-ndjson``, one job a line.

    Each job is checked as ``POST /v1/jobs`` checks its body; an invalid job fails only
    its own line, with the problem that route would answer.
    """

    # Any value is accepted as a line (one that is not a JobRequest fails alone), so
    # the schema says so: a batch is not refused for one bad job in 100,000.
    jobs: list[JobRequest | Any] = Field(
        min_length=1, max_length=100_000,
        description="Up to PATHGRAD_MAX_BATCH_JOBS (default 100,000) jobs, each a JobRequest; "
        "options may differ from job to job. An invalid job does not refuse the batch: its "
        "line fails with the problem POST /v1/jobs would answer.",
    )


class BatchStatus(BaseModel):
    """A batch and its counts; ``pending = total - succeeded - failed``."""

    id: str
    status: Literal["running", "succeeded", "failed"] = Field(
        description="running while pending > 0; then succeeded if every line succeeded, "
        "else failed (the lines that succeeded still have their results).")
    total: int
    succeeded: int
    failed: int
    pending: int
    created_at: str


class BatchResultsQuery(BaseModel):
    """Query of ``GET /v1/batches/{id}/results``."""

    timeout: float | None = Field(
        default=None, ge=0, description="Seconds to wait for unfinished lines before the "
        "stream ends (default PATHGRAD_BATCH_WAIT, 300; capped by PATHGRAD_MAX_BATCH_WAIT, "
        "3600). A stream that ends early has fewer lines than total: reopen it with ?start=.")
    start: int = Field(0, ge=0, description="Index of the first line to send.")


class BatchLine(BaseModel):
    """One line of the results stream (``application/x-ndjson``), in submission order."""

    index: int = Field(description="The job's position in the batch, from 0.")
    status: Literal["succeeded", "failed"]
    result: Result | None = Field(default=None, description="When succeeded (and beside "
                                  "the error when backprop and the path sum disagree).")
    error: Problem | None = Field(default=None, description="When failed: the problem "
                                  "POST /v1/jobs would answer, or the job would end with.")


class BatchInterrupted(BaseModel):
    """The last line of a results stream that lost Redis: where to read on from."""

    status: Literal["interrupted"]
    next: int = Field(description="The ?start= to reopen the stream with.")
    error: Problem


# --- exercises --------------------------------------------------------------------------

# How a weight is named: W, then a number without a leading zero (ASCII digits only).
WEIGHT_NAME = "^W[1-9][0-9]*$"


class ExerciseRequest(_Closed):
    """The body of ``POST /v1/exercises``: one network shape, ``count`` variants of it."""

    layers: list[Annotated[StrictInt, Field(ge=1, le=_exercises.MAX_LAYER_SIZE)]] = Field(
        min_length=2, max_length=_exercises.MAX_LAYERS,
        description=f"Sizes n0 (inputs) ... nL (outputs): 2 to {_exercises.MAX_LAYERS} "
        f"sizes, each 1 to {_exercises.MAX_LAYER_SIZE}, at most "
        f"{_exercises.MAX_NETWORK_PATHS} suffix paths in all.",
    )
    activation: RationalActivation | Annotated[list[RationalActivation], _rules(
            minItems=1, maxItems=_exercises.MAX_LAYERS - 1)] = Field(
        "identity", description="One name, or one per non-input layer (rational only)."
    )
    loss: RationalLoss = "l1"
    seed: StrictInt = Field(0, ge=0, le=_exercises.MAX_SEED,
                            description="The same seed always gives the same exercises.")
    ask: list[Annotated[StrictStr, _rules(pattern=WEIGHT_NAME)]] = Field(
        default_factory=lambda: ["W1"], min_length=1,
        description="Weights to ask dLoss/dW of, e.g. [\"W1\", \"W7\"]; each with at most "
        f"{_exercises.MAX_EXERCISE_PATHS} paths.",
    )
    integers: list[Annotated[StrictInt, _rules(minimum=-_exercises.MAX_BOUND,
                                               maximum=_exercises.MAX_BOUND)]] = Field(
        default_factory=lambda: [-3, 3], min_length=2, max_length=2,
        description=f"[lower, upper] of every number, within +-{_exercises.MAX_BOUND}; "
        "weights and inputs are never 0.",
    )
    fractions: StrictBool = Field(False, description="Also draw halves such as 1/2 and -3/2.")
    count: StrictInt = Field(1, ge=1, le=_exercises.MAX_COUNT,
                             description="Distinct variants, one per student.")
    tolerance: GradeTolerance | None = Field(
        default=None, description="The grading tolerance the key is given with: every "
        "distractor differs from the answer and from the others by more than it.")
    partial: Credit | None = Field(
        default=None, description='Partial credit per diagnosis, e.g. {"sign_error": 0.5}; '
        "written into the key (default 0).")
    points: dict[str, Points] | None = Field(
        default=None, description="Points per asked weight (default 1 each).")
    max_draws: StrictInt = Field(
        _exercises.DEFAULT_DRAWS, ge=1, le=_exercises.MAX_DRAWS,
        description="Networks drawn per variant before giving up (a 422 names the constraint "
        f"none met); count * max_draws is at most {_exercises.MAX_TOTAL_DRAWS}.")


class ExerciseDistractor(BaseModel):
    """What one common slip gives for an asked weight, and the grader's word on it."""

    diagnosis: str = Field(description="The grader's diagnosis of this value.")
    value: str = Field(description="The value exactly, e.g. \"-7/2\".")
    float_value: float = Field(alias="float", description="The same as a float.")
    feedback: str
    credit: float = Field(description="The partial credit of this diagnosis.")
    missing: list[str] | None = Field(
        default=None, description="missing_paths: the paths left out.")


class ExerciseAnswer(BaseModel):
    """The answer key of one asked weight."""

    model_config = ConfigDict(populate_by_name=True)

    value: str = Field(description='dLoss/dW exactly, e.g. "-7/2".')
    float_value: float = Field(alias="float", description="The same as a float.")
    formula: str = Field(description="The path sum; parses with sympy.sympify.")
    paths: list[str] = Field(description='The weight\'s paths, e.g. "X1→H1→H4→Out".')
    contributions: list[str] = Field(description="Each path's exact contribution, in order.")
    distractors: list[ExerciseDistractor] = Field(
        default_factory=list, description="The value of each slip the grader diagnoses.")
    points: float = 1.0
    tolerance: dict[str, float] = Field(default_factory=dict)
    partial: dict[str, float] = Field(default_factory=dict)


class Exercise(BaseModel):
    """One variant: the network, the question (Markdown) and the answer key."""

    network: NetworkSpec
    question: str
    answers: dict[str, ExerciseAnswer]
    seed: int = Field(description="Draws this variant again on its own (with count 1).")
    draws: int = Field(1, description="Networks drawn until this one fitted.")


class ExerciseList(BaseModel):
    """The response of ``POST /v1/exercises``."""

    exercises: list[Exercise]


# --- grading ----------------------------------------------------------------------------


class GradeTolerance(_Closed):
    """How close a float answer must be: ``|given - expected| <= atol + rtol * |expected|``,
    or ``{"sigfig": n}`` / ``{"decdig": n}`` as PrairieLearn's number input defines them."""

    rtol: StrictFloat = Field(default=_grading.Tolerance.rtol, ge=0)
    atol: StrictFloat = Field(default=_grading.Tolerance.atol, ge=0)
    sigfig: StrictInt | None = Field(
        default=None, ge=1, le=_tolerance.MAX_DIGITS,
        description="Significant figures (alone, instead of rtol and atol).")
    decdig: StrictInt | None = Field(
        default=None, ge=0, le=_tolerance.MAX_DIGITS,
        description="Digits after the decimal point (alone, instead of rtol and atol).")


Points = Annotated[StrictFloat, _rules(minimum=0, maximum=_grading.MAX_POINTS)]
Credit = dict[PartialDiagnosis, Annotated[StrictFloat, Field(ge=0, le=1)]]


class GradeRequest(_Closed):
    """The body of ``POST /v1/grade``."""

    network: NetworkSpec
    options: AnalysisOptions = Field(default_factory=AnalysisOptions)
    answers: dict[str, Any] = Field(
        description='Parameter name -> answer: a number or a string such as "-2.5" or "3/4". '
        "Unreadable answers are graded wrong, with feedback; answers to names that were not "
        "asked earn nothing and are listed in ignored.")
    ask: list[StrictStr] | None = Field(
        default=None, description='The graded parameters, e.g. ["W1", "W7"]: each a weight or '
        "bias of the network (duplicates dropped); an asked name with no answer is "
        "unanswered. Required unless points names them.")
    tolerance: GradeTolerance | None = Field(
        default=None, description='Unused with arithmetic "exact": answers must be equal.')
    points: dict[str, Points] | None = Field(
        default=None, description="Maximum points per asked name (default 1); with ask it may "
        "only name asked parameters, without ask its names are the asked ones.")
    partial: Credit | None = Field(
        default=None, description='Partial credit per diagnosis, e.g. {"sign_error": 0.5, '
        '"missing_paths": 0.25}: the fraction of the points a wrong answer of that diagnosis '
        "earns (default 0).")


class GradeQuery(BaseModel):
    """Query of ``POST /v1/grade``."""

    format: Literal["json", "gradescope", "junit"] = Field(
        "json", description="json (this schema), gradescope (a Gradescope results.json) or "
        "junit (JUnit XML, application/xml).")
    visibility: Literal["visible", "hidden", "after_due_date", "after_published"] = Field(
        "visible", description="gradescope: when students see the results and the tests.")


class GradedAnswer(BaseModel):
    """One graded answer; ``diagnosis`` names the slip, ``feedback`` says what to fix."""

    model_config = ConfigDict(extra="allow")

    name: str
    given: Any
    given_value: float | None
    expected: float | None
    correct: bool
    points: float
    max_points: float
    credit: float | None = Field(default=None, description="The fraction of the points earned.")
    diagnosis: Literal[
        "correct", "sign_error", "missing_loss_derivative", "missing_activation_derivative",
        "missing_activation_and_loss_derivatives", "missing_paths", "close", "inexact",
        "wrong", "unparsable", "unanswered"]
    feedback: str


class IgnoredAnswer(BaseModel):
    """An answer that is not graded: its name was not asked, or names no parameter."""

    name: str
    reason: Literal["not asked", "no such parameter"]
    feedback: str


class Grading(BaseModel):
    """The grading of one answer set (``?format=json``): one answer per asked name."""

    score: float
    max_score: float
    answers: list[GradedAnswer]
    ignored: list[IgnoredAnswer] = Field(default_factory=list)
    comparison: Literal["tolerance", "exact"]
    tolerance: dict[str, float] | None
    partial: dict[str, float] = Field(default_factory=dict)
    subgradient: str
    arithmetic: str
    warnings: list[str]


class GradescopeTest(BaseModel):
    """One answer as a Gradescope test."""

    name: str
    score: float
    max_score: float
    status: Literal["passed", "failed"]
    output: str
    output_format: str = "md"
    visibility: str
    extra_data: dict[str, Any]


class GradescopeResults(BaseModel):
    """A Gradescope ``results.json`` (``?format=gradescope``)."""

    score: float = Field(0.0, description="Only when there is no test (Gradescope sums the "
                         "tests' scores otherwise).")
    execution_time: float | None = Field(default=None, description="Seconds spent grading.")
    output: str
    output_format: str = "md"
    visibility: str
    tests: list[GradescopeTest]
