"""Gates and verdicts: from a claim and its runs to an honest verdict.

A claim passes three gates in order; the first that cannot pass decides:

* **Gate 0, intake**: the manifest validated and every seal matched
  (`manifests.load_manifest`; a failure there is bad input, exit 2).
* **Gate 1, grounding**: the claim names the section of the source it comes
  from. A claim with no source anchor fails here (unverified at Gate 1).
* **Gate 2, verification**: a formula or empirical claim is reproduced by its
  sealed repro and judged by `check.compare`; a proof claim type-checks in
  Lean 4. A descriptive claim has no Gate 2 check.

Statuses: `verified`, `refuted` (the check failed), `inconclusive` (no
answer: the run crashed, hit a limit, wrote no usable value, or the samples
cannot decide) and `unverified` (not attempted: no evidence, a `full`-tier
repro in a smoke run, a descriptive claim).

The paper is **Verified** only when every checkable claim is verified;
**Refuted** when any is refuted; **Unverified** when none was attempted;
otherwise **Partially verified (k of n claims)**.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonpointer  # type: ignore[import-untyped]

from verifier.check import CheckResult, compare
from verifier.manifests import LoadedManifest
from verifier.models import Claim, Evidence, RunRef, Status, Verdict
from verifier.quality import is_checkable, load_policy
from verifier.runs import ObtainedRun, RunPlan

RunKey = tuple[str, int]  # (repro id, seed)
TIERS = ("smoke", "full")


@dataclass(frozen=True)
class PaperVerdict:
    """A paper's aggregate verdict."""

    paper: str
    status: str  # Verified | Partially verified (k of n claims) | Refuted | Unverified
    verified: int
    checkable: int
    counts: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"paper": self.paper, "status": self.status, "verified": self.verified,
                "checkable": self.checkable, "counts": dict(self.counts)}


def line(verdict: Verdict) -> str:
    """The contract's human line: `Verified (Gate 2): <reason>`."""
    return f"{verdict.status.capitalize()} (Gate {verdict.gate}): {verdict.reason}"


def ground(claim: Claim) -> str | None:
    """Gate 1: why the claim is not grounded, or None when it is."""
    if claim.source is None or not claim.source.section.strip():
        return "no source anchor: the claim names no section of the source"
    return None


def arm_seeds(evidence: Evidence, claim: Claim, repro_seed: int) -> list[int]:
    """Seeds one arm runs with: its own, else (for the other arm) the claim's, else the repro's default."""
    inherited = claim.evidence.seeds if claim.evidence is not None and evidence is not claim.evidence else None
    return list(evidence.seeds or inherited or [repro_seed])


def plans_for(manifest: LoadedManifest, claim: Claim, *, tier: str) -> list[RunPlan]:
    """The runs a claim's Gate 2 needs (none when it will not be attempted)."""
    if ground(claim) is not None or claim.kind not in ("formula", "empirical") or claim.evidence is None:
        return []
    plans = []
    arms = [claim.evidence] + ([claim.check.against] if claim.check and claim.check.against else [])
    for evidence in arms:
        repro = manifest.repro(evidence.repro)
        if not _tier_allows(repro.tier, tier):
            return []
        for seed in arm_seeds(evidence, claim, repro.seed):
            plans.append(RunPlan(manifest=manifest, repro=repro, seed=seed))
    return plans


def _tier_allows(repro_tier: str, tier: str) -> bool:
    return tier == "full" or repro_tier == "smoke"


class ClaimJudge:
    """Builds verdicts for the claims of one paper from obtained runs."""

    def __init__(self, manifest: LoadedManifest, *, tier: str, backend: str | None) -> None:
        self.manifest = manifest
        self.tier = tier
        self.backend = backend  # named in verdicts that rest on no run
        self.policy_digest = load_policy().digest

    def judge(self, claim: Claim, runs: Mapping[RunKey, ObtainedRun]) -> Verdict:
        """The claim's verdict; never raises for anything a repro wrote."""
        gid = f"{self.manifest.model.id}/{claim.id}"
        # (1): Gate 1, grounding
        ungrounded = ground(claim)
        if ungrounded is not None:
            return self._verdict(gid, "unverified", 1, ungrounded, claim)
        # (2): claims with no Gate 2 check
        if claim.kind == "descriptive":
            section = claim.source.section if claim.source else ""
            reason = f"grounded in section {section!r}; a descriptive claim has no Gate 2 check"
            return self._verdict(gid, "unverified", 1, reason, claim)
        if claim.kind == "proof":
            from verifier.proof import check_proof

            status, reason = check_proof(self.manifest, claim)
            return self._verdict(gid, status, 2, reason, claim)
        if claim.evidence is None or claim.check is None:
            return self._verdict(gid, "unverified", 2, "no repro is linked to this claim yet", claim)
        arms = [claim.evidence] + ([claim.check.against] if claim.check.against else [])
        for repro in (self.manifest.repro(arm.repro) for arm in arms):  # every arm's tier, as plans_for
            if not _tier_allows(repro.tier, self.tier):
                reason = f"{repro.tier}-tier repro {repro.id} not run in a {self.tier} run (needs a GPU or hours); run with --tier full"
                return self._verdict(gid, "unverified", 2, reason, claim)
        # (3): Gate 2, the runs and the comparison
        return self._reproduce(gid, claim, runs)

    def _reproduce(self, gid: str, claim: Claim, runs: Mapping[RunKey, ObtainedRun]) -> Verdict:
        assert claim.evidence is not None and claim.check is not None
        main = self._arm(claim.evidence, claim, runs)
        if isinstance(main, str):
            return self._verdict(gid, "inconclusive", 2, main, claim, runs=self._used(claim, runs))
        reference = None
        if claim.check.against is not None:
            other = self._arm(claim.check.against, claim, runs)
            if isinstance(other, str):
                return self._verdict(gid, "inconclusive", 2, other, claim, runs=self._used(claim, runs))
            reference = other
        result = compare(claim.check, reported=claim.reported, computed=main, reference=reference,
                         output=claim.evidence.output)
        status: Status = {"pass": "verified", "fail": "refuted", "inconclusive": "inconclusive"}[result.outcome]  # type: ignore[assignment]
        sealed = all(r.record.sealed for r in self._used(claim, runs))
        reason = f"{'sealed-sandbox' if sealed else 'unsealed'} {claim.kind} repro: {result.reason}"
        flags = []
        if _restates_param(main, self.manifest.repro(claim.evidence.repro).params):
            flags.append("restates-param")
            reason += " (the computed value restates a configured parameter of the repro)"
        return self._verdict(gid, status, 2, reason, claim, result=result, runs=self._used(claim, runs), flags=flags)

    def _arm(self, evidence: Evidence, claim: Claim, runs: Mapping[RunKey, ObtainedRun]) -> Any:
        """The computed value of one arm (a number, a series, or per-seed samples), or a reason string."""
        assert claim.evidence is not None
        repro = self.manifest.repro(evidence.repro)
        seeds = arm_seeds(evidence, claim, repro.seed)
        values = []
        for seed in seeds:
            obtained = runs.get((repro.id, seed))
            if obtained is None:
                return f"repro {repro.id} (seed {seed}) was not run"
            if obtained.results is None:
                return f"repro {repro.id} (seed {seed}) gave no results: {obtained.record.reason}"
            try:
                values.append(jsonpointer.resolve_pointer(obtained.results, evidence.output))
            except jsonpointer.JsonPointerException:
                return f"results.json of repro {repro.id} has no value at {evidence.output or '(root)'}"
        return values if evidence.seeds or len(seeds) > 1 else values[0]

    def _used(self, claim: Claim, runs: Mapping[RunKey, ObtainedRun]) -> list[ObtainedRun]:
        return [runs[(p.repro.id, p.seed)] for p in plans_for(self.manifest, claim, tier=self.tier) if (p.repro.id, p.seed) in runs]

    def _verdict(
        self,
        gid: str,
        status: Status,
        gate: int,
        reason: str,
        claim: Claim,
        *,
        result: CheckResult | None = None,
        runs: list[ObtainedRun] | None = None,
        flags: list[str] | None = None,
    ) -> Verdict:
        used = runs or []
        refs = [RunRef(id=r.record.id, seal=r.record.seal, duration_s=r.record.duration_s, exit_code=r.record.exit_code) for r in used]
        check = None
        if claim.check is not None:
            check = claim.check.model_dump(exclude_none=True, exclude_defaults=True) | {"op": claim.check.op}
            if result is not None and result.tolerance is not None:
                check["tolerance"] = result.tolerance
            if result is not None and result.interval is not None:
                check["interval"] = list(result.interval)
        expected = result.expected if result is not None else (claim.reported.value if claim.reported else None)
        verdict = Verdict(
            claim=gid,
            status=status,
            gate=gate,
            reason=reason,
            expected=_jsonable(expected),
            computed=_jsonable(result.computed) if result is not None else None,
            check=check,
            backend=used[0].record.backend if used else self.backend,
            sealed=bool(used) and all(r.record.sealed for r in used),
            cached=bool(used) and all(r.cached for r in used),
            evaluated=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            run=refs[0] if refs else None,
            runs=refs if len(refs) > 1 else [],
            flags=flags or [],
            policy_digest=self.policy_digest,
            checkable=is_checkable(claim),
        )
        return verdict.model_copy(update={"line": line(verdict)})


def _restates_param(computed: Any, params: Mapping[str, Any]) -> bool:
    """True when a computed number appears literally among the repro's params."""
    if isinstance(computed, bool) or not isinstance(computed, int | float) or not math.isfinite(computed):
        return False
    return any(
        not isinstance(v, bool) and isinstance(v, int | float) and math.isclose(v, computed, rel_tol=1e-12, abs_tol=0.0)
        for v in _leaves(params)
    )


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _jsonable(value: Any) -> Any:
    """NaN/inf become strings so a verdict is always valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def paper_verdict(paper: str, claims: list[Claim], verdicts: Mapping[str, Verdict]) -> PaperVerdict:
    """Aggregate (see the module docstring); `verdicts` keyed by claim id."""
    checkable = [c for c in claims if is_checkable(c)]
    # A checkable claim with no verdict was not attempted: it counts as unverified.
    statuses = [verdicts[c.id].status if c.id in verdicts else "unverified" for c in checkable]
    counts = {s: statuses.count(s) for s in ("verified", "refuted", "inconclusive", "unverified")}
    verified = counts["verified"]
    if counts["refuted"]:
        status = "Refuted"
    elif checkable and verified == len(checkable):
        status = "Verified"
    elif not checkable or counts["unverified"] == len(checkable):
        status = "Unverified"
    else:
        status = f"Partially verified ({verified} of {len(checkable)} claims)"
    return PaperVerdict(paper=paper, status=status, verified=verified, checkable=len(checkable), counts=counts)
