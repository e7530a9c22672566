"""Verify many claims: intake, plan the runs, obtain them (cache or sandbox, in parallel), judge.

`verify_claims` is the pipeline behind `verify claim`, `verify paper` and
`verify ci`:

1. Gate 0 for every paper named (a bad manifest is reported, not fatal to the others);
2. plan the runs every selected claim needs, once per (paper, repro, seed):
   its evidence, its other arm and its baseline, on the manifest's seeds or,
   under `--replicate` (`Options.nonce`), on fresh seeds;
3. look their run keys up in the ledger; run the rest in the sandbox, `jobs` at a time;
4. judge every claim from the runs, record the verdicts in the ledger;
5. aggregate per paper, with the quality assessment;
6. sign and index the verdicts when the home has a key (`verifier.attest.store`).

An executor (`verifier.executors`: a local thread pool, or a Ray cluster)
carries out step 3's runs; this process records every run and verdict.

Side effects: runs repros; writes the ledger and artifact store under `home`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier import cancel
from verifier.attest.store import record_attestations
from verifier.errors import EXIT_BAD_INPUT, verdicts_exit_status
from verifier.executors import EXECUTOR_FOR_NAME
from verifier.executors.interface import Observer as Observer
from verifier.executors.interface import Options as Options
from verifier.executors.interface import SilentObserver as SilentObserver
from verifier.gates import ClaimJudge, PaperVerdict, RunKey, paper_verdict, plans_for
from verifier.intake import IntakeResult, validate_papers
from verifier.ledger import Ledger
from verifier.models import Claim, Verdict
from verifier.quality import Quality, assess
from verifier.runs import ObtainedRun, Runner, RunPlan
from verifier.transcription import NumberIndex


@dataclass
class PaperOutcome:
    """Everything verified of one paper."""

    intake: IntakeResult
    verdicts: list[Verdict] = field(default_factory=list)
    verdict: PaperVerdict | None = None
    quality: Quality | None = None

    @property
    def paper(self) -> str:
        return self.intake.paper


@dataclass
class Session:
    """The outcome of one `verify` invocation over some papers."""

    papers: list[PaperOutcome]
    runs_executed: int = 0
    runs_cached: int = 0
    nonce: str | None = None  # the replication nonce, if any

    def verdicts(self) -> list[Verdict]:
        return [v for p in self.papers for v in p.verdicts]

    def exit_status(self, *, strict: bool) -> int:
        """2 bad input, else 1 refuted, else 3 inconclusive (or, with --strict, unverified), else 0."""
        if any(not p.intake.ok for p in self.papers):
            return EXIT_BAD_INPUT
        return verdicts_exit_status(((v.status, v.checkable) for v in self.verdicts()), strict=strict)

    def as_json(self) -> dict[str, Any]:
        return {
            "papers": [
                {
                    **p.intake.as_json(),
                    "verdict": p.verdict.as_json() if p.verdict else None,
                    "quality": p.quality.as_json() if p.quality else None,
                    "claims": [v.model_dump(mode="json") for v in p.verdicts],
                }
                for p in self.papers
            ],
            "runs": {"executed": self.runs_executed, "cached": self.runs_cached},
            "replication": {"nonce": self.nonce} if self.nonce is not None else None,
        }


ClaimFilter = Callable[[str, Claim], bool]


def verify_claims(
    options: Options,
    paper_ids: list[str],
    *,
    select: ClaimFilter | None = None,
    observer: Observer | None = None,
) -> Session:
    """Run the pipeline (module docstring) over `paper_ids` (all papers when empty).

    Raises `SandboxUnavailableError` when runs are needed and no sandbox can
    run them, `LedgerError` when the ledger is unreadable.
    """
    observer = observer or SilentObserver()
    # (1): intake
    outcomes = [PaperOutcome(result) for result in validate_papers(options.root, options.home, paper_ids)]
    chosen = {
        o.paper: [c for c in o.intake.manifest.model.claims if select is None or select(o.paper, c)]
        for o in outcomes
        if o.intake.manifest is not None
    }
    with Ledger.open(options.home) as ledger:
        # (2): plans, one per (paper, repro, seed)
        plans: dict[tuple[str, str, int], RunPlan] = {}
        for o in outcomes:
            for claim in chosen.get(o.paper, []):
                for plan in plans_for(o.intake.manifest, claim, tier=options.tier, nonce=options.nonce):  # type: ignore[arg-type]
                    plans.setdefault((plan.paper, plan.repro.id, plan.seed), plan)
        # (3): obtain the runs
        obtained, executed, cached = _obtain(options, ledger, list(plans.values()), observer)
        # (4): judge and record
        numbers = NumberIndex(options.home)  # the transcription flag's indexes, one set per session
        # Grouped once: filtering every run for every paper was quadratic in a 1,000-paper ci.
        runs_by_paper: dict[str, dict[RunKey, ObtainedRun]] = {}
        for (paper, repro, seed), run in obtained.runs.items():
            runs_by_paper.setdefault(paper, {})[(repro, seed)] = run
        for o in outcomes:
            manifest = o.intake.manifest
            if manifest is None:
                continue
            runs = runs_by_paper.get(o.paper, {})
            judge = ClaimJudge(manifest, tier=options.tier, backend=obtained.backend, nonce=options.nonce,
                               numbers=numbers)
            # Interrupted: only the claims whose runs all finished are judged (and kept).
            judged = [c for c in chosen[o.paper] if not obtained.cancelled or _complete(o, c, options, runs)]
            o.verdicts = [judge.judge(claim, runs) for claim in judged]
            # (5): the paper
            by_id = {v.claim.split("/", 1)[1]: v for v in o.verdicts}
            o.verdict = paper_verdict(o.paper, chosen[o.paper], by_id)
            o.quality = assess(manifest.model, by_id)
        ledger.add_verdicts(v for o in outcomes for v in o.verdicts)
        # (6): signed only once recorded, under the policy the judge applied; a home without a key pays one stat.
        signed = [(o.intake.manifest, v) for o in outcomes if o.intake.manifest is not None for v in o.verdicts]
        policy = next((o.quality.policy_uri for o in outcomes if o.quality is not None), "")
        record_attestations(ledger, options.home, signed, policy_uri=policy)
    if obtained.cancelled or cancel.requested():
        raise cancel.Interrupted(cancel.signum(), finished=executed, cancelled=obtained.cancelled)
    return Session(outcomes, runs_executed=executed, runs_cached=cached, nonce=options.nonce)


def _complete(outcome: PaperOutcome, claim: Claim, options: Options, runs: dict[RunKey, ObtainedRun]) -> bool:
    """Whether every run a claim's plans need was obtained."""
    manifest = outcome.intake.manifest
    assert manifest is not None
    return all(
        (plan.repro.id, plan.seed) in runs
        for plan in plans_for(manifest, claim, tier=options.tier, nonce=options.nonce)
    )


@dataclass
class _Obtained:
    runs: dict[tuple[str, str, int], ObtainedRun]
    backend: str | None
    cancelled: int = 0  # runs stopped or never started because the session was interrupted


def _obtain(options: Options, ledger: Ledger, plans: list[RunPlan], observer: Observer) -> tuple[_Obtained, int, int]:
    if not plans:
        return _Obtained({}, None), 0, 0
    from verifier.sandbox import select_backend

    sandbox = select_backend(options.backend, image=next((p.repro.image for p in plans if p.repro.image), None))
    runner = Runner(ledger=ledger, sandbox=sandbox, use_cache=options.use_cache)
    keys = {(p.paper, p.repro.id, p.seed): runner.key(p) for p in plans}
    found = runner.cached(list(set(keys.values())))
    # One execution per distinct run key: papers that share a repro share its run.
    todo: dict[str, RunPlan] = {}
    for plan in plans:
        key = keys[(plan.paper, plan.repro.id, plan.seed)]
        if key not in found:
            todo.setdefault(key, plan)
    observer.runs_planned(len(set(keys.values())), len(set(keys.values())) - len(todo))
    done = EXECUTOR_FOR_NAME[options.executor].from_options(options).obtain(runner, todo, observer)
    found.update(done)
    # Interrupted (verifier.cancel), an executor returns only the runs that finished:
    # the rest were cancelled, and their claims are not judged.
    cancelled = len(todo) - len(done)
    runs = {ident: found[key] for ident, key in keys.items() if key in found}
    return _Obtained(runs, sandbox.name, cancelled=cancelled), len(todo) - cancelled, len(set(keys.values())) - len(todo)
