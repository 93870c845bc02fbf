"""The gradient-quality tool: exact on a problem with a closed-form J(theta), the CLI, and the training callback."""

import csv
import itertools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch as th
import yaml
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import VecNormalize

from sb3_pg import KLPPO, NPG, VPG
from sb3_pg.gradients import (
    EpisodePool,
    GradientQualityCallback,
    fit_value_function,
    gradient_measures,
    measure_gradients,
    sample_episodes,
)
from sb3_pg.gradients.__main__ import TABLE, load_policy, main, parse_args
from sb3_pg.gradients.estimators import _pool_buffer

# A horizon-2 MDP whose state is the time step (one-hot), with 3 actions that do not change the state
REWARDS = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]])
LOGITS = np.array([[0.3, -0.2, 0.1], [-0.5, 0.4, 0.0]])
HORIZON, N_ACTIONS = REWARDS.shape
PROBS = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=1, keepdims=True)


class TimeStepEnv(gym.Env):
    """Step t observes one-hot(t) and earns REWARDS[t, a]; the episode ends after HORIZON steps."""

    observation_space = spaces.Box(0, 1, shape=(HORIZON,), dtype=np.float32)
    action_space = spaces.Discrete(N_ACTIONS)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.eye(HORIZON, dtype=np.float32)[0], {}

    def step(self, action):
        reward = float(REWARDS[self.t, int(action)])
        self.t += 1
        return np.eye(HORIZON, dtype=np.float32)[min(self.t, HORIZON - 1)], reward, self.t == HORIZON, False, {}


def tabular_model(values=(0.0, 0.0)):
    """A VPG whose actor is tabular softmax: logits z_t = W[:, t] + b, with W = LOGITS^T, b = 0; V(t) = values[t]."""
    env = make_vec_env(TimeStepEnv, n_envs=8, seed=0)
    model = VPG("MlpPolicy", env, policy_kwargs=dict(net_arch=dict(pi=[], vf=[])), device="cpu", seed=0)
    with th.no_grad():
        model.policy.action_net.weight.copy_(th.as_tensor(LOGITS.T))
        model.policy.action_net.bias.zero_()
        model.policy.value_net.weight.copy_(th.as_tensor(np.array([values]), dtype=th.float32))
        model.policy.value_net.bias.zero_()
    return model, env


def flat(d_logits):
    """Actor parameters in the policy's order, action_net.weight (W[a, t]) then action_net.bias, from dz_t."""
    return np.concatenate([d_logits.T.flatten(), d_logits.sum(axis=0)])


def exact_gradient():
    """d J / d theta with gamma = 1: dJ/dz_t = pi_t * (r_t - pi_t . r_t)."""
    return flat(PROBS * (REWARDS - (PROBS * REWARDS).sum(axis=1, keepdims=True)))


def exact_fisher():
    """The Fisher matrix of the per-step mean KL: (1/H) sum_t J_t^T (diag pi_t - pi_t pi_t^T) J_t."""
    blocks = []
    for t in range(HORIZON):
        jacobian = np.zeros((N_ACTIONS, N_ACTIONS * HORIZON + N_ACTIONS))  # dz_t / d theta
        for a in range(N_ACTIONS):
            jacobian[a, a * HORIZON + t] = 1.0
            jacobian[a, N_ACTIONS * HORIZON + a] = 1.0
        blocks.append(jacobian.T @ (np.diag(PROBS[t]) - np.outer(PROBS[t], PROBS[t])) @ jacobian)
    return sum(blocks) / HORIZON


def episode_terms(gamma, values, gae_lambda):
    """
    Every action sequence's probability and per-episode sum X = sum_t Psi_t grad log pi(a_t | t) for each
    weighting that is independent from episode to episode, with a fixed V.
    """
    probabilities, terms = [], {"R(tau)": [], "G_t": [], "G_t-V": [], f"GAE({gae_lambda:g})": []}
    for sequence in itertools.product(range(N_ACTIONS), repeat=HORIZON):
        rewards = REWARDS[np.arange(HORIZON), sequence]
        scores = [flat(np.outer(np.arange(HORIZON) == t, np.eye(N_ACTIONS)[a] - PROBS[t])) for t, a in enumerate(sequence)]
        to_go = np.array([sum(gamma**k * r for k, r in enumerate(rewards[t:])) for t in range(HORIZON)])
        next_values = np.append(values[1:], 0.0)  # the last step is terminal
        deltas = rewards + gamma * next_values - values
        gae = np.array([sum((gamma * gae_lambda) ** k * d for k, d in enumerate(deltas[t:])) for t in range(HORIZON)])
        weights = {"R(tau)": np.full(HORIZON, to_go[0]), "G_t": to_go, "G_t-V": to_go - values, f"GAE({gae_lambda:g})": gae}
        for name, psi in weights.items():
            terms[name].append(sum(w * s for w, s in zip(psi, scores, strict=True)))
        probabilities.append(np.prod(PROBS[np.arange(HORIZON), sequence]))
    return np.array(probabilities), {name: np.array(x) for name, x in terms.items()}


def cosine(u, v):
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def test_unbiased_means_converge_to_the_exact_gradient():
    # gamma = 1: the dropped gamma^t changes nothing. Actions do not move the state, so every weighting is unbiased
    # here, GAE with a fitted V included; G_t-b is biased by O(1/n) only.
    model, env = tabular_model()
    report = measure_gradients(
        model.policy, env, 1.0, [2000], n_batches=10, reference_steps=20000, critic_steps=2000, critic_epochs=10,
        gae_lambdas=(0.5, 0.9), cg_max_steps=20, keep_estimates=True, seed=0,
    )  # fmt: skip
    # The per-step mean is grad J / H: every episode has H steps
    exact = exact_gradient() / HORIZON
    damping = 0.1
    exact_natural = np.linalg.solve(exact_fisher() + damping * np.eye(len(exact)), exact)
    assert {name for name, _ in report.estimates} == {"R(tau)", "G_t", "G_t-b", "G_t-V", "GAE(0.5)", "GAE(0.9)"}
    for (name, batch_size), estimates in report.estimates.items():
        assert estimates.shape == (10, len(exact))
        assert cosine(estimates.mean(axis=0), exact) >= 0.99, name
        assert cosine(report.natural_estimates[name, batch_size].mean(axis=0), exact_natural) >= 0.99, name
        assert cosine(report.reference[name], exact) >= 0.99, name
        assert cosine(report.natural_reference[name], exact_natural) >= 0.99, name
    # F is estimated on the batch: here exactly, since each batch visits t = 0 and t = 1 equally often
    row = next(row for row in report.rows if row["weighting"] == "G_t")
    assert row["mean_steps"] == 2000 and row["mean_episodes"] == 1000
    assert report.true_reference in ("G_t", "G_t-V")


def test_variance_matches_enumeration():
    gamma, gae_lambda, values = 0.9, 0.5, np.array([0.7, -0.4])
    model, env = tabular_model(values)
    batch_sizes, n_batches = [4, 16], 1000
    report = measure_gradients(
        model.policy, env, gamma, batch_sizes, n_batches=n_batches, reference_steps=400, critic_epochs=0,
        gae_lambdas=(gae_lambda,), natural=False, keep_estimates=True, seed=1,
    )  # fmt: skip
    probabilities, terms = episode_terms(gamma, values, gae_lambda)
    for name, x in terms.items():
        mean = probabilities @ x
        trace_covariance = probabilities @ ((x - mean) ** 2).sum(axis=1)
        for batch_size in batch_sizes:
            row = next(row for row in report.rows if row["weighting"] == name and row["batch_size"] == batch_size)
            n_episodes = batch_size // HORIZON
            # The batch's estimate is sum over its episodes of X / (n H): its variance is tr Cov(X) / (H^2 n)
            expected = trace_covariance / (HORIZON**2 * n_episodes)
            # The reported variance is a mean of K terms: 4 standard errors, taken from the terms' own spread
            assert abs(row["variance"] - expected) <= 4 * row["variance_se"], (name, batch_size, row["variance"], expected)
            assert row["variance_se"] < 0.1 * expected  # the test has power: K is large enough
            assert row["n_batches"] == n_batches and row["mean_steps"] == batch_size


def test_batch_mean_baseline_variance_matches_sampled_batches():
    # G_t-b subtracts its own batch's mean, so its episodes are not independent: compare with many sampled batches
    gamma, batch_size, n_batches = 0.9, 8, 1000
    model, env = tabular_model()
    report = measure_gradients(
        model.policy, env, gamma, [batch_size], n_batches=n_batches, reference_steps=400, critic_epochs=0,
        gae_lambdas=(), natural=False, seed=2,
    )  # fmt: skip
    row = next(row for row in report.rows if row["weighting"] == "G_t-b")

    rng = np.random.default_rng(0)
    n_sampled, n_episodes = 200_000, batch_size // HORIZON
    # actions[m, e, t], and the per-step scores d log pi / d z_t = onehot(a) - pi_t
    actions = np.stack([rng.choice(N_ACTIONS, size=(n_sampled, n_episodes), p=PROBS[t]) for t in range(HORIZON)], axis=-1)
    rewards = REWARDS[np.arange(HORIZON), actions]
    to_go = np.stack([rewards[..., 1] * gamma + rewards[..., 0], rewards[..., 1]], axis=-1)
    psi = to_go - to_go.mean(axis=(1, 2), keepdims=True)
    d_logits = np.zeros((n_sampled, HORIZON, N_ACTIONS))  # sum over the batch of psi * score, per time step
    for t in range(HORIZON):
        scores = np.eye(N_ACTIONS)[actions[..., t]] - PROBS[t]
        d_logits[:, t] = (psi[..., t, None] * scores).sum(axis=1)
    gradients = np.concatenate([d_logits.transpose(0, 2, 1).reshape(n_sampled, -1), d_logits.sum(axis=1)], axis=1)
    gradients /= n_episodes * HORIZON
    terms = ((gradients - gradients.mean(axis=0)) ** 2).sum(axis=1)
    sampled, sampled_se = terms.mean(), terms.std() / np.sqrt(n_sampled)
    assert abs(row["variance"] - sampled) <= 4 * np.hypot(row["variance_se"], sampled_se), (row["variance"], sampled)
    assert row["variance_se"] < 0.1 * sampled


def test_measures_by_definition():
    rng = np.random.default_rng(0)
    estimates, reference, true_reference = rng.normal(size=(5, 7)) + 1.0, rng.normal(size=7), rng.normal(size=7)
    measures = gradient_measures(estimates, reference, true_reference)
    mean = estimates.mean(axis=0)
    variance = sum(np.sum((g - mean) ** 2) for g in estimates) / 4
    assert measures["variance"] == pytest.approx(variance)
    assert measures["relative_variance"] == pytest.approx(variance / (mean @ mean))
    assert measures["snr"] == pytest.approx((mean @ mean) / variance)
    pairs = [cosine(estimates[k], estimates[j]) for k in range(5) for j in range(5) if k != j]
    assert measures["cos_pairwise"] == pytest.approx(np.mean(pairs))
    assert measures["cos_ref"] == pytest.approx(np.mean([cosine(g, reference) for g in estimates]))
    assert measures["cos_true"] == pytest.approx(np.mean([cosine(g, true_reference) for g in estimates]))


def test_cli_writes_table_csv_and_plots(tmp_path, capsys):
    model = VPG("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[16]), seed=0)
    model.save(tmp_path / "model.zip")
    argv = ["--env", "CartPole-v1", "--algo", "vpg", "--model", str(tmp_path / "model.zip"), "-b", "32", "64", "-k", "2"]
    argv += ["--reference-steps", "640", "--critic-epochs", "1", "--n-envs", "2", "-o", str(tmp_path / "out"), "--no-progress"]
    report = main(argv)
    with open(tmp_path / "out" / "gradients.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == len(report.rows) == 7 * 2
    assert {row["batch_size"] for row in rows} == {"32", "64"}
    assert all(float(row["mean_steps"]) >= int(row["batch_size"]) for row in rows)
    assert {row["policy"] for row in rows} == {str(tmp_path / "model.zip")}
    assert {row["algo"] for row in rows} == {"vpg"}
    # The value fit: its R^2 on the batch pool and the passes that gave V, in the CSV and on the table's V rows
    assert [float(row["critic_r2"]) for row in rows] == pytest.approx([report.critic_r2] * len(rows))
    assert report.critic_r2 <= 1.0
    assert {row["critic_passes"] for row in rows} == {"1"} and {row["critic_stopped"] for row in rows} == {"budget"}
    for name in ("cosine.png", "variance.png", "natural.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "| G_t-V | 64 |" in printed and "| V R^2 |" in printed
    assert f"| {report.critic_r2:.3g} |" in next(line for line in printed.splitlines() if line.startswith("| G_t-V | 64 |"))
    assert next(line for line in printed.splitlines() if line.startswith("| G_t-b | 64 |")).endswith("| - |")


def test_zoo_folder_finds_the_latest_run_and_its_normalization(tmp_path):
    for run_id in (1, 2):
        model = VPG("MlpPolicy", "CartPole-v1", policy_kwargs=dict(net_arch=[8 * run_id]), seed=run_id)
        run = tmp_path / "vpg" / f"CartPole-v1_{run_id}"
        (run / "CartPole-v1").mkdir(parents=True)
        model.save(run / "CartPole-v1.zip")
    (run / "CartPole-v1" / "config.yml").write_text(yaml.dump({"normalize": True}))
    VecNormalize(make_vec_env("CartPole-v1")).save(str(run / "CartPole-v1" / "vecnormalize.pkl"))
    loaded, env, source = load_policy(parse_args(["--env", "CartPole-v1", "--algo", "vpg", "-f", str(tmp_path)]))
    assert source == str(run / "CartPole-v1.zip")
    assert isinstance(loaded, VPG)
    assert all(th.equal(p, q) for p, q in zip(loaded.policy.parameters(), model.policy.parameters(), strict=True))
    assert isinstance(env, VecNormalize) and not env.training and not env.norm_reward


@pytest.mark.parametrize("algo", [VPG, NPG])
def test_callback_does_not_change_training(algo, tmp_path):
    def train(callback):
        model = algo(
            "MlpPolicy",
            "CartPole-v1",
            n_steps=64,
            batch_size=32,
            n_critic_updates=2,
            policy_kwargs=dict(net_arch=[16]),
            seed=3,
        )
        model.set_logger(configure(str(tmp_path / str(callback is not None)), ["csv"]))
        model.learn(4 * 64, callback=callback)
        return model

    plain = train(None)
    callback = GradientQualityCallback("CartPole-v1", every_n_updates=2, n_batches=3, critic_epochs=2, n_envs=2)
    measured = train(callback)
    assert callback.n_measures == 2
    assert measured.num_timesteps == plain.num_timesteps == 4 * 64
    for (name, p), q in zip(plain.policy.state_dict().items(), measured.policy.state_dict().values(), strict=True):
        assert th.equal(p, q), name
    with open(tmp_path / "True" / "progress.csv") as file:
        logged = list(csv.DictReader(file))
    assert float(logged[0]["gradients/G_t_minus_V/cos_ref"]) > 0
    assert "gradients/GAE_0.95/nat_cos_pairwise" in logged[0]


def test_published_measurements_hold_what_the_page_says_of_them():
    """Each ``docs/gradients/<name>/gradients.csv`` holds every measure of the CLI's table for every weighting at
    every batch size, ``K`` batches of at least ``B`` steps each, and a reference pool of at least ten times the
    largest ``B`` (docs/gradients.md states these for every table it generates from them)."""
    root = Path(__file__).resolve().parent.parent
    paths = sorted((root / "docs" / "gradients").glob("*/gradients.csv"))
    assert len(paths) >= 8
    for path in paths:
        with open(path) as file:
            rows = list(csv.DictReader(file))
        sizes = sorted({int(row["batch_size"]) for row in rows})
        weightings = {row["weighting"] for row in rows}
        assert {"R(tau)", "G_t", "G_t-b", "G_t-V"} <= weightings, path
        assert len(rows) == len(sizes) * len(weightings), path
        for row in rows:
            assert all(row[key] != "" for _, key in TABLE), (path, row["weighting"], row["batch_size"])
            assert float(row["mean_steps"]) >= int(row["batch_size"]), path
            assert int(row["reference_steps"]) >= 10 * sizes[-1], path
            assert int(row["n_batches"]) == int(rows[0]["n_batches"]) >= 32, path


def test_cli_takes_the_algorithm_the_model_file_records(tmp_path, capsys):
    small = dict(n_steps=32, policy_kwargs=dict(net_arch=[8]), seed=0)
    NPG("MlpPolicy", "CartPole-v1", **small).save(tmp_path / "npg.zip")
    KLPPO("MlpPolicy", "CartPole-v1", batch_size=32, **small).save(tmp_path / "klppo.zip")
    base = ["--env", "CartPole-v1", "--n-envs", "1"]
    for algo, cls in (("npg", NPG), ("klppo", KLPPO)):
        for given in ([], ["--algo", algo]):
            args = parse_args([*base, "--model", str(tmp_path / f"{algo}.zip"), *given])
            model, env, _ = load_policy(args)
            assert args.algo == algo and type(model) is cls
            env.close()
    # A fresh KLPPO policy
    assert type(load_policy(parse_args([*base, "--algo", "klppo"]))[0]) is KLPPO
    # Another algorithm than the file's is refused, not loaded into an assertion about its schedules
    with pytest.raises(SystemExit) as error:
        parse_args([*base, "--model", str(tmp_path / "klppo.zip"), "--algo", "ppo"])
    assert error.value.code == 2
    assert "--algo ppo, but --model" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-k", "1"], "-k/--n-batches must be at least 2, got 1"),
        (["-b", "256", "0"], "-b/--batch-sizes must be at least 1, got 0"),
        (["--n-envs", "0"], "--n-envs must be at least 1, got 0"),
        (["--critic-epochs", "-1"], "--critic-epochs must be at least 0"),
        (["--max-episode-steps", "0"], "--max-episode-steps must be at least 1"),
        (["--env", "CartPol-v1"], "--env CartPol-v1: Environment `CartPol` doesn't exist. Did you mean: `CartPole`?"),
        (["--model", "MISSING"], "--model MISSING: no such file"),
        (["--model", "PPO"], "does not record its algorithm (SB3 and sb3-contrib files do not): pass --algo"),
        (["--model", "NOT_A_ZIP"], "is not a readable model file"),
        (["-f", "FOLDER", "--env-wrapper", "sb3_contrib.common.wrappers.TimeFeatureWrapper"], "--env-wrapper does not apply"),
        (["-f", "FOLDER"], "-f/--folder FOLDER: "),
        (["--exp-id", "2"], "--exp-id applies to a zoo log folder (-f) only"),
        (["--load-best"], "--load-best applies to a zoo log folder (-f) only"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag_before_anything_is_built(argv, message, tmp_path, capsys, monkeypatch):
    from stable_baselines3 import PPO

    PPO("MlpPolicy", "CartPole-v1", n_steps=32, policy_kwargs=dict(net_arch=[8])).save(tmp_path / "ppo.zip")
    (tmp_path / "text.zip").write_text("not a zip")
    (tmp_path / "logs").mkdir()
    paths = {"MISSING": str(tmp_path / "missing.zip"), "PPO": str(tmp_path / "ppo.zip")}
    paths |= {"NOT_A_ZIP": str(tmp_path / "text.zip"), "FOLDER": str(tmp_path / "logs")}
    argv = [paths.get(arg, arg) for arg in argv]
    message = message.replace("MISSING", paths["MISSING"]).replace("FOLDER", paths["FOLDER"])
    built = []
    monkeypatch.setattr("sb3_pg.gradients.__main__.make_vec_env", lambda *args, **kwargs: built.append(args))
    env = [] if "--env" in argv else ["--env", "CartPole-v1"]
    with pytest.raises(SystemExit) as error:
        main([*env, *argv, "-o", str(tmp_path / "out"), "--no-progress"])
    assert error.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("python -m sb3_pg.gradients: error: ") and message in last
    assert not built and not (tmp_path / "out").exists()


class EndlessEnv(gym.Env):
    """An episode that never ends: the reward is 1 at every step."""

    observation_space = spaces.Box(-1, 1, shape=(2,), dtype=np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(2, dtype=np.float32), 1.0, False, False, {}


def test_sampling_truncates_an_episode_that_never_ends():
    env = make_vec_env(EndlessEnv, n_envs=2, seed=0)
    model = VPG("MlpPolicy", env, policy_kwargs=dict(net_arch=[8]), seed=0)
    with pytest.warns(UserWarning, match="ran 20 steps \\(max_episode_steps\\) without ending"):
        pool = sample_episodes(model.policy, env, 50, max_episode_steps=20)
    # Both envs truncated at 20, reset together, and so on until 50 steps: 3 x 20 at least, every episode of 20
    assert pool.n_steps >= 50 and set(pool.lengths) == {20}
    assert pool.rewards.sum() == pool.n_steps


def exact_value_fit(gamma):
    """V(t) of the tabular MDP, and the R^2 of that V on the steps of its episodes (each episode has one of each t)."""
    probabilities, returns = [], []
    for sequence in itertools.product(range(N_ACTIONS), repeat=HORIZON):
        rewards = REWARDS[np.arange(HORIZON), sequence]
        returns.append([rewards[0] + gamma * rewards[1], rewards[1]])
        probabilities.append(np.prod(PROBS[np.arange(HORIZON), sequence]))
    probabilities, returns = np.array(probabilities), np.array(returns)
    values = probabilities @ returns
    variance_within = probabilities @ ((returns - values) ** 2)  # per t
    total = (probabilities @ (returns**2)).mean() - values.mean() ** 2
    return values, 1.0 - variance_within.mean() / total


def test_value_fit_converges_on_held_out_episodes():
    gamma = 0.9
    model, env = tabular_model()
    pool = sample_episodes(model.policy, env, 4000)
    values, r2 = exact_value_fit(gamma)
    fit = fit_value_function(model.policy, pool, gamma, max_epochs=2000, patience=10, rng=np.random.default_rng(0))
    fitted = fit.critic.predict_values(th.eye(HORIZON)).detach().numpy().flatten()
    # Twenty passes (the fixed fit there was) leave V far from V^pi here; the fit runs until the held-out error stops
    assert fit.stopped == "converged" and 20 < fit.passes < 2000
    np.testing.assert_allclose(fitted, values, atol=0.05)
    assert fit.holdout_r2 == pytest.approx(r2, abs=0.05)
    # The policy is not changed
    assert float(model.policy.value_net.weight.detach().abs().sum()) == 0.0

    report = measure_gradients(
        model.policy, env, gamma, [64], n_batches=4, reference_steps=640, critic_steps=2000, natural=False, seed=0
    )
    assert report.critic_stopped == "converged" and report.critic_r2 == pytest.approx(r2, abs=0.1)
    # Without a fit, V is the value head as it is (zero here): worse than the pool's mean, R^2 below 0
    unfitted = measure_gradients(model.policy, env, gamma, [64], n_batches=4, critic_epochs=0, natural=False, seed=0)
    assert unfitted.critic_passes == 0 and unfitted.critic_stopped == "no fit" and unfitted.critic_r2 < 0


def test_value_fit_buffer_is_on_the_policy_device():
    class Policy:  # what the buffer reads of a policy; "meta" stands in for an accelerator
        observation_space = spaces.Box(0, 1, shape=(2,), dtype=np.float32)
        action_space = spaces.Discrete(3)
        device = th.device("meta")

    pool = EpisodePool(np.zeros((3, 2), np.float32), np.zeros((3, 1)), np.ones(3, np.float32), np.array([0, 2, 3]))
    buffer = _pool_buffer(pool, Policy(), 0.9)
    assert buffer.device == th.device("meta")
    np.testing.assert_allclose(buffer.returns[:, 0], [1.9, 1.0, 1.0])
