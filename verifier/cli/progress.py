"""Progress for runs: a rich display on a terminal, plain lines otherwise (CI logs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

import click

if TYPE_CHECKING:
    from verifier.runs import ObtainedRun, RunPlan


def where(obtained: ObtainedRun) -> str:
    """` on node <id> (<host>)` for a run that ran on a cluster node, else nothing."""
    node = obtained.record.environment.get("node")
    if not isinstance(node, dict):
        return ""
    return f" on node {str(node.get('id', '?'))[:12]} ({node.get('hostname', '?')})"


class PlainObserver:
    """One line per run start and finish, on stderr."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def runs_planned(self, total: int, cached: int) -> None:
        if total - cached:
            click.echo(f"runs: {total - cached} to run, {cached} cached", err=True)

    def run_started(self, plan: RunPlan) -> None:
        click.echo(f"running {plan.label()}", err=True)

    def close(self) -> None:
        """End any live display (the command is over, normally or not)."""

    def run_finished(self, plan: RunPlan, obtained: ObtainedRun) -> None:
        record = obtained.record
        click.echo(f"finished {plan.label()}: {record.status} in {record.duration_s:.1f} s{where(obtained)}", err=True)


class RichObserver(PlainObserver):
    """A live progress bar of the runs (only when stderr is a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                 console=Console(file=stream), transient=True)
        self.task: Any = None

    def runs_planned(self, total: int, cached: int) -> None:
        if total - cached:
            self.progress.start()
            self.task = self.progress.add_task("runs", total=total - cached)

    def run_started(self, plan: RunPlan) -> None:
        if self.task is not None:
            self.progress.update(self.task, description=f"running {plan.label()}")

    def close(self) -> None:
        self.progress.stop()

    def run_finished(self, plan: RunPlan, obtained: ObtainedRun) -> None:
        if self.task is None:
            return
        self.progress.console.print(f"finished {plan.label()}: {obtained.record.status} in {obtained.record.duration_s:.1f} s{where(obtained)}")
        self.progress.advance(self.task)
        if self.progress.finished:
            self.progress.stop()


def observer_for(stream: TextIO) -> PlainObserver:
    """Rich when `stream` is a terminal, plain lines otherwise."""
    return RichObserver(stream) if stream.isatty() else PlainObserver(stream)
