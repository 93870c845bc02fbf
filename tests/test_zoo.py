"""The RL Zoo integration: python -m sb3_pg.train / enjoy through rl-zoo3, the samplers and the hyperparameter files."""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch as th
import yaml
from conftest import ROOT, load_script
from stable_baselines3.common.env_util import make_vec_env

from sb3_pg import KLPPO, NPG, REINFORCE, VPG, zoo

ALGOS = {"reinforce": REINFORCE, "vpg": VPG, "npg": NPG, "klppo": KLPPO}
ENVS = [
    "CartPole-v1",
    "Acrobot-v1",
    "Pendulum-v1",
    "LunarLander-v3",
    "MountainCarContinuous-v0",
    "HalfCheetah-v4",
    "Hopper-v4",
    "Walker2d-v4",
]
# A small rollout, so that -n 256 is four policy updates
SMALL = {
    "reinforce": ["n_steps:64"],
    "vpg": ["n_steps:64", "batch_size:32"],
    "npg": ["n_steps:64", "batch_size:32"],
    "klppo": ["n_steps:64", "batch_size:32", "n_epochs:1"],  # one epoch: one update a rollout, as the others
}


def run_cli(cwd: Path, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m sb3_pg.<script> *args`` in ``cwd``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", f"sb3_pg.{script}", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, f"{script} {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def train(cwd: Path, algo: str, *args: str, hyperparams: list[str] | None = None) -> subprocess.CompletedProcess:
    hyperparams = SMALL[algo] + ["n_envs:1"] if hyperparams is None else hyperparams
    return run_cli(
        cwd, "train", "--algo", algo, "--env", "CartPole-v1", "-f", "logs", "--seed", "0", "--eval-freq", "-1",
        "--verbose", "0", *args, "--hyperparams", *hyperparams,
    )  # fmt: skip


def saved_args(run: Path) -> dict:
    with open(run / "CartPole-v1" / "args.yml") as file:
        return dict(yaml.load(file, Loader=yaml.UnsafeLoader))


def test_hyperparams_files():
    budgets = []
    for algo in ALGOS:
        with open(zoo.hyperparams_file(algo)) as file:
            entries = yaml.safe_load(file)
        assert {"default", *ENVS} <= set(entries), f"{algo}.yml misses {set(ENVS) - set(entries)}"
        budgets.append({env_id: entries[env_id]["n_timesteps"] for env_id in ENVS})
    # The new algorithms' budgets agree, so that they are compared at equal budgets
    assert budgets[0] == budgets[1] == budgets[2]
    assert "rl_zoo3" in zoo.hyperparams_file("ppo") and Path(zoo.hyperparams_file("ppo")).is_file()


@pytest.mark.parametrize("algo", list(ALGOS))
def test_every_entry_builds_a_model(tmp_path, algo):
    """The zoo reads each entry of the file, wraps the env as it says, and the algorithm accepts the result."""
    from rl_zoo3.exp_manager import ExperimentManager

    zoo.register()
    for env_id in ENVS:
        manager = ExperimentManager(
            argparse.Namespace(), algo, env_id, str(tmp_path), eval_freq=-1, config=zoo.hyperparams_file(algo), verbose=0
        )
        model, _ = manager.setup_experiment()
        assert isinstance(model, ALGOS[algo])
        if algo == "reinforce":
            assert model.n_envs == 1, "REINFORCE discards steps with several envs"
        model.env.close()


def test_ppo_cleanrl_is_sb3_ppo_with_cleanrl_settings(tmp_path):
    """The second PPO of the benchmark: SB3's PPO under its own zoo name, read from this package's file, normalised,
    its learning rate annealed linearly from 3e-4 to 0, the rest SB3's PPO defaults."""
    from rl_zoo3.exp_manager import ExperimentManager
    from rl_zoo3.utils import ALGOS as ZOO_ALGOS
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    zoo.register()
    assert ZOO_ALGOS["ppo_cleanrl"] is PPO and Path(zoo.hyperparams_file("ppo_cleanrl")).parent.name == "hyperparams"
    assert zoo.zoo_argv(["--algo", "ppo_cleanrl"])[:2] == ["--conf-file", zoo.hyperparams_file("ppo_cleanrl")]
    config = zoo.hyperparams_file("ppo_cleanrl")
    manager = ExperimentManager(argparse.Namespace(), "ppo_cleanrl", "Hopper-v4", str(tmp_path), eval_freq=-1, config=config)
    model, _ = manager.setup_experiment()
    assert isinstance(model, PPO) and isinstance(model.env, VecNormalize)
    assert [model.lr_schedule(progress) for progress in (1.0, 0.5)] == pytest.approx([3e-4, 1.5e-4])
    defaults = PPO("MlpPolicy", model.env)
    for name in ("n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm"):
        assert getattr(model, name) == getattr(defaults, name), name
    model.env.close()


@pytest.mark.parametrize("setting", sorted(path.stem for path in (ROOT / "benchmarks" / "table1").glob("*.yml")))
def test_table1_settings_are_the_papers(tmp_path, setting):
    """docs/table1.md's settings: the PPO paper's Table 3 as ppo1 ran it (observations normalised and clipped to 5,
    step size annealed from 3e-4), and the setting its file is named for: PPO's epsilon, annealed as ppo1 does, or
    KLPPO's beta rule with its d_targ or fixed beta ("none": a fixed beta of 0; "none_const" as "none" with the step
    size constant)."""
    from rl_zoo3.exp_manager import ExperimentManager
    from stable_baselines3.common.vec_env import VecNormalize

    zoo.register()
    kind, _, value = setting.partition("_")
    algo = "ppo_fast" if kind == "clip" else "klppo"
    config = str(ROOT / "benchmarks" / "table1" / f"{setting}.yml")
    manager = ExperimentManager(argparse.Namespace(), algo, "Hopper-v4", str(tmp_path), eval_freq=-1, config=config)
    model, _ = manager.setup_experiment()
    assert isinstance(model, {"ppo_fast": zoo.FastPPO, "klppo": KLPPO}[algo]) and isinstance(model.env, VecNormalize)
    assert model.rollout_blocker() is None, "PPO and KLPPO collect on the same path"
    assert (model.env.norm_obs, model.env.norm_reward, model.env.clip_obs) == (True, False, 5.0)
    halfway = 3e-4 if setting == "none_const" else 1.5e-4  # the ablation keeps the paper's Table 3 step size constant
    assert [model.lr_schedule(progress) for progress in (1.0, 0.5)] == pytest.approx([3e-4, halfway])
    paper = {"n_steps": 2048, "batch_size": 64, "n_epochs": 10, "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.0}
    assert {name: getattr(model, name) for name in paper} == paper
    assert (model.vf_coef, model.max_grad_norm, model.normalize_advantage) == (1.0, float("inf"), True)
    net = model.policy.mlp_extractor
    assert [layer.out_features for layer in net.policy_net if isinstance(layer, th.nn.Linear)] == [64, 64]
    assert [layer.out_features for layer in net.value_net if isinstance(layer, th.nn.Linear)] == [64, 64]
    assert isinstance(net.policy_net[1], th.nn.Tanh) and not list(model.policy.features_extractor.parameters())  # no sharing
    assert th.all(model.policy.log_std == 0)
    if kind == "clip":
        assert [model.clip_range(progress) for progress in (1.0, 0.5)] == pytest.approx([float(value), float(value) / 2])
    else:
        rule = {"none": "fixed", "fixed": "fixed", "adaptive": "adaptive", "dual": "dual"}[kind]
        beta = 0.0 if kind == "none" else float(value) if kind == "fixed" else 1.0
        target = float(value) if kind in ("adaptive", "dual") else None
        assert (model.kl_coef_update, model.kl_coef, model.target_kl) == (rule, beta, target)
    model.env.close()


def test_zoo_argv():
    ours = zoo.hyperparams_file("npg")
    argv = ["--algo", "npg", "--env", "CartPole-v1"]
    assert zoo.zoo_argv(argv) == ["--conf-file", ours, *argv]
    assert zoo.zoo_argv(["--algo=npg"])[:2] == ["--conf-file", ours]
    # SB3's PPO and A2C on this package's rollout path train with rl-zoo3's ppo.yml and a2c.yml
    for fast, algo in (("ppo_fast", "ppo"), ("a2c_fast", "a2c")):
        assert zoo.zoo_argv(["--algo", fast])[:2] == ["--conf-file", zoo.hyperparams_file(algo)]
        assert zoo.hyperparams_file(fast) == zoo.hyperparams_file(algo) and "rl_zoo3" in zoo.hyperparams_file(algo)
    # The zoo's algorithms, the zoo's default algorithm and an explicit --conf-file (in any spelling) are left alone
    for argv in (
        ["--algo", "trpo"],
        [],
        ["--algo", "npg", "--conf-file", "mine.yml"],
        ["--algo", "npg", "-conf", "mine.yml"],
        ["--algo", "npg", "--conf", "mine.yml"],
        ["--algo", "nope"],
        ["--env", "CartPole-v1", "--algo"],
    ):
        assert zoo.zoo_argv(argv) == argv


def test_register():
    from rl_zoo3.hyperparams_opt import HYPERPARAMS_CONVERTER, HYPERPARAMS_SAMPLER
    from rl_zoo3.utils import ALGOS as ZOO_ALGOS
    from stable_baselines3 import A2C, PPO

    zoo.register()
    zoo.register()
    for name, algo in ALGOS.items():
        assert ZOO_ALGOS[name] is algo
        assert name in HYPERPARAMS_SAMPLER and name in HYPERPARAMS_CONVERTER
    assert ZOO_ALGOS["ppo_fast"] is zoo.FastPPO and ZOO_ALGOS["a2c_fast"] is zoo.FastA2C  # SB3's, on the rollout path
    assert issubclass(zoo.FastPPO, PPO) and issubclass(zoo.FastA2C, A2C)
    assert "ppo" in ZOO_ALGOS and "trpo" in HYPERPARAMS_SAMPLER


@pytest.mark.parametrize("algo", list(ALGOS))
def test_samplers_give_valid_hyperparams(algo):
    """Every sampled combination builds a model, for any n_envs; the converter recovers it from the stored params."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    envs = {n_envs: make_vec_env("CartPole-v1", n_envs=n_envs) for n_envs in (1, 3)}
    batch_sizes = set()
    for index in range(40):
        n_envs = (1, 3)[index % 2]
        trial = study.ask()
        hyperparams = zoo.HYPERPARAMS_SAMPLER[algo](trial, 0, n_envs, {})
        assert zoo.HYPERPARAMS_CONVERTER[algo](trial.params) == hyperparams
        model = ALGOS[algo]("MlpPolicy", envs[n_envs], **hyperparams)
        assert model.gamma == hyperparams["gamma"] and model.n_steps == hyperparams["n_steps"]
        if algo != "reinforce":
            assert model.batch_size <= model.n_steps * n_envs
            batch_sizes.add((model.batch_size, model.n_steps))
        study.tell(trial, 0.0)
    if algo != "reinforce":
        assert any(batch_size == n_steps for batch_size, n_steps in batch_sizes), "the cap was never needed"


def test_reinforce_sampler_samples_the_initial_std_on_box_actions():
    """A trial's policy_kwargs replace the entry's, log_std_init included: on Box actions the sampler draws it."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    env = make_vec_env("Pendulum-v1")
    values = []
    for _ in range(5):
        trial = study.ask()
        hyperparams = zoo.sample_reinforce_params(trial, 1, 1, {})
        assert zoo.convert_reinforce_params(trial.params) == hyperparams
        model = ALGOS["reinforce"]("MlpPolicy", env, **hyperparams)
        values.append(trial.params["log_std_init"])
        assert -2 <= values[-1] <= 0
        assert th.allclose(model.policy.log_std, th.full((1,), values[-1]))
        study.tell(trial, 0.0)
    assert len(set(values)) == 5
    trial = study.ask()
    assert "log_std_init" not in zoo.sample_reinforce_params(trial, 0, 1, {})["policy_kwargs"]
    assert "log_std_init" not in trial.params


def load_run(cwd: Path, algo: str, run: int):
    return ALGOS[algo].load(cwd / "logs" / algo / f"CartPole-v1_{run}" / "CartPole-v1.zip")


@pytest.mark.parametrize("algo", list(ALGOS))
def test_train_enjoy_resume_record(tmp_path, algo):
    # Train 256 steps: four updates of 64 steps
    train(tmp_path, algo, "-n", "256")
    run = tmp_path / "logs" / algo / "CartPole-v1_1"
    assert (run / "CartPole-v1" / "config.yml").is_file()
    assert saved_args(run)["conf_file"] == zoo.hyperparams_file(algo), "the new algorithms read this package's file"
    model = load_run(tmp_path, algo, 1)
    assert model.n_steps == 64
    if algo == "reinforce":
        # Each rollout runs on to the end of its episodes: at least 64 steps each
        assert 256 <= model.num_timesteps < 256 + 64 + 500 and 1 <= model._n_updates <= 4
        assert model.reward_to_go and model.baseline == "mean"
    else:
        assert model.num_timesteps == 256 and model._n_updates == 4 and model.batch_size == 32

    # Enjoy: the zoo finds the run and the algorithm by name
    args = ["--algo", algo, "--env", "CartPole-v1", "-f", "logs", "--exp-id", "1", "--no-render", "-n", "300"]
    result = run_cli(tmp_path, "enjoy", *args)
    assert f"Loading logs/{algo}/CartPole-v1_1/CartPole-v1.zip" in result.stdout and "Mean reward" in result.stdout

    # Resume with -i for one more rollout: the zoo continues the loaded model (its update count goes on, where a
    # new model would start from 0) and counts the new run's timesteps from 0
    train(tmp_path, algo, "-n", "64", "-i", str(run / "CartPole-v1.zip"))
    resumed = load_run(tmp_path, algo, 2)
    assert resumed._n_updates == model._n_updates + 1
    assert resumed.num_timesteps >= 64 if algo == "reinforce" else resumed.num_timesteps == 64

    # record_video finds the run as enjoy does (moviepy comes with the tests extra)
    args = ["--algo", algo, "--env", "CartPole-v1", "-f", "logs", "--exp-id", "1", "-n", "50", "-o", "videos"]
    run_cli(tmp_path, "record_video", *args)
    assert list((tmp_path / "videos").glob(f"final-model-{algo}-CartPole-v1-step-0-to-step-50*.mp4"))


@pytest.mark.parametrize("algo", list(ALGOS))
def test_optimize(tmp_path, algo):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    run_cli(
        tmp_path, "train", "--algo", algo, "--env", "CartPole-v1", "-optimize", "--n-trials", "2", "-n", "256",
        "--storage", storage, "--study-name", algo, "--seed", "0", "--no-optim-plots", "--eval-episodes", "2",
        "--n-startup-trials", "2", "-f", "logs", "--verbose", "0",
    )  # fmt: skip
    trials = optuna.load_study(study_name=algo, storage=storage).trials
    assert len(trials) == 2
    assert all(trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for trial in trials)
    own = {"reinforce": "baseline", "vpg": "vf_learning_rate", "npg": "cg_damping", "klppo": "kl_coef_update"}[algo]
    assert all(own in trial.params for trial in trials), "sampled with another algorithm's sampler"
    assert list((tmp_path / "logs" / algo).glob("report_CartPole-v1_2-trials-256-*.csv"))

    if algo == "npg":
        # --trial-id reads a stored trial's hyperparameters back through HYPERPARAMS_CONVERTER; trial 0 too, which
        # the zoo alone ignores (it tests `if self.trial_id`) and trains the yml entry instead
        from rl_zoo3.exp_manager import ExperimentManager

        zoo.register()  # in this process, not only in the CLI's: the test must not depend on which ran before it
        config = zoo.hyperparams_file(algo)
        for trial in trials:
            params = trial.params
            manager = ExperimentManager(
                argparse.Namespace(),
                algo,
                "CartPole-v1",
                str(tmp_path),
                storage=storage,
                study_name=algo,
                trial_id=trial.number,
                config=config,
            )
            hyperparams, saved = manager.read_hyperparameters()
            assert (hyperparams["target_kl"], hyperparams["cg_damping"]) == (params["target_kl"], params["cg_damping"])
            assert saved["target_kl"] == params["target_kl"], f"trial {trial.number} not loaded"
            assert hyperparams["n_steps"] == 2 ** params["n_steps_pow"]
            assert hyperparams["batch_size"] <= hyperparams["n_steps"]


@pytest.mark.parametrize("storage_kind", ["sqlite", "journal"])
def test_two_workers_share_a_study(tmp_path, storage_kind):
    if storage_kind == "sqlite":
        storage_arg = f"sqlite:///{tmp_path / 'study.db'}"
        storage = storage_arg
        # Optuna's advice for workers that start together on one database (optuna/optuna#1092): create it first
        # (as `optuna create-study` does), or their first connections race to create its tables
        optuna.create_study(storage=storage, study_name="shared", direction="maximize")
    else:
        storage_arg = str(tmp_path / "study.log")  # the zoo opens a path ending in .log as a JournalStorage
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage_arg))
    args = [
        "--algo", "reinforce", "--env", "CartPole-v1", "-optimize", "--n-trials", "1", "-n", "256",
        "--storage", storage_arg, "--study-name", "shared", "--no-optim-plots", "--eval-episodes", "2",
        "--n-startup-trials", "4", "--verbose", "0",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "sb3_pg.train", *args, "--seed", str(seed), "-f", f"logs{seed}"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for seed in (1, 2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
    summaries = optuna.get_all_study_summaries(storage)
    assert [summary.study_name for summary in summaries] == ["shared"]
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    assert sorted(trial.number for trial in trials) == [0, 1]
    # Each worker reports the trials of the study it ran: its own and, when it ends last, the other's too
    finished = sorted(int(output.split("Number of finished trials:")[1].split()[0]) for output in outputs)
    assert finished[0] >= 1 and finished[1] == 2


def test_conf_file_wins(tmp_path):
    entry = {"policy": "MlpPolicy", "n_timesteps": 96, "n_envs": 1, "n_steps": 32, "batch_size": 16, "target_kl": 0.02}
    custom = {"CartPole-v1": entry}
    (tmp_path / "mine.yml").write_text(yaml.dump(custom))
    train(tmp_path, "npg", "--conf-file", "mine.yml", hyperparams=["n_critic_updates:2"])
    run = tmp_path / "logs" / "npg" / "CartPole-v1_1"
    assert saved_args(run)["conf_file"] == "mine.yml"
    model = NPG.load(run / "CartPole-v1.zip")
    assert (model.n_steps, model.batch_size, model.target_kl, model.n_critic_updates) == (32, 16, 0.02, 2)
    assert model.num_timesteps == 96


def test_zoo_algorithms_keep_the_zoo_files(tmp_path):
    result = train(tmp_path, "trpo", "-n", "64", "--verbose", "1", hyperparams=["n_steps:32", "batch_size:32"])
    assert f"Loading hyperparameters from: {zoo.hyperparams_file('trpo')}" in result.stdout
    run = tmp_path / "logs" / "trpo" / "CartPole-v1_1"
    assert saved_args(run)["conf_file"] is None
    with open(run / "CartPole-v1" / "config.yml") as file:
        config = dict(yaml.load(file, Loader=yaml.UnsafeLoader))
    # Values of the zoo's trpo.yml entry for CartPole-v1
    assert (config["n_envs"], config["cg_damping"], config["n_critic_updates"]) == (2, 0.001, 20)


def test_unknown_algorithm(monkeypatch, capsys):
    from sb3_pg.train import main

    monkeypatch.setattr(sys, "argv", ["train", "--algo", "nope", "--env", "CartPole-v1"])
    with pytest.raises(SystemExit) as error:
        main()
    assert error.value.code == 2
    message = capsys.readouterr().err
    assert "invalid choice: 'nope'" in message and "npg" in message and "ppo" in message


def test_a_study_goes_on_after_a_killed_worker(tmp_path):
    """A worker killed mid-trial leaves the trial RUNNING; failing it lets ``--max-total-trials`` count true."""
    script = load_script("study")

    journal = tmp_path / "study.log"
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))

    def worker(n_timesteps: str) -> list[str]:
        return [
            sys.executable, "-m", "sb3_pg.train", "--algo", "reinforce", "--env", "CartPole-v1", "-optimize",
            "--n-trials", "2", "--max-total-trials", "2", "-n", n_timesteps, "--storage", str(journal),
            "--study-name", "s", "--no-optim-plots", "--eval-episodes", "2", "--n-startup-trials", "4",
            "--verbose", "0", "-f", "logs",
        ]  # fmt: skip

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    killed = subprocess.Popen(worker("10000000"), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (journal.is_file() and optuna.get_all_study_summaries(storage) and load_trials(storage)):
            assert killed.poll() is None and time.monotonic() < deadline, "the worker did not start a trial"
            time.sleep(0.5)
    finally:
        killed.kill()
        killed.wait()
    assert [trial.state for trial in load_trials(storage)] == [optuna.trial.TrialState.RUNNING]

    assert script.fail_running_trials(journal, "s") == [0]
    assert script.fail_running_trials(journal, "s") == []
    run = subprocess.run(worker("256"), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    states = [trial.state.name for trial in load_trials(storage)]
    # Two trials ran to the end: the killed one, left RUNNING, would have counted as one of the two
    assert states == ["FAIL", "COMPLETE", "COMPLETE"]
    with pytest.raises(FileNotFoundError, match="no journal file"):
        script.fail_running_trials(tmp_path / "missing.log", "s")


def load_trials(storage: optuna.storages.BaseStorage) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name="s", storage=storage).trials


def test_hyperparameter_files_are_found_from_the_checkout():
    """``python -m sb3_pg...`` from the repository's root imports the checkout's ``sb3_pg``, which has no
    ``sb3_pg/hyperparams`` (the top-level ``hyperparams/`` installs under that name): the README's main command
    runs there after a non-editable install, as in CI."""
    code = "import sb3_pg, sb3_pg.zoo as z; print(sb3_pg.__file__); print(z.hyperparams_file('npg'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    package, path = out.split()
    assert Path(package).resolve() == ROOT / "sb3_pg" / "__init__.py", "the checkout's sb3_pg was not the one imported"
    assert Path(path).is_file() and Path(path).read_text() == (ROOT / "hyperparams" / "npg.yml").read_text()


@pytest.mark.parametrize("layout", ["checkout", "installed"])
def test_hyperparameter_files_follow_the_imported_package(tmp_path, layout):
    """The files are those of the ``sb3_pg`` that is imported, whatever checkout the package was installed (editable)
    from: a second checkout run from its root reads its own ``hyperparams/``; an installed package, its own."""
    import shutil

    if layout == "checkout":  # another checkout: sb3_pg/ and hyperparams/ side by side, run from its root
        root = tmp_path / "other-checkout"
        shutil.copytree(ROOT / "sb3_pg", root / "sb3_pg", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "hyperparams", root / "hyperparams")
        expected, cwd, env = root / "hyperparams" / "npg.yml", root, dict(os.environ)
    else:  # an installed package: the hyperparameter files inside it
        root = tmp_path / "site-packages"
        shutil.copytree(ROOT / "sb3_pg", root / "sb3_pg", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "hyperparams", root / "sb3_pg" / "hyperparams")
        expected, cwd, env = root / "sb3_pg" / "hyperparams" / "npg.yml", tmp_path, {**os.environ, "PYTHONPATH": str(root)}
    expected.write_text(expected.read_text() + "\n# this copy's file\n")
    code = "import sb3_pg.zoo as z; print(z.hyperparams_file('npg')); print(z.zoo_argv(['--algo', 'npg'])[1])"
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(expected.resolve())] * 2
