"""
The comparison grid: one :class:`RunSpec` per (environment, algorithm, seed), its step budget, and its folder.

A run's folder, ``<out>/<env>/<algo>/seed_<seed>/``, holds:

- ``spec.json``: the run's settings (written before it starts);
- ``train.log``: what rl-zoo3's ``train`` printed (stdout and stderr of every attempt);
- ``<algo>/<env>_<i>/``: rl-zoo3's own log folder (``evaluations.npz``, ``*.monitor.csv``, the model,
  checkpoints, ``<env>/config.yml``); one per segment when a run was resumed from a checkpoint;
- ``segments.json``: those folders and the step at which each one started;
- ``result.json``: written last, when the run trained its whole budget: the marker of a finished run;
- ``failed.json``: written instead when it crashed;
- ``attempts/<n>/``: on a Ray cluster, the folder in which the n-th task of the run trained, when its node could
  write there (a run folder of its own, so that two attempts never write one folder); removed once the run
  finished, the task having sent its files to the driver, which alone writes the run folder.
"""

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from sb3_pg.zoo import hyperparams_file

# The zoo's algorithms whose hyperparameter files give the default step budget
BUDGET_SOURCES = ("ppo", "trpo", "max")

# Settings that change what a run measures: a finished run with other values belongs to another experiment
EXPERIMENT_FIELDS = ("n_timesteps", "eval_freq", "eval_episodes", "n_eval_envs", "hyperparams", "zoo_args", "entry")

SPEC_FILE = "spec.json"
RESULT_FILE = "result.json"
FAILED_FILE = "failed.json"
SEGMENTS_FILE = "segments.json"
LOG_FILE = "train.log"
COMPARISON_FILE = "comparison.json"
ATTEMPTS_DIR = "attempts"


@dataclass(frozen=True)
class RunSpec:
    """
    One training run of the comparison: what is passed to rl-zoo3's ``train``.

    :param env_id: Gymnasium environment id
    :param algo: zoo algorithm name (``reinforce``, ``vpg``, ``npg``, ``ppo``, ``trpo``, ...)
    :param seed: random seed of the run
    :param n_timesteps: training budget in environment steps (``-n``)
    :param run_dir: folder of the run (the zoo's ``--log-folder``)
    :param conf_file: hyperparameter file (the zoo's ``--conf-file``)
    :param eval_freq: evaluate every ``eval_freq`` environment steps (the zoo's ``--eval-freq``)
    :param eval_episodes: episodes per evaluation (``--eval-episodes``)
    :param n_eval_envs: evaluation environments (``--n-eval-envs``)
    :param save_freq: checkpoint every ``save_freq`` steps (``--save-freq``); ``-1``: no checkpoint, so an
        interrupted run restarts from scratch
    :param hyperparams: hyperparameter overrides, ``key:value`` as the zoo's ``--hyperparams`` takes them
    :param gym_packages: modules to import so that they register environments (``--gym-packages``)
    :param zoo_args: further arguments passed verbatim to rl-zoo3's ``train``
    :param device: PyTorch device (``--device``)
    :param num_threads: PyTorch threads of the run (``--num-threads``)
    :param entry: the hyperparameters the run trains with, as JSON: the environment's entry of ``conf_file`` (or
        its ``default`` entry) without ``n_timesteps``, which the budget replaces (:func:`conf_entry`). A finished
        run is not reused once the file's entry has changed.
    """

    env_id: str
    algo: str
    seed: int
    n_timesteps: int
    run_dir: str
    conf_file: str
    eval_freq: int
    eval_episodes: int = 10
    n_eval_envs: int = 5
    save_freq: int = -1
    hyperparams: tuple[str, ...] = ()
    gym_packages: tuple[str, ...] = ()
    zoo_args: tuple[str, ...] = ()
    device: str = "cpu"
    num_threads: int = 1
    entry: str = ""

    @property
    def label(self) -> str:
        """:return: a short name for messages, e.g. ``ppo CartPole-v1 seed 0``"""
        return f"{self.algo} {self.env_id} seed {self.seed}"

    def zoo_argv(
        self, n_timesteps: int | None = None, trained_agent: str | None = None, extra_hyperparams: Sequence[str] = ()
    ) -> list[str]:
        """
        :param n_timesteps: steps to train in this attempt (default: the whole budget)
        :param trained_agent: checkpoint to continue from (the zoo's ``-i``)
        :param extra_hyperparams: overrides applied after ``hyperparams``
        :return: the command-line arguments of rl-zoo3's ``train`` for this run
        """
        argv = [
            "--algo", self.algo,
            "--env", self.env_id,
            "--seed", str(self.seed),
            "-n", str(self.n_timesteps if n_timesteps is None else n_timesteps),
            "-f", self.run_dir,
            "--conf-file", self.conf_file,
            "--eval-freq", str(self.eval_freq),
            "--eval-episodes", str(self.eval_episodes),
            "--n-eval-envs", str(self.n_eval_envs),
            "--save-freq", str(self.save_freq),
            "--device", self.device,
            "--num-threads", str(self.num_threads),
        ]  # fmt: skip
        if trained_agent is not None:
            argv += ["--trained-agent", trained_agent]
        overrides = [*self.hyperparams, *extra_hyperparams]
        if overrides:
            argv += ["--hyperparams", *overrides]
        if self.gym_packages:
            argv += ["--gym-packages", *self.gym_packages]
        return argv + list(self.zoo_args)

    def trained_hyperparams(self) -> dict[str, Any]:
        """
        :return: the hyperparameters the run trains with: its entry, then its overrides, each value evaluated as
            the zoo's ``--hyperparams`` does (a hyperparameter neither sets keeps the algorithm's default)
        """
        hyperparams = json.loads(self.entry) if self.entry else {}
        for item in self.hyperparams:
            key, _, value = item.partition(":")
            hyperparams[key] = eval(value)  # as the zoo's --hyperparams does
        return hyperparams

    def to_dict(self) -> dict[str, Any]:
        """:return: the spec as JSON-compatible data"""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], run_dir: str | None = None) -> "RunSpec":
        """
        :param data: the output of :meth:`to_dict`
        :param run_dir: where the run is now, if its folder was moved
        :return: the spec
        """
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value for key, value in data.items() if key in known
        }
        if run_dir is not None:
            values["run_dir"] = run_dir
        return cls(**values)


def env_dirname(env_id: str) -> str:
    """:return: the folder name of an environment id (``/`` and ``:`` are not allowed in one)"""
    return env_id.replace("/", "-").replace(":", "-")


def run_dir_of(out_dir: str | os.PathLike, env_id: str, algo: str, seed: int) -> Path:
    """:return: the folder of the run ``(env_id, algo, seed)`` in the comparison folder ``out_dir``"""
    return Path(out_dir).absolute() / env_dirname(env_id) / algo / f"seed_{seed}"


def _env_entry(config_file: str, env_id: str, default: bool = False) -> dict[str, Any] | None:
    """:return: the entry of ``env_id`` in a zoo yml file (or, with ``default``, its ``default`` entry), if any"""
    if not config_file.endswith((".yml", ".yaml")) or not os.path.isfile(config_file):
        return None
    with open(config_file) as file:
        entries = yaml.safe_load(file) or {}
    entry = entries.get(env_id, entries.get("default") if default else None)
    return entry if isinstance(entry, dict) else None


def conf_entry(config_file: str, env_id: str) -> str:
    """
    :param config_file: a zoo hyperparameter file (``.yml``; anything else gives ``""``)
    :param env_id: environment id
    :return: the entry rl-zoo3 trains ``env_id`` with (its own, else ``default``) without ``n_timesteps``, as
        canonical JSON; ``""`` when the file cannot be read or has neither
    """
    entry = _env_entry(config_file, env_id, default=True)
    if entry is None:
        return ""
    return json.dumps({key: value for key, value in entry.items() if key != "n_timesteps"}, sort_keys=True, default=str)


def zoo_budget(env_id: str, source: str = "max") -> int:
    """
    The default step budget of an environment: ``n_timesteps`` of its own entry in rl-zoo3's ``ppo.yml``
    (``source="ppo"``), ``trpo.yml`` (``"trpo"``) or the larger of the two (``"max"``, the default). When the
    chosen file has no entry for the environment, the other file's is used. A file's ``default`` entry is not a
    budget for an environment it does not know: then pass ``n_timesteps`` yourself.

    Why the larger by default: the two files agree on most environments (CartPole-v1: 1e5) and differ on a few
    (Acrobot-v1: PPO 1e6, TRPO 1e5; LunarLander-v3: 1e6, 2e5; MountainCarContinuous-v0: 2e4, 5e4). With the
    larger, neither reference algorithm trains fewer steps than the zoo gives it (its zoo results stay
    comparable), and the budget is the ``n_timesteps`` of sb3_pg's own files, which use the same rule.

    :param env_id: Gymnasium environment id
    :param source: ``"ppo"``, ``"trpo"`` or ``"max"``
    :return: the budget in environment steps
    """
    if source not in BUDGET_SOURCES:
        raise ValueError(f"budget source must be one of {BUDGET_SOURCES}, got {source!r}")
    budgets = {}
    for algo in ("ppo", "trpo"):
        entry = _env_entry(hyperparams_file(algo), env_id)
        if entry is not None and "n_timesteps" in entry:
            budgets[algo] = int(float(entry["n_timesteps"]))
    if not budgets:
        raise ValueError(f"rl-zoo3's ppo.yml and trpo.yml have no budget for {env_id}: pass n_timesteps (-n)")
    if source == "max":
        return max(budgets.values())
    return budgets.get(source, next(iter(budgets.values())))


def default_eval_freq(n_timesteps: int, n_evaluations: int = 20) -> int:
    """:return: an evaluation frequency that evaluates ``n_evaluations`` times over the budget, the last at its end"""
    return max(n_timesteps // n_evaluations, 1)


def parse_hyperparams(items: Iterable[str], algos: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """
    Split hyperparameter overrides by algorithm.

    :param items: ``key:value`` (for every algorithm) or ``algo:key:value`` (for ``algo`` only), the value a
        Python expression as for the zoo's ``--hyperparams``
    :param algos: the algorithms of the grid
    :return: the overrides of each algorithm, in the zoo's ``key:value`` form
    """
    overrides: dict[str, list[str]] = {algo: [] for algo in algos}
    for item in items:
        head, sep, rest = item.partition(":")
        if not sep:
            raise ValueError(f"a hyperparameter override is key:value or algo:key:value, got {item!r}")
        if head in overrides and ":" in rest:
            overrides[head].append(rest)
        else:
            for algo in algos:
                overrides[algo].append(item)
    return {algo: tuple(values) for algo, values in overrides.items()}


@dataclass
class Grid:
    """
    The comparison: every (environment, algorithm, seed), in the order they are run (seed by seed, so that an
    interrupted comparison has the same seeds for every algorithm).

    :param out_dir: comparison folder
    :param envs: environment ids
    :param algos: zoo algorithm names
    :param seeds: the seeds
    :param budgets: step budget of each environment
    :param specs: the runs
    :param notes: how the budgets were chosen, for the report
    """

    out_dir: Path
    envs: list[str]
    algos: list[str]
    seeds: list[int]
    budgets: dict[str, int]
    specs: list[RunSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def make_grid(
    envs: Sequence[str],
    algos: Sequence[str],
    seeds: int | Sequence[int] = 5,
    out_dir: str | os.PathLike = "runs",
    n_timesteps: int | None = None,
    budget_from: str = "max",
    eval_freq: int | None = None,
    eval_episodes: int = 10,
    n_eval_envs: int = 5,
    save_freq: int = -1,
    hyperparams: Iterable[str] = (),
    conf_files: dict[str, str] | None = None,
    gym_packages: Sequence[str] = (),
    zoo_args: Sequence[str] = (),
    device: str = "cpu",
    num_threads: int = 1,
) -> Grid:
    """
    Build the grid of runs. Every algorithm on an environment gets the same budget: ``n_timesteps`` when given,
    else :func:`zoo_budget`.

    :param envs: environment ids
    :param algos: zoo algorithm names
    :param seeds: the number of seeds (``0 .. seeds - 1``) or the seeds themselves
    :param out_dir: comparison folder
    :param n_timesteps: step budget of every run; ``None``: the zoo's budget of each environment
    :param budget_from: which zoo file gives the default budget (see :func:`zoo_budget`)
    :param eval_freq: evaluate every ``eval_freq`` steps; ``None``: 20 evaluations over the budget
    :param eval_episodes: episodes per evaluation
    :param n_eval_envs: evaluation environments
    :param save_freq: checkpoint every ``save_freq`` steps, so that an interrupted run resumes; ``-1``: none
    :param hyperparams: overrides, ``key:value`` or ``algo:key:value`` (see :func:`parse_hyperparams`)
    :param conf_files: hyperparameter file of some algorithms, instead of :func:`sb3_pg.zoo.hyperparams_file`
    :param gym_packages: modules to import in each run, so that they register environments
    :param zoo_args: further arguments for rl-zoo3's ``train``
    :param device: PyTorch device of the runs
    :param num_threads: PyTorch threads of each run
    :return: the grid
    """
    if not envs or not algos:
        raise ValueError("the comparison needs at least one environment and one algorithm")
    for name, values in (("envs", envs), ("algos", algos)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} has duplicates: {list(values)}")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(seed) for seed in seeds]
    if not seed_list:
        raise ValueError("the comparison needs at least one seed")
    if n_timesteps is not None and n_timesteps < 1:
        raise ValueError(f"n_timesteps must be positive, got {n_timesteps}")
    conf_files = dict(conf_files or {})
    overrides = parse_hyperparams(hyperparams, algos)

    grid = Grid(Path(out_dir).absolute(), list(envs), list(algos), seed_list, {})
    for env_id in envs:
        if n_timesteps is not None:
            grid.budgets[env_id] = n_timesteps
        else:
            grid.budgets[env_id] = zoo_budget(env_id, budget_from)
            ppo, trpo = (_env_entry(hyperparams_file(algo), env_id) for algo in ("ppo", "trpo"))
            if ppo and trpo and float(ppo["n_timesteps"]) != float(trpo["n_timesteps"]):
                grid.notes.append(
                    f"{env_id}: rl-zoo3's budgets differ (ppo {int(float(ppo['n_timesteps'])):,}, "
                    f"trpo {int(float(trpo['n_timesteps'])):,}); every algorithm trains {grid.budgets[env_id]:,} "
                    f"steps (budget from {budget_from})"
                )
    conf_paths = {algo: str(Path(conf_files.get(algo, hyperparams_file(algo))).absolute()) for algo in algos}
    for env_id in envs:
        budget = grid.budgets[env_id]
        entries = {algo: conf_entry(conf_paths[algo], env_id) for algo in algos}
        for seed in seed_list:
            for algo in algos:
                grid.specs.append(
                    RunSpec(
                        env_id=env_id,
                        algo=algo,
                        seed=seed,
                        n_timesteps=budget,
                        run_dir=str(run_dir_of(grid.out_dir, env_id, algo, seed)),
                        conf_file=conf_paths[algo],
                        eval_freq=eval_freq if eval_freq is not None else default_eval_freq(budget),
                        eval_episodes=eval_episodes,
                        n_eval_envs=n_eval_envs,
                        save_freq=save_freq,
                        hyperparams=overrides[algo],
                        gym_packages=tuple(gym_packages),
                        zoo_args=tuple(zoo_args),
                        device=device,
                        num_threads=num_threads,
                        entry=entries[algo],
                    )
                )
    return grid


def read_json(path: Path) -> Any:
    """:return: the content of a JSON file, ``None`` if it is missing or unreadable"""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: Any) -> None:
    """Write a JSON file atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def attempt_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """:return: the attempt folders ``<run_dir>/attempts/<n>`` of a run, by increasing ``n``"""
    root = Path(run_dir) / ATTEMPTS_DIR
    found = [path for path in root.iterdir() if path.name.isdigit()] if root.is_dir() else []
    return sorted(found, key=lambda path: int(path.name))


def next_attempt_dir(run_dir: str | os.PathLike) -> Path:
    """:return: the folder of the run's next attempt: ``<run_dir>/attempts/<n + 1>`` after the last one ``n``"""
    found = attempt_dirs(run_dir)
    return Path(run_dir) / ATTEMPTS_DIR / str(int(found[-1].name) + 1 if found else 1)


def is_finished(run_dir: str | os.PathLike) -> bool:
    """:return: whether the run in ``run_dir`` trained its whole budget"""
    return (Path(run_dir) / RESULT_FILE).is_file()


def _entry_change(saved: str, current: str) -> str:
    """:return: which hyperparameters of a file's entry differ between two :func:`conf_entry` values"""
    try:
        before, after = json.loads(saved or "{}"), json.loads(current or "{}")
    except ValueError:
        return "hyperparameter entry changed"
    keys = sorted(key for key in {*before, *after} if before.get(key) != after.get(key))
    return "hyperparameter entry changed: " + ", ".join(f"{key} {before.get(key)!r} -> {after.get(key)!r}" for key in keys)


def check_same_experiment(spec: RunSpec) -> str | None:
    """
    :param spec: a run about to start or be skipped
    :return: why the run already in its folder is another experiment, or ``None`` if there is none or it is the same
    """
    saved = read_json(Path(spec.run_dir) / SPEC_FILE)
    if saved is None:
        return None
    current = spec.to_dict()
    changed = [key for key in EXPERIMENT_FIELDS if key in saved and saved[key] != current[key]]
    if not changed:
        return None
    details = ", ".join(
        _entry_change(saved[key], current[key]) if key == "entry" else f"{key}: {saved[key]!r} there, {current[key]!r} now"
        for key in changed
    )
    return f"{spec.run_dir} holds a run with other settings ({details}): use another output folder or delete it"
