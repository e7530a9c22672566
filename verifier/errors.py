"""One error hierarchy whose classes carry the contract's exit status.

Every failure that reaches a user is a `VerifierError`: `verifier.cli.main`
catches it in one place, prints `verify: error: <line>` for each of its
`lines()` and exits with `exit_status`. The statuses are those of CONTRACT.md:

* 0 everything verified (or nothing to do)
* 1 a claim was refuted, or a correction chain is broken
* 2 bad input: nothing was run
* 3 inconclusive: the repro or the sandbox could not give an answer; also an
  internal error (any other exception: a bug), which must never read as refuted
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EXIT_OK = 0
EXIT_REFUTED = 1
EXIT_BAD_INPUT = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERNAL = EXIT_INCONCLUSIVE  # no answer was had; a distinct code would be outside the contract's four


def verdicts_exit_status(verdicts: Iterable[tuple[str, bool]], *, strict: bool) -> int:
    """The status of judged verdicts, given as (status, checkable): 1 refuted, else 3 inconclusive
    (with `strict`, an unverified checkable claim too), else 0."""
    judged = list(verdicts)
    statuses = [status for status, _ in judged]
    if "refuted" in statuses:
        return EXIT_REFUTED
    if "inconclusive" in statuses:
        return EXIT_INCONCLUSIVE
    if strict and any(status == "unverified" and checkable for status, checkable in judged):
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def one_line(text: str) -> str:
    """`text` as one printable line: a newline becomes a space, any other control or separator an escape.

    Messages quote what a hostile file holds; a raw carriage return, escape
    sequence or line separator could forge or hide lines in a CI log.
    """
    text = text.replace("\n", " ")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class VerifierError(Exception):
    """Base of every error the toolkit raises on purpose."""

    exit_status: int = EXIT_BAD_INPUT

    def diagnostics(self) -> str:
        """One line for the user: what is wrong, and where."""
        return one_line(str(self))

    def lines(self) -> list[str]:
        """What the CLI prints, one `verify: error:` line each."""
        return [self.diagnostics()]


class IntakeError(VerifierError):
    """Bad input found at Gate 0: a file, a field and what is wrong with it.

    Raised for broken YAML, schema violations, unknown ids, paths that leave
    the root and seal or digest mismatches. Nothing was run.
    """

    exit_status = EXIT_BAD_INPUT

    def __init__(self, message: str, *, file: Path | str | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.message = message
        super().__init__(message)

    def diagnostics(self) -> str:
        where = self.file or ""
        if self.field:
            where = f"{where}: {self.field}" if where else self.field
        text = f"{where}: {self.message}" if where else self.message
        return one_line(text)


class UsageError(VerifierError):
    """The command line itself is wrong (unknown option value, bad id form)."""

    exit_status = EXIT_BAD_INPUT


class InconclusiveError(VerifierError):
    """No answer could be had: no sealed sandbox, or the run could not complete."""

    exit_status = EXIT_INCONCLUSIVE


class SandboxUnavailableError(InconclusiveError):
    """No sealed sandbox backend can run here; the message says how to get one."""


class SandboxError(InconclusiveError):
    """The sandbox itself broke (not the repro): bwrap missing, engine gone, image absent."""


class ChainError(VerifierError):
    """A correction chain is broken: a record or the manifest changed outside it."""

    exit_status = EXIT_REFUTED


class AttestationError(VerifierError):
    """An attestation does not hold: a bad signature or a digest that does not match (exit 1)."""

    exit_status = EXIT_REFUTED


class SignatureError(AttestationError):
    """No signature of the envelope verifies with the given key."""


class EnvelopeFormatError(IntakeError):
    """The file is not a DSSE envelope holding an in-toto Statement v1, or is too big to be one (exit 2)."""


class KeyFileError(VerifierError):
    """A key file is missing, unreadable, of the wrong kind, too open, or would be overwritten."""


class LedgerError(VerifierError):
    """The ledger or artifact store is unreadable or inconsistent."""

    exit_status = EXIT_INCONCLUSIVE


class ReportedErrors(VerifierError):
    """Errors a command collected while it went on with the rest (one bad paper among many).

    The command prints its output first and raises this last; the CLI's
    boundary prints each line as `verify: error: ...` and exits with `exit_status`.
    """

    def __init__(self, lines: list[str], exit_status: int) -> None:
        self._lines = [one_line(line) for line in lines]
        self.exit_status = exit_status
        super().__init__("; ".join(self._lines))

    def lines(self) -> list[str]:
        return list(self._lines)
