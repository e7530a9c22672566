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

How strong each verdict's evidence is (CONTRACT.md, version 1.2): a
multi-seed claim is judged by its interval (`check.compare`); a claim with a
`baseline` runs the same check on its null model, and is *uninformative*
when the null model passes too; under `--replicate` (a nonce) a multi-seed
claim is judged on fresh seeds alone (`replication`); a computed value found
verbatim in the repro's params, inputs or source is *transcribed*
(`transcription`). The verdict's `evidence` field and its line say which;
the paper's status counts them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonpointer  # type: ignore[import-untyped]

from verifier import clock
from verifier.canonical import digest_json
from verifier.check import CheckResult, compare, fmt, interval_text
from verifier.manifests import LoadedManifest
from verifier.models import (
    BaselineInfo,
    Claim,
    Evidence,
    IntervalInfo,
    Replication,
    Repro,
    RunNode,
    RunRecord,
    RunRef,
    Status,
    Transcription,
    Verdict,
)
from verifier.quality import is_checkable, load_policy
from verifier.replication import fresh_seeds
from verifier.runs import ObtainedRun, RunPlan
from verifier.transcription import Found, NumberIndex, Sources
from verifier.transcription import find as find_transcription
from verifier.transcription import sources as transcription_sources

RunKey = tuple[str, int]  # (repro id, seed)
TIERS = ("smoke", "full")


def run_ref(record: RunRecord) -> RunRef:
    """How a verdict names a run: the record's id and facts, and the node it ran on when it ran on one.

    A cluster run's record holds `environment.node` (`{id, hostname, address}`,
    `executors.shipping.receive`); the verdict carries it with the digest of
    the rest of that environment, the node's fingerprint. A local run has no
    node, and its reference has no `node` field at all.
    """
    node = record.environment.get("node")
    where = None
    if isinstance(node, Mapping) and isinstance(node.get("id"), str):
        rest = {k: v for k, v in record.environment.items() if k != "node"}
        where = RunNode(id=node["id"], hostname=_text(node.get("hostname")), address=_text(node.get("address")),
                        environment=digest_json(rest))
    return RunRef(id=record.id, seal=record.seal, duration_s=record.duration_s, exit_code=record.exit_code, node=where)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class PaperVerdict:
    """A paper's aggregate verdict."""

    paper: str
    status: str  # Verified | Partially verified (k of n claims) | Refuted | Unverified
    verified: int
    checkable: int
    counts: dict[str, int]
    strength: dict[str, int] = field(default_factory=dict)  # replicated, uninformative, transcribed (verified claims)

    def as_json(self) -> dict[str, Any]:
        return {"paper": self.paper, "status": self.status, "verified": self.verified,
                "checkable": self.checkable, "counts": dict(self.counts), "strength": dict(self.strength)}


def line(verdict: Verdict) -> str:
    """The contract's human line: `Verified (Gate 2, replicated on 4 fresh seeds): <reason>`.

    The parenthesis says how strong the evidence is: `replicated on N fresh
    seeds` (or `on N fresh seeds` when the replication did not hold),
    `uninformative` (the baseline satisfies the check too), `transcribed`
    (the value appears verbatim before the run).
    """
    qualifiers = [f"Gate {verdict.gate}"]
    if verdict.replication is not None:
        n = len(verdict.replication.seeds)
        qualifiers.append(f"{'replicated on' if verdict.evidence == 'replicated' else 'on'} {n} fresh seeds")
    if verdict.informative is False:
        qualifiers.append("uninformative")
    if verdict.evidence == "transcribed":
        qualifiers.append("transcribed")
    return f"{verdict.status.capitalize()} ({', '.join(qualifiers)}): {verdict.reason}"


def ground(claim: Claim) -> str | None:
    """Gate 1: why the claim is not grounded, or None when it is."""
    if claim.source is None or not claim.source.section.strip():
        return "no source anchor: the claim names no section of the source"
    return None


def arm_seeds(evidence: Evidence, claim: Claim, repro_seed: int) -> list[int]:
    """Seeds one arm runs with: its own, else (for the other arms) the claim's, else the repro's default."""
    inherited = claim.evidence.seeds if claim.evidence is not None and evidence is not claim.evidence else None
    return list(evidence.seeds or inherited or [repro_seed])


def is_multi_seed(claim: Claim) -> bool:
    """A claim judged over seeds (`evidence.seeds`): the kind `--replicate` draws fresh seeds for."""
    return claim.evidence is not None and bool(claim.evidence.seeds)


def replication_seeds(claim: Claim, nonce: str | None) -> list[int] | None:
    """The fresh seeds a replication judges this claim on, or None (no nonce, or not multi-seed)."""
    if nonce is None or claim.evidence is None or not claim.evidence.seeds:
        return None
    count = claim.replicate.seeds if claim.replicate is not None else len(claim.evidence.seeds)
    listed = [seed for arm in _evidence_arms(claim) for seed in (arm.seeds or [])]
    return fresh_seeds(nonce, count, exclude=listed)


@dataclass(frozen=True)
class Arm:
    """One arm of a claim's Gate 2 runs: the evidence, the other arm (`against`) or the baseline."""

    role: str  # evidence | against | baseline
    evidence: Evidence
    repro: Repro
    seeds: list[int]
    multi: bool  # read as per-seed samples (the claim, or this arm, lists seeds)


def _evidence_arms(claim: Claim) -> list[Evidence]:
    arms = [claim.evidence] if claim.evidence is not None else []
    if claim.check is not None and claim.check.against is not None:
        arms.append(claim.check.against)
    if claim.baseline is not None:
        arms.append(claim.baseline)
    return arms


def arms_of(manifest: LoadedManifest, claim: Claim, *, nonce: str | None = None) -> list[Arm]:
    """Every arm of the claim with the seeds it runs (fresh ones under a replication)."""
    fresh = replication_seeds(claim, nonce)
    out = []
    roles = ["evidence"] + (["against"] if claim.check is not None and claim.check.against is not None else [])
    roles += ["baseline"] if claim.baseline is not None else []
    for role, evidence in zip(roles, _evidence_arms(claim), strict=True):
        repro = manifest.repro(evidence.repro)
        seeds = list(fresh) if fresh is not None else arm_seeds(evidence, claim, repro.seed)
        out.append(Arm(role, evidence, repro, seeds, multi=is_multi_seed(claim) or bool(evidence.seeds)))
    return out


def plans_for(manifest: LoadedManifest, claim: Claim, *, tier: str, nonce: str | None = None) -> list[RunPlan]:
    """The runs a claim's Gate 2 needs (none when it will not be attempted).

    A baseline whose repro the tier does not run is left out; the claim is
    still judged, its baseline inconclusive.
    """
    if ground(claim) is not None or claim.kind not in ("formula", "empirical") or claim.evidence is None:
        return []
    plans: list[RunPlan] = []
    for arm in arms_of(manifest, claim, nonce=nonce):
        if not _tier_allows(arm.repro.tier, tier):
            if arm.role == "baseline":
                continue
            return []
        plans.extend(RunPlan(manifest=manifest, repro=arm.repro, seed=seed) for seed in arm.seeds)
    return plans


def _tier_allows(repro_tier: str, tier: str) -> bool:
    return tier == "full" or repro_tier == "smoke"


class ClaimJudge:
    """Builds verdicts for the claims of one paper from obtained runs.

    `nonce`: a replication's nonce (`--replicate`): multi-seed claims are
    judged on the fresh seeds it derives, alone. `numbers`: the transcription
    flag's number indexes (default: in memory only).
    """

    def __init__(
        self,
        manifest: LoadedManifest,
        *,
        tier: str,
        backend: str | None,
        nonce: str | None = None,
        numbers: NumberIndex | None = None,
    ) -> None:
        self.manifest = manifest
        self.tier = tier
        self.backend = backend  # named in verdicts that rest on no run
        self.nonce = nonce
        self.numbers = numbers or NumberIndex(None)
        self._sources: dict[str, Sources] = {}
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
        arms = arms_of(self.manifest, claim, nonce=self.nonce)
        for arm in arms:  # every arm's tier, as plans_for
            if arm.role != "baseline" and not _tier_allows(arm.repro.tier, self.tier):
                reason = f"{arm.repro.tier}-tier repro {arm.repro.id} not run in a {self.tier} run (needs a GPU or hours); run with --tier full"
                return self._verdict(gid, "unverified", 2, reason, claim)
        # (3): Gate 2, the runs and the comparison
        return self._reproduce(gid, claim, {arm.role: arm for arm in arms}, runs)

    def _reproduce(self, gid: str, claim: Claim, arms: dict[str, Arm], runs: Mapping[RunKey, ObtainedRun]) -> Verdict:
        assert claim.evidence is not None and claim.check is not None
        fresh = arms["evidence"].seeds if self.nonce is not None and is_multi_seed(claim) else None
        extra: dict[str, Any] = {
            "seeds": arms["evidence"].seeds if is_multi_seed(claim) else [],
            "replication": Replication(nonce=self.nonce, seeds=fresh) if fresh is not None and self.nonce else None,
        }
        used = self._used(arms, runs)
        main = self._values(arms["evidence"], runs)
        if isinstance(main, str):
            return self._verdict(gid, "inconclusive", 2, main, claim, runs=used, extra=extra)
        reference = None
        against = arms.get("against")
        if against is not None:
            other = self._values(against, runs)
            if isinstance(other, str):
                return self._verdict(gid, "inconclusive", 2, other, claim, runs=used, extra=extra)
            reference = other
        result = compare(claim.check, reported=claim.reported, computed=main, reference=reference,
                         output=claim.evidence.output, paired=_paired(arms["evidence"], against))
        status: Status = {"pass": "verified", "fail": "refuted", "inconclusive": "inconclusive"}[result.outcome]  # type: ignore[assignment]
        sealed = all(r.record.sealed for r in used)
        reason = f"{'sealed-sandbox' if sealed else 'unsealed'} {claim.kind} repro: {result.reason}"
        flags: list[str] = []
        # (4): the baseline, under the same check
        if "baseline" in arms:
            baseline, informative, said = self._baseline(claim, arms["baseline"], against, reference, runs)
            extra |= {"baseline": baseline, "informative": informative}
            reason += f"; {said}"
            if informative is False:
                flags.append("uninformative")
        # (5): was the value written down before the run?
        found = self._transcribed(claim, main)
        if found is not None:
            flags.append("transcribed")
            extra["transcription"] = Transcription(value=found.value, file=found.file, where=found.where)
            source = "the repro's params" if found.where == "params" else found.file
            reason += f"; transcribed: {fmt(found.value)} appears verbatim in {source}"
        extra["evidence"] = (
            "transcribed" if found is not None
            else "none" if status != "verified"
            else "replicated" if extra["replication"] is not None
            else "reproduced"
        )
        return self._verdict(gid, status, 2, reason, claim, result=result, runs=used, flags=flags, extra=extra)

    def _baseline(
        self,
        claim: Claim,
        arm: Arm,
        against: Arm | None,
        reference: Any,
        runs: Mapping[RunKey, ObtainedRun],
    ) -> tuple[BaselineInfo, bool | None, str]:
        """The baseline's result, whether the claim is informative, and what the reason says of it."""
        assert claim.check is not None
        if not _tier_allows(arm.repro.tier, self.tier):
            why = f"{arm.repro.tier}-tier baseline repro {arm.repro.id} not run in a {self.tier} run"
            return BaselineInfo(status="inconclusive", reason=why), None, f"baseline not judged ({why})"
        values = self._values(arm, runs)
        if isinstance(values, str):  # no value to judge: whether the claim is informative is unknown
            return BaselineInfo(status="inconclusive", reason=values), None, f"baseline not judged ({values})"
        result = compare(claim.check, reported=claim.reported, computed=values, reference=reference,
                         output=arm.evidence.output, paired=_paired(arm, against))
        info = BaselineInfo(status=result.outcome, computed=_jsonable(values),
                            interval=_interval_info(result), reason=result.reason)
        brief = f"{arm.evidence.output}: {_brief(result)}"
        if result.outcome == "pass":
            return info, False, f"uninformative: the baseline satisfies the check too ({brief})"
        if result.outcome == "fail":
            return info, True, f"baseline fails ({brief})"
        # The null model's interval straddles the edge: it does not satisfy the check, so the
        # check tells the claim from the null model (a gap of about 0 is exactly this case).
        return info, True, f"baseline does not satisfy the check ({brief})"

    def _transcribed(self, claim: Claim, computed: Any) -> Found | None:
        """Where the computed number appears verbatim (scalars, or samples that are all one number)."""
        assert claim.evidence is not None
        if isinstance(computed, list) and computed and all(v == computed[0] for v in computed):
            computed = computed[0]
        if isinstance(computed, bool) or not isinstance(computed, int | float):
            return None
        try:
            computed = float(computed)  # an int of 310+ digits has no float: it cannot be transcribed
        except OverflowError:
            return None
        if not math.isfinite(computed):
            return None
        repro = self.manifest.repro(claim.evidence.repro)
        if repro.id not in self._sources:  # once per repro: its params' numbers, inputs and bundle
            files = self.manifest.inputs.get(repro.id, {})
            inputs = [(item.path, item.sha256, files[item.path]) for item in repro.inputs if item.path in files and item.sha256]
            bundle = self.manifest.bundles.get(repro.id)
            tree = (repro.bundle, repro.seal, bundle) if bundle is not None and repro.seal else None
            self._sources[repro.id] = transcription_sources(repro.params, inputs, tree)
        return find_transcription(float(computed), self._sources[repro.id], self.numbers)

    def _values(self, arm: Arm, runs: Mapping[RunKey, ObtainedRun]) -> Any:
        """The computed value of one arm (a number, a series, or per-seed samples), or a reason string."""
        values = []
        for seed in arm.seeds:
            obtained = runs.get((arm.repro.id, seed))
            if obtained is None:
                return f"repro {arm.repro.id} (seed {seed}) was not run"
            if obtained.results is None:
                return f"repro {arm.repro.id} (seed {seed}) gave no results: {obtained.record.reason}"
            try:
                values.append(jsonpointer.resolve_pointer(obtained.results, arm.evidence.output))
            except jsonpointer.JsonPointerException:
                return f"results.json of repro {arm.repro.id} has no value at {arm.evidence.output or '(root)'}"
        return values if arm.multi or len(arm.seeds) > 1 else values[0]

    def _used(self, arms: Mapping[str, Arm], runs: Mapping[RunKey, ObtainedRun]) -> list[ObtainedRun]:
        """The runs the verdict rests on, each once, in plan order (as plans_for lists them)."""
        seen: set[RunKey] = set()
        out = []
        for arm in arms.values():
            if not _tier_allows(arm.repro.tier, self.tier):
                continue
            for seed in arm.seeds:
                key = (arm.repro.id, seed)
                if key in runs and key not in seen:
                    seen.add(key)
                    out.append(runs[key])
        return out

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
        extra: dict[str, Any] | None = None,
    ) -> Verdict:
        used = runs or []
        refs = [run_ref(r.record) for r in used]
        check = None
        if claim.check is not None:
            check = claim.check.model_dump(exclude_none=True, exclude_defaults=True) | {"op": claim.check.op}
            if result is not None and result.tolerance is not None:
                check["tolerance"] = result.tolerance
            if result is not None and result.p_value is not None:
                check["p_value"] = result.p_value
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
            evaluated=clock.evaluated_now(),
            run=refs[0] if refs else None,
            runs=refs if len(refs) > 1 else [],
            flags=flags or [],
            policy_digest=self.policy_digest,
            checkable=is_checkable(claim),
            interval=_interval_info(result) if result is not None else None,
            **(extra or {}),
        )
        return verdict.model_copy(update={"line": line(verdict)})


def _paired(arm: Arm, other: Arm | None) -> bool:
    """Two arms are paired seed by seed when they read the same runs: same repro, same seeds."""
    return other is not None and arm.repro.id == other.repro.id and arm.seeds == other.seeds


def _interval_info(result: CheckResult) -> IntervalInfo | None:
    ci = result.interval
    if ci is None:
        return None
    return IntervalInfo(method=ci.method, confidence=ci.confidence, n=ci.n, n_other=ci.n_other,  # type: ignore[arg-type]
                        estimate=ci.estimate if math.isfinite(ci.estimate) else None,
                        low=ci.low if math.isfinite(ci.low) else None,
                        high=ci.high if math.isfinite(ci.high) else None)


def _brief(result: CheckResult) -> str:
    """The baseline's value in a few words: `0.001`, `mean 0.001, 95% t-interval [-0.01, 0.012]`, `rho=0.2, p=0.4`."""
    if result.interval is not None:
        return f"mean {fmt(result.interval.estimate)}, {interval_text(result.interval)}"
    if result.p_value is not None:
        rho = f"rho={fmt(result.statistic)}, " if result.statistic is not None else ""
        return f"{rho}p={fmt(result.p_value)}"
    computed = result.computed
    if isinstance(computed, int | float) and not isinstance(computed, bool):
        return fmt(float(computed))
    return result.reason


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
    """Aggregate (see the module docstring); `verdicts` keyed by claim id.

    The status counts how strong the verified claims' evidence is:
    `Partially verified (9 of 12 claims; 5 replicated, 2 uninformative)`,
    `Verified (1 transcribed)`; a count of zero is not printed.
    """
    checkable = [c for c in claims if is_checkable(c)]
    # A checkable claim with no verdict was not attempted: it counts as unverified.
    judged = [verdicts.get(c.id) for c in checkable]
    statuses = [v.status if v is not None else "unverified" for v in judged]
    counts = {s: statuses.count(s) for s in ("verified", "refuted", "inconclusive", "unverified")}
    passed = [v for v in judged if v is not None and v.status == "verified"]
    strength = {
        "replicated": sum(v.evidence == "replicated" for v in passed),
        "uninformative": sum(v.informative is False for v in passed),
        "transcribed": sum(v.evidence == "transcribed" for v in passed),
    }
    qualifiers = ", ".join(f"{n} {name}" for name, n in strength.items() if n)
    verified = counts["verified"]
    if counts["refuted"]:
        status = "Refuted"
    elif checkable and verified == len(checkable):
        status = f"Verified ({qualifiers})" if qualifiers else "Verified"
    elif not checkable or counts["unverified"] == len(checkable):
        status = "Unverified"
    else:
        more = f"; {qualifiers}" if qualifiers else ""
        status = f"Partially verified ({verified} of {len(checkable)} claims{more})"
    return PaperVerdict(paper=paper, status=status, verified=verified, checkable=len(checkable), counts=counts,
                        strength=strength)
