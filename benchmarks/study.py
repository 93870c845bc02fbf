"""
What rl-zoo3 does not do for the studies of ``docs/``: a tuning study of ``benchmarks/tune.sh`` (its journal
``docs/tuning/<algo>-<env>.log``, the zoo's trial tables, its re-checks) and a sweep of comparison folders, one per
candidate (``docs/defaults/<candidate>/``, ``docs/timefeature/<arm>/``):

    python benchmarks/study.py entry ALGO ENV TRIAL             # the trial as rl-zoo3's --trial-id loads it, as an entry
    python benchmarks/study.py fail-running JOURNAL STUDY_NAME  # the trials killed workers left RUNNING: FAIL
    python benchmarks/study.py pack FOLDER [NAME ...]           # each study or candidate into <name>.tar.xz, CSVs updated
    python benchmarks/study.py unpack FOLDER NAME [NAME ...]    # back as it was, to resume or to read

Run ``fail-running`` when no worker of the study is running: Optuna's journal has no heartbeat, and rl-zoo3's
``--max-total-trials`` counts RUNNING trials, so a resumed study would stop short. A packed folder keeps one archive per
study or candidate and the CSVs its page is generated from: ``trials.csv`` and ``runs.csv`` (the re-checks) in
``docs/tuning``, the candidates' ``runs.csv``, ``summary.csv`` and ``evaluations.csv`` elsewhere, each row with its
``study`` or ``candidate``. Models, Monitor files and ``train.log`` stay unpacked.
"""

import argparse
import math
import os
import tarfile
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "docs" / "tuning"
CSVS = ("runs.csv", "summary.csv", "evaluations.csv")  # a comparison folder's tables
UNPACKED = (".zip", ".monitor.csv", "train.log")


def storage(journal: Path) -> JournalStorage:
    """:return: the study storage of a journal file, which must exist"""
    if not journal.is_file():
        raise FileNotFoundError(f"no journal file {journal}")
    return JournalStorage(JournalFileBackend(str(journal)))


def fail_running_trials(journal: Path, study_name: str) -> list[int]:
    """:return: the numbers of the trials of ``study_name`` in ``journal`` that were RUNNING and are now FAIL"""
    journal_storage = storage(journal)
    study_id = journal_storage.get_study_id_from_name(study_name)
    running = [t.number for t in journal_storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))]
    for number in running:
        trial_id = journal_storage.get_trial_id_from_study_id_trial_number(study_id, number)
        journal_storage.set_trial_state_values(trial_id, TrialState.FAIL)
    return running


def zoo_text(value: Any) -> str:
    """:return: ``value`` as the zoo's yml files write a ``policy_kwargs``: ``dict(...)``, ``nn.Tanh``, 6 digits"""
    if isinstance(value, dict):
        return f"dict({', '.join(f'{key}={zoo_text(item)}' for key, item in value.items())})"
    if isinstance(value, type):
        return f"nn.{value.__name__}"
    return repr(float(f"{value:.6g}") if isinstance(value, float) else value)


def trial_entry(algo: str, env: str, number: int) -> str:
    """:return: trial ``number`` of the study ``<algo>-<env>`` as a yml entry, after a comment with its state and value"""
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER

    from sb3_pg import zoo

    name = f"{algo}-{env}"
    trial = optuna.load_study(study_name=name, storage=storage(ROOT / "docs" / "tuning" / f"{name}.log")).trials[number]
    zoo.register()
    entry = yaml.safe_load((ROOT / "hyperparams" / f"{algo}.yml").read_text())[env]
    params = HYPERPARAMS_CONVERTER[algo](trial.params)
    entry |= {key: float(f"{value:.6g}") if isinstance(value, float) else value for key, value in params.items()}
    if "policy_kwargs" in params:
        entry["policy_kwargs"] = zoo_text(params["policy_kwargs"])
    return f"# trial {trial.number}: {trial.state.name}, value {trial.value}\n" + yaml.safe_dump({env: entry}, sort_keys=False)


def members(folder: Path, name: str) -> list[Path]:
    """:return: what the archive ``<folder>/<name>.tar.xz`` holds: a tuning study's journal, trial tables and re-checks, or
    a candidate's comparison folder"""
    if folder.resolve() != TUNING.resolve():
        return [folder / name]
    algo, env = name.split("-", 1)
    return [folder / f"{name}.log", *sorted((folder / "logs" / algo).glob(f"report_{env}_*.csv")), folder / "recheck" / name]


def trial_rows(name: str, journal: Path) -> pd.DataFrame:
    """:return: a row per trial of the study ``name`` in ``journal``: what the tuning pages show of it"""
    rows = []
    for trial in optuna.load_study(study_name=name, storage=storage(journal)).trials:
        steps, start, end = trial.intermediate_values, trial.datetime_start, trial.datetime_complete
        minutes = (end - start).total_seconds() / 60 if start and end else math.nan
        last = steps[max(steps)] if steps else math.nan
        enqueued = trial.system_attrs.get("fixed_params") is not None
        rows.append([name, trial.number, trial.state.name.lower(), len(steps), trial.value, last, minutes, enqueued])
    columns = ["study", "trial", "state", "evaluations", "value", "last_evaluation", "minutes", "enqueued"]
    return pd.DataFrame(rows, columns=columns)


def read(path: Path) -> pd.DataFrame:
    """:return: a CSV's cells as written (text), so that it is written back the same"""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def update_csv(path: Path, key: str, name: str, frame: pd.DataFrame) -> None:
    """Replace the rows of ``name`` (column ``key``) in the CSV ``path`` by ``frame``'s."""
    frame = frame.assign(**{key: name})[[key, *[column for column in frame if column != key]]]
    if path.is_file() and len(old := read(path)):
        frame = pd.concat([old[old[key] != name], frame], ignore_index=True).sort_values(key, kind="stable")
    frame.to_csv(path, index=False)


def plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """:return: ``info`` without its time and owner, so that the same files pack into the same archive"""
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def pack(folder: Path, name: str) -> None:
    """Update the CSVs of ``folder`` with ``name``'s tables, then move ``name`` into ``<folder>/<name>.tar.xz``."""
    if folder.resolve() == TUNING.resolve():
        update_csv(folder / "trials.csv", "study", name, trial_rows(name, folder / f"{name}.log"))
        rechecks = sorted((folder / "recheck" / name).glob("*/runs.csv"))
        runs = [read(path).assign(candidate=path.parent.name) for path in rechecks]
        runs = [frame[["candidate", *frame.columns[:-1]]] for frame in runs]
        update_csv(folder / "runs.csv", "study", name, pd.concat(runs, ignore_index=True) if runs else pd.DataFrame())
    else:
        for csv in CSVS:
            update_csv(folder / csv, "candidate", name, read(folder / name / csv))
    paths = [path for root in members(folder, name) for path in [root, *sorted(root.rglob("*"))] if path.is_file()]
    with tarfile.open(tmp := folder / f".{name}.tar.xz.tmp", "w:xz") as tar:
        for path in paths:
            if not path.name.endswith(UNPACKED):
                tar.add(path, path.relative_to(folder).as_posix(), filter=plain)
    os.replace(tmp, folder / f"{name}.tar.xz")
    for path in paths:
        path.unlink() if not path.name.endswith(UNPACKED) else None
    for root in members(folder, name):
        for path in [*sorted(root.rglob("*"), reverse=True), root] if root.is_dir() else []:
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def unpack(folder: Path, name: str) -> None:
    """Extract ``<folder>/<name>.tar.xz`` where it was packed from, but for the files that are there already: those
    are newer (a study or sweep interrupted after it was unpacked)."""
    with tarfile.open(folder / f"{name}.tar.xz") as tar:
        tar.extractall(folder, members=[m for m in tar if not (folder / m.name).exists()], filter="data")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    entry = commands.add_parser("entry", help="print a trial of docs/tuning/ALGO-ENV.log as an entry")
    entry.add_argument("algo")
    entry.add_argument("env")
    entry.add_argument("trial", type=int)
    fail = commands.add_parser("fail-running", help="mark the RUNNING trials of a study FAIL")
    fail.add_argument("journal", type=Path)
    fail.add_argument("study_name")
    for command, said in (("pack", "pack studies or candidates (default: every one unpacked)"), ("unpack", "unpack them")):
        packing = commands.add_parser(command, help=said)
        packing.add_argument("folder", type=Path, help="docs/tuning, or a folder of comparison folders")
        packing.add_argument("names", nargs="*" if command == "pack" else "+", help="<algo>-<env> or the candidate")
    args = parser.parse_args()
    if args.command == "entry":
        print(trial_entry(args.algo, args.env, args.trial), end="")
    elif args.command in ("pack", "unpack"):
        found = (
            [path.stem for path in args.folder.glob("*.log")]
            if args.folder.resolve() == TUNING.resolve()
            else [path.parent.name for path in args.folder.glob("*/runs.csv")]
        )
        for name in args.names or sorted(found):
            pack(args.folder, name) if args.command == "pack" else unpack(args.folder, name)
            print(f"{args.command}ed {args.folder / name}")
    else:
        failed = fail_running_trials(args.journal, args.study_name)
        print(f"{args.study_name}: trials {failed} marked FAIL" if failed else f"{args.study_name}: no RUNNING trial")


if __name__ == "__main__":
    main()
