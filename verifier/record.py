"""The public record of a paper (`verify show`): what it says, read from the ledger, never run.

`build_record(root, home, paper_id)` reads, and never runs: the manifest (no
seal check: a record stays readable after its bundle changed), the ledger's
last verdict of every claim and the runs behind them, the correction audit,
the attestation index (`verifier.attest.store`) and the verdict history. It
returns a `PublicRecord`, which `verifier.report` renders in the order of
the record that started this project (Assignee Research, SRCH:BA8256CB): the
header; verification level; gate verdict; quality tier and dimensions;
correction record; provenance; then every claim.

The paper's gate verdict shows one claim-level line, as that record does:
a refutation when any claim is refuted (it decides the aggregate), else the
best-supported verdict (verified before inconclusive before unverified, then
the higher gate, sealed before unsealed, the newer). The aggregate beside it
is `gates.paper_verdict`'s: Verified, Partially verified (k of n claims),
Refuted or Unverified.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from verifier.history import HistoryPoint
from verifier.models import Check, Claim, PaperManifest, RunRecord, SourceProvenance, Verdict

RECORD_CONTRACT: Final = "public-record-v1"
NOT_YET: Final = "not yet verified"

LEVEL_MEANING: Final = {
    "L0": "no claims extracted",
    "L1": "claims extracted from the source",
    "L2": "every claim source-grounded (section and verbatim quote)",
}
# The definitions of `models.SourceProvenance`, one line each.
PROVENANCE_LEVELS: Final = {
    "L0": "unknown: nothing is known of where the source comes from",
    "L1": "self-declared: the publisher names itself, nothing else",
    "L2": "traceable: a public page or repository of the publisher holds the source",
    "L3": "checksummed: a report artifact with a digest that matches",
    "L4": "external archival record: an external archive (e.g. a DOI) holds it",
}
_SAME_EVALUATION_S: Final = 1.0  # verdicts this close together come from one `verify` run
_STATUS_RANK: Final = {"verified": 0, "refuted": 1, "inconclusive": 2, "unverified": 3}


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class Link:
    """A file a reader can open: an artifact-store object or an envelope; `path` is relative to home."""

    label: str
    digest: str
    path: str


@dataclass(frozen=True)
class RunInfo:
    """The run behind a verdict, and where it ran."""

    id: str
    backend: str
    sealed: bool
    cached: bool
    status: str
    exit_code: int | None
    duration_s: float
    started: str
    interpreter: str
    os: str
    cpu: str
    gpus: str
    image: str | None


@dataclass(frozen=True)
class ClaimRecord:
    """One claim as the record shows it; `status` is None when it was never verified."""

    id: str
    claim: str
    statement: str
    kind: str
    section: str | None
    quote: str | None
    locator: str | None
    reported: str | None
    computed: Any
    expected: Any
    check: str | None
    status: str | None
    gate: int | None
    line: str
    evaluated: str | None
    flags: list[str]
    note: str | None
    runs: list[RunInfo]
    logs: list[Link]
    attestations: list[Link]
    evidence: str = "none"  # transcribed | replicated | reproduced | none (verdict.evidence)
    strength: str | None = None  # the evidence in words: "replicated on 4 fresh seeds (nonce ...)"
    interval: dict[str, Any] | None = None  # verdict.interval
    baseline: dict[str, Any] | None = None  # verdict.baseline, with the output it read
    informative: bool | None = None
    figure: dict[str, Any] | None = None  # per-seed values, interval, thresholds, baseline (seed_plot)


@dataclass(frozen=True)
class PublicRecord:
    """Everything `verify show` renders, in its order (module docstring)."""

    paper: str
    title: str
    publisher: str
    submitted: str | None
    review_score: str | None
    review_method: str | None
    doi: str | None
    source_kind: str
    manifest_digest: str
    verification: dict[str, Any]
    gate: dict[str, Any]
    quality: dict[str, Any]
    corrections: dict[str, Any]
    provenance: dict[str, Any] | None
    claims: list[ClaimRecord]
    history: list[HistoryPoint] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON-able form, with the contract name (`public-record-v1`)."""
        return {"contract": RECORD_CONTRACT, **asdict(self)}

    @property
    def status(self) -> str:
        """The paper's aggregate status (Verified, Partially verified (k of n claims), ...)."""
        return str(self.gate["status"])


def build_record(root: Path, home: Path, paper_id: str) -> PublicRecord:
    """Read everything the record shows (module docstring); runs nothing.

    Raises `IntakeError` for an unknown paper or an invalid manifest,
    `LedgerError` if the ledger cannot be read.
    """
    from verifier.ledger import Ledger
    from verifier.manifests import load_manifest
    from verifier.root import VerificationRoot

    # (1): the manifest as it stands; seals are Gate 0's business, not the reader's
    loaded = load_manifest(VerificationRoot.at(root), paper_id, check_seals=False)
    model = loaded.model
    ids = [f"{model.id}/{c.id}" for c in model.claims]
    with Ledger.open(home) as ledger:
        # (2): the last verdicts and the runs they rest on
        last = ledger.last_verdicts(ids)
        runs = _runs_of(ledger, last.values())
        # (3): every verdict, for the history
        history = _history(model, {gid: ledger.verdict_history(gid, limit=200) for gid in ids})
        store = ledger.store.path
    by_local = {gid.split("/", 1)[1]: v for gid, v in last.items()}
    claims = [_claim_record(model.id, c, last.get(f"{model.id}/{c.id}"), runs, home, store) for c in model.claims]
    return PublicRecord(
        paper=model.id,
        title=model.title,
        publisher=model.publisher,
        submitted=model.source.submitted,
        review_score=_score(model),
        review_method=model.review.method if model.review else None,
        doi=model.source.doi,
        source_kind=model.source.kind,
        manifest_digest=loaded.digest,
        verification=_verification(model),
        gate=_gate(model, by_local),
        quality=_quality(model, by_local),
        corrections=_corrections(root, home, paper_id, last),
        provenance=_provenance(model.provenance),
        claims=claims,
        history=history,
    )


def _runs_of(ledger: Any, verdicts: Any) -> dict[str, RunRecord]:
    """Run id -> record for every run the verdicts cite."""
    runs: dict[str, RunRecord] = {}
    for verdict in verdicts:
        for ref in [verdict.run, *verdict.runs]:
            if ref is not None and ref.id is not None and ref.id not in runs:
                record = ledger.get_run(ref.id)
                if record is not None:
                    runs[ref.id] = record
    return runs


def _score(model: PaperManifest) -> str | None:
    if model.review is None or model.review.score is None:
        return None
    scale = f"/{number_text(model.review.scale)}" if model.review.scale else ""
    return f"{number_text(model.review.score)}{scale}"


def _verification(model: PaperManifest) -> dict[str, Any]:
    """The level the policy computes (quality.verification_level), the declared one, and the grounded count."""
    from verifier.quality import verification_level

    level = verification_level(model.claims)
    grounded = sum(1 for c in model.claims if c.source is not None and c.source.quote)
    return {
        "level": level,
        "meaning": LEVEL_MEANING[level],
        "declared": model.verification_level,
        "source_grounded_claims": grounded,
        "claims": len(model.claims),
    }


def _gate(model: PaperManifest, verdicts: Mapping[str, Verdict]) -> dict[str, Any]:
    """The aggregate status and the one claim-level line that stands for it (module docstring)."""
    from verifier.gates import line, paper_verdict

    # A claim never judged counts as unverified: paper_verdict only counts the verdicts it is given.
    judged = dict(verdicts)
    for claim in model.claims:
        judged.setdefault(claim.id, Verdict(claim=f"{model.id}/{claim.id}", status="unverified", gate=0, reason=NOT_YET, evaluated=""))
    aggregate = paper_verdict(model.id, model.claims, judged)
    deciding = _deciding(list(verdicts.values()))
    return {
        "status": aggregate.status,
        "verified": aggregate.verified,
        "checkable": aggregate.checkable,
        "counts": dict(aggregate.counts),
        "claim": deciding.claim if deciding else None,
        "deciding_gate": deciding.gate if deciding else None,
        "line": (deciding.line or line(deciding)) if deciding else NOT_YET,
        "reason": deciding.reason if deciding else None,
        "evaluated": deciding.evaluated if deciding else None,
        "last_evaluated": max((v.evaluated for v in verdicts.values()), default=None),
    }


def _deciding(verdicts: list[Verdict]) -> Verdict | None:
    """A refutation if any, else the best-supported verdict (module docstring)."""
    refuted = [v for v in verdicts if v.status == "refuted"]
    pool = refuted or verdicts
    if not pool:
        return None
    return min(pool, key=lambda v: (_STATUS_RANK[v.status], -v.gate, not v.sealed, _neg_time(v.evaluated)))


def _neg_time(text: str) -> float:
    from datetime import datetime

    try:
        return -datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def _quality(model: PaperManifest, verdicts: Mapping[str, Verdict]) -> dict[str, Any]:
    from verifier.quality import assess

    return assess(model, dict(verdicts)).as_json()


def _corrections(root: Path, home: Path, paper_id: str, last: Mapping[str, Verdict]) -> dict[str, Any]:
    """`verify audit` as data: status, count, stale claims, and the chain (ok, or its breaks)."""
    from verifier.corrections import audit, verdict_time_from_iso

    def last_time(gid: str) -> Any:
        verdict = last.get(gid)
        return verdict_time_from_iso(verdict.evaluated) if verdict else None

    return audit(root, paper_id, last_verdict_time=last_time, home=home).to_json()


def _provenance(prov: SourceProvenance | None) -> dict[str, Any] | None:
    if prov is None:
        return None
    document = prov.model_dump(mode="json")
    document["level_definition"] = PROVENANCE_LEVELS[prov.level]
    return document


def _claim_record(
    paper: str,
    claim: Claim,
    verdict: Verdict | None,
    runs: Mapping[str, RunRecord],
    home: Path,
    store: Callable[[str], Path],
) -> ClaimRecord:
    from verifier.gates import line

    cited = [r for r in ([verdict.run, *verdict.runs] if verdict else []) if r is not None and r.id]
    records = [runs[r.id] for r in cited if r.id in runs]  # type: ignore[index]
    return ClaimRecord(
        id=claim.id,
        claim=f"{paper}/{claim.id}",
        statement=claim.statement,
        kind=claim.kind,
        section=claim.source.section if claim.source else None,
        quote=claim.source.quote if claim.source else None,
        locator=claim.source.locator if claim.source else None,
        reported=_reported(claim),
        computed=verdict.computed if verdict else None,
        expected=verdict.expected if verdict else None,
        check=describe_check(claim.check) if claim.check else None,
        status=verdict.status if verdict else None,
        gate=verdict.gate if verdict else None,
        line=(verdict.line or line(verdict)) if verdict else NOT_YET,
        evaluated=verdict.evaluated if verdict else None,
        flags=list(verdict.flags) if verdict else [],
        note=claim.note,
        runs=[_run_info(r, cached=bool(verdict and verdict.cached)) for r in records],
        logs=[link for r in records for link in _logs(r, home, store)],
        attestations=_attestations(home, verdict),
        evidence=verdict.evidence if verdict else "none",
        strength=evidence_text(verdict) if verdict else None,
        interval=verdict.interval.model_dump(mode="json") if verdict and verdict.interval else None,
        baseline=(verdict.baseline.model_dump(mode="json") | {"output": claim.baseline.output if claim.baseline else None})
        if verdict and verdict.baseline else None,
        informative=verdict.informative if verdict else None,
        figure=figure_data(claim, verdict),
    )


def evidence_text(verdict: Verdict) -> str:
    """How strong the evidence is, in words (the verdict's `evidence`, `replication`, `transcription`)."""
    if verdict.evidence == "transcribed" and verdict.transcription is not None:
        t = verdict.transcription
        where = "the repro's params" if t.where == "params" else t.file
        return f"transcribed: {number_text(t.value)} appears verbatim in {where}"
    if verdict.replication is not None:
        seeds = len(verdict.replication.seeds)
        held = "replicated on" if verdict.evidence == "replicated" else "judged on"
        return f"{held} {seeds} fresh seeds (nonce {verdict.replication.nonce})"
    if verdict.evidence == "reproduced":
        return f"reproduced on the manifest's {len(verdict.seeds)} seeds" if verdict.seeds else "reproduced"
    return "none"


def figure_data(claim: Claim, verdict: Verdict | None) -> dict[str, Any] | None:
    """What the site's per-seed figure draws, for a multi-seed claim judged by an interval; else None.

    One arm: each seed's value, the interval of the statistic and the
    check's edges. Two arms from the same runs: each seed's difference.
    The baseline's values and interval, when it has them.
    """
    if verdict is None or verdict.interval is None or claim.check is None or not isinstance(verdict.computed, list):
        return None
    values = _floats(verdict.computed)
    expected = verdict.expected
    two_arms = isinstance(expected, list)
    if values is None:
        return None
    label = "per-seed value"
    if two_arms:
        other = _floats(expected)
        if other is None or len(other) != len(values) or verdict.interval.method != "paired-t":
            values_shown: list[float] = []  # independent arms: no per-seed pairing to draw
        else:
            values_shown = [a - b for a, b in zip(values, other, strict=True)]
        label = "per-seed difference (this arm minus the other)"
    else:
        values_shown = values
    edges = _edges(claim, expected, two_arms)
    base = verdict.baseline
    base_values = _floats(base.computed) if base is not None and isinstance(base.computed, list) else None
    if two_arms and base_values is not None:
        other = _floats(expected)
        base_values = [a - b for a, b in zip(base_values, other or [], strict=False)] if other and len(other) == len(base_values) else None
    return {
        "label": label,
        "values": values_shown,
        "estimate": verdict.interval.estimate,
        "low": verdict.interval.low,
        "high": verdict.interval.high,
        "edges": edges,
        "baseline_values": base_values or [],
        "baseline_interval": base is not None and base.interval is not None,
        "baseline_low": base.interval.low if base is not None and base.interval is not None else None,
        "baseline_high": base.interval.high if base is not None and base.interval is not None else None,
        "status": verdict.status,
    }


def _floats(value: Any) -> list[float] | None:
    if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    return [float(v) for v in value]


def _edges(claim: Claim, expected: Any, two_arms: bool) -> list[float]:
    """The finite edges of the check's passing region (thresholds the figure draws)."""
    from verifier.check import tolerance_of

    check = claim.check
    assert check is not None
    if check.op == "between":
        return [v for v in (check.low, check.high) if v is not None]
    reference = 0.0 if two_arms else expected
    if not isinstance(reference, int | float) or isinstance(reference, bool):
        return []
    if check.op in ("approx", "eq"):
        try:
            tol = tolerance_of(check, claim.reported, reference=float(reference))
        except ValueError:
            return []
        return [float(reference) - tol, float(reference) + tol]
    if check.op in ("lt", "le", "gt", "ge"):
        return [float(reference) + check.margin]
    return []


def _reported(claim: Claim) -> str | None:
    if claim.reported is None:
        return None
    text = claim.reported.text or (number_text(claim.reported.value) if claim.reported.value is not None else None)
    if text is None:
        return None
    return f"{text} {claim.reported.unit}" if claim.reported.unit else text


def describe_check(check: Check) -> str:
    """One line: the op and its tolerance, e.g. `approx, rel_tol 5%` or `between 0.7 and 0.9`."""
    if check.op == "between":
        text = f"between {number_text(check.low)} and {number_text(check.high)}"
    elif check.op == "trend":
        alpha = 1 - (check.samples.confidence if check.samples is not None else 0.95)
        text = f"trend {check.direction}, exact order test p < {number_text(round(alpha, 12))}, |Spearman rho| >= {number_text(check.min_rho)}"
    else:
        text = check.op
    parts = [text]
    if check.rel_tol is not None:
        parts.append(f"rel_tol {number_text(check.rel_tol * 100)}%")
    if check.abs_tol is not None:
        parts.append(f"abs_tol {number_text(check.abs_tol)}")
    if check.precision:
        parts.append("plus the printed precision")
    if check.margin and check.op in ("lt", "le", "gt", "ge"):
        parts.append(f"margin {number_text(check.margin)}")
    if check.against is not None:
        parts.append(f"against {check.against.repro}{check.against.output}")
    if check.samples is not None:
        method = {"t": "t-interval", "bca": "BCa interval"}[check.samples.interval]
        parts.append(f"{check.samples.statistic} over >= {check.samples.min_seeds} seeds, {number_text(check.samples.confidence * 100)}% {method}")
    return ", ".join(parts)


def _run_info(record: RunRecord, *, cached: bool) -> RunInfo:
    """The fingerprint, summarized: interpreter, OS, CPU (and GPUs, image) of the run."""
    env = record.environment
    interp: dict[str, Any] = env["interpreter"] if isinstance(env.get("interpreter"), dict) else {}
    interpreter = " ".join(str(interp[k]) for k in ("implementation", "version") if interp.get(k))
    gpus: list[Any] = env["gpus"] if isinstance(env.get("gpus"), list) else []
    return RunInfo(
        id=record.id,
        backend=record.backend,
        sealed=record.sealed,
        cached=cached,
        status=record.status,
        exit_code=record.exit_code,
        duration_s=record.duration_s,
        started=record.started,
        interpreter=interpreter or str(env.get("image_os") or "-"),
        os=str(env.get("os") or env.get("image_os") or "-"),
        cpu=str(env.get("cpu") or env.get("machine") or "-"),
        gpus=", ".join(str(g.get("model")) for g in gpus if isinstance(g, dict)) or "none",
        image=str(env["image"]) if env.get("image") else None,
    )


def _logs(record: RunRecord, home: Path, store: Callable[[str], Path]) -> list[Link]:
    """stdout, stderr and results.json of a run, as artifact-store paths relative to home."""
    items = sorted(record.logs.items())
    items += [(o.path, o.sha256) for o in record.outputs]
    links = []
    for name, digest in items:
        path = store(digest)
        if path.is_relative_to(home):
            links.append(Link(f"{record.id} {name}", digest, path.relative_to(home).as_posix()))
    return links


def _attestations(home: Path, verdict: Verdict | None) -> list[Link]:
    """Envelopes of this verdict, from its claim's attestation index (`verifier.attest.store`)."""
    if verdict is None:
        return []
    from verifier.attest.store import envelopes_of, read_index

    index = read_index(home, verdict.claim)
    if index is None or index.get("evaluated") != verdict.evaluated:
        return []
    return [Link(label, digest, path) for label, digest, path in envelopes_of(index)]


def _history(model: PaperManifest, verdicts: Mapping[str, list[Verdict]]) -> list[HistoryPoint]:
    """The paper after each evaluation: verdicts within a second of each other are one evaluation."""
    from verifier.quality import is_checkable

    checkable = {f"{model.id}/{c.id}" for c in model.claims if is_checkable(c)}
    events = sorted((v.evaluated, v.claim, v.status) for vs in verdicts.values() for v in vs)
    state: dict[str, str] = {}
    points: list[HistoryPoint] = []
    last_time: float | None = None
    for evaluated, gid, status in events:
        when = -_neg_time(evaluated)
        state[gid] = status
        verified = sum(1 for g in checkable if state.get(g) == "verified")
        point = HistoryPoint(evaluated, verified, len(checkable), {g.split("/", 1)[1]: s for g, s in sorted(state.items())})
        # One `verify paper` writes its verdicts within milliseconds: fold them into one point.
        if points and last_time is not None and when - last_time <= _SAME_EVALUATION_S:
            points[-1] = point
        else:
            points.append(point)
        last_time = when
    return points


def number_text(value: float | None) -> str:
    """A number as a reader writes it: 5e-05, 0.05, 7.5, 10."""
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)
