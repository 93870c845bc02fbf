"""
The runs (:class:`RunSpec`, :func:`make_grid`), their budgets, and the files of a comparison folder, which no other module
names (docs/benchmark.md, "Outputs"). While a run trains, its folder also holds ``segments.json`` (each segment's zoo
folder and first step), ``timing_<i>.json``, the zoo's folders with their checkpoints and, on Ray, ``attempts/<n>/``.
"""

import argparse
import fnmatch
import importlib
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml
from huggingface_sb3 import EnvironmentName
from rl_zoo3.utils import StoreDict, get_latest_run_id

from sb3_pg.zoo import FAST_ALGOS, FILE_ALGOS, hyperparams_file

BUDGET_SOURCES = ("ppo", "trpo", "max")
# Settings that change what a run measures: a finished run with other values belongs to another experiment
EXPERIMENT_FIELDS = ("n_timesteps", "eval_freq", "eval_episodes", "n_eval_envs", "hyperparams", "zoo_args", "entry")
SPEC_FILE, RESULT_FILE, FAILED_FILE, SEGMENTS_FILE = "spec.json", "result.json", "failed.json", "segments.json"
LOG_FILE, ATTEMPTS_DIR, COMPARISON_FILE, ARCHIVE = "train.log", "attempts", "comparison.json", "runs.tar.xz"
OLD_ARCHIVE = "zoo_runs.tar.xz"  # what 0.2.0 packed (the zoo folders alone): read, and merged into ARCHIVE when packing
UNPACKED = (".zip", ".monitor.csv", LOG_FILE)  # what packing leaves in the run folders: models, Monitor files, console log
REPORT_FILE, RUNS_CSV, EVALUATIONS_CSV, SUMMARY_CSV = "report.md", "runs.csv", "evaluations.csv", "summary.csv"


@dataclass(frozen=True)
class RunSpec:
    """One run of the comparison: the arguments of rl-zoo3's ``train`` (``--algo``, ``--env``, ``--seed``, ``-n``, ...)."""

    env_id: str
    algo: str  # the zoo's name
    seed: int
    n_timesteps: int  # the budget
    run_dir: str  # the zoo's --log-folder
    conf_file: str  # hyperparameter file
    eval_freq: int
    eval_episodes: int = 10
    n_eval_envs: int = 5
    save_freq: int = -1  # checkpoints every save_freq steps, so that an interrupted run resumes (-1: it restarts)
    hyperparams: tuple[str, ...] = ()  # overrides, key:value as the zoo's --hyperparams takes them
    gym_packages: tuple[str, ...] = ()  # modules that register environments
    zoo_args: tuple[str, ...] = ()  # further arguments of rl-zoo3's train
    device: str = "cpu"
    num_threads: int = 1
    entry: str = ""  # the environment's entry in conf_file without n_timesteps, as JSON (conf_entry)

    @property
    def label(self) -> str:
        """:return: a short name for messages, e.g. ``ppo CartPole-v1 seed 0``"""
        return f"{self.algo} {self.env_id} seed {self.seed}"

    def zoo_argv(self, n_timesteps: int, trained_agent: str | None = None, extra_hyperparams: Sequence[str] = ()) -> list[str]:
        """:return: the arguments of rl-zoo3's ``train``: ``n_timesteps`` steps, from ``trained_agent`` if given"""
        argv = ["--algo", self.algo, "--env", self.env_id, "--seed", str(self.seed), "-n", str(n_timesteps)]
        argv += ["-f", self.run_dir, "--conf-file", self.conf_file, "--eval-freq", str(self.eval_freq)]
        argv += ["--eval-episodes", str(self.eval_episodes), "--n-eval-envs", str(self.n_eval_envs)]
        argv += ["--save-freq", str(self.save_freq), "--device", self.device, "--num-threads", str(self.num_threads)]
        argv += ["--trained-agent", trained_agent] if trained_agent else []
        argv += ["--hyperparams", *self.hyperparams, *extra_hyperparams] if self.hyperparams or extra_hyperparams else []
        return argv + (["--gym-packages", *self.gym_packages] if self.gym_packages else []) + list(self.zoo_args)

    def trained_hyperparams(self) -> dict[str, Any]:
        """:return: the run's entry, then its overrides, evaluated by the zoo's ``--hyperparams`` (``StoreDict``)"""
        overrides = argparse.Namespace(values={})
        StoreDict([], "values")(None, overrides, list(self.hyperparams))
        return {**(json.loads(self.entry) if self.entry else {}), **overrides.values}

    def to_dict(self) -> dict[str, Any]:
        """:return: the spec as JSON-compatible data"""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], run_dir: str | None = None) -> "RunSpec":
        """:return: the spec of :meth:`to_dict`'s ``data``, in ``run_dir`` if the folder was moved"""
        values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        values |= {"run_dir": run_dir} if run_dir else {}
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


def env_dirname(env_id: str) -> str:
    """:return: the folder name of an environment id (``/`` and ``:`` are not allowed in one)"""
    return env_id.replace("/", "-").replace(":", "-")


def run_dir_of(out_dir: str | os.PathLike, env_id: str, algo: str, seed: int) -> Path:
    """:return: the folder of the run ``(env_id, algo, seed)`` in the comparison folder ``out_dir``"""
    return Path(out_dir).absolute() / env_dirname(env_id) / algo / f"seed_{seed}"


def curves_png(out_dir: Path, env_id: str) -> Path:
    """:return: the learning-curve figure of an environment"""
    return out_dir / f"learning_curves_{env_dirname(env_id)}.png"


def _env_entry(config_file: str, env_id: str, default: bool = False) -> dict[str, Any] | None:
    """:return: the entry of ``env_id`` in a zoo yml file (or, with ``default``, its ``default`` entry), if any"""
    if not config_file.endswith((".yml", ".yaml")) or not os.path.isfile(config_file):
        return None
    entries = yaml.safe_load(Path(config_file).read_text()) or {}
    entry = entries.get(env_id, entries.get("default") if default else None)
    return entry if isinstance(entry, dict) else None


def conf_entry(config_file: str, env_id: str) -> str:
    """:return: the entry rl-zoo3 trains ``env_id`` with (its own, else ``default``) without ``n_timesteps``, as JSON"""
    entry = _env_entry(config_file, env_id, default=True) or {}
    return json.dumps({k: v for k, v in entry.items() if k != "n_timesteps"}, sort_keys=True, default=str) if entry else ""


def _zoo_budgets(env_id: str) -> dict[str, int]:
    """:return: ``n_timesteps`` of ``env_id`` in rl-zoo3's ``ppo.yml`` and ``trpo.yml``, where it has an entry"""
    entries = {algo: _env_entry(hyperparams_file(algo), env_id) or {} for algo in ("ppo", "trpo")}
    return {algo: int(float(entry["n_timesteps"])) for algo, entry in entries.items() if "n_timesteps" in entry}


def zoo_budget(env_id: str, source: str = "max") -> int:
    """:return: ``n_timesteps`` of ``env_id`` in rl-zoo3's ``ppo.yml``, ``trpo.yml`` or the larger (``max``), else the other"""
    if source not in BUDGET_SOURCES:
        raise ValueError(f"budget source must be one of {BUDGET_SOURCES}, got {source!r}")
    if not (budgets := _zoo_budgets(env_id)):
        raise ValueError(f"rl-zoo3's ppo.yml and trpo.yml have no budget for {env_id}: pass n_timesteps (-n)")
    return max(budgets.values()) if source == "max" else budgets.get(source, next(iter(budgets.values())))


def parse_hyperparams(items: Iterable[str], algos: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """:return: the overrides of each algorithm, from ``key:value`` (every algorithm) or ``algo:key:value`` items"""
    overrides: dict[str, list[str]] = {algo: [] for algo in algos}
    for item in items:
        head, sep, rest = item.partition(":")
        if not sep:
            raise ValueError(f"a hyperparameter override is key:value or algo:key:value, got {item!r}")
        for algo in [head] if head in overrides and ":" in rest else algos:
            overrides[algo].append(rest if algo == head else item)
    return {algo: tuple(values) for algo, values in overrides.items()}


def check_names(envs: Sequence[str], algos: Sequence[str], gym_packages: Sequence[str] = ()) -> None:
    """
    Check, before anything starts, that rl-zoo3's ``train`` knows every algorithm name and environment id: the
    environments registered by gymnasium, by rl-zoo3 (``rl_zoo3.import_envs``) and by ``gym_packages``.

    :raise ValueError: naming every unknown one: the valid algorithm names, gymnasium's suggestion for an environment
    """
    import rl_zoo3.import_envs  # noqa: F401  (the environments rl-zoo3's train registers)
    from rl_zoo3.utils import ALGOS

    problems = []
    valid = sorted({*ALGOS, *FILE_ALGOS, *FAST_ALGOS})
    if unknown := [algo for algo in algos if algo not in valid]:
        problems.append(f"unknown algorithm {', '.join(map(repr, unknown))} (--algo): valid names are {', '.join(valid)}")
    for package in gym_packages:
        try:
            importlib.import_module(package)
        except ImportError as error:
            problems.append(f"--gym-packages {package}: {error}")
    for env_id in envs:
        try:
            gym.spec(env_id)
        except Exception as error:  # gymnasium names the id and suggests the nearest registered one
            problems.append(f"unknown environment {env_id!r} (--env): {error}")
    if problems:
        raise ValueError("\n".join(problems))


@dataclass
class Grid:
    """The runs (:attr:`specs`), seed by seed so that an interrupted comparison has the same seeds for every algorithm."""

    out_dir: Path
    envs: list[str]
    algos: list[str]
    budgets: dict[str, int]
    specs: list[RunSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the budgets were chosen, for the report


def make_grid(
    envs: Sequence[str],
    algos: Sequence[str],
    seeds: int | Sequence[int] = 5,
    out_dir: str | os.PathLike = "runs",
    n_timesteps: int | None = None,
    budget_from: str = "max",
    eval_freq: int | None = None,
    conf_files: dict[str, str] | None = None,
    hyperparams: Iterable[str] = (),
    **settings: Any,
) -> Grid:
    """
    :return: the grid of ``seeds`` (their number or the seeds) in the comparison folder ``out_dir``; ``n_timesteps``
        defaults to :func:`zoo_budget`, ``eval_freq`` to 20 evaluations, ``conf_files`` (by algorithm) to the zoo's files;
        ``hyperparams`` are ``key:value`` or ``algo:key:value``; ``settings`` are the other :class:`RunSpec` fields
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(seed) for seed in seeds]
    if not envs or not algos or not seed_list:
        raise ValueError("the comparison needs at least one environment, one algorithm and one seed")
    for name, values in (("envs", envs), ("algos", algos)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} has duplicates: {list(values)}")
    if n_timesteps is not None and n_timesteps < 1:
        raise ValueError(f"n_timesteps must be positive, got {n_timesteps}")
    check_names(envs, algos, settings.get("gym_packages", ()))
    fixed: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value for key, value in settings.items()}
    overrides = parse_hyperparams(hyperparams, algos)
    grid = Grid(Path(out_dir).absolute(), list(envs), list(algos), {})
    conf_paths = {algo: str(Path((conf_files or {}).get(algo, hyperparams_file(algo))).absolute()) for algo in algos}
    for env_id in envs:
        budget = grid.budgets[env_id] = n_timesteps or zoo_budget(env_id, budget_from)
        if n_timesteps is None and len(set((zoo := _zoo_budgets(env_id)).values())) == 2:
            grid.notes.append(
                f"{env_id}: rl-zoo3's budgets differ (ppo {zoo['ppo']:,}, trpo {zoo['trpo']:,}); every algorithm trains "
                f"{budget:,} steps (budget from {budget_from})"
            )
        freq = eval_freq or max(budget // 20, 1)
        entries = {algo: conf_entry(conf_paths[algo], env_id) for algo in algos}
        for seed in seed_list:
            for algo in algos:
                run_dir = str(run_dir_of(out_dir, env_id, algo, seed))
                run_settings = {**fixed, "hyperparams": overrides[algo], "entry": entries[algo]}
                grid.specs.append(RunSpec(env_id, algo, seed, budget, run_dir, conf_paths[algo], freq, **run_settings))
    return grid


def read_json(path: Path) -> Any:
    """:return: the content of a JSON file, ``None`` if it is missing or unreadable"""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: Any) -> None:
    """Write a JSON file atomically, each list of numbers on one line."""
    text = json.dumps(data, indent=2, sort_keys=True)
    text = re.sub(r"(?<=\d),\n\s+(?=-?\d)", ", ", re.sub(r"(?<=\[)\n\s+(?=-?\d)|(?<=\d)\n\s+(?=\])", "", text))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def check_same_experiment(spec: RunSpec) -> str | None:
    """:return: why the run already in the folder of ``spec`` is another experiment, ``None`` if it is not"""
    saved, now = read_json(Path(spec.run_dir) / SPEC_FILE) or {}, spec.to_dict()
    changed = [key for key in EXPERIMENT_FIELDS if saved.get(key, now[key]) != now[key]]
    details = [f"{key}: {saved[key]!r} there, {now[key]!r} now" for key in changed if key != "entry"]
    if "entry" in changed:
        before, after = json.loads(saved["entry"] or "{}"), json.loads(now["entry"] or "{}")
        keys = [key for key in sorted({*before, *after}) if before.get(key) != after.get(key)]
        diff = [f"{key} {before.get(key)!r} -> {after.get(key)!r}" for key in keys]
        details.append("hyperparameter entry changed: " + ", ".join(diff))
    if changed:
        return f"{spec.run_dir} holds a run with other settings ({', '.join(details)}): use another output folder or delete it"
    return None


def attempt_dir(run_dir: str | os.PathLike, offset: int = 1) -> Path:
    """:return: ``<run_dir>/attempts/<n + offset>``, ``n`` the last Ray attempt (0 if none): 1 the next, 0 the last"""
    root = Path(run_dir) / ATTEMPTS_DIR
    return root / str(max([int(path.name) for path in root.glob("*") if path.name.isdigit()], default=0) + offset)


def read_segments(run_dir: Path) -> list[dict[str, Any]]:
    """:return: the segments of an unfinished run: ``{"dir": its zoo folder (relative), "offset": its first step}``"""
    return read_json(run_dir / SEGMENTS_FILE) or []


def new_segment(run_dir: Path, spec: RunSpec, offset: int, **record: Any) -> dict[str, Any]:
    """:return: the next segment, in the folder the zoo will make next (``<env>_<k + 1>``, ``get_latest_run_id``)"""
    name = EnvironmentName(spec.env_id)
    return {"dir": f"{spec.algo}/{name}_{get_latest_run_id(str(run_dir / spec.algo), name) + 1}", "offset": offset, **record}


def timing_file(run_dir: Path, segment: int) -> Path:
    """:return: where the process of a segment writes its start and wall-clock time"""
    return run_dir / f"timing_{segment}.json"


def clean(run_dir: Path, algo: str) -> None:
    """Remove what unfinished attempts left, so that the run restarts from scratch."""
    shutil.rmtree(run_dir / algo, ignore_errors=True)
    for path in [run_dir / SEGMENTS_FILE, run_dir / FAILED_FILE, run_dir / LOG_FILE, *run_dir.glob("timing_*.json")]:
        path.unlink(missing_ok=True)


def model_steps(path: Path) -> int | None:
    """:return: ``num_timesteps`` of a saved model (SB3's ``load_from_zip_file``), ``None`` if it is missing or partial"""
    from stable_baselines3.common.save_util import load_from_zip_file

    try:
        return int(load_from_zip_file(path, device="cpu")[0]["num_timesteps"])  # type: ignore[index]
    except Exception:
        return None


def final_model(run_dir: Path, spec: RunSpec, segment: dict[str, Any]) -> Path:
    """:return: the model rl-zoo3 saves at the end of a segment"""
    return run_dir / segment["dir"] / f"{EnvironmentName(spec.env_id)}.zip"


def latest_checkpoint(run_dir: str | os.PathLike, n_timesteps: int) -> tuple[Path, int, int] | None:
    """:return: ``(file, step of the run, segment)`` of the newest complete checkpoint before the budget, if any"""
    segments = read_segments(Path(run_dir))
    found = [(path, i) for i, seg in enumerate(segments) for path in Path(run_dir, seg["dir"] or "-").glob("rl_model_*.zip")]
    for path, index in sorted(found, key=lambda item: item[0].stat().st_mtime, reverse=True):
        if (steps := model_steps(path)) is not None and segments[index]["offset"] + steps < n_timesteps:
            return path, segments[index]["offset"] + steps, index
    return None


def read_curve(run_dir: Path, segments: list[dict[str, Any]]) -> dict[str, list]:
    """:return: ``evaluations.npz`` over ``segments`` (steps from the run's start, those after the next segment's dropped)"""
    curve: dict[str, list] = {"timesteps": [], "results": [], "ep_length_mean": []}
    for index, segment in enumerate(segments):
        if (path := run_dir / (segment.get("dir") or "-") / "evaluations.npz").is_file():
            with np.load(path) as data:
                steps = data["timesteps"] + segment["offset"]
                keep = steps <= (segments[index + 1]["offset"] if index + 1 < len(segments) else np.inf)
                curve["timesteps"] += steps[keep].tolist()
                curve["results"] += data["results"][keep].tolist()
                curve["ep_length_mean"] += data["ep_lengths"][keep].mean(axis=1).tolist()
    return curve


def finish(run_dir: Path, result: dict[str, Any]) -> None:
    """Write ``result.json`` with the run's curve and segments (with their start), and drop the in-progress files."""
    for index, segment in enumerate(result["segments"]):
        segment.setdefault("started", (read_json(timing_file(run_dir, index)) or {}).get("started"))
    write_json(run_dir / RESULT_FILE, {**result, "evaluations": read_curve(run_dir, result["segments"])})
    for path in [run_dir / SEGMENTS_FILE, *run_dir.glob("timing_*.json")]:
        path.unlink(missing_ok=True)


def read_archive(env_dir: Path, names: str = "*") -> dict[str, bytes]:
    """:return: the files packed in the archive of ``env_dir`` whose name (``<algo>/seed_<n>/...``) matches ``names``"""
    members: dict[str, bytes] = {}
    for path in (env_dir / OLD_ARCHIVE, env_dir / ARCHIVE):  # the newer archive wins
        if path.is_file():
            with tarfile.open(path) as tar:
                for member in tar:
                    if member.isfile() and fnmatch.fnmatch(member.name, names):
                        members[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return members


def find_runs(out_dir: Path) -> Iterator[tuple[RunSpec, dict[str, Any] | None, dict[str, Any] | None]]:
    """:return: ``(spec, result, failed)`` of every run of a comparison, in its folder or packed, in the folders' order"""
    records: dict[Path, dict[str, Any]] = {}
    for env_dir in sorted({path.parent for name in (ARCHIVE, OLD_ARCHIVE) for path in out_dir.glob(f"*/{name}")}):
        for name, data in read_archive(env_dir, "*/seed_*/*.json").items():
            if name.count("/") == 2:  # spec.json, result.json of <algo>/seed_<n>
                records.setdefault(env_dir / Path(name).parent, {})[Path(name).name] = json.loads(data)
    for path in out_dir.glob(f"*/*/seed_*/{SPEC_FILE}"):  # a run in its folder: unpacked to resume, or not packed yet
        records[path.parent] = {name: read_json(path.parent / name) for name in (SPEC_FILE, RESULT_FILE, FAILED_FILE)}
    for run_dir, files in sorted(records.items()):
        if files.get(SPEC_FILE) is not None:
            yield RunSpec.from_dict(files[SPEC_FILE], str(run_dir)), files.get(RESULT_FILE), files.get(FAILED_FILE)


def unpack_records(env_dir: Path) -> None:
    """Write the ``spec.json`` and ``result.json`` of the packed runs of ``env_dir`` back into their folders, where missing,
    so that training again skips the finished runs and checks that they are the same experiment."""
    for name, data in read_archive(env_dir, "*/seed_*/*.json").items():
        if name.count("/") == 2 and not (path := env_dir / name).exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def pack(env_dir: Path) -> None:
    """
    Once every run of ``env_dir`` has finished, move the files of its run folders (``spec.json``, ``result.json`` and the
    zoo's folders) into its archive, ``<env>/runs.tar.xz``, beside the runs packed before; models, Monitor files and
    ``train.log`` stay in the folders.
    """
    runs = [path.parent for path in env_dir.glob(f"*/seed_*/{SPEC_FILE}")]
    if not runs or not all((run_dir / RESULT_FILE).is_file() for run_dir in runs):
        return
    found = [path for run_dir in runs for path in sorted(run_dir.rglob("*")) if path.is_file()]
    new = {path.relative_to(env_dir).as_posix(): path for path in found if not path.name.endswith(UNPACKED)}
    before = read_archive(env_dir)
    members = before | {name: path.read_bytes() for name, path in new.items()}
    if members != before or (env_dir / OLD_ARCHIVE).is_file():  # records unpacked to resume, unchanged: nothing to write
        with tarfile.open(tmp := env_dir / f".{ARCHIVE}.{os.getpid()}", "w:xz") as tar:
            for name, data in sorted(members.items()):
                (info := tarfile.TarInfo(name)).size = len(data)
                tar.addfile(info, io.BytesIO(data))
        os.replace(tmp, env_dir / ARCHIVE)
        (env_dir / OLD_ARCHIVE).unlink(missing_ok=True)
    for path in new.values():
        path.unlink()
    for folder in [path for run_dir in runs for path in sorted(run_dir.rglob("*"), reverse=True)] + runs:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
