"""
Mark the trials left RUNNING in a tuning study by stopped workers as FAIL, so that the study can go on.

A worker of ``benchmarks/tune.sh`` that is killed mid-trial (SIGTERM, a machine taken back) leaves its trial
RUNNING in the study's journal for good: Optuna records no heartbeat there. rl-zoo3's ``--max-total-trials``
counts RUNNING trials with the finished ones, so a resumed study would stop short by one trial per killed worker,
and the trials table would list trials that never ended. Run this when no worker of the study is running (it
cannot tell a stopped worker's trial from a live one's), then start the workers again:

    python benchmarks/fail_running_trials.py docs/tuning/npg-LunarLander-v3.log npg-LunarLander-v3
"""

import argparse
from pathlib import Path

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState


def fail_running_trials(journal: Path, study_name: str) -> list[int]:
    """
    :param journal: the study's journal file (``--storage`` of ``tune.sh``)
    :param study_name: the study's name (``--study-name``)
    :return: the numbers of the trials that were RUNNING and are now FAIL
    """
    if not journal.is_file():
        raise FileNotFoundError(f"no journal file {journal}")
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study_id = storage.get_study_id_from_name(study_name)
    running = [trial.number for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))]
    for number in running:
        storage.set_trial_state_values(storage.get_trial_id_from_study_id_trial_number(study_id, number), TrialState.FAIL)
    return running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("journal", type=Path, help="the study's journal file")
    parser.add_argument("study_name", help="the study's name")
    args = parser.parse_args()
    failed = fail_running_trials(args.journal, args.study_name)
    print(f"{args.study_name}: trials {failed} marked FAIL" if failed else f"{args.study_name}: no RUNNING trial")


if __name__ == "__main__":
    main()
