"""
Print a trial of a study made by ``benchmarks/tune.sh`` as an entry of ``hyperparams/<algo>.yml``: the file's
entry for the environment, updated with the trial's hyperparameters as rl-zoo3's ``--trial-id`` would load
them (the sampler's converter), in the zoo's format.

    python benchmarks/trial_entry.py ALGO ENV TRIAL       # from the repository root
"""

import argparse
from pathlib import Path
from typing import Any

import optuna
import yaml

from sb3_pg import zoo

ROOT = Path(__file__).resolve().parent.parent


def zoo_value(key: str, value: Any) -> Any:
    """:return: ``value`` as the zoo's yml files write it (``policy_kwargs`` as a string, floats rounded)"""
    if key == "policy_kwargs":
        parts = []
        for name, item in value.items():
            if name == "activation_fn":
                parts.append(f"activation_fn=nn.{item.__name__}")
            elif isinstance(item, dict):
                parts.append(f"{name}=dict({', '.join(f'{k}={v!r}' for k, v in item.items())})")
            else:
                parts.append(f"{name}={zoo_value(name, item)!r}")
        return f"dict({', '.join(parts)})"
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("algo", choices=zoo.NEW_ALGOS)
    parser.add_argument("env")
    parser.add_argument("trial", type=int)
    args = parser.parse_args()

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(  # type: ignore[attr-defined]
            str(ROOT / "docs" / "tuning" / f"{args.algo}-{args.env}.log")
        )
    )
    trial = optuna.load_study(study_name=f"{args.algo}-{args.env}", storage=storage).trials[args.trial]
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER

    zoo.register()
    sampled = HYPERPARAMS_CONVERTER[args.algo](trial.params)
    entry = yaml.safe_load((ROOT / "hyperparams" / f"{args.algo}.yml").read_text())[args.env]
    entry.update({key: zoo_value(key, value) for key, value in sampled.items()})
    print(f"# trial {trial.number}: {trial.state.name}, value {trial.value}")
    print(yaml.safe_dump({args.env: entry}, sort_keys=False), end="")


if __name__ == "__main__":
    main()
