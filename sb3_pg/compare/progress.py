"""The live display of a comparison: a bar for the whole grid and one per run under way, with step counts."""

import os
import time
from typing import TYPE_CHECKING, Any

from sb3_pg.compare.grid import RunSpec
from sb3_pg.compare.runs import StepCounter

if TYPE_CHECKING:
    from sb3_pg.compare.runner import RunOutcome


class GridProgress:
    """
    Progress of the runs of a grid, read from their folders (the zoo's Monitor files). In a terminal it is a
    live ``rich`` display; otherwise (a log file, ``nohup``) it prints a line when a run starts or ends and a
    summary every ``interval_s`` seconds.

    :param specs: the runs that will train (not the skipped ones)
    :param enabled: ``False`` prints only failures
    :param interval_s: seconds between two summary lines when the output is not a terminal
    """

    def __init__(self, specs: list[RunSpec], enabled: bool = True, interval_s: float = 60.0):
        from rich.console import Console

        self.specs = specs
        self.enabled = enabled
        self.interval_s = interval_s
        self.console = Console(highlight=False, soft_wrap=True)
        self.live = enabled and self.console.is_terminal
        self.total = sum(spec.n_timesteps for spec in specs)
        self._counters: dict[RunSpec, StepCounter] = {}
        self._rows: dict[RunSpec, Any] = {}
        self._finished_steps = 0
        self._done = 0
        self._failed = 0
        self._last_summary = time.monotonic()
        self._progress: Any = None
        self._overall: Any = None

    def __enter__(self) -> "GridProgress":
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:>12,.0f}/{task.total:,.0f} steps"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._progress.start()
            self._overall = self._progress.add_task(self._overall_description(), total=max(self.total, 1))
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._progress is not None:
            self.refresh()
            self._progress.stop()

    def _overall_description(self) -> str:
        failed = f", {self._failed} failed" if self._failed else ""
        return f"[bold]all runs[/bold] {self._done}/{len(self.specs)} done{failed}"

    def start(self, spec: RunSpec, show: bool = True, run_dir: str | os.PathLike | None = None) -> None:
        """
        A run was started (or handed to Ray).

        :param spec: the run
        :param show: give it a row now; else when its first steps appear (a Ray task may wait in a queue)
        :param run_dir: where it trains, if not in its run folder (a Ray task's attempt folder)
        """
        self._counters[spec] = StepCounter(run_dir or spec.run_dir, spec.algo)
        if show:
            self._show(spec)

    def _show(self, spec: RunSpec) -> None:
        if spec in self._rows:
            return
        self._rows[spec] = None
        if self._progress is not None:
            self._rows[spec] = self._progress.add_task(f"  {spec.label}", total=spec.n_timesteps)
        elif self.enabled:
            self.console.print(f"started  {spec.label} ({spec.n_timesteps:,} steps)")

    def finish(self, outcome: "RunOutcome") -> None:
        """:param outcome: a run that ended"""
        spec = outcome.spec
        self._counters.pop(spec, None)
        row = self._rows.pop(spec, None)
        if row is not None:
            self._progress.remove_task(row)
        self._done += 1
        self._finished_steps += spec.n_timesteps
        if outcome.status == "finished" and self.enabled:
            rate = f" ({outcome.steps_per_s:,.0f} steps/s)" if outcome.steps_per_s else ""
            self.console.print(f"finished {spec.label}: {outcome.timesteps:,} steps in {outcome.wall_time_s:.1f} s{rate}")
        elif outcome.status == "failed":
            self._failed += 1
            self.console.print(f"[bold red]FAILED[/bold red]   {spec.label}: {outcome.message}\n         log: {outcome.log}")
        elif outcome.status == "cancelled" and self.enabled:
            self.console.print(f"cancelled {spec.label}")

    def refresh(self) -> None:
        """Read the step counts of the runs under way and update the display."""
        running = 0
        for spec, counter in list(self._counters.items()):
            steps = min(counter(), spec.n_timesteps)
            running += steps
            if steps > 0:
                self._show(spec)
            row = self._rows.get(spec)
            if row is not None and self._progress is not None:
                self._progress.update(row, completed=steps)
        if self._progress is not None:
            self._progress.update(
                self._overall, completed=self._finished_steps + running, description=self._overall_description()
            )
        elif self.enabled and time.monotonic() - self._last_summary >= self.interval_s:
            self._last_summary = time.monotonic()
            steps = self._finished_steps + running
            self.console.print(
                f"progress: {self._done}/{len(self.specs)} runs done ({self._failed} failed), {len(self._rows)} under way, "
                f"{steps:,}/{self.total:,} steps ({100 * steps / max(self.total, 1):.0f}%)"
            )
