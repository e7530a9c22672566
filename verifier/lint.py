"""`verify lint`: claims that are weak by construction, found before anything runs.

A claim can be written so that it cannot fail (a tolerance that admits zero,
a threshold of "greater than nothing"), so that it cannot pass (a trend over
too few points to reach its confidence) or so that passing says little (no
null model to compare with, a value the repro reads back instead of
computing). Each rule below finds one such construction from the manifest and
the repro's files alone; nothing is run.

Every finding names the claim, the field to change and a fix. A claim may
waive rules it breaks on purpose with `lint: {waive: [rule ids], why: "..."}`;
the waiver is itself checked (an unknown rule id, or a waiver that waives
nothing, is a finding).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.check import fmt, tolerance_of
from verifier.manifests import LoadedManifest
from verifier.models import Check, Claim

# rule id -> what it finds (the reference page of the documentation is generated from this).
RULES: dict[str, str] = {
    "no-baseline": "An empirical claim judged over several seeds names no `baseline` (null model), "
    "so nothing shows that a model that learnt nothing would not pass the same check.",
    "too-few-seeds": "A multi-seed claim lists fewer seeds than its interval can use: fewer than "
    "`check.samples.min_seeds` (never judged: inconclusive by construction), fewer than 10 for a BCa "
    "bootstrap interval, or so few that the Student-t critical value at the stated confidence is more than "
    "twice the normal one (most of the interval's width is then the penalty for too few seeds: at 95% that "
    "takes at least 4 seeds, at 99% 5).",
    "trend-cannot-reach": "A trend claim has too few points or seeds to ever reach its confidence: "
    "the smallest p-value of the exact permutation test of k seeds of n points is (1/n!)^k, and it "
    "must fall below 1 - confidence.",
    "tolerance-covers-zero": "An `approx` or `eq` tolerance is at least as wide as the reported value, "
    "so a repro that computes 0 passes.",
    "threshold-no-effect": "A one-sided check (lt, le, gt, ge) against zero or against another arm with "
    "no `margin`: any effect, however small, passes. State the smallest effect that matters.",
    "transcribed-value": "A formula claim's reported value appears verbatim (as the same number) in "
    "the repro's params, sealed inputs or bundle source: the repro may read it back instead of computing it.",
    "waiver": "A `lint.waive` entry names an unknown rule, or a rule that finds nothing in the claim.",
}

ONE_SIDED = ("lt", "le", "gt", "ge")
MIN_BCA_SEEDS = 10
T_PENALTY = 2.0  # a t critical value above twice the normal one: the interval is mostly small-sample penalty
DEFAULT_CONFIDENCE = 0.95
MAX_SCANNED_BYTES = 2_000_000  # larger files are data, not source; they are not searched

# A number as source code or data prints it, not part of a name or a longer number.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


@dataclass(frozen=True)
class Finding:
    """One weakness of one claim: the field to change, what is wrong and how to fix it."""

    paper: str
    claim: str
    rule: str
    field: str
    problem: str
    fix: str

    def line(self) -> str:
        """One line: `paper/C3: claims[2].baseline: ...; fix: ... [no-baseline]`."""
        return f"{self.paper}/{self.claim}: {self.field}: {self.problem}; fix: {self.fix} [{self.rule}]"

    def as_json(self) -> dict[str, str]:
        return {"paper": self.paper, "claim": self.claim, "rule": self.rule, "field": self.field,
                "problem": self.problem, "fix": self.fix}


@dataclass(frozen=True)
class PaperLint:
    """The findings of one paper, and those its claims waive."""

    paper: str
    findings: list[Finding]
    waived: list[Finding]

    def as_json(self) -> dict[str, Any]:
        return {"paper": self.paper, "findings": [f.as_json() for f in self.findings],
                "waived": [f.as_json() for f in self.waived]}


def lint_paper(manifest: LoadedManifest) -> PaperLint:
    """Every rule over every claim of a loaded manifest (seals need not match)."""
    files = _RepoFiles(manifest)
    findings: list[Finding] = []
    waived: list[Finding] = []
    for index, claim in enumerate(manifest.model.claims):
        found = list(_claim_findings(manifest, index, claim, files))
        waiver = claim.lint
        names = set(waiver.waive) if waiver is not None else set()
        findings += [f for f in found if f.rule not in names]
        waived += [f for f in found if f.rule in names]
        findings += _waiver_findings(manifest.model.id, index, claim, names, {f.rule for f in found})
    return PaperLint(paper=manifest.model.id, findings=findings, waived=waived)


@dataclass(frozen=True)
class _Claim:
    """One claim as every rule reads it: where it sits, its check, seeds and confidence."""

    paper: str
    index: int
    claim: Claim
    check: Check
    seeds: list[int]
    confidence: float
    files: _RepoFiles

    def finding(self, rule: str, field: str, problem: str, fix: str) -> Finding:
        return Finding(self.paper, self.claim.id, rule, f"claims[{self.index}].{field}", problem, fix)


def _claim_findings(manifest: LoadedManifest, index: int, claim: Claim, files: _RepoFiles) -> Iterator[Finding]:
    """Every rule's findings for one claim (waivers not applied)."""
    if claim.check is None:
        return
    samples = claim.check.samples
    seeds = list(claim.evidence.seeds) if claim.evidence is not None and claim.evidence.seeds else []
    confidence = samples.confidence if samples is not None else DEFAULT_CONFIDENCE
    c = _Claim(manifest.model.id, index, claim, claim.check, seeds, confidence, files)
    for rule in (_no_baseline, _too_few_seeds, _trend_cannot_reach, _tolerance_covers_zero,
                 _threshold_no_effect, _transcribed_value):
        yield from rule(c)


def _no_baseline(c: _Claim) -> Iterator[Finding]:
    if c.claim.kind == "empirical" and len(c.seeds) > 1 and c.claim.baseline is None:
        yield c.finding(
            "no-baseline", "baseline",
            f"empirical claim over {len(c.seeds)} seeds has no baseline",
            "add baseline: {repro, output, seeds}, the same quantity from a null model "
            "(shuffled labels, an untrained model)",
        )


def _too_few_seeds(c: _Claim) -> Iterator[Finding]:
    """The claim's seeds, the baseline's and the replication's, against what the interval needs."""
    samples = c.check.samples
    if samples is None or c.check.op == "trend":
        return
    interval = samples.interval
    need = max(samples.min_seeds, MIN_BCA_SEEDS if interval == "bca" else t_seeds_needed(c.confidence))
    counts: list[tuple[str, int]] = [("evidence.seeds", len(c.seeds))]
    if c.claim.baseline is not None and c.claim.baseline.seeds:
        counts.append(("baseline.seeds", len(c.claim.baseline.seeds)))
    if c.claim.replicate is not None:
        counts.append(("replicate.seeds", c.claim.replicate.seeds))
    for field, n in counts:
        if n < need:
            yield c.finding(
                "too-few-seeds", field,
                f"{n} seed(s) where a {_interval_name(interval)} at {fmt(c.confidence * 100)}% "
                f"with min_seeds {samples.min_seeds} needs at least {need}{_t_width(n, c.confidence, interval)}",
                f"list at least {need} seeds",
            )


def _trend_cannot_reach(c: _Claim) -> Iterator[Finding]:
    if c.check.op != "trend" or not c.check.x:
        return
    n = len(c.check.x)
    k = max(1, len(c.seeds))
    alpha = 1.0 - c.confidence
    log_p = -k * math.lgamma(n + 1)  # log of (1/n!)^k: every seed in the claimed order
    if log_p >= math.log(alpha):
        need_k = math.floor(math.log(alpha) / -math.lgamma(n + 1)) + 1
        yield c.finding(
            "trend-cannot-reach", "check.x" if len(c.seeds) <= 1 else "evidence.seeds",
            f"a trend over {n} points on {k} seed(s): the smallest exact permutation p-value is "
            f"(1/{n}!)^{k} = {fmt(math.exp(log_p))}, never below 1 - {fmt(c.confidence)} = {fmt(alpha)}",
            f"judge it over at least {need_k} seeds of these {n} points (evidence.seeds), or over more x values",
        )


def _tolerance_covers_zero(c: _Claim) -> Iterator[Finding]:
    reported = c.claim.reported
    if c.check.op not in ("approx", "eq") or reported is None or not reported.value or c.check.against is not None:
        return
    tol = tolerance_of(c.check, reported)
    if tol >= abs(reported.value):
        yield c.finding(
            "tolerance-covers-zero", _tolerance_field(c.check, reported.value),
            f"tolerance {fmt(tol)} is at least the reported value {fmt(reported.value)}: a computed 0 passes",
            "set rel_tol/abs_tol to the error the claim can afford (well below the value), "
            "or state the claim as a bound (op: gt/lt)",
        )


def _threshold_no_effect(c: _Claim) -> Iterator[Finding]:
    if c.check.op not in ONE_SIDED or c.check.margin != 0:
        return
    against_arm = c.check.against is not None
    if against_arm or (c.claim.reported is not None and c.claim.reported.value == 0):
        what = "the other arm" if against_arm else "0"
        yield c.finding(
            "threshold-no-effect", "check.margin",
            f"'{c.check.op}' {what} with no margin: any effect, however small, passes",
            "set check.margin to the smallest effect that matters and say why in note",
        )


def _transcribed_value(c: _Claim) -> Iterator[Finding]:
    reported, evidence = c.claim.reported, c.claim.evidence
    if c.claim.kind != "formula" or reported is None or reported.value is None or evidence is None:
        return
    where = c.files.find(evidence.repro, reported.value)
    if where is not None:
        yield c.finding(
            "transcribed-value", "reported.value",
            f"{fmt(reported.value)} appears verbatim in {where}: the repro may read it back rather than compute it",
            "compute the value from what it depends on (and keep the number itself out of params, inputs and source)",
        )


def _interval_name(interval: str) -> str:
    return "BCa bootstrap interval" if interval == "bca" else "Student-t interval"


def _quantiles(q: float, df: int) -> tuple[float, float]:
    """(Student-t quantile with `df` degrees of freedom, normal quantile) at `q`."""
    # scipy is a core dependency, imported only when a multi-seed claim is linted
    from scipy import stats as st  # type: ignore[import-untyped]

    return float(st.t.ppf(q, df)), float(st.norm.ppf(q))


def t_seeds_needed(confidence: float) -> int:
    """Fewest seeds whose Student-t critical value at `confidence` is at most twice the normal one."""
    q = (1 + confidence) / 2
    n = 2
    while True:
        t, z = _quantiles(q, n - 1)
        if t <= T_PENALTY * z:
            return n
        n += 1


def _t_width(n: int, confidence: float, interval: str) -> str:
    """How wide a t-interval over n seeds is, in standard deviations of the seeds."""
    if interval == "bca" or n < 2:
        return ""
    critical, _ = _quantiles((1 + confidence) / 2, n - 1)
    return (f" (with {n} seeds the t critical value is {critical:.2f}: the interval is "
            f"±{critical / math.sqrt(n):.2f} standard deviations of the seeds)")


def _tolerance_field(check: Check, value: float) -> str:
    if check.rel_tol is not None and check.rel_tol * abs(value) >= abs(value):
        return "check.rel_tol"
    if check.abs_tol is not None and check.abs_tol >= abs(value):
        return "check.abs_tol"
    return "check.precision"


def _waiver_findings(paper: str, index: int, claim: Claim, names: set[str], found: set[str]) -> list[Finding]:
    out: list[Finding] = []
    for name in sorted(names):
        if name not in RULES:
            problem = f"waives unknown rule {name!r}"
            fix = f"use a rule id of `verify lint`: {', '.join(sorted(RULES))}"
        elif name not in found:
            problem = f"waives {name!r}, which finds nothing in this claim"
            fix = "remove it from lint.waive"
        else:
            continue
        out.append(Finding(paper, claim.id, "waiver", f"claims[{index}].lint.waive", problem, fix))
    return out


class _RepoFiles:
    """Where a number appears among a repro's params, inputs and bundle source (read once)."""

    def __init__(self, manifest: LoadedManifest) -> None:
        self.manifest = manifest
        self.root = manifest.path.parents[2]
        self._numbers: dict[str, list[tuple[float, str]]] = {}

    def find(self, repro_id: str, value: float) -> str | None:
        """`params.lr`, `data/x.json:3` or `repro/run.py:12`: the first place `value` appears, or None."""
        for number, where in self._numbers_of(repro_id):
            if math.isclose(number, value, rel_tol=1e-12, abs_tol=0.0):
                return where
        return None

    def _numbers_of(self, repro_id: str) -> list[tuple[float, str]]:
        if repro_id not in self._numbers:
            repro = self.manifest.repro(repro_id)
            found = list(_param_numbers(repro.params, "params"))
            for path in self.manifest.inputs.get(repro_id, {}).values():
                found += _file_numbers(path, self.root)
            bundle = self.manifest.bundles.get(repro_id)
            if bundle is not None and bundle.is_dir():
                for path in sorted(bundle.rglob("*")):
                    if path.is_file() and "__pycache__" not in path.parts:
                        found += _file_numbers(path, self.root)
            self._numbers[repro_id] = found
        return self._numbers[repro_id]


def _param_numbers(value: Any, where: str) -> Iterator[tuple[float, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _param_numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _param_numbers(item, f"{where}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value), where
    elif isinstance(value, str):
        for match in _NUMBER.finditer(value):
            yield float(match.group()), where


def _file_numbers(path: Path, root: Path) -> list[tuple[float, str]]:
    try:
        if path.stat().st_size > MAX_SCANNED_BYTES:
            return []
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):  # unreadable or binary: not source
        return []
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    out = []
    for number, line in _numbers_in(text):
        out.append((number, f"{shown}:{line}"))
    return out


def _numbers_in(text: str) -> Iterator[tuple[float, int]]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        for match in _NUMBER.finditer(line):
            try:
                number = float(match.group())
            except (ValueError, OverflowError):
                continue
            if math.isfinite(number):
                yield number, lineno
