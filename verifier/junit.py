"""JUnit XML and a Markdown summary of a verification session, for CI systems.

One `<testsuite>` per paper, one `<testcase>` per claim: refuted claims are
failures, inconclusive ones errors, unverified ones skipped (failures under
`--strict`), so a CI dashboard shows exactly what the exit status means.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from verifier.executor import Session
from verifier.gates import line


def junit_xml(session: Session, *, strict: bool) -> bytes:
    """The session as JUnit XML (the de facto schema CI systems read)."""
    suites = ET.Element("testsuites", name="verify")
    for paper in session.papers:
        suite = ET.SubElement(suites, "testsuite", name=paper.paper)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if not paper.intake.ok:
            case = ET.SubElement(suite, "testcase", classname=paper.paper, name="intake")
            ET.SubElement(case, "error", message=paper.intake.error or "invalid", type="intake").text = paper.intake.error
            counts["tests"] += 1
            counts["errors"] += 1
        for verdict in paper.verdicts:
            case = ET.SubElement(suite, "testcase", classname=paper.paper, name=verdict.claim.split("/", 1)[1],
                                 time=f"{verdict.run.duration_s or 0:.3f}" if verdict.run else "0")
            counts["tests"] += 1
            text = line(verdict)
            props = ET.SubElement(case, "properties")  # how strong the evidence is (paper-manifest-v1.2)
            ET.SubElement(props, "property", name="evidence", value=verdict.evidence)
            if verdict.informative is not None:
                ET.SubElement(props, "property", name="informative", value=str(verdict.informative).lower())
            if verdict.replication is not None:
                ET.SubElement(props, "property", name="replication_nonce", value=verdict.replication.nonce)
            if verdict.status == "refuted" or (strict and verdict.status == "unverified" and verdict.checkable):
                ET.SubElement(case, "failure", message=text, type=verdict.status).text = text
                counts["failures"] += 1
            elif verdict.status == "inconclusive":
                ET.SubElement(case, "error", message=text, type="inconclusive").text = text
                counts["errors"] += 1
            elif verdict.status == "unverified":
                ET.SubElement(case, "skipped", message=text)
                counts["skipped"] += 1
            ET.SubElement(case, "system-out").text = text
        for key, value in counts.items():
            suite.set(key, str(value))
    ET.indent(suites)
    document: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def summary_markdown(session: Session) -> str:
    """A short Markdown summary: one table row per claim, per paper."""
    out = ["# Verification summary", ""]
    out.append(f"Runs: {session.runs_executed} executed, {session.runs_cached} from the cache.")
    if session.nonce is not None:
        out.append(f"Replication nonce: `{session.nonce}` (multi-seed claims judged on fresh seeds).")
    out.append("")
    for paper in session.papers:
        status = paper.verdict.status if paper.verdict else f"invalid: {paper.intake.error}"
        out += [f"## {paper.paper}: {status}", ""]
        if paper.quality is not None:
            dims = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in paper.quality.dimensions.items())
            out += [f"Verification level {paper.quality.verification_level}; tier {paper.quality.tier}; {dims}.", ""]
        if paper.verdicts:
            out += ["| claim | status | gate | evidence | reason |", "| --- | --- | --- | --- | --- |"]
            for v in paper.verdicts:
                evidence = v.evidence + (", uninformative" if v.informative is False else "")
                out.append(f"| {v.claim} | {v.status} | {v.gate} | {evidence} | {v.reason.replace('|', '/')} |")
            out.append("")
    return "\n".join(out)


def write(path: Path, data: bytes | str) -> None:
    """Write a report file, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
