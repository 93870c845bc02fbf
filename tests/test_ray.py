"""
``python -m sb3_pg.compare --ray-address`` on a real Ray cluster of one head (no CPU, where the driver connects) and
two worker nodes of one CPU each (``ray.cluster_utils.Cluster``, in this process): runs spread over the nodes,
give the evaluations of a local run, come back without a shared file system, and survive the loss of a node.

It is one test, so that ``pytest -n 2`` starts the cluster once: an ``xdist_group`` with ``--dist loadgroup`` would
not keep tests together with pytest-xdist 3.8 and pytest 9 (xdist renames ``item._nodeid``, which pytest 9 no
longer reads), and two clusters would share the 2 cores of CI.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from ray._raylet import Config
from ray.cluster_utils import Cluster

from sb3_pg.compare.__main__ import main
from sb3_pg.compare.run import NODE_DIR_ENV
from sb3_pg.compare.spec import latest_checkpoint, read_archive, run_dir_of

ENV = "CartPole-v1"
ALGOS = ["reinforce", "ppo"]
GRID = ["--env", ENV, "--algo", *ALGOS, "--seeds", "2", "--no-progress", "--reps", "200"]
TINY = ["-n", "1024", "--eval-freq", "256", "--eval-episodes", "4", "--n-eval-envs", "2"]
LOST_STEPS = 8192  # the budget of the runs of which one is lost with its node
MiB = 1024 * 1024


@contextmanager
def local_cluster() -> Iterator[Cluster]:
    """
    A head without CPUs and two worker nodes with one CPU each, as separate raylets on this machine, with token
    authentication as ``ray start`` sets it up: the drivers started meanwhile inherit the token (docs/ray.md).
    """
    # Token authentication; and every node, driver and worker on the loopback address (Ray otherwise swaps
    # 127.0.0.1 for the machine's network address), so that the test's traffic stays on this machine
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    saved = {name: os.environ.get(name) for name in auth}
    os.environ.update(auth)
    Config.initialize("")  # as ray does when it turns token authentication on in a process
    cluster = None
    try:
        node = {"node_ip_address": "127.0.0.1", "object_store_memory": 80 * MiB}
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **node})
        for _ in range(2):
            cluster.add_node(num_cpus=1, **node)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        if cluster is not None:
            cluster.shutdown()
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
        Config.initialize("")


def worker_ids(cluster: Cluster) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}


def compare(out: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python -m sb3_pg.compare`` on the grid (with ``--ray-address``: a driver of its own, on the head node)."""
    command = [sys.executable, "-m", "sb3_pg.compare", *GRID, "-f", str(out), *argv]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}
    )


def finish(process: subprocess.Popen, timeout: float = 240) -> str:
    """:return: the output of a driver that exited with status 0 (killed if it does not end in time)"""
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    return output


def record(run_dir: Path) -> str:
    """:return: the ``result.json`` of a finished run, packed in its environment's archive once all its runs finished"""
    name = f"{run_dir.parent.name}/{run_dir.name}/result.json"
    return read_archive(run_dir.parent.parent, name)[name].decode()


def results(out: Path) -> dict[tuple[str, int], dict]:
    """:return: ``result.json`` of each run, by (algo, seed)"""
    return {(algo, seed): json.loads(record(run_dir_of(out, ENV, algo, seed))) for algo in ALGOS for seed in (0, 1)}


def report_form(out: Path) -> list[str]:
    """``report.md`` without what differs between two invocations: wall-clock times, and how many local workers ran."""
    lines = []
    for line in (out / "report.md").read_text().splitlines():
        if line.startswith("| ") and "---" not in line:
            line = "|".join(line.split("|")[:-3])  # the table without its wall-clock and steps/s columns
        lines.append(re.sub(r" The last invocation that trained ran .* so runs shared cores\.", "", line))
    return lines


def processes_running(folder: Path) -> list[str]:
    """:return: the command lines of the processes that train in ``folder``"""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "sb3_pg.compare._zoo_train" in command and str(folder) in command:
            found.append(command)
    return found


def test_compare_on_a_ray_cluster(tmp_path):
    local = tmp_path / "local"
    training = compare(local, *TINY, "--workers", "2")  # the grid on this machine, while the cluster starts
    try:
        with local_cluster() as cluster:
            finish(training)
            check_runs_spread_over_the_nodes(cluster, local, tmp_path / "shared")
            check_runs_come_back_without_a_shared_file_system(cluster, local, tmp_path / "node-local")
            check_runs_of_a_lost_node_are_retried_on_the_others(cluster, tmp_path / "lost-node")
    finally:
        if training.poll() is None:
            training.kill()
            training.wait()


def check_runs_spread_over_the_nodes(cluster: Cluster, local: Path, out: Path) -> None:
    """The grid on the cluster: on both worker nodes, the same evaluations and report as on this machine."""
    finish(compare(out, *TINY, "--ray-address", cluster.address))
    found = results(out)
    # Trained on both worker nodes (never on the head, which has no CPU), each run once
    nodes = {result["node_id"] for result in found.values()}
    assert len(nodes) == 2 and nodes <= worker_ids(cluster)
    assert {result["attempts"] for result in found.values()} == {1}
    assert not list(out.glob("*/*/seed_*/attempts"))  # the attempt folders are gone once the runs finished
    # Same seeds, same evaluations as the local processes; the same report, timings aside
    assert (out / "evaluations.csv").read_text() == (local / "evaluations.csv").read_text()
    assert report_form(out) == report_form(local)
    local_runs, ray_runs = pd.read_csv(local / "runs.csv"), pd.read_csv(out / "runs.csv")
    assert list(ray_runs.columns) == list(local_runs.columns)
    timing = ["wall_time_s", "steps_per_s"]
    pd.testing.assert_frame_equal(ray_runs.drop(columns=timing), local_runs.drop(columns=timing))


def check_runs_come_back_without_a_shared_file_system(cluster: Cluster, local: Path, out: Path) -> None:
    """The tasks train in a node-local folder, as on nodes that cannot write the driver's folder, and send the files back."""
    node_dir = out.parent / "node"
    finish(compare(out, *TINY, "--ray-address", cluster.address, env={NODE_DIR_ENV: str(node_dir)}))
    for algo, seed in results(out):
        log = (run_dir_of(out, ENV, algo, seed) / "train.log").read_text()
        assert f"-f {node_dir}{run_dir_of(out, ENV, algo, seed)}/attempts/1 " in log
    assert node_dir.is_dir() and not list(node_dir.rglob("*.monitor.csv"))  # removed once sent back
    assert not list(out.glob("*/*/seed_*/attempts"))
    # The report rebuilt from the files sent back is the local run's
    assert main(["--report-only", "-f", str(out), "--reps", "200"]) == 0
    assert (out / "evaluations.csv").read_text() == (local / "evaluations.csv").read_text()
    assert report_form(out) == report_form(local)


def check_runs_of_a_lost_node_are_retried_on_the_others(cluster: Cluster, out: Path) -> None:
    """A worker node removed while one of its runs trains: the run trains again on the other node, from its checkpoint."""
    # Checkpoints every 512 steps, so that the run lost with its node resumes from one; runs long enough (a few
    # seconds each on the rollout path) that one is caught between its first checkpoint and its end
    budget = ["-n", str(LOST_STEPS), "--eval-freq", "2048", "--eval-episodes", "2", "--n-eval-envs", "1", "--save-freq", "512"]
    process = compare(out, "--ray-address", cluster.address, *budget)
    try:
        # Wait for a run to finish on a node, and for the next run on that node to have written a whole checkpoint
        deadline = time.monotonic() + 600  # the cluster's start and the first run, on a loaded machine
        victim, kept, lost = None, None, None
        while lost is None:
            assert process.poll() is None, f"the driver ended before a run could be interrupted:\n{process.communicate()[0]}"
            assert time.monotonic() < deadline, "no run to interrupt"
            time.sleep(0.1)
            for result_file in out.glob("*/*/seed_*/result.json"):
                if victim is None:
                    kept, victim = result_file, json.loads(result_file.read_text())["node_id"]
            for segments_file in out.glob("*/*/seed_*/attempts/1/segments.json") if kept is not None else []:
                segments = json.loads(segments_file.read_text())
                attempt = segments_file.parent
                unfinished = not (attempt / "result.json").exists() and attempt.parent.parent != kept.parent
                if unfinished and segments[0].get("node_id") == victim and latest_checkpoint(attempt, LOST_STEPS) is not None:
                    lost = attempt.parent.parent
        (node,) = [node for node in cluster.worker_nodes if node.node_id == victim]
        kept_before = kept.read_text()
        cluster.remove_node(node)
        # The lost attempt's training process died with its worker: it does not write on beside the retry
        deadline = time.monotonic() + 30
        while processes_running(lost / "attempts" / "1"):
            assert time.monotonic() < deadline, "the lost attempt's process outlived its node"
            time.sleep(0.2)
        output = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    found = results(out)
    label = f"{lost.parent.name} {ENV} {lost.name.replace('_', ' ')}"
    assert f"retrying {label} (attempt 2 of 3)" in output
    # The run that had finished on the lost node was kept, not trained again
    assert record(kept.parent) == kept_before
    # The lost run trained again on the other node, from its checkpoint (the file system is shared)
    retried = json.loads(record(lost))
    segments = retried["segments"]
    assert retried["attempts"] == 2 and retried["node_id"] != victim and len(segments) == 2
    assert segments[1]["offset"] >= 512 and segments[1]["resumed_from"].endswith(f"rl_model_{segments[1]['offset']}_steps.zip")
    assert all(result["timesteps"] >= LOST_STEPS for result in found.values())
    assert sum(result["attempts"] for result in found.values()) == 5
    # The report says which run was retried
    report = (out / "report.md").read_text()
    retried_line = f"Retried runs (their Ray task was lost with its node or worker): {lost.parent.name} seed {lost.name[5:]}"
    assert f"{retried_line} (2 attempts)." in report
    assert not processes_running(out)
