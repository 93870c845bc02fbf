"""python -m sb3_pg.compare: the grid trained by rl-zoo3, skipped and resumed runs, crashes, the report (Ray: test_ray)."""

import io
import json
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from sb3_pg.compare import spec as spec_module
from sb3_pg.compare.__main__ import main, make_parser
from sb3_pg.compare.report import build_report, interval_estimates, seed_curves
from sb3_pg.compare.run import store_files
from sb3_pg.compare.spec import RunSpec, latest_checkpoint, make_grid, new_segment, parse_hyperparams, run_dir_of, zoo_budget
from sb3_pg.zoo import hyperparams_file

ENV = "CartPole-v1"
ALGOS = ["reinforce", "ppo"]
SEEDS = 2
BUDGET = 1024
TINY = ["-n", str(BUDGET), "--eval-freq", "256", "--eval-episodes", "4", "--n-eval-envs", "2", "--reps", "1000"]


def packed(out: Path) -> dict[str, bytes]:
    """The files of the environment's archive, by name (``<algo>/seed_<n>/...``)."""
    with tarfile.open(out / ENV / "runs.tar.xz") as tar:
        return {member.name: tar.extractfile(member).read() for member in tar if member.isfile()}


def archived(out: Path, algo: str, seed: int, name: str) -> bytes:
    """A file of a finished run's zoo folder, from the environment's archive: ``<algo>/<env>_1/<name>``."""
    return packed(out)[f"{algo}/seed_{seed}/{algo}/{ENV}_1/{name}"]


def zoo_npz(out: Path, algo: str, seed: int) -> dict[str, np.ndarray]:
    """The evaluations that rl-zoo3's EvalCallback wrote for a run of one segment, up to the budget."""
    with np.load(io.BytesIO(archived(out, algo, seed, "evaluations.npz"))) as data:
        keep = data["timesteps"] <= BUDGET
        return {key: data[key][keep] for key in ("timesteps", "results", "ep_lengths")}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny comparison, trained once for the module: CartPole-v1, REINFORCE and PPO, 2 seeds, 1024 steps."""
    out = tmp_path_factory.mktemp("compare") / "runs"
    # What an attempt killed midway leaves: no result.json, a zoo folder. Without checkpoints it restarts cleanly.
    stale = run_dir_of(out, ENV, "ppo", 1) / "ppo" / f"{ENV}_1"
    stale.mkdir(parents=True)
    (stale / "left-over.txt").write_text("from an interrupted attempt")
    (stale.parent.parent / "segments.json").write_text(json.dumps([{"dir": f"ppo/{ENV}_1", "offset": 0}]))
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        status = main(["--env", ENV, "--algo", *ALGOS, "--seeds", str(SEEDS), "-f", str(out), "--workers", "2", *TINY])
    assert status == 0, buffer.getvalue()
    return out, buffer.getvalue()


def test_grid_trained_through_the_zoo(comparison):
    out, output = comparison
    for algo in ALGOS:
        for seed in range(SEEDS):
            run_dir = run_dir_of(out, ENV, algo, seed)
            # rl-zoo3's own log folder, archived once the environment's runs finished, with the arguments it trained with
            args = yaml.unsafe_load(archived(out, algo, seed, f"{ENV}/args.yml"))
            assert args["algo"] == algo and args["env"] == ENV and args["seed"] == seed
            assert args["n_timesteps"] == BUDGET  # the same budget for every algorithm
            assert args["conf_file"] == hyperparams_file(algo)  # sb3_pg's file for REINFORCE, the zoo's for PPO
            assert (args["eval_freq"], args["eval_episodes"], args["n_eval_envs"]) == (256, 4, 2)
            assert archived(out, algo, seed, f"{ENV}/config.yml")
            # SB3's CSV log beside the zoo's files
            progress = pd.read_csv(io.BytesIO(archived(out, algo, seed, "progress.csv")))
            assert progress["time/total_timesteps"].max() >= BUDGET
            # What stays in the run folder: the models, Monitor files and train.log; the rest is packed
            left = {path.relative_to(run_dir).as_posix() for path in run_dir.rglob("*") if path.is_file()}
            assert {"train.log", f"{algo}/{ENV}_1/{ENV}.zip"} <= left
            assert all(name.endswith((".zip", ".monitor.csv", "train.log")) for name in left), left
            spec = json.loads(packed(out)[f"{algo}/seed_{seed}/spec.json"])
            assert (spec["env_id"], spec["algo"], spec["seed"], spec["n_timesteps"]) == (ENV, algo, seed, BUDGET)
            result = json.loads(packed(out)[f"{algo}/seed_{seed}/result.json"])
            assert result["timesteps"] >= BUDGET and result["segments"][0]["dir"] == f"{algo}/{ENV}_1"
            assert f"finished {algo} {ENV} seed {seed}: {result['timesteps']:,} steps" in output
    # The interrupted attempt was cleaned away before the run restarted
    assert not (run_dir_of(out, ENV, "ppo", 1) / "ppo" / f"{ENV}_1" / "left-over.txt").exists()


def test_csv_match_the_zoo_evaluations(comparison):
    out, _ = comparison
    evaluations = pd.read_csv(out / "evaluations.csv")
    runs = pd.read_csv(out / "runs.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert len(runs) == len(ALGOS) * SEEDS and set(runs["status"]) == {"finished"}
    for algo in ALGOS:
        finals, reached = [], []
        for seed in range(SEEDS):
            npz = zoo_npz(out, algo, seed)
            rows = evaluations[(evaluations["algo"] == algo) & (evaluations["seed"] == seed)]
            np.testing.assert_array_equal(rows["timesteps"], npz["timesteps"])
            np.testing.assert_allclose(rows["eval_mean"], npz["results"].mean(axis=1))
            np.testing.assert_allclose(rows["ep_length_mean"], npz["ep_lengths"].mean(axis=1))
            assert (rows["n_episodes"] == 4).all()
            (run,) = runs[(runs["algo"] == algo) & (runs["seed"] == seed)].itertuples()
            means = npz["results"].mean(axis=1)
            assert run.final_return == pytest.approx(means[-1]) and run.final_timesteps == npz["timesteps"][-1]
            assert run.best_return == pytest.approx(means.max())
            hits = npz["timesteps"][means >= 475]
            assert np.isnan(run.steps_to_threshold) if len(hits) == 0 else run.steps_to_threshold == hits[0]
            finals.append(means[-1])
            reached += list(hits[:1])
        (row,) = summary[summary["algo"] == algo].itertuples()
        assert row.final_return_mean == pytest.approx(np.mean(finals))
        assert row.final_return_std == pytest.approx(np.std(finals, ddof=1))
        assert row.iqm == pytest.approx(stats.trim_mean(finals, 0.25))
        assert row.iqm_ci_low <= row.iqm <= row.iqm_ci_high
        assert row.seeds_reaching_threshold == len(reached)
        assert row.reward_threshold == 475


def test_report_and_plot(comparison):
    out, output = comparison
    report = (out / "report.md").read_text()
    summary = pd.read_csv(out / "summary.csv")
    assert f"## {ENV}" in report and "steps to 475 (median)" in report
    for row in summary.itertuples():
        cells = (  # two seeds: their mean and range, no bootstrap interval
            f"| {row.algo} | {SEEDS}/{SEEDS} | {row.final_return_mean:,.1f} ± {row.final_return_std:,.1f} | {row.iqm:,.1f} "
            f"(range {row.iqm_ci_low:,.1f} to {row.iqm_ci_high:,.1f}) |"
        )
        assert cells in report
        assert cells in output  # the tables are printed in the terminal
    png = out / f"learning_curves_{ENV}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"]({png.name})" in report


def test_rerun_skips_finished_runs(comparison, capsys):
    out, _ = comparison
    archive = out / ENV / "runs.tar.xz"
    before = (archive.read_bytes(), archive.stat().st_mtime_ns)
    # The finished runs are packed: the same command unpacks their records, skips them and packs them back unchanged
    assert main(["--env", ENV, "--algo", *ALGOS, "--seeds", str(SEEDS), "-f", str(out), *TINY]) == 0
    runs = len(ALGOS) * SEEDS
    assert f"{runs} of {runs} runs finished earlier: skipped" in capsys.readouterr().out
    assert (archive.read_bytes(), archive.stat().st_mtime_ns) == before
    assert not list(out.glob("*/*/seed_*/*.json"))
    # --first-seed K: seeds K .. K+N-1, here the second seed of the comparison only
    assert main(["--env", ENV, "--algo", *ALGOS, "--seeds", "1", "--first-seed", "1", "-f", str(out), *TINY]) == 0
    assert f"{len(ALGOS)} of {len(ALGOS)} runs finished earlier: skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--env", ENV, "--first-seed", "-1", "-f", str(out)])
    assert "--first-seed must be at least 0, got -1" in capsys.readouterr().err


def test_report_only_rebuilds_the_same_report(comparison, capsys, tmp_path):
    out, _ = comparison
    saved = {name: (out / name).read_text() for name in ("report.md", "runs.csv", "evaluations.csv", "summary.csv")}
    for name in saved:
        (out / name).unlink()
    (out / f"learning_curves_{ENV}.png").unlink()
    assert main(["--report-only", "-f", str(out), "--reps", "1000"]) == 0
    assert {name: (out / name).read_text() for name in saved} == saved
    assert (out / f"learning_curves_{ENV}.png").is_file()
    printed = capsys.readouterr().out
    assert "| algorithm | runs | final return (mean ± std) |" in printed and f"{ENV} ({BUDGET:,} steps per run)" in printed

    # It reports every run in the folder: a training flag would have no effect, so it is refused
    for extra in (["--seeds", "2"], ["--env", ENV], ["--", "--vec-env", "subproc"]):
        with pytest.raises(SystemExit):
            main(["--report-only", "-f", str(out), *extra])
        assert "--report-only reports every run in --folder and trains nothing: drop " + extra[0] in capsys.readouterr().err
    # The refusal names a flag by its dest: every flag's long name must be its dest with dashes
    parser = make_parser()
    help_text = parser.format_help()
    assert all(f"--{dest.replace('_', '-')} " in help_text for dest in vars(parser.parse_args([])))

    # The same report from the archive alone, as a clone of the repository has it
    alone = tmp_path / "alone"
    (alone / ENV).mkdir(parents=True)
    shutil.copy(out / ENV / "runs.tar.xz", alone / ENV)
    shutil.copy(out / "comparison.json", alone)
    assert build_report(alone, reps=1000, write=True).markdown == saved["report.md"]
    assert {name: (alone / name).read_text() for name in saved} == saved
    # and from the run folders' spec.json and result.json alone, copied as a Ray task sends them
    copy = tmp_path / "copy"
    for name, data in packed(out).items():
        if name.count("/") == 2:
            store_files(copy / ENV / Path(name).parent, {Path(name).name: data})
    shutil.copy(out / "comparison.json", copy)
    assert build_report(copy, reps=1000, write=True).markdown == saved["report.md"]


def test_a_seed_added_to_a_packed_comparison(comparison, tmp_path, capsys):
    """Another seed trains beside the packed runs: only it trains, and the archive then holds every run."""
    out = tmp_path / "runs"
    shutil.copytree(comparison[0], out)
    assert main(["--env", ENV, "--algo", "ppo", "--seeds", str(SEEDS + 1), "-f", str(out), "--no-progress", *TINY]) == 0
    assert f"{SEEDS} of {SEEDS + 1} runs finished earlier: skipped" in capsys.readouterr().out
    records = {name for name in packed(out) if name.endswith("/result.json") and name.count("/") == 2}
    assert records == {f"{algo}/seed_{seed}/result.json" for algo in ALGOS for seed in range(SEEDS)} | {
        f"ppo/seed_{SEEDS}/result.json"
    }
    assert (
        packed(out)[f"reinforce/seed_0/reinforce/{ENV}_1/progress.csv"]
        == packed(comparison[0])[f"reinforce/seed_0/reinforce/{ENV}_1/progress.csv"]
    )
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == len(ALGOS) * SEEDS + 1 and set(runs["status"]) == {"finished"}


def test_crashed_run_is_reported_and_the_others_finish(tmp_path, capsys):
    out = tmp_path / "runs"
    argv = ["--env", ENV, "--algo", *ALGOS, "--seeds", "1", "-f", str(out), *TINY]
    assert main([*argv, "--hyperparams", "reinforce:learning_rate:-1.0"]) == 1
    printed = capsys.readouterr().out
    crashed = run_dir_of(out, ENV, "reinforce", 0)
    assert f"FAILED   reinforce {ENV} seed 0: exit code 1: ValueError: learning_rate" in printed
    assert f"log: {crashed / 'train.log'}" in printed
    assert "ValueError: learning_rate" in (crashed / "train.log").read_text()
    assert not (crashed / "result.json").exists() and (crashed / "failed.json").is_file()
    assert (run_dir_of(out, ENV, "ppo", 0) / "result.json").is_file()
    assert not (out / ENV / "runs.tar.xz").exists()  # packed once every run of the environment has finished
    runs = pd.read_csv(out / "runs.csv").set_index("algo")
    assert runs.loc["reinforce", "status"] == "failed" and runs.loc["ppo", "status"] == "finished"
    # A failed run's empty step counts do not turn the finished runs' into floats ("2048.0") in runs.csv
    ppo_row = next(line for line in (out / "runs.csv").read_text().splitlines() if line.startswith(f"{ENV},ppo,"))
    assert ppo_row.split(",")[5] == str(int(runs.loc["ppo", "timesteps"]))
    report = (out / "report.md").read_text()
    assert "| reinforce | 0/1 | — |" in report and "Failed runs (not in the table)" in report
    # The failed run's folder holds another experiment than a run without the override: refused, not mixed
    assert main(argv) == 2


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "runs"
    argv = ["--env", ENV, "--algo", "ppo", "--seeds", "1", "-f", str(out), "--save-freq", "512", "--no-progress"]
    argv += ["-n", "2048", "--eval-freq", "256", "--eval-episodes", "2", "--n-eval-envs", "2", "--reps", "200"]
    assert main(argv) == 0
    run_dir = run_dir_of(out, ENV, "ppo", 0)
    uninterrupted = json.loads(packed(out)["ppo/seed_0/result.json"])
    # As if the comparison had been killed after the checkpoint at 1536 steps: the zoo folder back, no result
    with tarfile.open(out / ENV / "runs.tar.xz") as tar:
        tar.extractall(out / ENV, filter="data")
    (out / ENV / "runs.tar.xz").unlink()
    (run_dir / "segments.json").write_text(json.dumps(uninterrupted["segments"]))
    (run_dir / "result.json").unlink()
    (run_dir / "ppo" / f"{ENV}_1" / "rl_model_2048_steps.zip").unlink()
    assert main(argv) == 0

    result = json.loads(packed(out)["ppo/seed_0/result.json"])
    assert [segment["offset"] for segment in result["segments"]] == [0, 1536] and result["timesteps"] >= 2048
    assert result["segments"][1]["resumed_from"] == f"ppo/{ENV}_1/rl_model_1536_steps.zip"
    assert result["segments"][1]["dir"] == f"ppo/{ENV}_2" and not (run_dir / "segments.json").exists()
    log = (run_dir / "train.log").read_text()
    # 512 steps left of 2048: the zoo's lin_0.001 and lin_0.2 schedules continue at a quarter of their start
    assert "-n 512" in log and "learning_rate:'lin_0.00025'" in log and "clip_range:'lin_0.05'" in log
    merged = result["evaluations"]
    np.testing.assert_array_equal(merged["timesteps"], np.arange(256, 2049, 256))
    # Up to the checkpoint, the first segment's evaluations; after it, the resumed segment's
    np.testing.assert_array_equal(merged["results"][:6], uninterrupted["evaluations"]["results"][:6])
    # both segments' zoo folders packed
    assert {f"ppo/seed_0/ppo/{ENV}_{i}/evaluations.npz" for i in (1, 2)} <= set(packed(out))


def test_stopped_comparison_resumes_from_the_checkpoint_it_had(tmp_path):
    # A real stop: the comparison gets SIGTERM while rl-zoo3 trains, after the first checkpoint
    out = tmp_path / "runs"
    argv = ["--env", ENV, "--algo", "ppo", "--seeds", "1", "-f", str(out), "--save-freq", "512", "--no-progress"]
    argv += ["-n", "4096", "--eval-freq", "1024", "--eval-episodes", "2", "--n-eval-envs", "2", "--reps", "200"]
    run_dir = run_dir_of(out, ENV, "ppo", 0)
    process = subprocess.Popen([sys.executable, "-m", "sb3_pg.compare", *argv], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while latest_checkpoint(run_dir, 4096) is None:  # a whole checkpoint written
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint before the run ended"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    assert not (run_dir / "result.json").exists()
    (stopped,) = json.loads((run_dir / "segments.json").read_text())
    assert (run_dir / stopped["dir"]).is_dir()  # the zoo folder the segment trains in, named when it started

    assert main(argv) == 0
    first, resumed = json.loads(packed(out)["ppo/seed_0/result.json"])["segments"]
    assert first["dir"] == stopped["dir"] and 512 <= resumed["offset"] < 4096
    assert resumed["resumed_from"] == f"{first['dir']}/rl_model_{resumed['offset']}_steps.zip"


def test_segment_folder_is_the_next_zoo_folder(tmp_path):
    spec = make_grid([ENV], ["ppo"], 1, tmp_path, n_timesteps=1000).specs[0]
    assert new_segment(tmp_path, spec, 0)["dir"] == f"ppo/{ENV}_1"
    for name in (f"{ENV}_1", f"{ENV}_2", f"{ENV}_10"):  # numbered, not sorted as text, as rl-zoo3 numbers them
        (tmp_path / "ppo" / name).mkdir(parents=True)
    assert new_segment(tmp_path, spec, 512, resumed_from="x") == {"dir": f"ppo/{ENV}_11", "offset": 512, "resumed_from": "x"}


def test_budget_and_grid():
    # CartPole-v1: 1e5 in both zoo files; Acrobot-v1: PPO 1e6, TRPO 1e5, the larger by default
    assert zoo_budget("CartPole-v1") == 100_000
    assert [zoo_budget("Acrobot-v1", source) for source in ("max", "ppo", "trpo")] == [1_000_000, 1_000_000, 100_000]
    with pytest.raises(ValueError, match="pass n_timesteps"):
        zoo_budget("NoSuchEnv-v0")
    grid = make_grid(["CartPole-v1", "Acrobot-v1"], ["reinforce", "vpg", "npg", "ppo", "trpo"], 3, "out")
    assert len(grid.specs) == 2 * 5 * 3
    assert {spec.n_timesteps for spec in grid.specs if spec.env_id == "Acrobot-v1"} == {1_000_000}
    assert {spec.eval_freq for spec in grid.specs if spec.env_id == "CartPole-v1"} == {5_000}
    assert all(spec.conf_file == hyperparams_file(spec.algo) for spec in grid.specs)
    assert any("Acrobot-v1: rl-zoo3's budgets differ" in note for note in grid.notes)
    # Seed by seed, so that an interrupted comparison has the same seeds for every algorithm
    assert [spec.seed for spec in grid.specs[:6]] == [0] * 5 + [1]
    overrides = parse_hyperparams(["npg:target_kl:0.02", "gamma:0.9"], ["npg", "ppo"])
    assert overrides == {"npg": ("target_kl:0.02", "gamma:0.9"), "ppo": ("gamma:0.9",)}
    spec = grid.specs[0]
    assert RunSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    overridden = make_grid([ENV], ["npg"], 1, "out", hyperparams=["npg:target_kl:0.02", "policy_kwargs:dict(x=[1])"]).specs[0]
    assert overridden.trained_hyperparams() == {**json.loads(overridden.entry), "target_kl": 0.02, "policy_kwargs": {"x": [1]}}


def test_changed_settings_or_hyperparameter_entry_are_refused(tmp_path):
    spec = make_grid([ENV], ["ppo"], 1, tmp_path, n_timesteps=1000).specs[0]
    spec_module.write_json(Path(spec.run_dir) / "spec.json", {**spec.to_dict(), "n_timesteps": 2000})
    assert "n_timesteps: 2000 there, 1000 now" in spec_module.check_same_experiment(spec)
    conf = tmp_path / "npg.yml"
    entries = yaml.safe_load(Path(hyperparams_file("npg")).read_text())
    conf.write_text(yaml.safe_dump(entries))

    def spec_now() -> RunSpec:
        return make_grid([ENV], ["npg"], 1, tmp_path / "out", n_timesteps=1000, conf_files={"npg": str(conf)}).specs[0]

    spec = spec_now()
    assert json.loads(spec.entry)["target_kl"] == entries[ENV]["target_kl"] and "n_timesteps" not in spec.entry
    spec_module.write_json(Path(spec.run_dir) / "spec.json", spec.to_dict())
    # The budget is -n's, not the file's: changing n_timesteps in the file is not another experiment
    entries[ENV]["n_timesteps"] = 12345
    conf.write_text(yaml.safe_dump(entries))
    assert spec_module.check_same_experiment(spec_now()) is None
    before, entries[ENV]["target_kl"] = entries[ENV]["target_kl"], 0.05
    conf.write_text(yaml.safe_dump(entries))
    message = spec_module.check_same_experiment(spec_now())
    assert message is not None and f"hyperparameter entry changed: target_kl {before!r} -> 0.05" in message
    # An environment without an entry of its own trains with the file's default entry
    default = {key: value for key, value in entries["default"].items() if key != "n_timesteps"}
    other = make_grid(["MountainCar-v0"], ["npg"], 1, tmp_path, n_timesteps=1000, conf_files={"npg": str(conf)})
    assert json.loads(other.specs[0].entry) == default


def test_seed_curves_align_different_evaluation_steps():
    rows = pd.DataFrame(
        {"seed": [0, 0, 0, 1, 1], "timesteps": [100, 200, 300, 150, 250], "eval_mean": [1.0, 2.0, 3.0, 10.0, 20.0]}
    )
    steps, returns = seed_curves(rows)
    np.testing.assert_array_equal(steps, [150, 250])
    np.testing.assert_allclose(returns, [[1.5, 2.5], [10.0, 20.0]])


def test_interval_estimates_are_seeded_and_per_algorithm():
    """Not on NumPy's global generator's state (rliable resamples with it, left as it was), nor on the other algorithms."""
    from rliable import metrics

    rng = np.random.default_rng(1)
    scores = {algo: rng.normal(size=(5, 1)) for algo in ("vpg", "npg", "trpo")}
    iqm = lambda values: np.array([metrics.aggregate_iqm(values)])  # noqa: E731
    np.random.seed(7)
    first = interval_estimates(scores, iqm, 2000)[1]
    assert np.random.rand() == np.random.RandomState(7).rand(), "the global generator's state was changed"
    np.random.seed(123)
    again = interval_estimates(scores, iqm, 2000)[1]
    alone = interval_estimates({"trpo": scores["trpo"]}, iqm, 2000)[1]
    for algo in scores:
        np.testing.assert_array_equal(again[algo], first[algo])
    np.testing.assert_array_equal(alone["trpo"], first["trpo"])
    assert all(first[algo][0, 0] < first[algo][1, 0] for algo in scores)


def test_unknown_environment_or_algorithm_is_refused_before_anything_starts(tmp_path, capsys):
    out = tmp_path / "runs"
    start = time.monotonic()
    assert main(["--env", "CartPol-v1", ENV, "--algo", "klpo", "ppo", "-n", "1000", "-f", str(out)]) == 2
    error = capsys.readouterr().err
    assert "unknown environment 'CartPol-v1' (--env)" in error and "Did you mean: `CartPole`?" in error
    assert "unknown algorithm 'klpo' (--algo): valid names are" in error and "klppo, npg" in error
    assert "yml" not in error  # not a missing hyperparameter file
    assert not out.exists() and time.monotonic() - start < 10  # no run started, no folder written
    # Without -n too: the id is checked before its budget is looked up in the zoo's files
    assert main(["--env", "CartPol-v1", "--algo", "ppo", "-f", str(out)]) == 2
    assert "Did you mean: `CartPole`?" in capsys.readouterr().err and not out.exists()
    with pytest.raises(ValueError, match="--gym-packages no_such_module"):
        make_grid([ENV], ["ppo"], 1, out, n_timesteps=1000, gym_packages=("no_such_module",))


def test_fewer_than_four_seeds_give_their_range_not_an_interval():
    from sb3_pg.compare.report import format_table, summarize

    finals = {"ppo": [98.2, 108.9], "npg": [10.0, 30.0, 20.0], "vpg": [1.0, 2.0, 3.0, 4.0, 5.0]}
    runs = pd.DataFrame(
        [
            {"env": ENV, "algo": algo, "seed": seed, "status": "finished", "n_timesteps": 1000, "final_return": value}
            | {"reward_threshold": 475.0, "steps_to_threshold": np.nan, "wall_time_s": 1.0, "steps_per_s": 1000.0}
            for algo, values in finals.items()
            for seed, value in enumerate(values)
        ]
    )
    summary = summarize(runs, list(finals), reps=1000)
    cells = dict(zip(summary["algo"], format_table(summary)["IQM [95% CI]"], strict=True))
    assert cells["ppo"] == "103.6 (range 98.2 to 108.9)"  # the mean of the two seeds, and their range
    assert cells["npg"] == "20.0 (range 10.0 to 30.0)"
    assert cells["vpg"].startswith("3.0 [") and "range" not in cells["vpg"]  # five seeds: the bootstrap interval
    row = summary.set_index("algo").loc["npg"]
    assert (row["iqm"], row["iqm_ci_low"], row["iqm_ci_high"]) == (20.0, 10.0, 30.0)


def test_published_benchmark_rebuilds_byte_identical_on_another_machine(tmp_path, capsys):
    """The committed runs of one environment, with the hyperparameter files recorded where another machine had them: the
    report, runs.csv and the figure rebuild to the committed bytes; the reproduce command of docs/benchmark.md, whose runs
    have all finished, says so, trains nothing and changes nothing."""
    published = Path(__file__).resolve().parent.parent / "docs" / "benchmark"
    copy = tmp_path / "benchmark"
    for name, record in spec_module.read_archive(published / ENV, "*/seed_*/*.json").items():
        run_dir = copy / ENV / Path(name).parent
        if Path(name).name == "result.json":
            store_files(run_dir, {"result.json": record})
        elif Path(name).name == "spec.json":
            data = json.loads(record)
            # Trained elsewhere: the files it recorded are not on this machine
            data["conf_file"] = f"/another/machine/{Path(data['conf_file']).parent.parent.name}/hyperparams/{data['algo']}.yml"
            spec_module.write_json(run_dir / "spec.json", data)
    spec_module.pack(copy / ENV)
    shutil.copy(published / "comparison.json", copy)

    def section(report: str) -> str:
        return report.split(f"\n## {ENV}\n")[1].split("\n## ")[0]

    def env_rows(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if line.startswith(f"{ENV},")]

    build_report(copy)
    assert section((copy / "report.md").read_text()) == section((published / "report.md").read_text())
    assert "`rl_zoo3/hyperparams/ppo.yml`" in section((copy / "report.md").read_text())
    assert env_rows(copy / "runs.csv") == env_rows(published / "runs.csv")
    png = f"learning_curves_{ENV}.png"
    assert (copy / png).read_bytes() == (published / png).read_bytes()

    before = {path: path.read_bytes() for path in sorted(copy.rglob("*")) if path.is_file()}
    algos = ["reinforce", "vpg", "npg", "klppo", "ppo", "trpo", "a2c"]
    argv = ["--env", ENV, "--algo", *algos, "--seeds", "5", "-f", str(copy), "--save-freq", "50000", "--no-progress"]
    assert main([*argv, "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "35 of 35 runs finished earlier: skipped: nothing to train (a new --folder trains every run again" in printed
    assert printed.index("nothing to train") < printed.index(f"building the report of {copy}") < printed.index("| algorithm |")
    assert {path: path.read_bytes() for path in sorted(copy.rglob("*")) if path.is_file()} == before


def test_a_0_2_0_archive_is_read_and_merged_when_packing(tmp_path):
    """0.2.0 packed only the zoo folders, into ``zoo_runs.tar.xz``: its files are read, and packing moves them into
    ``runs.tar.xz`` beside the run records, the old archive gone."""
    env_dir = tmp_path / ENV
    run_dir = env_dir / "ppo" / "seed_0"
    run_dir.mkdir(parents=True)
    spec = {"env_id": ENV, "algo": "ppo", "seed": 0, "n_timesteps": 8, "conf_file": "", "eval_freq": 4}
    (run_dir / "spec.json").write_text(json.dumps(spec))
    (run_dir / "result.json").write_text('{"timesteps": 8}')
    with tarfile.open(env_dir / "zoo_runs.tar.xz", "w:xz") as tar:
        info = tarfile.TarInfo(f"ppo/seed_0/ppo/{ENV}_1/progress.csv")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a,b"))
    assert spec_module.read_archive(env_dir) == {f"ppo/seed_0/ppo/{ENV}_1/progress.csv": b"a,b"}
    spec_module.pack(env_dir)
    assert not (env_dir / "zoo_runs.tar.xz").exists() and not run_dir.exists()
    assert set(packed(tmp_path)) == {f"ppo/seed_0/ppo/{ENV}_1/progress.csv", "ppo/seed_0/spec.json", "ppo/seed_0/result.json"}
    ((found_spec, result, failed),) = spec_module.find_runs(tmp_path)
    assert (found_spec.algo, found_spec.seed, result, failed) == ("ppo", 0, {"timesteps": 8}, None)
