"""
Reading a run's folder: the zoo's log folders of its segments, its evaluations, its progress.

A run that was resumed from a checkpoint has one zoo log folder per attempt ("segment"). rl-zoo3 restarts the
step count of a continued agent at zero, so ``segments.json`` records the step at which each segment started
(its ``offset``); evaluations of a segment after the step at which the next one took over are dropped.
"""

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sb3_pg.compare.grid import SEGMENTS_FILE, read_json

_ZOO_DIR = re.compile(r"^(?P<env>.+)_(?P<id>\d+)$")
_CHECKPOINT = re.compile(r"^rl_model_(?P<steps>\d+)_steps\.zip$")


def zoo_dirs(run_dir: str | os.PathLike, algo: str) -> list[Path]:
    """:return: rl-zoo3's log folders ``<run_dir>/<algo>/<env>_<i>`` of a run, by increasing ``i``"""
    root = Path(run_dir) / algo
    if not root.is_dir():
        return []
    found = [(int(match["id"]), path) for path in root.iterdir() if path.is_dir() and (match := _ZOO_DIR.match(path.name))]
    return [path for _, path in sorted(found)]


def read_segments(run_dir: str | os.PathLike) -> list[dict]:
    """:return: the segments of a run: ``{"dir": zoo folder relative to the run folder or None, "offset": step}``"""
    return read_json(Path(run_dir) / SEGMENTS_FILE) or []


def final_model_steps(zoo_dir: Path) -> int | None:
    """
    :param zoo_dir: a zoo log folder
    :return: ``num_timesteps`` of the model the zoo saved at the end of training, ``None`` if there is none
    """
    models = [path for path in zoo_dir.glob("*.zip") if path.name != "best_model.zip" and not _CHECKPOINT.match(path.name)]
    if len(models) != 1:
        return None
    import json

    with zipfile.ZipFile(models[0]) as archive:
        return int(json.loads(archive.read("data"))["num_timesteps"])


def _complete(checkpoint: Path) -> bool:
    """
    :return: whether a checkpoint was written to its end (its process may have been killed while writing it): a
        zip whose last directory is SB3's, with its ``data``; a partial file ends inside the torch archive it holds
    """
    try:
        with zipfile.ZipFile(checkpoint) as archive:
            return "data" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


@dataclass
class Checkpoint:
    """A checkpoint of a run: its file, the run's step count at it, and the segment that wrote it."""

    path: Path
    steps: int
    segment: int


def latest_checkpoint(run_dir: str | os.PathLike, n_timesteps: int) -> Checkpoint | None:
    """
    :param run_dir: a run folder
    :param n_timesteps: the run's budget
    :return: the checkpoint with the most steps (fewer than the budget) over the run's segments, if any
    """
    best = None
    for index, segment in enumerate(read_segments(run_dir)):
        if not segment.get("dir"):
            continue
        for path in (Path(run_dir) / segment["dir"]).glob("rl_model_*_steps.zip"):
            match = _CHECKPOINT.match(path.name)
            if match is None or not _complete(path):
                continue
            steps = segment["offset"] + int(match["steps"])
            if steps < n_timesteps and (best is None or steps > best.steps):
                best = Checkpoint(path, steps, index)
    return best


def load_evaluations(run_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """
    The periodic evaluations of a run, over all its segments.

    :param run_dir: a run folder
    :return: the arrays of the zoo's ``evaluations.npz`` (``timesteps``, ``results``, ``ep_lengths``: one row per
        evaluation, one column per episode), with ``timesteps`` counted from the start of the run
    """
    segments = [segment for segment in read_segments(run_dir) if segment.get("dir")]
    timesteps, results, ep_lengths = [], [], []
    for index, segment in enumerate(segments):
        path = Path(run_dir) / segment["dir"] / "evaluations.npz"
        if not path.is_file():
            continue
        with np.load(path) as data:
            steps = data["timesteps"] + segment["offset"]
            keep = steps <= segments[index + 1]["offset"] if index + 1 < len(segments) else np.ones(len(steps), bool)
            timesteps.append(steps[keep])
            results.append(data["results"][keep])
            ep_lengths.append(data["ep_lengths"][keep])
    if not timesteps:
        return {"timesteps": np.zeros(0, int), "results": np.zeros((0, 0)), "ep_lengths": np.zeros((0, 0), int)}
    return {
        "timesteps": np.concatenate(timesteps),
        "results": np.concatenate(results),
        "ep_lengths": np.concatenate(ep_lengths),
    }


class StepCounter:
    """
    How many steps a running run has trained: the start of its current segment plus the lengths of the episodes
    that its Monitor files (``<zoo folder>/<rank>.monitor.csv``) have recorded. Files are read incrementally.

    :param run_dir: a run folder
    :param algo: the run's algorithm
    """

    def __init__(self, run_dir: str | os.PathLike, algo: str):
        self.run_dir = Path(run_dir)
        self.algo = algo
        self._files: dict[Path, tuple[int, int]] = {}  # path -> (bytes read, steps in complete lines)

    def __call__(self) -> int:
        """:return: the steps trained so far (0 before the run has started)"""
        segments = read_segments(self.run_dir)
        offset = segments[-1]["offset"] if segments else 0
        if segments and segments[-1].get("dir"):
            current: Path | None = self.run_dir / segments[-1]["dir"]
        else:
            # The zoo folder of the segment under way is the one no earlier segment owns
            owned = {self.run_dir / segment["dir"] for segment in segments if segment.get("dir")}
            candidates = [path for path in zoo_dirs(self.run_dir, self.algo) if path not in owned]
            current = candidates[-1] if candidates else None
        if current is None:
            return offset
        return offset + sum(self._read(path) for path in current.glob("*.monitor.csv"))

    def _read(self, path: Path) -> int:
        position, steps = self._files.get(path, (0, 0))
        try:
            with open(path, "rb") as file:
                file.seek(position)
                chunk = file.read()
        except OSError:
            return steps
        complete = chunk[: chunk.rfind(b"\n") + 1]
        for line in complete.splitlines():
            columns = line.split(b",")
            if len(columns) > 1 and not line.startswith(b"#") and columns[1].isdigit():
                steps += int(columns[1])
        self._files[path] = (position + len(complete), steps)
        return steps
