"""Pydantic models of the public contracts (docs/reference/contract.md).

On-disk documents are strict, frozen and forbid unknown fields, so a typo in
a manifest is an intake error rather than a silently ignored key. The JSON
Schemas under `schemas/` are generated from these classes (`verifier.schemas`),
and their field descriptions are the reference documentation of each field.

Contracts:
* `PaperManifest` (`paper-manifest-v1.2`, which reads `paper-manifest-v1.1`
  too) with `Claim`, `Check`, `Samples`, `Evidence`, `Replicate`, `Repro`,
  `Limits`, `SourceAnchor`, `Reported`, `ProofTarget`;
* `CorrectionRecord` (`correction-record-v1`);
* `SourceProvenance` (`source-provenance-v1`);
* `Verdict` and `RunRecord`: what the verifier writes.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    model_serializer,
    model_validator,
)

# One definition each, in digest.py and root.py; re-exported for the models' users.
from verifier.digest import DIGEST_PATTERN as DIGEST_PATTERN
from verifier.root import PAPER_ID_PATTERN as PAPER_ID_PATTERN

MANIFEST_CONTRACT = "paper-manifest-v1.2"
MANIFEST_CONTRACT_V11 = "paper-manifest-v1.1"
MANIFEST_CONTRACTS = (MANIFEST_CONTRACT_V11, MANIFEST_CONTRACT)
"""Manifest contracts read. v1.2 is v1.1 plus optional fields; a v1.1 manifest means the same under v1.2."""
CORRECTION_CONTRACT = "correction-record-v1"
PROVENANCE_CONTRACT = "source-provenance-v1"
VERDICT_CONTRACT = "verdict-v1"
RUN_CONTRACT = "run-record-v1"

LOCAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
HEX_PATTERN = r"^[0-9a-f]{64}$"
# A JSON Pointer (RFC 6901): empty (the whole document) or "/"-separated tokens.
POINTER_PATTERN = r"^(/([^~/]|~[01])*)*$"

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A finite number. Strict: integers are widened to float, but a string ("2") or a
boolean is refused, as the JSON Schema refuses it (lax mode would read "2" as 2.0)."""
def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("an argument holds a NUL byte, which no program can be passed")
    return text


Argument = Annotated[StrictStr, AfterValidator(_no_nul)]
"""One argv element: any text but NUL, which no exec can pass (refused at intake, not at run time)."""
"""A finite number; YAML/JSON integers are accepted and widened to float."""


class Document(BaseModel):
    """Base of every on-disk model: strict, frozen, no unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --------------------------------------------------------------------------- manifest


class SourceAnchor(Document):
    """Where in the source a claim is stated (Gate 1 grounding)."""

    section: StrictStr = Field(min_length=1, description="Section heading or number of the source, e.g. '4.1 Setup'.")
    quote: StrictStr | None = Field(
        default=None, description="The sentence of the source that makes the claim, verbatim."
    )
    locator: StrictStr | None = Field(
        default=None, description="Optional finer locator: page, paragraph, line, URL fragment."
    )


class Reported(Document):
    """The value the paper reports."""

    value: Number | None = Field(
        default=None,
        description="The reported number; null for claims that report no single number (trends, orderings).",
    )
    unit: StrictStr | None = Field(default=None, description="Unit, e.g. '%', 'accuracy@1'; null when unitless.")
    text: StrictStr | None = Field(
        default=None,
        description="The number exactly as printed (e.g. '5e-05'); used to derive a precision tolerance.",
    )


class Samples(Document):
    """How a claim over several seeds is judged (multi-seed claims).

    The computed value is a set of samples: the evidence output read from one
    run per seed, or a JSON array of per-seed values. The statistic's
    confidence interval must lie entirely on the passing side of the check:
    an interval that straddles the threshold, or fewer than `min_seeds`
    samples, is inconclusive, never a pass. The interval of a mean is
    Student's t (one arm, or the per-seed differences of two arms read from
    the same runs) or Welch's (two independent arms); of a median, the exact
    order-statistic interval; `interval: bca` asks for a bias-corrected and
    accelerated bootstrap instead, which needs at least 10 samples. A trend
    over seeds is judged by Page's exact permutation test of the order across
    all seeds: it passes when its p-value is below `1 - confidence`.
    """

    statistic: Literal["mean", "median"] = Field(default="mean", description="Statistic compared with the reference.")
    confidence: Number = Field(default=0.95, gt=0.5, lt=1.0, description="Two-sided confidence level of the interval.")
    min_seeds: StrictInt = Field(default=3, ge=2, description="Fewest samples that can support a verdict.")
    resamples: StrictInt = Field(default=2000, ge=100, le=100_000, description="Bootstrap resamples (interval: bca).")
    interval: Literal["t", "bca"] = Field(
        default="t",
        description="t (default): Student-t, or Welch for two independent arms; bca: bias-corrected accelerated bootstrap, needs >= 10 samples (v1.2).",
    )


Op = Literal["approx", "eq", "lt", "le", "gt", "ge", "between", "trend"]


class Evidence(Document):
    """Where the computed value comes from: a repro's results.json, by JSON Pointer."""

    repro: StrictStr = Field(pattern=LOCAL_ID_PATTERN, description="Id of a repro of this manifest.")
    output: StrictStr = Field(pattern=POINTER_PATTERN, description="JSON Pointer into the repro's results.json.")
    seeds: list[StrictInt] | None = Field(
        default=None,
        description="Run the repro once per seed ($REPRO_SEED) and judge the samples (needs check.samples).",
    )


class Check(Document):
    """How the computed value is compared with the reference.

    The reference is the reported value, or, for a comparative claim
    (`against` set), a second computed value. `approx` passes when
    `|computed - reference| <= max(rel_tol * |reference|, abs_tol)`;
    `lt/le/gt/ge` compare `computed` with `reference + margin`; `between`
    needs `low <= computed <= high`; `trend` reads a series (with `samples`,
    one per seed) and passes when an exact permutation test of its order
    (Page's test across the seeds) has a p-value below `1 - confidence` (0.95
    without `samples`), and Spearman's rank correlation with `x` (the mean
    over seeds) has the sign of `direction` and a magnitude of at least
    `min_rho`. NaN or infinity never passes.
    """

    op: Op = Field(description="Comparison: approx | eq | lt | le | gt | ge | between | trend.")
    rel_tol: Number | None = Field(default=None, ge=0, description="Relative tolerance (approx).")
    abs_tol: Number | None = Field(
        default=None, ge=0, description="Absolute floor of the tolerance, for values near zero (approx, eq)."
    )
    precision: StrictBool = Field(
        default=False,
        description="Add the tolerance the reported precision implies: half a unit in the last printed digit of reported.text.",
    )
    low: Number | None = Field(default=None, description="Lower bound (between).")
    high: Number | None = Field(default=None, description="Upper bound (between).")
    margin: Number = Field(default=0.0, description="Offset added to the reference for lt/le/gt/ge (e.g. 'beats by 2 points').")
    against: Evidence | None = Field(
        default=None,
        description="Comparative claim: compare with this second computed value instead of the reported one.",
    )
    direction: Literal["increasing", "decreasing"] | None = Field(
        default=None, description="Trend claims: the direction the series moves as x grows."
    )
    x: list[Number] | None = Field(
        default=None, description="Trend claims: the factor's values, one per element of the series."
    )
    min_rho: Number = Field(
        default=0.8, ge=0, le=1, description="Trend claims: least |Spearman rho| (mean over seeds) that passes."
    )
    samples: Samples | None = Field(default=None, description="Multi-seed claims: how the samples are judged.")

    @model_validator(mode="after")
    def _fields_fit_op(self) -> Check:
        if self.op == "approx" and self.rel_tol is None and self.abs_tol is None and not self.precision:
            raise ValueError("op 'approx' needs rel_tol, abs_tol or precision: true")
        if self.op == "between":
            if self.low is None or self.high is None:
                raise ValueError("op 'between' needs both low and high")
            if self.low > self.high:
                raise ValueError(f"low ({self.low}) is greater than high ({self.high})")
        if self.op == "trend" and (self.direction is None or not self.x or len(self.x) < 3):
            raise ValueError("op 'trend' needs direction and x with at least 3 values")
        if self.op != "trend" and (self.direction is not None or self.x is not None):
            raise ValueError(f"direction and x belong to op 'trend', not '{self.op}'")
        return self


class ProofTarget(Document):
    """A Lean 4 file and the theorem it must prove (proof claims)."""

    file: StrictStr = Field(min_length=1, description="Path of the .lean file, relative to the root.")
    theorem: StrictStr = Field(min_length=1, description="Name of the theorem that must type-check.")
    sha256: StrictStr | None = Field(default=None, pattern=HEX_PATTERN, description="Hex SHA-256 of the file, written by `verify seal`.")


ClaimKind = Literal["formula", "empirical", "proof", "descriptive"]


class LintWaiver(Document):
    """`verify lint` rules waived for one claim, with the reason readers see."""

    waive: list[StrictStr] = Field(min_length=1, description="Rule ids of `verify lint` waived for this claim.")
    why: StrictStr = Field(min_length=1, description="Why the claim is sound despite the findings.")


class Replicate(Document):
    """How a replication (`--replicate`) of a multi-seed claim draws its fresh seeds (v1.2)."""

    seeds: StrictInt = Field(ge=2, le=1000, description="How many fresh seeds a replication draws.")


class Claim(Document):
    """One claim of the paper, grounded in its source and, if checkable, linked to evidence."""

    id: StrictStr = Field(pattern=LOCAL_ID_PATTERN, description="Unique in the paper; global id <paper-id>/<id>.")
    statement: StrictStr = Field(min_length=1, description="The claim in one sentence.")
    kind: ClaimKind = Field(description="formula | empirical | proof | descriptive (no Gate 2 check).")
    source: SourceAnchor | None = Field(default=None, description="Grounding in the source; missing fails Gate 1.")
    reported: Reported | None = Field(default=None, description="The reported value.")
    check: Check | None = Field(default=None, description="How the computed value is judged.")
    evidence: Evidence | None = Field(default=None, description="Where the computed value comes from.")
    proof: ProofTarget | None = Field(default=None, description="Proof claims: the Lean 4 file and theorem.")
    note: StrictStr | None = Field(default=None, description="Free text for readers: caveats, readings, scope.")
    baseline: Evidence | None = Field(
        default=None,
        description="The same check on a null model (untrained encoder, shuffled labels); if it passes too, the claim is uninformative (v1.2).",
    )
    replicate: Replicate | None = Field(
        default=None, description="How many fresh seeds `--replicate` draws for this multi-seed claim (v1.2)."
    )
    lint: LintWaiver | None = Field(default=None, description="`verify lint` findings waived for this claim, and why.")

    @model_validator(mode="after")
    def _kind_fits(self) -> Claim:
        if self.kind == "proof" and self.proof is None:
            raise ValueError("a proof claim names its Lean file and theorem in 'proof'")
        if self.kind in ("formula", "empirical") and self.evidence is not None and self.check is None:
            raise ValueError("a claim with evidence needs a check")
        if self.evidence is not None and self.evidence.seeds and (self.check is None or self.check.samples is None):
            raise ValueError("evidence.seeds needs check.samples to say how the seeds are judged")
        if self.baseline is not None and (self.evidence is None or self.check is None):
            raise ValueError("baseline: a baseline runs the claim's check, so the claim needs evidence and a check")
        samples = self.check.samples if self.check is not None else None
        if samples is not None and samples.interval == "bca" and self.evidence is not None and self.evidence.seeds \
                and len(self.evidence.seeds) < 10:
            raise ValueError(f"check.samples.interval: bca needs at least 10 seeds, evidence.seeds lists {len(self.evidence.seeds)}")
        if self.replicate is not None and (self.evidence is None or not self.evidence.seeds):
            raise ValueError("replicate: only a multi-seed claim (evidence.seeds) can be replicated on fresh seeds")
        return self


class InputFile(Document):
    """A pinned input file of a repro."""

    path: StrictStr = Field(min_length=1, description="Path relative to the root; mounted at $REPRO_INPUTS/<path>.")
    sha256: StrictStr | None = Field(default=None, pattern=HEX_PATTERN, description="Hex SHA-256, written by `verify seal`.")


# Custom resource names as a cluster scheduler (Ray) takes them, e.g. gpu_a100, accelerator_type:A100.
RESOURCE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:/-]{0,127}$"
ResourceName = Annotated[StrictStr, Field(pattern=RESOURCE_NAME_PATTERN)]
ResourceAmount = Annotated[Number, Field(ge=0.0001, le=1e9)]
"""Ray counts resources in units of 1/10000: a smaller amount would be rounded to nothing."""
BUILTIN_RESOURCES = {
    "CPU": "limits.cpus", "GPU": "limits.gpus", "memory": "limits.memory_mb", "object_store_memory": "nothing: the verifier sizes it",
}
"""Resources the scheduler knows by itself: named here, they would double-book or fight the limits."""


class Limits(Document):
    """Resources a repro may use; exceeding one makes the run inconclusive."""

    timeout_s: Number = Field(default=600, gt=0, description="Wall-clock limit in seconds.")
    memory_mb: StrictInt = Field(default=2048, gt=0, description="Memory limit in MiB.")
    cpus: Number = Field(default=1, gt=0, description="CPU limit (cores).")
    gpus: StrictInt = Field(default=0, ge=0, description="GPUs requested (container backend).")
    max_procs: StrictInt = Field(default=256, gt=0, description="Process/thread count limit.")
    max_output_mb: StrictInt = Field(default=256, gt=0, description="Cap on the size of $REPRO_OUT.")
    resources: dict[ResourceName, ResourceAmount] = Field(
        default_factory=dict,
        description="v1.2: custom cluster resources each run needs, name -> amount (e.g. {gpu_a100: 1}); a cluster executor runs it only on a node that has them, the local executor ignores them.",
        # patternProperties alone lets any name through; a default_factory shows no default of its own
        json_schema_extra={"propertyNames": {"pattern": RESOURCE_NAME_PATTERN}, "default": {}},
    )

    @model_validator(mode="after")
    def _resources_are_custom(self) -> Limits:
        for name in self.resources:
            if name in BUILTIN_RESOURCES:
                raise ValueError(f"resources.{name}: {name!r} is not a custom resource: set {BUILTIN_RESOURCES[name]}")
        return self

    @model_serializer(mode="wrap")
    def _without_empty_resources(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # No custom resources: the limits dump exactly as before the field existed (attestations hash them).
        dumped: dict[str, Any] = handler(self)
        if not dumped.get("resources", True):
            del dumped["resources"]
        return dumped


class Repro(Document):
    """A sealed bundle of code, its pinned inputs and its entrypoint."""

    id: StrictStr = Field(pattern=LOCAL_ID_PATTERN, description="Unique in the paper.")
    bundle: StrictStr = Field(min_length=1, description="Directory under the root holding the code.")
    seal: StrictStr | None = Field(default=None, pattern=DIGEST_PATTERN, description="Tree digest of the bundle (`verify seal`).")
    entrypoint: list[Argument] = Field(min_length=1, description="argv, never a shell string.")
    params: dict[str, Any] = Field(default_factory=dict, description="Given to the repro as the JSON file $REPRO_PARAMS.")
    inputs: list[InputFile] = Field(default_factory=list, description="Pinned input files.")
    limits: Limits = Field(default_factory=Limits, description="Resource limits.")
    tier: Literal["smoke", "full"] = Field(default="smoke", description="smoke runs anywhere; full may need a GPU or hours.")
    image: StrictStr | None = Field(default=None, description="Container image; name@sha256:<hex> pins it.")
    seed: StrictInt = Field(default=0, description="Default $REPRO_SEED.")


class ReviewInfo(Document):
    """The review the source went through."""

    method: StrictStr = Field(min_length=1, description="How the source was reviewed.")
    score: Number | None = Field(default=None, description="Review score, if any.")
    scale: Number | None = Field(default=None, description="Maximum of the score's scale, e.g. 10.")


class SourceInfo(Document):
    """What kind of source the manifest describes."""

    kind: StrictStr = Field(min_length=1, description="literature-synthesis | primary-research | ...")
    note: StrictStr | None = Field(default=None, description="Free text.")
    doi: StrictStr | None = Field(default=None, description="DOI of the source, if any.")
    submitted: StrictStr | None = Field(default=None, description="Submission date (ISO 8601).")
    abstract: StrictStr | None = Field(default=None, description="The abstract, verbatim.")
    report: StrictStr | None = Field(default=None, description="Path of the source's report under the root, if bundled.")


# --------------------------------------------------------------------------- provenance

ProvenanceLevel = Literal["L0", "L1", "L2", "L3", "L4"]


class ExternalRecord(Document):
    """A record of the source held outside this project."""

    registered: StrictBool = Field(description="Whether the source is registered with an external archive.")
    identifier: StrictStr | None = Field(default=None, description="e.g. a DOI.")
    archive: StrictStr | None = Field(default=None, description="e.g. Zenodo.")


class ReportArtifact(Document):
    """The report the claims are taken from."""

    available: StrictBool = Field(description="Whether the report can be read.")
    location: StrictStr | None = Field(default=None, description="Path under the root or URI.")
    sha256: StrictStr | None = Field(default=None, pattern=HEX_PATTERN, description="Hex SHA-256 of the report.")


class ClaimLineage(Document):
    """How many claims are grounded in the source, and whether they are public."""

    source_grounded_claims: StrictInt = Field(ge=0, description="Count of source-grounded claims.")
    individual_records_public: StrictBool = Field(default=True, description="Whether per-claim records are public.")


class SourceProvenance(Document):
    """`source-provenance-v1`: where the source comes from and how far it can be traced.

    Public provenance levels:
    * L0 unknown: nothing is known of where the source comes from;
    * L1 self-declared: the publisher names itself, nothing else;
    * L2 traceable: a public page or repository of the publisher holds the source;
    * L3 checksummed: a report artifact with a digest that matches;
    * L4 external archival record: an external archive (e.g. a DOI) holds it.
    """

    contract: Literal["source-provenance-v1"] = Field(description="Contract name.")
    publisher: StrictStr = Field(min_length=1, description="Who published the source.")
    level: ProvenanceLevel = Field(description="Public provenance level L0-L4 (see the model's description).")
    external_record: ExternalRecord | None = Field(default=None, description="External archival record.")
    report_artifact: ReportArtifact | None = Field(default=None, description="The report artifact.")
    claim_lineage: ClaimLineage | None = Field(default=None, description="Claim lineage.")
    review_method: StrictStr | None = Field(default=None, description="How the source was reviewed.")
    note: StrictStr | None = Field(default=None, description="Free text.")


class PaperManifest(Document):
    """`paper-manifest-v1.2`: a paper's claims and the sealed repros behind them.

    v1.2 adds the optional `claims[].baseline`, `claims[].replicate` and
    `check.samples.interval`; a manifest that says `paper-manifest-v1.1` is
    read by the same rules and may not use them.
    """

    contract: Literal["paper-manifest-v1.1", "paper-manifest-v1.2"] = Field(
        description="Contract name: paper-manifest-v1.2 (or v1.1, without the v1.2 fields)."
    )
    id: StrictStr = Field(pattern=PAPER_ID_PATTERN, description="Paper id; also its directory under manifests/.")
    title: StrictStr = Field(min_length=1, description="Title of the paper.")
    publisher: StrictStr = Field(min_length=1, description="Who published it.")
    source: SourceInfo = Field(description="What kind of source this is.")
    review: ReviewInfo | None = Field(default=None, description="Review, if any.")
    provenance: SourceProvenance | None = Field(default=None, description="source-provenance-v1 record.")
    verification_level: Literal["L0", "L1", "L2"] | None = Field(
        default=None, description="Level the publisher declares: L0 none, L1 claims extracted, L2 source-grounded."
    )
    note: StrictStr | None = Field(default=None, description="Free text for readers.")
    claims: list[Claim] = Field(description="The paper's claims.")
    repros: list[Repro] = Field(default_factory=list, description="Sealed repros the claims cite.")

    @model_validator(mode="after")
    def _ids_resolve(self) -> PaperManifest:
        # Messages start with the field's path: there is no pydantic location for cross-field rules.
        _unique([c.id for c in self.claims], "claims")
        _unique([r.id for r in self.repros], "repros")
        known = {r.id for r in self.repros}
        for i, claim in enumerate(self.claims):
            cited = [
                ("evidence", claim.evidence),
                ("check.against", claim.check.against if claim.check else None),
                ("baseline", claim.baseline),
            ]
            for where, ev in cited:
                if ev is not None and ev.repro not in known:
                    raise ValueError(f"claims[{i}].{where}.repro: unknown repro {ev.repro!r}")
            if self.contract == MANIFEST_CONTRACT_V11:
                newer = _v12_field(claim)
                if newer is not None:
                    raise ValueError(f"claims[{i}].{newer}: a v1.2 field; say contract: {MANIFEST_CONTRACT}")
        return self


def _v12_field(claim: Claim) -> str | None:
    """The first field of a claim that `paper-manifest-v1.1` does not have, or None."""
    if claim.baseline is not None:
        return "baseline"
    if claim.replicate is not None:
        return "replicate"
    if claim.check is not None and claim.check.samples is not None and "interval" in claim.check.samples.model_fields_set:
        return "check.samples.interval"
    return None


def _unique(ids: list[str], field: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(ids):
        if item in seen:
            raise ValueError(f"{field}[{i}].id: duplicate id {item!r}")
        seen.add(item)


# --------------------------------------------------------------------------- corrections

CorrectionType = Literal[
    "correction",
    "erratum",
    "retraction",
    "withdrawal",
    "expression-of-concern",
    "addendum",
    "clarification",
    "partial-retraction",
    "removal",
    "new-edition",
    "new-version",
]


class CorrectionRecord(Document):
    """`correction-record-v1`: one additive record of a hash chain; never edited."""

    contract: Literal["correction-record-v1"] = Field(description="Contract name.")
    paper: StrictStr = Field(pattern=PAPER_ID_PATTERN, description="Paper id.")
    seq: StrictInt = Field(ge=1, description="1, 2, ...: contiguous.")
    type: CorrectionType = Field(description="Crossref Crossmark update type.")
    claims: list[StrictStr] = Field(default_factory=list, description="Claim ids touched.")
    reason: StrictStr = Field(min_length=1, description="Why.")
    issued: datetime = Field(description="When (ISO 8601, UTC).")
    manifest_before: StrictStr = Field(pattern=DIGEST_PATTERN, description="Digest of the manifest this corrects.")
    manifest_after: StrictStr = Field(pattern=DIGEST_PATTERN, description="Digest of the manifest once corrected.")
    previous: StrictStr | None = Field(pattern=DIGEST_PATTERN, description="Digest of record seq-1; null for the first.")
    issuer: StrictStr | None = Field(default=None, description="Who issued it.")


# --------------------------------------------------------------------------- verdicts and runs

Status = Literal["verified", "refuted", "inconclusive", "unverified"]


class RunNode(Document):
    """The cluster node a run ran on (`--executor ray`), and that node's environment."""

    id: StrictStr = Field(description="The cluster's id of the node (Ray's node id).")
    hostname: StrictStr | None = Field(default=None, description="The node's host name.")
    address: StrictStr | None = Field(default=None, description="The node's IP address in the cluster.")
    environment: StrictStr = Field(
        pattern=DIGEST_PATTERN,
        description="Digest (canonical JSON, sha256) of the run record's `environment` less its `node`: the node's environment fingerprint.",
    )


class RunRef(Document):
    """The run a verdict rests on."""

    id: StrictStr | None = Field(description="Run id in the ledger.")
    seal: StrictStr | None = Field(description="Bundle seal the run used.")
    duration_s: Number | None = Field(description="Wall-clock seconds of the run.")
    exit_code: StrictInt | None = Field(description="Exit status of the entrypoint, null if killed.")
    node: RunNode | None = Field(
        default=None,
        description="The node the run ran on and its environment fingerprint; absent for a run on the verifier's own machine.",
    )

    @model_serializer(mode="wrap")
    def _without_absent_node(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A local run knows no node: its reference stays exactly what it was before nodes existed.
        dumped: dict[str, Any] = handler(self)
        if dumped.get("node", 0) is None:
            del dumped["node"]
        return dumped


IntervalMethod = Literal["t", "paired-t", "welch", "bca", "order-statistic"]
EvidenceLevel = Literal["transcribed", "replicated", "reproduced", "none"]


class IntervalInfo(Document):
    """The confidence interval a multi-seed verdict rests on."""

    method: IntervalMethod = Field(
        description="t: Student-t of a mean; paired-t: of the mean per-seed difference of two arms from the same runs; welch: two independent arms; bca: bias-corrected accelerated bootstrap; order-statistic: exact interval of a median."
    )
    confidence: Number = Field(description="Two-sided confidence level.")
    n: StrictInt = Field(ge=0, description="Samples (seeds) of the claim's arm.")
    n_other: StrictInt | None = Field(default=None, description="Samples of the other arm (two arms), else null.")
    estimate: Number | None = Field(default=None, description="The statistic (a mean, a median or a difference).")
    low: Number | None = Field(description="Lower end; null when the interval is unbounded (too few samples).")
    high: Number | None = Field(description="Upper end; null when the interval is unbounded.")


class BaselineInfo(Document):
    """The claim's check applied to its null model (`claims[].baseline`)."""

    status: Literal["pass", "fail", "inconclusive"] = Field(
        description="pass: the null model satisfies the check too (the claim is uninformative); fail; inconclusive."
    )
    computed: Any = Field(default=None, description="The null model's computed value (number, samples or series).")
    interval: IntervalInfo | None = Field(default=None, description="Its interval (multi-seed), else null.")
    reason: StrictStr | None = Field(default=None, description="The check's reason line for the baseline.")


class Replication(Document):
    """The fresh seeds a `--replicate` verdict was judged on, and the nonce they derive from."""

    nonce: StrictStr = Field(pattern=r"^[0-9a-f]{8,64}$", description="Hex nonce; `--replicate-nonce` re-runs these seeds.")
    seeds: list[StrictInt] = Field(description="The fresh seeds, derived from the nonce.")


class Transcription(Document):
    """Where a computed value was found verbatim before the repro ran."""

    value: Number = Field(description="The number found.")
    file: StrictStr = Field(description="Root-relative file it was found in, or `manifest.yaml` for the repro's params.")
    where: StrictStr = Field(description="params | input | bundle.")


class Verdict(Document):
    """A claim's verdict, as `verify claim --json` prints it."""

    contract: Literal["verdict-v1"] = Field(default="verdict-v1", description="Contract name.")
    claim: StrictStr = Field(description="Global claim id <paper>/<claim>.")
    status: Status = Field(description="verified | refuted | inconclusive | unverified.")
    gate: StrictInt = Field(ge=0, le=2, description="Gate that decided: 0 intake, 1 grounding, 2 verification.")
    reason: StrictStr = Field(description="One human line.")
    expected: Any = Field(default=None, description="Reference value (reported value or other arm).")
    computed: Any = Field(default=None, description="Computed value (number, samples or series).")
    check: dict[str, Any] | None = Field(default=None, description="The check applied, with its tolerance.")
    backend: StrictStr | None = Field(default=None, description="Sandbox backend of the run.")
    sealed: StrictBool = Field(default=False, description="Whether the run was sealed.")
    cached: StrictBool = Field(default=False, description="Whether the run came from the ledger.")
    evaluated: StrictStr = Field(description="When the verdict was reached (ISO 8601, UTC).")
    run: RunRef | None = Field(default=None, description="The run behind the verdict.")
    runs: list[RunRef] = Field(default_factory=list, description="All runs (multi-seed claims).")
    flags: list[StrictStr] = Field(default_factory=list, description="Warnings, e.g. 'restates-param'.")
    policy_digest: StrictStr | None = Field(default=None, description="Digest of the quality policy used.")
    checkable: StrictBool = Field(default=True, description="False for claims with no Gate 2 check (descriptive).")
    line: StrictStr | None = Field(default=None, description="The human line, as printed.")
    interval: IntervalInfo | None = Field(default=None, description="The interval judged (multi-seed claims), else null.")
    baseline: BaselineInfo | None = Field(default=None, description="The null model under the same check, or null.")
    informative: StrictBool | None = Field(
        default=None, description="False when the baseline satisfies the check too; null with no baseline, or when the baseline gave no value to judge."
    )
    seeds: list[StrictInt] = Field(default_factory=list, description="The seeds judged (the claim's arm).")
    replication: Replication | None = Field(default=None, description="Fresh-seed replication (`--replicate`), or null.")
    evidence: EvidenceLevel = Field(
        default="none",
        description="transcribed (the value appears verbatim in params, inputs or source) | replicated (holds on fresh seeds) | reproduced (holds on the manifest's seeds) | none.",
    )
    transcription: Transcription | None = Field(default=None, description="Where the value was found verbatim, or null.")


class OutputFile(Document):
    """One file the repro wrote to $REPRO_OUT."""

    path: StrictStr = Field(description="Path relative to $REPRO_OUT.")
    sha256: StrictStr = Field(pattern=DIGEST_PATTERN, description="Digest; the bytes are in the artifact store.")
    size: StrictInt = Field(ge=0, description="Size in bytes.")


class RunRecord(Document):
    """Everything known of one run of a repro."""

    contract: Literal["run-record-v1"] = Field(default="run-record-v1", description="Contract name.")
    id: StrictStr = Field(description="Run id.")
    key: StrictStr = Field(pattern=DIGEST_PATTERN, description="Run key: what makes two runs the same.")
    paper: StrictStr = Field(description="Paper id.")
    repro: StrictStr = Field(description="Repro id.")
    seed: StrictInt = Field(description="$REPRO_SEED.")
    backend: StrictStr = Field(description="bwrap | docker | process.")
    sealed: StrictBool = Field(description="Whether the sandbox isolated the run.")
    seal: StrictStr = Field(description="Bundle seal.")
    entrypoint: list[StrictStr] = Field(description="argv.")
    params_digest: StrictStr = Field(description="Digest of the canonical params.")
    inputs: dict[str, str] = Field(default_factory=dict, description="Input path -> digest.")
    environment: dict[str, Any] = Field(description="Environment fingerprint.")
    started: StrictStr = Field(description="Start time (ISO 8601, UTC).")
    ended: StrictStr = Field(description="End time (ISO 8601, UTC).")
    duration_s: Number = Field(ge=0, description="Wall-clock seconds.")
    exit_code: StrictInt | None = Field(description="Exit status, null if killed by a signal.")
    signal: StrictInt | None = Field(default=None, description="Signal that ended it, if any.")
    status: StrictStr = Field(description="ok | crashed | timeout | memory | processes | output-limit | no-results | invalid-results | void.")
    reason: StrictStr = Field(description="One line on the outcome.")
    peak_memory_kb: StrictInt | None = Field(default=None, description="Peak resident memory.")
    cpu_time_s: Number | None = Field(default=None, description="CPU seconds.")
    outputs: list[OutputFile] = Field(default_factory=list, description="Every file in $REPRO_OUT.")
    results_digest: StrictStr | None = Field(default=None, description="Digest of results.json, if valid.")
    logs: dict[str, str] = Field(default_factory=dict, description="stdout/stderr -> artifact digest.")


def is_finite_number(value: object) -> bool:
    """True for an int or float that is neither NaN nor infinite (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
