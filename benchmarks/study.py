"""
The two things rl-zoo3 does not do for a study of ``benchmarks/tune.sh`` (a journal ``docs/tuning/<algo>-<env>.log``):

    python benchmarks/study.py entry ALGO ENV TRIAL             # the trial as rl-zoo3's --trial-id loads it, as an entry
    python benchmarks/study.py fail-running JOURNAL STUDY_NAME  # the trials killed workers left RUNNING: FAIL

Run ``fail-running`` when no worker of the study is running: Optuna's journal has no heartbeat, and rl-zoo3's
``--max-total-trials`` counts RUNNING trials, so a resumed study would stop short.
"""

import argparse
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parent.parent


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
    args = parser.parse_args()
    if args.command == "entry":
        print(trial_entry(args.algo, args.env, args.trial), end="")
    else:
        failed = fail_running_trials(args.journal, args.study_name)
        print(f"{args.study_name}: trials {failed} marked FAIL" if failed else f"{args.study_name}: no RUNNING trial")


if __name__ == "__main__":
    main()
