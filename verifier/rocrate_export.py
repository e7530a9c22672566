"""`verify export PAPER --ro-crate OUT`: a paper's verification as a Provenance Run Crate.

RO-Crate 1.1 (https://w3id.org/ro/crate/1.1) with the Workflow Run Crate
profiles (https://w3id.org/ro/wfrun/provenance/0.5, which builds on
`.../workflow/0.5`, `.../process/0.5` and Workflow RO-Crate 1.0), written with
the `rocrate` library. The mapping:

| verify                         | RO-Crate entity                                                    |
| ------------------------------ | ------------------------------------------------------------------ |
| the manifest                   | main entity: `File, SoftwareSourceCode, ComputationalWorkflow, HowTo`, language `#paper-manifest` |
| a repro (bundle + entrypoint)  | tool `#repro-<id>` (SoftwareApplication) in the workflow's `hasPart`, one `HowToStep` each |
| the bundle                     | `Dataset, SoftwareSourceCode` at its path, every sealed file in it; `identifier` = seal |
| a run                          | `CreateAction` `#run-<id>`: instrument the tool, object its inputs and params, result its outputs and logs, start/end time, `environment` (sandbox, sealed, interpreter, OS, CPU), `resourceUsage`, `containerImage` for container runs |
| a run, orchestrated            | `ControlAction` `#control-<id>` (instrument the step, object the run) |
| `verify` evaluating the paper  | `CreateAction` `#evaluation` (instrument the manifest, result the verdicts) inside an `OrganizeAction` whose instrument is `verify` itself |
| a claim                        | `Claim` `#claim-<id>`                                              |
| its verdict                    | `verdicts/<claim>.json` (verdict-v1, as `verify claim --json` prints it) and a `ClaimReview` `#review-<id>` of the claim, based on its runs |
| attestations                   | the DSSE envelopes at their home paths, `about` the run or review; the public key under `keys/` |
| corrections                    | `manifests/<paper>/corrections/*.yaml`, `about` the manifest       |

The Workflow Run terms (`environment`, `resourceUsage`, `containerImage`,
`ContainerImage`, `DockerImage`, `registry`, `sha256`) are declared inline in
the `@context`, with the IRIs of https://w3id.org/ro/terms/workflow-run, so
the crate expands the same without fetching that context.

Only repros that ran are tools of the workflow: Provenance Run Crate requires
every tool to be the instrument of an action. A paper with no run in the
ledger cannot be exported (`ExportError`).

Side effects: reads the root and the home; writes OUT (a directory, or a zip
when OUT ends in `.zip`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from verifier import __version__
from verifier.attest import URI_BASE, VERIFIER_ID
from verifier.errors import VerifierError
from verifier.models import Repro, RunRecord, Verdict

RO_CRATE_VERSION: Final = "1.1"
PROFILES: Final = {
    "https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/provenance/0.5": ("Provenance Run Crate", "0.5"),
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0"),
}
WFRUN: Final = "https://w3id.org/ro/terms/workflow-run#"
WFRUN_TERMS: Final = {
    term: WFRUN + term
    for term in ("environment", "resourceUsage", "containerImage", "ContainerImage", "DockerImage", "registry", "sha256", "tag")
}
MANIFEST_LANGUAGE: Final = "#paper-manifest"
VERIFY_ENGINE: Final = "#verify"
NO_LICENSE: Final = "No license is stated in the manifest: ask the publisher before reuse."


class ExportError(VerifierError):
    """The paper cannot be exported: nothing ran, or OUT cannot be written."""


@dataclass
class ExportResult:
    """What `export_crate` wrote."""

    path: Path
    runs: int
    claims: int
    files: int
    attestations: int
    profiles: list[str] = field(default_factory=lambda: list(PROFILES))


@dataclass(frozen=True)
class _Facts:
    """Everything the crate describes, read once from the root and the home."""

    root: Path
    home: Path
    manifest_path: str
    manifest_digest: str
    paper: Any  # PaperManifest
    bundles: dict[str, Path]
    verdicts: dict[str, Verdict]
    runs: list[RunRecord]
    attestations: dict[str, list[tuple[str, str]]]  # claim id -> [(label, home-relative path)]
    store: Any  # digest -> Path in the artifact store


def export_crate(
    root: Path, home: Path, paper_id: str, out: Path, *, license: str | None = None, agent: str | None = None
) -> ExportResult:
    """Write PAPER's Provenance Run Crate to `out` (a directory, or a `.zip` file).

    `agent` names the organization that ran the verification and publishes
    the crate: the actions' `agent`, the crate's `author` and `publisher`
    (the ledger does not record who ran a run, so nothing is claimed without it).

    Raises `IntakeError` for an unknown paper or an invalid manifest,
    `ExportError` when the ledger holds no run of it or OUT cannot be written.
    """
    facts = _read(root, home, paper_id)
    if not facts.runs:
        raise ExportError(f"{paper_id}: no run in the ledger to export; run `verify paper {paper_id}` first")
    with tempfile.TemporaryDirectory(prefix="verify-crate-") as staging:
        crate, counts = _build(facts, Path(staging), license=license, agent=agent)
        _write(crate, out)
    return ExportResult(path=out, runs=len(facts.runs), claims=len(facts.paper.claims), files=counts["files"],
                        attestations=counts["attestations"])


def _write(crate: Any, out: Path) -> None:
    try:
        if out.suffix == ".zip":
            out.parent.mkdir(parents=True, exist_ok=True)
            crate.write_zip(str(out))
        else:
            if out.exists() and any(out.iterdir()):
                shutil.rmtree(out)  # a crate is rewritten whole, never merged with an older one
            crate.write(str(out))
    except OSError as e:
        raise ExportError(f"{out}: cannot write the crate: {e.strerror or e}") from e


# --------------------------------------------------------------------------- (1) read


def _read(root: Path, home: Path, paper_id: str) -> _Facts:
    from verifier.ledger import Ledger
    from verifier.manifests import load_manifest
    from verifier.record import build_record
    from verifier.root import VerificationRoot

    vroot = VerificationRoot.at(root)
    loaded = load_manifest(vroot, paper_id, check_seals=False)
    record = build_record(root, home, paper_id)  # the attestation links, exactly as the record shows them
    ids = [f"{paper_id}/{c.id}" for c in loaded.model.claims]
    with Ledger.open(home) as ledger:
        verdicts = ledger.last_verdicts(ids)
        seen: dict[str, RunRecord] = {}
        for verdict in verdicts.values():
            for ref in [verdict.run, *verdict.runs]:
                if ref is not None and ref.id and ref.id not in seen:
                    run = ledger.get_run(ref.id)
                    if run is not None:
                        seen[ref.id] = run
        store = ledger.store.path
    return _Facts(
        root=vroot.path,
        home=home,
        manifest_path=vroot.relative(loaded.path),
        manifest_digest=loaded.digest,
        paper=loaded.model,
        bundles=dict(loaded.bundles),
        verdicts={gid.split("/", 1)[1]: v for gid, v in verdicts.items()},
        runs=sorted(seen.values(), key=lambda r: (r.started, r.id)),
        attestations={c.id: [(a.label, a.path) for a in c.attestations] for c in record.claims},
        store=store,
    )


# --------------------------------------------------------------------------- (2) build


def _build(facts: _Facts, staging: Path, *, license: str | None, agent: str | None) -> tuple[Any, dict[str, int]]:
    from rocrate.model.computerlanguage import ComputerLanguage  # type: ignore[import-untyped]
    from rocrate.model.contextentity import ContextEntity  # type: ignore[import-untyped]
    from rocrate.rocrate import ROCrate  # type: ignore[import-untyped]

    paper = facts.paper
    crate = ROCrate(version=RO_CRATE_VERSION)
    crate.metadata.extra_terms.update(WFRUN_TERMS)

    def entity(identifier: str, properties: dict[str, Any]) -> Any:
        return crate.add(ContextEntity(crate, identifier, properties=properties))

    # (2.1) the root: what the crate is and which profiles it follows
    crate.name = f"Verification of {paper.title}"
    crate.description = (
        f"Sealed reproductions of the claims of {paper.title!r} ({paper.publisher}) by verify "
        f"{__version__}: the claim manifest as the workflow, each repro run, each verdict and its signed attestations."
    )
    crate.datePublished = _now()
    # A URL names a license document: a contextual entity, as RO-Crate recommends; free text stays text.
    if license and license.startswith(("https://", "http://")):
        crate.license = entity(license, {"@type": "CreativeWork", "name": license.rstrip("/").rsplit("/", 1)[-1]})
    else:
        crate.license = license or NO_LICENSE
    crate.root_dataset["conformsTo"] = [
        entity(uri, {"@type": "CreativeWork", "name": name, "version": version}) for uri, (name, version) in PROFILES.items()
    ]
    operator = entity("#operator", {"@type": "Organization", "name": agent}) if agent else None
    if operator is not None:
        crate.root_dataset["author"] = operator
        crate.root_dataset["publisher"] = operator
    engine = entity(VERIFY_ENGINE, {
        "@type": "SoftwareApplication", "name": "verify (claim-verifier)", "version": __version__,
        "url": VERIFIER_ID,  # a name under attest.URI_BASE, as in the attestations' verifier.id
        "description": "Checks research claims by running sealed repros; the engine that orchestrated these runs.",
    })

    # (2.2) the workflow: the manifest, its language, its repros as tools and steps
    language = crate.add(ComputerLanguage(crate, MANIFEST_LANGUAGE, properties={
        "name": "verify claim manifest", "alternateName": paper.contract, "version": paper.contract.rsplit("-v", 1)[-1],
        "url": {"@id": f"{URI_BASE}/schemas/paper-manifest"},
    }))
    workflow = crate.add_workflow(
        facts.root / facts.manifest_path, facts.manifest_path, main=True, lang=language,
        properties={
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
            "name": f"Claim manifest of {paper.id}", "version": facts.manifest_digest,
            "encodingFormat": "application/yaml", "identifier": facts.manifest_digest,
        },
    )
    files = 1 + _add_corrections(crate, facts, workflow)
    repro_of = _repro_of_runs(facts)
    repros = [r for r in paper.repros if r.id in set(repro_of.values())]
    tools: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    results_param: dict[str, Any] = {}
    for position, repro in enumerate(repros):
        bundle, added = _add_bundle(crate, facts, repro)
        files += added
        inputs = [_param(crate, f"#repro-{repro.id}-param-{name}", name, "PropertyValue") for name in sorted(repro.params)]
        inputs += [_param(crate, f"#repro-{repro.id}-input-{i}", item.path, "File") for i, item in enumerate(repro.inputs)]
        output = _param(crate, f"#repro-{repro.id}-results", "results.json", "File")
        results_param[repro.id] = output
        tools[repro.id] = entity(f"#repro-{repro.id}", {
            "@type": "SoftwareApplication", "name": f"repro {repro.id}", "version": repro.seal or "unsealed",
            "description": "argv: " + " ".join(repro.entrypoint), "url": {"@id": bundle.id},
            "isBasedOn": bundle, "input": inputs, "output": output,
        })
        steps[repro.id] = entity(f"#step-{repro.id}", {
            "@type": "HowToStep", "name": f"run repro {repro.id}", "position": position, "workExample": tools[repro.id],
        })
    workflow["hasPart"] = list(tools.values())
    workflow["step"] = list(steps.values())
    workflow["input"] = [p for tool in tools.values() for p in _as_list(tool.get("input"))]
    verdict_param = _param(crate, "#verdicts", "verdicts", "File")
    workflow["output"] = [*results_param.values(), verdict_param]

    # (2.3) the runs
    run_actions: dict[str, Any] = {}
    controls = []
    for run in facts.runs:
        repro = next((r for r in repros if r.id == repro_of.get(run.id)), None)
        if repro is None:
            continue
        action, added = _add_run(crate, facts, run, repro, tools[repro.id], results_param[repro.id])
        files += added
        run_actions[run.id] = action
        controls.append(entity(f"#control-{run.id}", {
            "@type": "ControlAction", "name": f"orchestrate run {run.id}", "instrument": steps[repro.id], "object": action,
            "actionStatus": action["actionStatus"],
        }))

    # (2.4) claims, verdicts and their attestations
    verdict_files, reviews, attestations = [], [], 0
    for claim in paper.claims:
        claim_entity = entity(f"#claim-{claim.id}", {
            "@type": "Claim", "name": f"{paper.id}/{claim.id}", "text": claim.statement,
            "description": f"{claim.kind} claim" + (f", section {claim.source.section}" if claim.source else ""),
        })
        verdict = facts.verdicts.get(claim.id)
        if verdict is None:
            continue
        vfile = _add_bytes(crate, staging, f"verdicts/{claim.id}.json", _verdict_bytes(verdict), {
            "name": f"verdict of {verdict.claim}", "encodingFormat": "application/json",
            "conformsTo": {"@id": f"{URI_BASE}/schemas/verdict-v1"}, "about": claim_entity,
            "exampleOfWork": verdict_param,
        })
        files += 1
        verdict_files.append(vfile)
        based_on = [run_actions[r.id] for r in [verdict.run, *verdict.runs] if r is not None and r.id in run_actions]
        rating_props, review_props = _review(claim.statement, verdict, claim_entity, based_on, vfile)
        review_props["reviewRating"] = entity(f"#review-{claim.id}-rating", rating_props)
        review = entity(f"#review-{claim.id}", review_props)
        reviews.append(review)
        for label, path in facts.attestations.get(claim.id, []):
            if crate.get(path) is not None:
                continue  # a run's envelope is shared by every claim the run backs
            subject = _subject_of(label, run_actions, review)
            if _add_home_file(crate, facts, path, {
                "name": label, "encodingFormat": "application/vnd.in-toto+json", "about": subject,
                "description": "DSSE envelope (in-toto Statement v1), Ed25519; check with `verify attest check FILE --key keys/ed25519.pub.pem`",
            }):
                attestations += 1
    verdict_param["workExample"] = verdict_files or None
    files += attestations + _add_public_key(crate, facts)

    # (2.5) the evaluation as one workflow run, orchestrated by verify
    starts = [run.started for run in facts.runs]
    ends = [v.evaluated for v in facts.verdicts.values()] + [run.ended for run in facts.runs]
    evaluation = crate.add_action(workflow, "#evaluation", properties={
        "@type": "CreateAction", "name": f"verify paper {paper.id}",
        "description": "Gates 0-2 for every claim of the paper; the result is one verdict per judged claim.",
        "startTime": _time(min(starts)), "endTime": _time(max(ends)),
        "actionStatus": "http://schema.org/CompletedActionStatus",
        "object": [p for action in run_actions.values() for p in _as_list(action.get("object"))],
        "result": verdict_files,
    })
    organize = entity("#orchestration", {
        "@type": "OrganizeAction", "name": f"verify {__version__} orchestrating {paper.id}", "instrument": engine,
        "result": evaluation, "object": controls, "startTime": _time(min(starts)), "endTime": _time(max(ends)),
    })
    if operator is not None:
        for action in [evaluation, organize, *run_actions.values(), *controls]:
            action["agent"] = operator
    crate.root_dataset["mentions"] = [evaluation, organize, *run_actions.values(), *controls, *reviews]
    files += _add_readme(crate, facts, staging)
    _single_values(crate)
    return crate, {"files": files, "attestations": attestations}


def _single_values(crate: Any) -> None:
    """A one-element list becomes the element: RO-Crate 1.1 recommends single values over singleton arrays."""
    for item in crate.get_entities():
        properties = item.properties()
        for key, value in list(properties.items()):
            if isinstance(value, list) and len(value) == 1:
                properties[key] = value[0]


def _add_readme(crate: Any, facts: _Facts, staging: Path) -> int:
    """README.md: what the crate holds and how to check it, for people (RO-Crate's recommended preview)."""
    paper = facts.paper
    text = f"""# Verification of {paper.title}

Paper `{paper.id}` ({paper.publisher}), verified by verify {__version__}. This is an RO-Crate 1.1
following the Provenance Run Crate 0.5 profile; `ro-crate-metadata.json` describes every file.

- `{facts.manifest_path}`: the claim manifest (the workflow) and its correction records;
- the repro bundles, at their paths in the verification root, and the pinned inputs;
- `runs/<run-id>/`: what each run wrote (`out/`) and its stdout and stderr;
- `verdicts/<claim>.json`: the last verdict of each claim (verdict-v1);
- `artifacts/sha256/..`: signed attestations (DSSE envelopes), checked offline with
  `verify attest check FILE --key keys/ed25519.pub.pem`.
"""
    _add_bytes(crate, staging, "README.md", text.encode(), {
        "name": "README", "about": crate.root_dataset, "encodingFormat": "text/markdown",
    })
    return 1


def _media_type(path: str) -> str:
    import mimetypes

    known = {".py": "text/x-python", ".yaml": "application/yaml", ".yml": "application/yaml", ".jsonl": "application/jsonl",
             ".tsv": "text/tab-separated-values", ".lean": "text/plain", ".md": "text/markdown"}
    suffix = Path(path).suffix.lower()
    return known.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def _repro_of_runs(facts: _Facts) -> dict[str, str]:
    """Run id -> the id of this paper's repro it ran.

    Not `run.repro`: the run cache is shared across papers, so a run may be
    recorded under another paper's repro id. A run belongs to the repro with
    the same seal, entrypoint and params digest (what the run key is made of).
    """
    from verifier.canonical import digest_json

    found: dict[str, str] = {}
    for run in facts.runs:
        for repro in facts.paper.repros:
            if (repro.seal in (None, run.seal) and repro.entrypoint == run.entrypoint
                    and digest_json(repro.params) == run.params_digest):
                found[run.id] = repro.id
                break
    return found


def _param(crate: Any, identifier: str, name: str, kind: str) -> Any:
    return crate.add_formal_parameter(name=name, additionalType=kind, identifier=identifier)


def _add_bundle(crate: Any, facts: _Facts, repro: Repro) -> tuple[Any, int]:
    """The bundle directory, with exactly the files its seal covers (verifier.digest's walk)."""
    from verifier.digest import tree_entries

    path = facts.bundles.get(repro.id) or (facts.root / repro.bundle)
    rel = path.relative_to(facts.root).as_posix()
    existing = crate.get(f"{rel}/")
    if existing is not None:  # two repros of one bundle: one dataset
        return existing, 0
    # No source: rocrate would copy the whole directory, caches included; the sealed files are added one by one.
    dataset = crate.add_dataset(None, rel, properties={
        "@type": ["Dataset", "SoftwareSourceCode"], "name": f"bundle {rel}", "identifier": repro.seal or "unsealed",
        "version": repro.seal or "unsealed", "description": "Repro bundle; its seal is the tree digest defined in verifier.digest.",
    })
    added = 0
    parts = []
    for entry in tree_entries(path):
        if entry.mode == "120000":
            continue  # a symlink inside the bundle: its target is listed in its own right
        parts.append(crate.add_file(path / entry.path, f"{rel}/{entry.path}",
                                    properties={"sha256": entry.sha256, "encodingFormat": _media_type(entry.path)}))
        added += 1
    dataset["hasPart"] = parts
    return dataset, added


def _add_run(crate: Any, facts: _Facts, run: RunRecord, repro: Repro, tool: Any, results_param: Any) -> tuple[Any, int]:
    """One run: its inputs, params, outputs and logs, environment and resource usage."""
    from rocrate.model.contextentity import ContextEntity

    def entity(identifier: str, properties: dict[str, Any]) -> Any:
        return crate.add(ContextEntity(crate, identifier, properties=properties))

    objects: list[Any] = []
    for name in sorted(repro.params):
        objects.append(entity(f"#run-{run.id}-param-{name}", {
            "@type": "PropertyValue", "name": name, "value": json.dumps(repro.params[name]),
            "exampleOfWork": {"@id": f"#repro-{repro.id}-param-{name}"},
        }))
    added = 0
    for i, (path, digest) in enumerate(sorted(run.inputs.items())):
        existing = crate.get(path)
        item = existing or _add_root_file(crate, facts, path, {"sha256": digest.removeprefix("sha256:"), "encodingFormat": _media_type(path)})
        if item is not None:
            added += existing is None
            item["exampleOfWork"] = {"@id": f"#repro-{repro.id}-input-{i}"}
            objects.append(item)
    results = []
    for output in run.outputs:
        item = _add_store_file(crate, facts, output.sha256, f"runs/{run.id}/out/{output.path}",
                               {"name": output.path, "encodingFormat": _media_type(output.path)})
        if item is not None:
            added += 1
            if output.path == "results.json":
                item["exampleOfWork"] = results_param
            results.append(item)
    for name, digest in sorted(run.logs.items()):
        item = _add_store_file(crate, facts, digest, f"runs/{run.id}/{name}.txt", {"name": f"{name} of run {run.id}", "encodingFormat": "text/plain"})
        if item is not None:
            added += 1
            results.append(item)
    environment = _environment(crate, run, entity)
    usage = [
        entity(f"#run-{run.id}-{key}", {"@type": "PropertyValue", "name": key, "propertyID": key, "value": value, **unit})
        for key, value, unit in (
            ("duration", run.duration_s, {"unitCode": "SEC"}),
            ("peakMemory", run.peak_memory_kb, {"unitCode": "KBY"}),
            ("cpuTime", run.cpu_time_s, {"unitCode": "SEC"}),
        )
        if value is not None
    ]
    ok = run.status == "ok"
    properties: dict[str, Any] = {
        "@type": "CreateAction", "name": f"run {run.id} of repro {repro.id} (seed {run.seed})",
        "description": f"{run.backend} sandbox, {'sealed' if run.sealed else 'UNSEALED'}, exit code {run.exit_code}: {run.reason}",
        "startTime": _time(run.started), "endTime": _time(run.ended),
        "actionStatus": "http://schema.org/CompletedActionStatus" if ok else "http://schema.org/FailedActionStatus",
        "environment": environment, "resourceUsage": usage, "identifier": run.key,
    }
    if not ok:
        properties["error"] = run.reason
    image = run.environment.get("image")
    if image:
        properties["containerImage"] = entity(f"#image-{run.id}", {
            "@type": "ContainerImage", "additionalType": {"@id": WFRUN + "DockerImage"},
            "name": str(image), "registry": "local (built by scripts/build-repro-image.sh)",
        })
    action = crate.add_action(tool, f"#run-{run.id}", object=objects, result=results, properties=properties)
    return action, added


def _environment(crate: Any, run: RunRecord, entity: Any) -> list[Any]:
    """The sandbox and the machine, as `environment` PropertyValues."""
    env = run.environment
    interp: dict[str, Any] = env["interpreter"] if isinstance(env.get("interpreter"), dict) else {}
    facts = {
        "sandbox": run.backend,
        "sealed": str(run.sealed).lower(),
        "seed": str(run.seed),
        "interpreter": " ".join(str(interp[k]) for k in ("implementation", "version") if interp.get(k)),
        "os": str(env.get("os") or env.get("image_os") or ""),
        "cpu": str(env.get("cpu") or env.get("machine") or ""),
        "gpus": ", ".join(str(g.get("model")) for g in env.get("gpus", []) if isinstance(g, dict)),
    }
    return [
        entity(f"#run-{run.id}-env-{name}", {"@type": "PropertyValue", "name": name, "value": value})
        for name, value in facts.items()
        if value
    ]


def _review(statement: str, verdict: Verdict, claim: Any, based_on: list[Any], vfile: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verdict as a Rating and a ClaimReview (the scale of the site's JSON-LD, verifier.claimreview).

    Two entities, not one nested object: an RO-Crate is flattened JSON-LD.
    """
    from verifier.claimreview import BEST, RATING_FOR_STATUS, SCALE, WORST

    document = verdict.model_dump(mode="json")
    evidence = document.get("evidence")  # contract 1.2; absent on older verdicts
    words = verdict.status.capitalize() + (f" ({evidence})" if evidence not in (None, "none") and verdict.status == "verified" else "")
    rating = {"@type": "Rating", "ratingValue": RATING_FOR_STATUS[verdict.status], "worstRating": WORST,
              "bestRating": BEST, "alternateName": words,
              "ratingExplanation": verdict.line or verdict.reason, "description": f"Scale: {SCALE}."}
    return rating, {
        "@type": "ClaimReview", "name": f"verdict on {verdict.claim}", "claimReviewed": statement,
        "itemReviewed": claim, "datePublished": _time(verdict.evaluated),
        "isBasedOn": [*based_on, vfile],
        "description": f"Gate {verdict.gate}; evidence: {evidence if evidence is not None else 'not stated (pre-1.2 verdict)'}",
    }


def _subject_of(label: str, run_actions: dict[str, Any], review: Any) -> Any:
    """A run's provenance is about its run; anything else (the VSA) about the claim's review."""
    for run_id, action in run_actions.items():
        if f"run {run_id} " in f"{label} ":
            return action
    return review


# --------------------------------------------------------------------------- files


def _add_corrections(crate: Any, facts: _Facts, workflow: Any) -> int:
    directory = facts.root / "manifests" / facts.paper.id / "corrections"
    added = 0
    for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
        rel = path.relative_to(facts.root).as_posix()
        crate.add_file(path, rel, properties={"name": f"correction record {path.stem}", "about": workflow,
                                               "encodingFormat": "application/yaml",
                                               "conformsTo": {"@id": f"{URI_BASE}/schemas/correction-record-v1"}})
        added += 1
    return added


def _add_root_file(crate: Any, facts: _Facts, rel: str, properties: dict[str, Any]) -> Any:
    """A file under the root at the same path in the crate; None when it is gone (never outside the root)."""
    source = (facts.root / rel).resolve()
    if not source.is_relative_to(facts.root) or not source.is_file():
        return None
    return crate.add_file(source, rel, properties=properties)


def _add_store_file(crate: Any, facts: _Facts, digest: str, dest: str, properties: dict[str, Any]) -> Any:
    """An artifact-store object, copied to `dest`; None when the store lacks it."""
    source = Path(facts.store(digest))
    if not source.is_file():
        return None
    return crate.add_file(source, dest, properties={**properties, "sha256": digest.removeprefix("sha256:")})


def _add_home_file(crate: Any, facts: _Facts, rel: str, properties: dict[str, Any]) -> Any:
    """A file under the home (an envelope), at its home path; never from outside the home."""
    home = facts.home.resolve()
    source = (home / rel).resolve()
    if not source.is_relative_to(home) or not source.is_file():
        return None
    return crate.add_file(source, rel, properties=properties)


def _add_public_key(crate: Any, facts: _Facts) -> int:
    from verifier.attest.keys import key_id, load_public_key, public_key_path

    path = public_key_path(facts.home)
    if not path.is_file():
        return 0
    crate.add_file(path, f"keys/{path.name}", properties={
        "name": "Ed25519 public key that signed the attestations", "encodingFormat": "application/x-pem-file",
        "identifier": key_id(load_public_key(path)),
    })
    return 1


def _add_bytes(crate: Any, staging: Path, dest: str, data: bytes, properties: dict[str, Any]) -> Any:
    """Bytes made here (a verdict's JSON) as a file of the crate; rocrate copies it from `staging` on write."""
    from verifier.digest import bytes_digest, hex_of

    source = staging / dest
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return crate.add_file(source, dest, properties={**properties, "sha256": hex_of(bytes_digest(data))})


def _verdict_bytes(verdict: Verdict) -> bytes:
    return (json.dumps(verdict.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


# --------------------------------------------------------------------------- values


def _time(text: str) -> str:
    """ISO 8601 with an explicit offset and milliseconds (the pattern Process Run Crate checks)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _as_list(value: Any) -> list[Any]:
    # rocrate entities are mappings: only a real list is many values.
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
