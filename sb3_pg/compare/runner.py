"""
Running the grid: each run is rl-zoo3's ``train`` in a process of its own, several at once on this machine
(threads that each wait on one process) or as Ray tasks on a Ray cluster.

**Finished runs are skipped**: a run whose folder has ``result.json`` trained its whole budget.

**Interrupted runs** (no ``result.json``) start again when the comparison is run again:

- without checkpoints (``save_freq=-1``, the default) the run restarts cleanly: its zoo folders are deleted
  and it trains from step 0, so it is exactly the run an uninterrupted comparison would have made;
- with ``save_freq > 0``, rl-zoo3 writes ``rl_model_<steps>_steps.zip`` checkpoints and the run resumes from
  the latest one through the zoo's ``--trained-agent`` for the rest of the budget. rl-zoo3 then counts steps
  from zero again, so the comparison records where each segment started, shifts its evaluations, and
  rescales the zoo's linear schedules (``lin_<x>``) so that they continue where they stopped. The resumed run
  is close to, not identical with, an uninterrupted one: the random state, the environments' episodes under
  way and, with ``normalize``, the ``VecNormalize`` statistics (the zoo restores those of the best model, not
  those of the checkpoint) are not restored. ``segments.json`` names each segment's zoo folder as soon as the
  zoo creates it, so that the checkpoints of a run stopped at any moment (SIGTERM, Ctrl-C, a lost machine) are
  found.

**On a Ray cluster** (:func:`run_ray`) each attempt of a run is a task that trains in a folder of its own,
``<run>/attempts/<n>/`` when its node can write the run folder (a shared file system), a node-local folder
otherwise (or when ``SB3_PG_COMPARE_NODE_DIR`` names one), and sends the run's files back to the driver, which
alone writes the run folder. A task lost with its node (or its worker) is retried by the driver, up to
:data:`RAY_ATTEMPTS` tasks per run: the new attempt starts from a copy of the last attempt folder it can read, so
it resumes from that attempt's latest checkpoint (``save_freq``) on a shared file system, and restarts from step 0
on another node without one. A run's process dies with its task's worker (Linux), so a lost attempt does not
train on unseen. ``result.json`` records the Ray node that trained the run and the number of attempts.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sb3_pg.compare.grid import (
    ATTEMPTS_DIR,
    FAILED_FILE,
    LOG_FILE,
    RESULT_FILE,
    SEGMENTS_FILE,
    SPEC_FILE,
    RunSpec,
    attempt_dirs,
    is_finished,
    next_attempt_dir,
    read_json,
    write_json,
)
from sb3_pg.compare.progress import GridProgress
from sb3_pg.compare.runs import final_model_steps, latest_checkpoint, read_segments, zoo_dirs

# Hyperparameters that rl-zoo3 turns into schedules (``ExperimentManager._preprocess_schedules``)
_ZOO_SCHEDULES = ("learning_rate", "clip_range", "clip_range_vf", "delta_std")

# Ray tasks per run: a task lost with its node or worker is submitted again, up to this many in all
RAY_ATTEMPTS = 3
# A folder on each node in which Ray tasks train instead of the run folder, as on a cluster without a shared file
# system; passed from the driver's environment to the tasks
NODE_DIR_ENV = "SB3_PG_COMPARE_NODE_DIR"


@dataclass
class RunOutcome:
    """
    What became of one run.

    :param spec: the run
    :param status: ``"finished"``, ``"skipped"`` (finished earlier), ``"failed"`` or ``"cancelled"``
    :param message: for a failed run, why (the last line of its log)
    :param wall_time_s: wall-clock time of rl-zoo3's ``train`` (all segments)
    :param timesteps: steps trained
    :param steps_per_s: training steps per second of ``train``
    """

    spec: RunSpec
    status: str
    message: str = ""
    wall_time_s: float | None = None
    timesteps: int | None = None
    steps_per_s: float | None = None

    @property
    def log(self) -> str:
        """:return: the path of the run's log"""
        return str(Path(self.spec.run_dir) / LOG_FILE)

    def to_dict(self) -> dict[str, Any]:
        """:return: the outcome as JSON-compatible data"""
        return {
            "spec": self.spec.to_dict(),
            "status": self.status,
            "message": self.message,
            "wall_time_s": self.wall_time_s,
            "timesteps": self.timesteps,
            "steps_per_s": self.steps_per_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunOutcome":
        """:return: the outcome written by :meth:`to_dict`"""
        return cls(
            RunSpec.from_dict(data["spec"]),
            data["status"],
            data["message"],
            data["wall_time_s"],
            data["timesteps"],
            data.get("steps_per_s"),
        )


def _resumed_schedules(spec: RunSpec, offset: int) -> list[str]:
    """
    rl-zoo3's ``lin_<x>`` schedule decays from ``x`` to 0 over the steps of one ``learn()`` call. A run resumed at
    step ``k`` of ``N`` trains ``N - k`` steps in a new call; ``lin_<x (N - k) / N>`` over those steps is exactly the
    tail of the original schedule.

    :return: hyperparameter overrides that continue the run's linear schedules from step ``offset``
    """
    hyperparams = spec.trained_hyperparams()  # the file's entry, as the run started with it
    remaining = (spec.n_timesteps - offset) / spec.n_timesteps
    overrides = []
    for key in _ZOO_SCHEDULES:
        schedule = hyperparams.get(key)
        if isinstance(schedule, str) and schedule.startswith("lin_"):
            overrides.append(f"{key}:'lin_{float(schedule[len('lin_') :]) * remaining!r}'")
    return overrides


def _clean(run_dir: Path, algo: str) -> None:
    """Remove what an unfinished attempt left, so that the run restarts from scratch."""
    shutil.rmtree(run_dir / algo, ignore_errors=True)
    for path in [run_dir / SEGMENTS_FILE, run_dir / FAILED_FILE, run_dir / LOG_FILE, *run_dir.glob("timing_*.json")]:
        path.unlink(missing_ok=True)


def _new_zoo_dir(run_dir: Path, algo: str, known: set[str]) -> str | None:
    """
    :param run_dir: the run's folder
    :param algo: the run's algorithm
    :param known: zoo folders (relative to ``run_dir``) that belong to something else
    :return: the zoo folder of the latest training, relative to ``run_dir``: the newest one, since the zoo numbers
        its folders ``<env>_<i>`` in order, one per training; ``None`` while that is still one of ``known``
    """
    found = zoo_dirs(run_dir, algo)
    newest = str(found[-1].relative_to(run_dir)) if found else None
    return None if newest in known else newest


def _last_line(log: Path) -> str:
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def _child_env(num_threads: int) -> dict[str, str]:
    """
    The environment of a run's process: it imports what this process can (e.g. the module of a user's env), and
    its OpenMP / BLAS libraries use the run's threads, as on a Ray worker, so that a run gives the same result in
    a local process and in a Ray task.
    """
    env = dict(os.environ)
    paths = [path or os.getcwd() for path in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([*paths, *env.get("PYTHONPATH", "").split(os.pathsep)]))
    env["OMP_NUM_THREADS"] = str(num_threads)
    return env


def _die_with_parent() -> None:
    """In a run's process started by a Ray task: be killed when the task's worker dies (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)


def run_one(
    spec: RunSpec, cancel: threading.Event | None = None, new_session: bool = True, record: dict[str, Any] | None = None
) -> RunOutcome:
    """
    Train one run through rl-zoo3's ``train`` (in a new process), unless it has finished already.

    :param spec: the run
    :param cancel: when set, the run's process is terminated and the run is reported ``"cancelled"``
    :param new_session: start the process in a session of its own, so that a Ctrl-C in the terminal reaches
        the comparison only (rl-zoo3 would save a half-trained model as if training had ended); ``False`` in a Ray
        task, where the process is killed instead when the task's worker dies
    :param record: what to add to the segment's entry in ``segments.json`` and to ``result.json`` or
        ``failed.json`` (a Ray task's node and attempt)
    :return: what became of the run
    """
    record = record or {}
    run_dir = Path(spec.run_dir)
    if is_finished(run_dir):
        result = read_json(run_dir / RESULT_FILE) or {}
        return RunOutcome(spec, "skipped", "", result.get("wall_time_s"), result.get("timesteps"), result.get("steps_per_s"))
    run_dir.mkdir(parents=True, exist_ok=True)

    # A comparison stopped by an earlier version of this code may not have named its last segment's folder
    stopped = read_segments(run_dir)
    if stopped and not stopped[-1].get("dir"):
        stopped[-1]["dir"] = _new_zoo_dir(run_dir, spec.algo, {segment["dir"] for segment in stopped if segment.get("dir")})
        write_json(run_dir / SEGMENTS_FILE, stopped)
    checkpoint = latest_checkpoint(run_dir, spec.n_timesteps) if spec.save_freq > 0 else None
    if checkpoint is None:
        _clean(run_dir, spec.algo)
        segments: list[dict[str, Any]] = [{"dir": None, "offset": 0, **record}]
        trained_agent, extra_hyperparams = None, []
    else:
        segments = read_segments(run_dir)[: checkpoint.segment + 1]
        resumed_from = str(checkpoint.path.relative_to(run_dir))
        segments.append({"dir": None, "offset": checkpoint.steps, "resumed_from": resumed_from, **record})
        trained_agent, extra_hyperparams = str(checkpoint.path), _resumed_schedules(spec, checkpoint.steps)
    (run_dir / FAILED_FILE).unlink(missing_ok=True)
    write_json(run_dir / SPEC_FILE, spec.to_dict())
    write_json(run_dir / SEGMENTS_FILE, segments)

    offset = segments[-1]["offset"]
    timing_file = run_dir / f"timing_{len(segments) - 1}.json"
    timing_file.unlink(missing_ok=True)
    before = {str(path.relative_to(run_dir)) for path in zoo_dirs(run_dir, spec.algo)}
    argv = spec.zoo_argv(spec.n_timesteps - offset, trained_agent, extra_hyperparams)
    command = [sys.executable, "-m", "sb3_pg.compare._zoo_train", str(timing_file), *argv]
    with open(run_dir / LOG_FILE, "a") as log:
        log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} sb3_pg.compare: rl_zoo3.train {' '.join(argv)}\n")
        log.flush()
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_child_env(spec.num_threads),
            start_new_session=new_session,
            preexec_fn=None if new_session else _die_with_parent,
        )
        try:
            while True:
                try:
                    returncode = process.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if cancel is not None and cancel.is_set():
                        raise KeyboardInterrupt from None
                    # Named as soon as the zoo creates it: its checkpoints then survive any interruption
                    if not segments[-1]["dir"] and (new_dir := _new_zoo_dir(run_dir, spec.algo, before)):
                        segments[-1]["dir"] = new_dir
                        write_json(run_dir / SEGMENTS_FILE, segments)
        except BaseException:
            # Interrupted (Ctrl-C, a cancelled Ray task): stop the run's process, leave the run unfinished
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if cancel is not None and cancel.is_set():
                return RunOutcome(spec, "cancelled")
            raise

    segments[-1]["dir"] = _new_zoo_dir(run_dir, spec.algo, before)
    timing = read_json(timing_file)
    if timing is not None:
        segments[-1]["wall_time_s"] = timing["wall_time_s"]
    steps = final_model_steps(run_dir / segments[-1]["dir"]) if segments[-1]["dir"] and timing is not None else None
    segments[-1]["steps"] = steps
    write_json(run_dir / SEGMENTS_FILE, segments)

    message = ""
    if returncode < 0:
        message = f"killed by signal {signal.Signals(-returncode).name}"
    elif returncode != 0:
        message = f"exit code {returncode}: {_last_line(run_dir / LOG_FILE)}"
    elif steps is None:
        message = "rl-zoo3's train ended without saving a final model"
    elif offset + steps < spec.n_timesteps:
        message = f"training stopped after {offset + steps} of {spec.n_timesteps} steps"
    if message:
        write_json(run_dir / FAILED_FILE, {"returncode": returncode, "message": message, "log": LOG_FILE, **record})
        return RunOutcome(spec, "failed", message)

    assert steps is not None
    wall_time = sum(segment.get("wall_time_s") or 0.0 for segment in segments)
    trained = sum(segment.get("steps") or 0 for segment in segments)
    result = {
        "env_id": spec.env_id,
        "algo": spec.algo,
        "seed": spec.seed,
        "n_timesteps": spec.n_timesteps,
        "timesteps": offset + steps,
        "wall_time_s": wall_time,
        # Steps trained over all segments (including any that a resume repeated), per second of train()
        "steps_per_s": trained / wall_time if wall_time > 0 else None,
        "segments": len(segments),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        **record,
    }
    write_json(run_dir / RESULT_FILE, result)
    return RunOutcome(spec, "finished", "", wall_time, offset + steps, result["steps_per_s"])


def run_local(specs: list[RunSpec], workers: int, progress: GridProgress) -> list[RunOutcome]:
    """
    Run the grid in parallel processes on this machine.

    :param specs: the runs (finished ones included: they are skipped)
    :param workers: how many runs train at once
    :param progress: the live display
    :return: the outcome of each run
    """
    cancel = threading.Event()
    started: list[RunSpec] = []
    lock = threading.Lock()

    def job(spec: RunSpec) -> RunOutcome:
        with lock:
            started.append(spec)
        try:
            return run_one(spec, cancel)
        except Exception as error:  # in the comparison itself (a full disk, ...): this run fails, the others go on
            message = f"{type(error).__name__}: {error}"[:300]
            with contextlib.suppress(OSError):
                write_json(Path(spec.run_dir) / FAILED_FILE, {"returncode": None, "message": message})
            return RunOutcome(spec, "failed", message)

    outcomes = []
    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="sb3_pg-compare")
    try:
        pending = {pool.submit(job, spec) for spec in specs}
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            with lock:
                for spec in started:
                    progress.start(spec)
                started.clear()
            for future in done:
                outcome = future.result()
                outcomes.append(outcome)
                progress.finish(outcome)
            progress.refresh()
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return outcomes


def _run_remote(spec_data: dict[str, Any], attempt: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """
    A Ray task: one attempt of a run on a node of the cluster, in a folder of its own (see the module's notes).

    :param spec_data: the run (:meth:`RunSpec.to_dict`)
    :param attempt: how many tasks the driver has submitted for the run, this one included
    :return: the outcome and the run's files (checkpoints excepted), for the driver to write into the run folder
    """
    import ray

    spec = RunSpec.from_dict(spec_data)
    node_dir = os.environ.get(NODE_DIR_ENV)
    base = Path(spec.run_dir)
    work = next_attempt_dir(base)
    if not node_dir:
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError:  # this node cannot write the driver's folder
            node_dir = os.path.join(tempfile.gettempdir(), "sb3_pg_compare")
    if node_dir:
        base = Path(node_dir, *base.parts[1:])
        work = next_attempt_dir(base)
    earlier = [path for path in attempt_dirs(base) if path != work]
    if earlier:  # a lost attempt: continue from what it left (its checkpoints, or its result if it had finished)
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(earlier[-1], work, ignore=shutil.ignore_patterns(FAILED_FILE, "timing_*.json"))
    record = {"node_id": ray.get_runtime_context().get_node_id(), "attempts": attempt}
    outcome = run_one(replace(spec, run_dir=str(work)), new_session=False, record=record)
    files = {
        str(path.relative_to(work)): path.read_bytes()
        for path in work.rglob("*")
        if path.is_file() and not (path.name.startswith("rl_model_") and path.suffix == ".zip")
    }
    if node_dir and outcome.status != "failed":  # the driver has the files; a retry on another node starts over
        shutil.rmtree(base / ATTEMPTS_DIR, ignore_errors=True)
    return replace(outcome, status="finished" if outcome.status == "skipped" else outcome.status).to_dict(), files


def _store_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a Ray task's files into the run's folder, where they differ (nothing to do on a shared file system)."""
    for name, data in files.items():
        path = run_dir / name
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for marker, stale in ((RESULT_FILE, FAILED_FILE), (FAILED_FILE, RESULT_FILE)):
        if marker in files and stale not in files:
            (run_dir / stale).unlink(missing_ok=True)


def run_ray(specs: list[RunSpec], address: str, progress: GridProgress, attempts: int = RAY_ATTEMPTS) -> list[RunOutcome]:
    """
    Run the grid as Ray tasks (one CPU each) on an existing Ray cluster, each run in up to ``attempts`` tasks.

    :param specs: the runs still to train
    :param address: the cluster's address, as ``ray.init(address=...)`` takes it (``"auto"``, ``"host:6379"``,
        ``"ray://host:10001"``); ignored when Ray is already initialised in this process
    :param progress: the live display
    :param attempts: tasks per run at most: a task lost with its node or worker is submitted again until then
    :return: the outcome of each run
    """
    import ray
    from ray import exceptions

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    remote: Any = ray.remote(num_cpus=1, max_retries=0)(_run_remote)
    if NODE_DIR_ENV in os.environ:
        remote = remote.options(runtime_env={"env_vars": {NODE_DIR_ENV: os.environ[NODE_DIR_ENV]}})
    lost = (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError, exceptions.OutOfMemoryError)
    tries: dict[RunSpec, int] = {}
    refs: dict[Any, RunSpec] = {}

    def submit(spec: RunSpec) -> None:
        tries[spec] = tries.get(spec, 0) + 1
        # The run folder says what it holds while the run trains elsewhere (a changed command is then refused)
        write_json(Path(spec.run_dir) / SPEC_FILE, spec.to_dict())
        refs[remote.remote(spec.to_dict(), tries[spec])] = spec
        # A row once its first steps appear (a task may wait in Ray's queue); none without a shared file system
        progress.start(spec, show=False, run_dir=next_attempt_dir(spec.run_dir))

    for spec in specs:
        submit(spec)
    outcomes = []
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in done:
                spec = refs.pop(ref)
                try:
                    outcome_data, files = ray.get(ref)
                except Exception as error:  # the task itself failed (node lost, worker crashed, ...)
                    message = f"Ray task failed: {type(error).__name__}: {error}"[:300]
                    if isinstance(error, lost) and tries[spec] < attempts:
                        progress.console.print(
                            f"retrying {spec.label} (attempt {tries[spec] + 1} of {attempts}): {type(error).__name__}"
                        )
                        submit(spec)
                        continue
                    outcome = RunOutcome(spec, "failed", message)
                    write_json(
                        Path(spec.run_dir) / FAILED_FILE, {"returncode": None, "message": message, "attempts": tries[spec]}
                    )
                else:
                    _clean(Path(spec.run_dir), spec.algo)  # the run folder holds the attempt's files, nothing older
                    _store_files(Path(spec.run_dir), files)
                    outcome = RunOutcome.from_dict(outcome_data)
                    outcome.spec = spec
                    if outcome.status == "finished":
                        shutil.rmtree(Path(spec.run_dir) / ATTEMPTS_DIR, ignore_errors=True)
                outcomes.append(outcome)
                progress.finish(outcome)
            progress.refresh()
    except BaseException:
        for ref in refs:
            ray.cancel(ref)
        raise
    return outcomes
