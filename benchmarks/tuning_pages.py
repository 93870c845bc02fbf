"""
The generated blocks of ``docs/tuning/{reinforce,vpg,npg}.md``: what each Optuna study found, and how its best
trials did when trained again on held-out seeds.

Every figure is computed from the committed raw results, none is typed by hand:

- ``docs/tuning/<algo>-<env>.log``, the study's Optuna journal (``benchmarks/tune.sh``): how many trials
  completed, were pruned or failed, and the best trials' scores, the mean return of a trial's last evaluation;
- ``docs/tuning/recheck/<algo>-<env>/<name>/runs.csv`` (``benchmarks/recheck.sh`` and ``python -m
  sb3_pg.compare``): each run's final and best evaluation and when it first reached the env's threshold.

:func:`tuning_blocks` returns them by page and block name; ``benchmarks/docs.py`` writes each block between
``<!-- begin NAME -->`` and ``<!-- end NAME -->`` of its page.
"""

import math
import re
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "docs" / "tuning"
ALGOS = ("reinforce", "vpg", "npg")
TOP = 5  # the study tables show this many of the best complete trials, and every trial enqueued or re-checked
FIRST = 3  # the seeds every re-check holds (100-102); some folders hold more, trained later to settle a choice


def load_trials(log: Path) -> list[FrozenTrial]:
    """:return: the trials of the study that the journal ``log`` holds, named after the file (``npg-Hopper-v4``)"""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(log)))
    return optuna.load_study(study_name=log.stem, storage=storage).trials


def score(trial: FrozenTrial) -> float:
    """:return: the trial's value, or for a pruned or failed trial its last reported evaluation (NaN if none)"""
    if trial.value is not None:
        return trial.value
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else math.nan


def minutes(trial: FrozenTrial) -> str:
    """:return: the trial's wall time from start to end in the journal, in minutes (empty if it has no end)"""
    if trial.datetime_start is None or trial.datetime_complete is None:
        return ""
    return f"{(trial.datetime_complete - trial.datetime_start).total_seconds() / 60:.0f}"


def study_block(trials: list[FrozenTrial], rechecked: set[int]) -> str:
    """
    :param trials: the study's trials
    :param rechecked: the numbers of the trials trained again on held-out seeds
    :return: a sentence of counts by state, then a table of the best complete trials, the enqueued and the re-checked
    """
    states = Counter(trial.state for trial in trials)
    counts = f"{len(trials)} trials: {states[TrialState.COMPLETE]} complete, {states[TrialState.PRUNED]} pruned"
    counts += f", {states[TrialState.FAIL]} failed (cut off, marked FAIL)"
    if states[TrialState.RUNNING]:
        counts += f", {states[TrialState.RUNNING]} still marked RUNNING"
    complete = sorted((trial for trial in trials if trial.state == TrialState.COMPLETE), key=lambda trial: -trial.value)
    best = {trial.number for trial in complete[:TOP]}
    shown = [
        trial for trial in trials if trial.number in best | rechecked or trial.system_attrs.get("fixed_params") is not None
    ]
    shown.sort(key=lambda trial: -score(trial) if not math.isnan(score(trial)) else math.inf)
    lines = [
        f"{counts}; the complete ones ended between {fmt(complete[-1].value)} and {fmt(complete[0].value)}. "
        f"The {TOP} best complete trials, and every trial enqueued by hand or re-checked:",
        "",
        "| trial | state | evaluations | last evaluation | minutes | enqueued | re-checked |",
        "|---|---|---|---|---|---|---|",
    ]
    for trial in shown:
        enqueued = "yes" if trial.system_attrs.get("fixed_params") is not None else ""
        lines.append(
            f"| {trial.number} | {trial.state.name.lower()} | {len(trial.intermediate_values)} | {fmt(score(trial))} "
            f"| {minutes(trial)} "
            f"| {enqueued} | {'yes' if trial.number in rechecked else ''} |"
        )
    return "\n".join(lines)


def seed_span(seeds: list[int]) -> str:
    """:return: ``100-105`` for consecutive seeds, else the seeds listed"""
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(seed) for seed in seeds)


def mean_std(values: pd.Series) -> str:
    """:return: mean ± sample standard deviation (ddof 1, as ``summary.csv``), the value alone for one run"""
    return f"{values.mean():.1f}" if len(values) == 1 else f"{values.mean():.1f} ± {values.std():.1f}"


def reached(runs: pd.DataFrame) -> str:
    """:return: how many runs reached the env's reward threshold, and the median step at which they first did"""
    steps = runs["steps_to_threshold"].dropna()
    median = f" (median {steps.median() / 1000:g}k steps)" if len(steps) else ""
    return f"{len(steps)} of {len(runs)}{median}"


def candidate_order(name: str) -> tuple[bool, int, str]:
    """:return: a sort key that puts ``entry`` folders first, then the trials by number (``trial_5`` before ``trial_5_lin``)"""
    number = re.match(r"trial_(\d+)", name)
    return number is not None, int(number.group(1)) if number else 0, name


def fmt(value: float) -> str:
    """:return: a return with one decimal, or in scientific notation when it is that close to zero"""
    return f"{value:.1e}" if 0 < abs(value) < 0.05 else f"{value:.1f}"


def recheck_block(folder: Path) -> str:
    """
    :param folder: ``docs/tuning/recheck/<algo>-<env>``, one comparison folder per candidate
    :return: a table with one row per candidate: its final return on each seed, and over the first three seeds
        and all it holds the mean ± std of the final return, the mean best evaluation, the threshold reached and
        the training time
    """
    names = [path.parent.name for path in folder.glob("*/runs.csv")]
    names.sort(key=candidate_order)
    runs = {name: pd.read_csv(folder / name / "runs.csv").sort_values("seed") for name in names}
    more = any(len(frame) > FIRST for frame in runs.values())
    threshold = not all(frame["reward_threshold"].isna().all() for frame in runs.values())
    header = ["candidate", "seeds", "final return, by seed", "final return, first 3 seeds"]
    header += ["final return, all seeds"] if more else []
    header += ["best evaluation, first 3 seeds (mean)"] + (["reached the threshold, first 3 seeds"] if threshold else [])
    header.append("minutes a run, first 3 seeds (mean)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, frame in runs.items():
        first = frame.head(FIRST)
        cells = [f"`{name}`", seed_span(list(frame["seed"])), ", ".join(f"{value:.1f}" for value in frame["final_return"])]
        cells.append(mean_std(first["final_return"]))
        cells += [mean_std(frame["final_return"]) if len(frame) > FIRST else ""] if more else []
        cells.append(f"{first['best_return'].mean():.1f}")
        cells += [reached(first)] if threshold else []
        cells.append(f"{first['wall_time_s'].mean() / 60:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tuning_blocks() -> dict[str, dict[str, str]]:
    """
    :return: for each page ``docs/tuning/<algo>.md``, its blocks by name: ``<env>-study`` for each study journal and
        ``<env>-recheck`` for each re-check folder of the algorithm
    """
    pages: dict[str, dict[str, str]] = {}
    for algo in ALGOS:
        blocks: dict[str, str] = {}
        for log in sorted(TUNING.glob(f"{algo}-*.log")):
            env = log.stem.removeprefix(f"{algo}-")
            trial_folders = (TUNING / "recheck" / log.stem).glob("trial_*")
            rechecked = {int(path.name[6:]) for path in trial_folders if path.name[6:].isdigit()}
            blocks[f"{env}-study"] = study_block(load_trials(log), rechecked)
        for folder in sorted((TUNING / "recheck").glob(f"{algo}-*")):
            blocks[f"{folder.name.removeprefix(f'{algo}-')}-recheck"] = recheck_block(folder)
        pages[f"docs/tuning/{algo}.md"] = blocks
    return pages
