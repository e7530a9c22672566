"""The comparisons: from a computed value and a `Check` to pass, fail or inconclusive.

`compare` is the one entry point. It never raises for a computed value,
whatever JSON it is; it raises `IntakeError` only for a check that cannot be
applied at all (a manifest defect that Gate 0 should have refused; see
`validate_check`). The rules, with the reference being the reported value,
or the other arm's computed value for a comparative claim (`check.against`,
resolved by the caller and passed as `reference`):

* `approx`: `|computed - reference| <= tolerance`, where the tolerance is
  `max(rel_tol * |reference|, abs_tol, precision)` (`tolerance_of`);
* `eq`: the same with no default tolerance: exact unless `abs_tol`,
  `rel_tol` or `precision` is given;
* `lt`, `le`, `gt`, `ge`: `computed <op> reference + margin`;
* `between`: `low <= computed <= high` (no reference);
* `trend`: the computed value is a series, one value per element of
  `check.x` (with `samples`, one series per seed). An exact permutation test
  of the order (Page's test across seeds; for one series, all `n!` orders)
  must give a one-sided p-value below `1 - confidence` (0.95 without
  `samples`) and the (mean) Spearman rho must have the sign of `direction`
  and `|rho| >= min_rho`. An experiment too small to reach that p-value
  (3 points on one seed: at best p = 1/6) is inconclusive, whatever its
  order; a significant order the other way, or a significant but weaker
  rho than `min_rho`, is a fail; a flat series has no direction: fail.

Values that are not numbers:

* a NaN or infinite computed value (or sample, or series element) is a
  **fail**: the repro produced an answer, and that answer does not match;
  NaN or infinity never passes;
* a missing value (`MISSING`, JSON null), a boolean, a string, an object or a
  list where a number belongs is **inconclusive**: the repro did not say.

Multi-seed claims (`check.samples`): the computed value is a list of per-seed
values (and the reference may be the other arm's list). The statistic's
interval (`stats.interval`: Student-t, paired t or Welch for a mean, the
exact order-statistic interval for a median, BCa on request) must lie
entirely in the passing region to pass (for `approx`: entirely within the
tolerance), entirely outside it to fail; an interval that straddles an
edge, or fewer than `min_seeds` samples, is inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, Literal

from verifier import stats
from verifier.errors import IntakeError

if TYPE_CHECKING:  # only annotations: re-judging needs no pydantic import of its own
    from verifier.models import Check, Reported

Outcome = Literal["pass", "fail", "inconclusive"]

DEFAULT_CONFIDENCE = 0.95
"""Confidence of a single-series trend's order test (a check without `samples`)."""


class _Missing:
    """The type of `MISSING`: a JSON Pointer that resolves to nothing."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Pass as `computed` (or `reference`) when the evidence pointer resolves to nothing."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one comparison, with what it compared.

    `reason` is one line in the contract's form, e.g. `computed 5e-05 matches
    expected 5e-05 (tolerance=5.0%)`.
    """

    outcome: Outcome
    reason: str
    expected: Any
    computed: Any
    tolerance: str | None
    interval: stats.Interval | None = None
    statistic: float | None = None
    p_value: float | None = None  # trend claims: the order test's one-sided p-value

    @property
    def passed(self) -> bool:
        """True only for `pass`."""
        return self.outcome == "pass"


def fmt(x: float) -> str:
    """A number as reasons print it: up to 6 significant digits (`5e-05`, `0.41`, `1200`)."""
    return format(x, ".6g")


# --------------------------------------------------------------------------- validation


def validate_check(check: Check, reported: Reported | None, *, has_reference: bool = False) -> None:
    """Refuse a check that cannot be applied, whatever the computed value.

    `models.Check` validates each field; this adds the rules that span the
    check and the reported value. Gate 0 can call it at intake; `compare`
    calls it too. `has_reference`: the caller supplies the reference
    itself, so no reported value is needed.

    Raises `IntakeError` (field `check...`) if a check compares with a
    reported value that is absent, combines fields that do not go together
    (between or trend with `against`, precision with `against`), or has a
    constant `x`.
    """
    op = check.op
    has_value = reported is not None and reported.value is not None
    compares = op in ("approx", "eq", "lt", "le", "gt", "ge")
    if compares and check.against is None and not has_value and not has_reference:
        raise IntakeError(
            f"op '{op}' compares with reported.value, which is missing", field="check"
        )
    if op in ("between", "trend") and check.against is not None:
        raise IntakeError(f"op '{op}' takes no 'against' evidence", field="check.against")
    if check.precision and (check.against is not None or not has_value):
        raise IntakeError(
            "precision: true derives the tolerance from reported.value/text, "
            "so it needs a reported value and no 'against'",
            field="check.precision",
        )
    if op == "trend" and check.x is not None and len(set(check.x)) < 2:
        raise IntakeError("trend x values are all equal: there is no direction", field="check.x")


# --------------------------------------------------------------------------- tolerance


def precision_tolerance(reported: Reported) -> tuple[float, str]:
    """Half a unit in the last printed digit of the reported value, and where it came from.

    `5e-05` gives 5e-06, `77.3` gives 0.05, `1,200` gives 0.5. The digits are
    read from `reported.text`; without a readable text they are read from the
    shortest form of `reported.value` (an integral value as an integer), and
    the source says `from value`.

    Raises `ValueError` if `reported` has neither a readable text nor a value.
    """
    exponent = _last_digit_exponent(reported.text) if reported.text else None
    source = "precision"
    if exponent is None:
        if reported.value is None:
            raise ValueError("no reported text or value to take a precision from")
        value = reported.value
        shown = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
        exponent = _last_digit_exponent(shown)
        source = f"precision of {shown}, from value"  # no text: say so
        assert exponent is not None  # a float's repr always parses
    return float(Decimal(5) * Decimal(10) ** (exponent - 1)), source


def _last_digit_exponent(text: str) -> int | None:
    """The power of ten of the last printed digit of a number, or None if unreadable."""
    cleaned = text.strip().replace("\u2212", "-").rstrip("%").strip()
    for sep in (",", "_", " ", "\u2009", "\u202f"):
        cleaned = cleaned.replace(sep, "")  # thousands separators
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return None
    exponent = number.as_tuple().exponent
    return exponent if isinstance(exponent, int) and number.is_finite() else None


def tolerance_of(
    check: Check, reported: Reported | None, *, reference: float | None = None
) -> float:
    """The absolute tolerance of an approx/eq check: `max(rel_tol*|ref|, abs_tol, precision)`.

    `reference` defaults to the reported value; `rel_tol` scales with it.
    Zero when no tolerance is given (an exact `eq`).

    Raises `ValueError` if `precision` is set and `reported` has no value.
    """
    ref = reference if reference is not None else (reported.value if reported else None)
    parts = [check.abs_tol or 0.0]
    if check.rel_tol is not None and ref is not None:
        parts.append(check.rel_tol * abs(ref))
    if check.precision:
        if reported is None:
            raise ValueError("precision: true needs a reported value")
        parts.append(precision_tolerance(reported)[0])
    return max(parts)


def describe_tolerance(check: Check, reported: Reported | None) -> str | None:
    """The human form of a check's tolerance: `5.0%`, `abs 0.01`, `max(5.0%, abs 0.01)`.

    None for ops without a tolerance (lt/le/gt/ge/between/trend); `exact` for
    an `eq` without one.
    """
    if check.op not in ("approx", "eq"):
        return None
    parts: list[str] = []
    if check.rel_tol:
        parts.append(_percent(check.rel_tol))
    if check.abs_tol:
        parts.append(f"abs {fmt(check.abs_tol)}")
    if check.precision and reported is not None:
        try:
            amount, source = precision_tolerance(reported)
            parts.append(f"±{fmt(amount)} {source}")
        except ValueError:
            parts.append("precision (no reported value)")
    if not parts:
        return "exact" if check.op == "eq" else "0"
    return parts[0] if len(parts) == 1 else f"max({', '.join(parts)})"


def _percent(rel: float) -> str:
    # 0.07 * 100 is 7.000000000000001: round away the binary noise first.
    pct = float(format(rel * 100, ".10g"))
    return f"{pct:.1f}%" if round(pct, 1) == pct else f"{fmt(pct)}%"


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class _Region:
    """The set of passing values: an interval, each end open or closed."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def contains(self, v: float) -> bool:
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def disjoint(self, lo: float, hi: float) -> bool:
        """True if no value of [lo, hi] passes."""
        left = hi < self.low or (hi == self.low and self.low_open)
        right = lo > self.high or (lo == self.high and self.high_open)
        return left or right

    def edge_crossed(self, lo: float, hi: float) -> float:
        """The edge an interval [lo, hi] straddles (the low edge if lo is outside)."""
        return self.low if not self.contains(lo) else self.high


_SYMBOL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _region(check: Check, reference: float, tol: float) -> _Region:
    """The passing region of a non-trend op around a numeric reference."""
    inf = math.inf
    threshold = reference + check.margin
    match check.op:
        case "approx" | "eq":
            return _Region(reference - tol, reference + tol)
        case "between":
            assert check.low is not None and check.high is not None  # models.Check ensures it
            return _Region(check.low, check.high)
        case "lt":
            return _Region(-inf, threshold, low_open=True, high_open=True)
        case "le":
            return _Region(-inf, threshold, low_open=True)
        case "gt":
            return _Region(threshold, inf, low_open=True, high_open=True)
        case "ge":
            return _Region(threshold, inf, high_open=True)
        case _:
            raise AssertionError(f"no region for op {check.op!r}")


# --------------------------------------------------------------------------- values


def _kind(value: object) -> str:
    """What a non-number is, for a reason line."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean, not a number"
    if isinstance(value, str):
        return "a string, not a number"
    if isinstance(value, list | tuple):
        return "a list, not a number"
    if isinstance(value, dict):
        return "an object, not a number"
    return f"a {type(value).__name__}, not a number"


def _number(value: object) -> float | None:
    """`value` as a float if it is an int or float (never a bool), else None.

    An int too large for a float becomes infinite: it is a number, just not a finite one.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _non_finite(x: float) -> str:
    return "NaN" if math.isnan(x) else "infinite"


@dataclass(frozen=True)
class _Bad:
    """Why a value cannot be judged: a fail (non-finite) or inconclusive (not a number)."""

    outcome: Outcome
    why: str


def _read_number(value: object, label: str) -> float | _Bad:
    x = _number(value)
    if x is None:
        return _Bad("inconclusive", f"{label} is {_kind(value)}")
    if not math.isfinite(x):
        return _Bad("fail", f"{label} is {_non_finite(x)}")
    return x


def _read_series(value: object, label: str) -> list[float] | _Bad:
    """A list of finite numbers, or why not.

    A non-number anywhere makes the list inconclusive (nothing can be said);
    otherwise a NaN or infinity anywhere makes it a fail.
    """
    if not isinstance(value, list | tuple):
        kind = (
            "a number" if _number(value) is not None else _kind(value).replace(", not a number", "")
        )
        return _Bad("inconclusive", f"{label} is {kind}, not a list of numbers")
    out: list[float] = []
    bad: list[_Bad] = []
    for i, item in enumerate(value):
        x = _read_number(item, f"{label}[{i}]")
        if isinstance(x, _Bad):
            bad.append(x)
        else:
            out.append(x)
    if bad:
        return next((b for b in bad if b.outcome == "inconclusive"), bad[0])
    return out


def _as_reference(bad: _Bad) -> _Bad:
    # A broken reference (the other arm's NaN, a missing value) says nothing
    # about the computed value: never a fail, always inconclusive.
    return _Bad("inconclusive", bad.why)


# --------------------------------------------------------------------------- compare


def compare(
    check: Check,
    *,
    reported: Reported | None,
    computed: Any,
    reference: Any | None = None,
    output: str | None = None,
    paired: bool = False,
) -> CheckResult:
    """Judge a computed value against the reference under a check.

    `reference` replaces the reported value as the reference (comparative
    claims: the other arm's computed value, a number or, for multi-seed
    claims, a list of samples). `output` is the JSON Pointer the value was
    read from, named in reasons (`computed value at /x is a string, ...`).
    Pass `MISSING` when the pointer resolves to nothing. `paired`: the two
    arms' samples come from the same runs, seed by seed (a paired interval of
    their differences instead of Welch's).

    Raises `IntakeError` only if the check itself cannot be applied
    (`validate_check`); any computed value gives a `CheckResult`.
    """
    validate_check(check, reported, has_reference=reference is not None)
    label = f"computed value at {output}" if output else "computed value"
    if check.op == "trend":
        return _compare_trend(check, computed, label)
    if check.samples is not None:
        return _compare_samples(check, reported, computed, reference, label, paired)
    return _compare_scalar(check, reported, computed, reference, label)


def _reference_of(check: Check, reported: Reported | None, reference: Any) -> Any:
    if reference is not None:
        return reference
    return reported.value if reported is not None else MISSING


def _ref_label(check: Check) -> str:
    return "reference value (other arm)" if check.against is not None else "reference value"


def _compare_scalar(
    check: Check, reported: Reported | None, computed: Any, reference: Any, label: str
) -> CheckResult:
    tol_text = describe_tolerance(check, reported)
    raw_ref = _reference_of(check, reported, reference)
    expected = [check.low, check.high] if check.op == "between" else raw_ref
    c = _read_number(computed, label)
    if isinstance(c, _Bad):
        return CheckResult(c.outcome, c.why, expected, computed, tol_text)
    r = 0.0
    if check.op != "between":
        ref = _read_number(raw_ref, _ref_label(check))
        if isinstance(ref, _Bad):
            return CheckResult("inconclusive", _as_reference(ref).why, expected, computed, tol_text)
        r = ref
    tol = tolerance_of(check, reported, reference=r) if check.op in ("approx", "eq") else 0.0
    ok = _region(check, r, tol).contains(c)
    arm = check.against is not None
    target = f"other arm {fmt(r)}" if arm else f"expected {fmt(r)}"
    if check.op in _SYMBOL:
        target = _threshold_text(r, check.margin, arm)
    reason = f"computed {fmt(c)} {_verdict_phrase(check, ok, target, tol_text)}"
    return CheckResult("pass" if ok else "fail", reason, expected, computed, tol_text)


def _threshold_text(reference: float, margin: float, arm: bool) -> str:
    """`0.55 (other arm)`, `0.55 + 0.02 (reported)`."""
    text = fmt(reference)
    if margin > 0:
        text += f" + {fmt(margin)}"
    elif margin < 0:
        text += f" - {fmt(-margin)}"
    return f"{text} ({'other arm' if arm else 'reported'})"


def _verdict_phrase(check: Check, ok: bool, target: str, tol_text: str | None) -> str:
    """What follows the computed value in a reason: `matches expected 5e-05 (tolerance=5.0%)`."""
    match check.op:
        case "approx":
            return f"{'matches' if ok else 'does not match'} {target} (tolerance={tol_text})"
        case "eq":
            suffix = "" if tol_text == "exact" else f" (tolerance={tol_text})"
            return f"{'equals' if ok else 'does not equal'} {target}{suffix}"
        case "between":
            bounds = f"[{fmt(check.low or 0.0)}, {fmt(check.high or 0.0)}]"
            return f"is {'within' if ok else 'outside'} {bounds}"
        case "lt" | "le" | "gt" | "ge":
            sym = _SYMBOL[check.op]
            return f"{sym} {target}" if ok else f"is not {sym} {target}"
        case _:
            raise AssertionError(f"no phrase for op {check.op!r}")


def _compare_trend(check: Check, computed: Any, label: str) -> CheckResult:
    """An exact permutation test of the order (Page's test across seeds), then the rho bar."""
    assert check.x is not None and check.direction is not None  # models.Check ensures it
    expected = {"direction": check.direction, "min_rho": check.min_rho}
    multi = check.samples is not None
    confidence = check.samples.confidence if check.samples is not None else DEFAULT_CONFIDENCE
    alpha = 1 - confidence
    rows = _read_trend_rows(check, computed, label)
    if isinstance(rows, _Bad):
        return CheckResult(rows.outcome, rows.why, expected, computed, None)
    test = stats.trend_test(check.x, rows, check.direction)
    sign = 1.0 if check.direction == "increasing" else -1.0
    verb = "rises" if sign > 0 else "falls"
    other_verb = "falls" if sign > 0 else "rises"
    over = f" over {len(rows)} seeds" if multi else ""
    rho_name = "mean Spearman rho" if multi else "Spearman rho"
    size = f"{len(check.x)} points on {len(rows)} seed{'s' if len(rows) != 1 else ''}"
    p_text = f"{test.method} p={fmt(test.p_value)}"
    if test.rho is None:
        why = "series is flat: it has no direction (Spearman rho undefined)"
        return CheckResult("fail", why, expected, computed, None, statistic=None, p_value=test.p_value)
    rho = max(-1.0, min(1.0, round(test.rho, 12)))
    if test.smallest_p >= alpha:
        why = (f"{size} cannot reach p < {fmt(alpha)}: the smallest p an exact test of their order can give "
               f"is {fmt(test.smallest_p)} (series {verb if rho * sign > 0 else other_verb} with x, {rho_name}={fmt(rho)}); "
               "more seeds or more points are needed")
        return CheckResult("inconclusive", why, expected, computed, None, statistic=rho, p_value=test.p_value)
    if test.p_opposite < alpha:
        why = (f"series {other_verb} with x{over}, the claim says it {verb} "
               f"({test.method} p={fmt(test.p_opposite)} for a {'fall' if sign > 0 else 'rise'}; {rho_name}={fmt(rho)})")
        return CheckResult("fail", why, expected, computed, None, statistic=rho, p_value=test.p_value)
    if test.p_value >= alpha:
        why = (f"the order of the series{over} is not significant: {p_text} >= {fmt(alpha)} "
               f"({rho_name}={fmt(rho)})")
        return CheckResult("inconclusive", why, expected, computed, None, statistic=rho, p_value=test.p_value)
    if rho * sign < check.min_rho:
        why = (f"series {verb} with x{over} too weakly ({p_text} < {fmt(alpha)}, but {rho_name}={fmt(rho)}, "
               f"needs |rho| >= {fmt(check.min_rho)})")
        return CheckResult("fail", why, expected, computed, None, statistic=rho, p_value=test.p_value)
    bound = fmt(sign * check.min_rho)
    why = (f"series {verb} with x{over} ({p_text} < {fmt(alpha)}; "
           f"{rho_name}={fmt(rho)} {'>=' if sign > 0 else '<='} {bound})")
    return CheckResult("pass", why, expected, computed, None, statistic=rho, p_value=test.p_value)


def _read_trend_rows(check: Check, computed: Any, label: str) -> list[list[float]] | _Bad:
    """The series to test: one (no samples), or one per seed, each as long as `x`."""
    assert check.x is not None
    if check.samples is None:
        series = _read_series(computed, f"{label} (series)")
        rows = [series] if not isinstance(series, _Bad) else series
    else:
        if not isinstance(computed, list | tuple):
            return _Bad("inconclusive", f"{label} (samples) is {_kind(computed).replace(', not a number', '')}, not a list of series")
        read = [_read_series(item, f"{label} (samples)[{i}]") for i, item in enumerate(computed)]
        bad = [r for r in read if isinstance(r, _Bad)]
        if bad:
            return next((b for b in bad if b.outcome == "inconclusive"), bad[0])
        rows = [r for r in read if not isinstance(r, _Bad)]
        if len(rows) < check.samples.min_seeds:
            return _Bad("inconclusive", f"{check.samples.min_seeds} seeds needed, {len(rows)} given")
    if isinstance(rows, _Bad):
        return rows
    for row in rows:
        if len(row) != len(check.x):
            return _Bad("inconclusive", f"series has {len(row)} values for {len(check.x)} x values")
    return rows


@dataclass(frozen=True)
class _Arms:
    """The samples of a multi-seed claim, after reading: one arm, or two."""

    values: list[float]
    other: list[float] | None  # the other arm's samples (two-arm comparison)
    reference: float  # the numeric reference of a one-arm comparison (0.0 for two arms)


def _read_arms(
    check: Check, reported: Reported | None, computed: Any, reference: Any, label: str
) -> _Arms | _Bad:
    assert check.samples is not None
    need = check.samples.min_seeds
    values = _read_series(computed, f"{label} (samples)")
    if isinstance(values, _Bad):
        return values
    if len(values) < need:
        return _Bad("inconclusive", f"{need} seeds needed, {len(values)} given")
    if check.op == "between":  # bounds, no reference
        return _Arms(values, None, 0.0)
    if isinstance(reference, list | tuple):
        other = _read_series(reference, "reference samples (other arm)")
        if isinstance(other, _Bad):
            return _as_reference(other)
        if len(other) < need:
            return _Bad(
                "inconclusive", f"{need} seeds needed, {len(other)} given for the other arm"
            )
        return _Arms(values, other, 0.0)
    ref = _read_number(_reference_of(check, reported, reference), _ref_label(check))
    return _as_reference(ref) if isinstance(ref, _Bad) else _Arms(values, None, ref)


def _compare_samples(
    check: Check, reported: Reported | None, computed: Any, reference: Any, label: str, paired: bool
) -> CheckResult:
    assert check.samples is not None
    spec = check.samples
    tol_text = describe_tolerance(check, reported)
    expected = (
        [check.low, check.high]
        if check.op == "between"
        else _reference_of(check, reported, reference)
    )
    arms = _read_arms(check, reported, computed, reference, label)
    if isinstance(arms, _Bad):
        return CheckResult(arms.outcome, arms.why, expected, computed, tol_text)
    paired = paired and arms.other is not None and len(arms.other) == len(arms.values)
    try:
        ci = stats.interval(arms.values, other=arms.other, paired=paired, statistic=spec.statistic,
                            confidence=spec.confidence, method=spec.interval, resamples=spec.resamples)
    except ValueError as e:  # BCa with too few samples, two independent medians without BCa
        return CheckResult("inconclusive", f"no interval: {e}", expected, computed, tol_text)
    value, lo, hi = ci.estimate, ci.low, ci.high
    head = f"{spec.statistic} {fmt(value)} over {len(arms.values)} seeds"
    tol_ref = arms.reference
    if arms.other is not None:
        tol_ref = stats.STATISTIC_FOR_NAME[spec.statistic](arms.other)
        what = "paired difference" if paired else "difference"
        head = f"{spec.statistic} {what} {fmt(value)} over {len(arms.values)} vs {len(arms.other)} seeds"
    tol = tolerance_of(check, reported, reference=tol_ref) if check.op in ("approx", "eq") else 0.0
    region = _region(check, arms.reference, tol)
    target = _sample_target(check, arms)
    ci_text = interval_text(ci)
    if region.contains(lo) and region.contains(hi):
        outcome: Outcome = "pass"
        reason = f"{head}, {ci_text} {_verdict_phrase(check, True, target, tol_text)}"
    elif region.disjoint(lo, hi):
        outcome = "fail"
        reason = f"{head}, {ci_text} {_verdict_phrase(check, False, target, tol_text)}"
    else:
        outcome = "inconclusive"
        reason = f"{head}: {ci_text} straddles {_edge_text(check, region, lo, hi, target, tol, tol_text)}"
    return CheckResult(outcome, reason, expected, computed, tol_text, interval=ci, statistic=value)


_METHOD_NAME = {"t": "t-interval", "paired-t": "paired t-interval", "welch": "Welch interval",
                "bca": "BCa interval", "order-statistic": "order-statistic interval"}


def interval_text(ci: stats.Interval) -> str:
    """`95% t-interval [0.01803, 0.04412]`: bounds to 4 significant digits (the verdict JSON has them in full)."""
    low, high = format(ci.low, ".4g"), format(ci.high, ".4g")
    return f"{fmt(ci.confidence * 100)}% {_METHOD_NAME.get(ci.method, ci.method)} [{low}, {high}]"


def _sample_target(check: Check, arms: _Arms) -> str:
    """The reference as a reason names it, for one arm or two."""
    two = arms.other is not None
    if check.op in _SYMBOL:
        return _threshold_text(
            arms.reference if not two else 0.0, check.margin, check.against is not None or two
        )
    if two:
        return "the other arm"
    return f"{'other arm' if check.against is not None else 'expected'} {fmt(arms.reference)}"


def _edge_text(
    check: Check,
    region: _Region,
    lo: float,
    hi: float,
    target: str,
    tol: float,
    tol_text: str | None,
) -> str:
    """The edge an interval straddles, named: `0.5 (reported)`, `0.475, an edge of expected 0.5 ± 0.025 ...`."""
    if check.op in _SYMBOL:
        return target
    edge = fmt(region.edge_crossed(lo, hi))
    if check.op == "between":
        return f"{edge}, an edge of [{fmt(region.low)}, {fmt(region.high)}]"
    return f"{edge}, an edge of {target} ± {fmt(tol)} (tolerance={tol_text})"
