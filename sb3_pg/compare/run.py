"""
Training the runs, each rl-zoo3's ``train`` in a process of its own: several at once on this machine (:func:`run_local`)
or as Ray tasks (:func:`run_ray`), retried when lost with their node. The caller is told through :class:`Callbacks`.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rl_zoo3.exp_manager import ExperimentManager
from rl_zoo3.utils import SimpleLinearSchedule as Linear

from sb3_pg.compare import spec as files
from sb3_pg.compare.spec import RunSpec

RAY_ATTEMPTS = 3
NODE_DIR_ENV = "SB3_PG_COMPARE_NODE_DIR"


@dataclass
class RunOutcome:
    """What became of a run: ``status`` ``"finished"``, ``"skipped"`` (finished earlier), or ``"failed"``."""

    spec: RunSpec
    status: str
    message: str = ""  # why it failed
    wall_time_s: float | None = None  # of rl-zoo3's train(), all segments
    timesteps: int | None = None
    steps_per_s: float | None = None


@dataclass
class Callbacks:
    """What the caller (the display) is told: a run starts (from its thread), a run ended, a note."""

    on_start: Callable[[RunSpec], None] = lambda spec: None
    on_end: Callable[[RunOutcome], None] = lambda outcome: None
    on_note: Callable[[str], None] = lambda message: None


def _resume_point(spec: RunSpec, run_dir: Path) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """
    :return: the segments, the checkpoint to continue from (the latest, with ``save_freq``; else the run restarts from
        scratch) and the overrides that continue the ``lin_<x>`` schedules: ``lin_<x (N - k) / N>`` after ``k`` of ``N`` steps
    """
    if (checkpoint := files.latest_checkpoint(run_dir, spec.n_timesteps) if spec.save_freq > 0 else None) is None:
        files.clean(run_dir, spec.algo)
        return [files.new_segment(run_dir, spec, 0)], None, []
    path, steps, index = checkpoint
    schedules = ExperimentManager._preprocess_schedules(spec.trained_hyperparams())
    rest = (spec.n_timesteps - steps) / spec.n_timesteps
    lin = [f"{key}:'lin_{value.initial_value * rest!r}'" for key, value in schedules.items() if isinstance(value, Linear)]
    segment = files.new_segment(run_dir, spec, steps, resumed_from=str(path.relative_to(run_dir)))
    return [*files.read_segments(run_dir)[: index + 1], segment], str(path), lin


def run_one(spec: RunSpec, cancel: threading.Event | None = None, ray: dict[str, Any] | None = None) -> RunOutcome:
    """
    Train a run (unless it finished already) in a new process: in a session of its own, so that a Ctrl-C does not make the
    zoo save a half-trained model, or, in a Ray task (``ray``: its node and attempt), dying with the task's worker.
    """
    run_dir, record, cancel = Path(spec.run_dir), ray or {}, cancel or threading.Event()
    if (result := files.read_json(run_dir / files.RESULT_FILE)) is not None:
        return RunOutcome(spec, "skipped", "", result["wall_time_s"], result["timesteps"], result.get("steps_per_s"))
    run_dir.mkdir(parents=True, exist_ok=True)
    segments, trained_agent, overrides = _resume_point(spec, run_dir)
    segment = segments[-1] = {**segments[-1], **record}
    (run_dir / files.FAILED_FILE).unlink(missing_ok=True)
    files.write_json(run_dir / files.SPEC_FILE, spec.to_dict())
    files.write_json(run_dir / files.SEGMENTS_FILE, segments)
    timing = files.timing_file(run_dir, len(segments) - 1)
    argv = spec.zoo_argv(spec.n_timesteps - segment["offset"], trained_agent, overrides)
    # The run's process imports what this one can (a user's environment) and uses its threads, as on a Ray worker
    paths = [path or os.getcwd() for path in sys.path] + os.environ.get("PYTHONPATH", "").split(os.pathsep)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), "OMP_NUM_THREADS": str(spec.num_threads)}
    with open(run_dir / files.LOG_FILE, "a") as log:
        print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} sb3_pg.compare: rl_zoo3.train {' '.join(argv)}", file=log, flush=True)
        command = [sys.executable, "-m", "sb3_pg.compare._zoo_train", str(timing), *argv]
        if ray:  # the process dies with the task's worker (Linux's PR_SET_PDEATHSIG)
            prctl = getattr(ctypes.CDLL(None), "prctl", None)
            own: dict[str, Any] = {"preexec_fn": prctl and (lambda: prctl(1, signal.SIGKILL))}
        else:
            own = {"start_new_session": True}
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, **own)
        try:
            while process.poll() is None:
                if cancel.wait(0.5):
                    raise KeyboardInterrupt
        except BaseException:  # Ctrl-C, a cancelled task: stop the process (without the zoo saving), leave the run unfinished
            process.kill()
            process.wait()
            raise

    wall_time = (files.read_json(timing) or {}).get("wall_time_s")
    steps = files.model_steps(files.final_model(run_dir, spec, segment)) if wall_time is not None else None
    segment.update(wall_time_s=wall_time, steps=steps)
    files.write_json(run_dir / files.SEGMENTS_FILE, segments)
    message, code = "", process.returncode
    if code != 0:
        lines = [line.strip() for line in (run_dir / files.LOG_FILE).read_text(errors="replace").splitlines() if line.strip()]
        message = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}: {lines[-1][:300]}"
    elif steps is None:
        message = "rl-zoo3's train ended without saving a final model"
    elif segment["offset"] + steps < spec.n_timesteps:
        message = f"training stopped after {segment['offset'] + steps} of {spec.n_timesteps} steps"
    if message:
        return _fail(spec, message, returncode=code, log=files.LOG_FILE, **record)
    wall_time = sum(seg.get("wall_time_s") or 0.0 for seg in segments)
    # Steps trained over all segments (including any that a resume repeated), per second of train()
    rate = sum(seg.get("steps") or 0 for seg in segments) / wall_time if wall_time > 0 else None
    result = {"env_id": spec.env_id, "algo": spec.algo, "seed": spec.seed, "n_timesteps": spec.n_timesteps, **record}
    result |= {"timesteps": segment["offset"] + steps, "wall_time_s": wall_time, "steps_per_s": rate, "segments": segments}
    files.finish(run_dir, {**result, "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
    return RunOutcome(spec, "finished", "", wall_time, result["timesteps"], rate)


def _fail(spec: RunSpec, message: str, **record: Any) -> RunOutcome:
    """:return: a run that failed outside rl-zoo3 (a full disk, a lost Ray task), with its ``failed.json``"""
    with contextlib.suppress(OSError):
        files.write_json(Path(spec.run_dir) / files.FAILED_FILE, {"returncode": None, "message": message[:300], **record})
    return RunOutcome(spec, "failed", message[:300])


def run_local(specs: list[RunSpec], workers: int, callbacks: Callbacks | None = None) -> list[RunOutcome]:
    """:return: the outcomes of ``specs``, ``workers`` at once on this machine; one crashing does not stop the others"""
    hooks, cancel, outcomes = callbacks or Callbacks(), threading.Event(), []

    def job(spec: RunSpec) -> RunOutcome:
        hooks.on_start(spec)
        try:
            return run_one(spec, cancel)
        except Exception as error:
            return _fail(spec, f"{type(error).__name__}: {error}")

    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="sb3_pg-compare")
    try:
        for future in as_completed([pool.submit(job, spec) for spec in specs]):
            outcomes.append(future.result())
            hooks.on_end(outcomes[-1])
    finally:  # after an interruption, the runs under way are stopped
        cancel.set()
        pool.shutdown(wait=True, cancel_futures=True)
    return outcomes


def _run_remote(spec: RunSpec, attempt: int) -> tuple[RunOutcome, dict[str, bytes]]:
    """A Ray task: one attempt of a run in a folder of its own; :return: its outcome and files (checkpoints excepted)"""
    import ray

    node_dir, base = os.environ.get(NODE_DIR_ENV), Path(spec.run_dir)
    try:
        if not node_dir:
            files.attempt_dir(base).mkdir(parents=True, exist_ok=True)
    except OSError:  # this node cannot write the driver's folder
        node_dir = os.path.join(tempfile.gettempdir(), "sb3_pg_compare")
    if node_dir:
        base = Path(node_dir, *base.parts[1:])
        files.attempt_dir(base).mkdir(parents=True, exist_ok=True)
    work, earlier = files.attempt_dir(base, 0), files.attempt_dir(base, -1)
    if earlier.is_dir():  # a lost attempt: continue from what it left (its checkpoints, or its result)
        shutil.rmtree(work)
        shutil.copytree(earlier, work, ignore=shutil.ignore_patterns(files.FAILED_FILE, "timing_*.json"))
    record = {"node_id": ray.get_runtime_context().get_node_id(), "attempts": attempt}
    outcome = run_one(replace(spec, run_dir=str(work)), ray=record)
    sent = {str(path.relative_to(work)): path.read_bytes() for path in work.rglob("*") if path.is_file()}
    sent = {name: data for name, data in sent.items() if "rl_model_" not in name}  # checkpoints stay
    if node_dir and outcome.status != "failed":  # the driver has the files; a retry on another node starts over
        shutil.rmtree(base / files.ATTEMPTS_DIR, ignore_errors=True)
    return replace(outcome, spec=spec, status="finished" if outcome.status == "skipped" else outcome.status), sent


def store_files(run_dir: Path, sent: dict[str, bytes]) -> None:
    """Write the files a Ray task sent into the run folder."""
    for name, data in sent.items():
        (path := run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run_ray(specs: list[RunSpec], address: str, callbacks: Callbacks | None = None, attempts: int = RAY_ATTEMPTS) -> list:
    """
    :return: the outcomes of ``specs`` as Ray tasks (one CPU each) on the cluster at ``address`` (if Ray is not initialised),
        a task lost with its node or worker submitted again, up to ``attempts`` tasks per run
    """
    import ray
    from ray import exceptions

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    remote: Any = ray.remote(num_cpus=1, max_retries=0)(_run_remote)
    if NODE_DIR_ENV in os.environ:
        remote = remote.options(runtime_env={"env_vars": {NODE_DIR_ENV: os.environ[NODE_DIR_ENV]}})
    lost = (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError, exceptions.OutOfMemoryError)
    hooks, tries, refs, outcomes = callbacks or Callbacks(), dict.fromkeys(specs, 0), {}, []

    def submit(spec: RunSpec) -> None:
        tries[spec] += 1
        # The run folder says what it holds while the run trains elsewhere (a changed command is then refused)
        files.write_json(Path(spec.run_dir) / files.SPEC_FILE, spec.to_dict())
        refs[remote.remote(spec, tries[spec])] = spec
        hooks.on_start(spec)

    for spec in specs:
        submit(spec)
    try:
        while refs:
            for ref in ray.wait(list(refs), num_returns=1, timeout=1.0)[0]:
                spec = refs.pop(ref)
                try:
                    outcome, sent = ray.get(ref)
                except Exception as error:  # the task itself failed (node lost, worker crashed, ...)
                    if isinstance(error, lost) and tries[spec] < attempts:
                        why = f"(attempt {tries[spec] + 1} of {attempts}): {type(error).__name__}"
                        hooks.on_note(f"retrying {spec.label} {why}")
                        submit(spec)
                        continue
                    outcome = _fail(spec, f"Ray task failed: {type(error).__name__}: {error}", attempts=tries[spec])
                else:
                    files.clean(Path(spec.run_dir), spec.algo)  # the run folder holds the attempt's files, nothing older
                    store_files(Path(spec.run_dir), sent)
                    if outcome.status == "finished":
                        shutil.rmtree(Path(spec.run_dir) / files.ATTEMPTS_DIR, ignore_errors=True)
                outcomes.append(outcome)
                hooks.on_end(outcome)
    finally:  # after an interruption, the tasks under way are cancelled
        for ref in refs:
            ray.cancel(ref)
    return outcomes
