"""The pages' common parts: where they are, their generated blocks, Markdown tables, and a comparison folder's CSVs."""

import io
import json
import re
from pathlib import Path

import gymnasium as gym
import pandas as pd
from train_logs import progress_logs

from sb3_pg.compare.report import MIN_SEEDS_FOR_CI
from sb3_pg.compare.spec import read_archive

ROOT = Path(__file__).resolve().parent.parent
DOCS, TUNING = ROOT / "docs", ROOT / "docs" / "tuning"
BLOCK = re.compile(r"(<!-- begin (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end (?P=name) -->)", re.DOTALL)
PUBLISHED = json.loads((DOCS / "published.json").read_text())
VERDICT = {"above": "met", "level": "level", "below": "not met", "not run": "not run"}
Rows = list[list[str]]
PPO_ROWS = ("ppo", "ppo_cleanrl")  # PPO-clip as the zoo ships it, and at its best public settings where those differ


def num(value: float) -> str:
    """:return: ``value`` with a thousands separator, one decimal below 1,000"""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}"


def table(header: str, rows: Rows) -> str:
    """:return: a Markdown table, its column names ``header`` separated by `` | ``"""
    lines = [f"| {header} |", "|" + "---|" * len(header.split(" | "))]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def frame_table(frame: pd.DataFrame, formats: dict[str, str], first: str) -> str:
    """:return: ``frame`` as a Markdown table, its index as column ``first``, its columns under the headers of ``formats``"""
    rows = []
    for index, values in zip(frame.index, frame.to_numpy(), strict=True):
        cells = ["" if pd.isna(value) else f.format(value) for value, f in zip(values, formats.values(), strict=True)]
        rows.append([str(index), *cells])
    return table(" | ".join([first, *formats]), rows)


def stand(low: float, high: float, other_low: float, other_high: float) -> str:
    """:return: ``above``, ``level`` or ``below``: an interval against another; overlapping intervals are level"""
    if low > other_high:
        return "above"
    return "below" if high < other_low else "level"


class Comparison:
    """The CSVs of a comparison folder, and the figures the pages quote from them."""

    def __init__(self, folder: Path, candidate: str | None = None) -> None:
        """:param candidate: the rows of this candidate of a packed sweep (``benchmarks/study.py pack``)"""

        def read(name: str) -> pd.DataFrame:
            frame = pd.read_csv(folder / name)
            return frame if candidate is None else frame[frame.pop("candidate") == candidate].reset_index(drop=True)

        self.folder, self.summary, self.runs = folder, read("summary.csv"), read("runs.csv")
        evaluations = read("evaluations.csv")
        budgets = evaluations["env"].map(self.runs.groupby("env")["n_timesteps"].first())
        self.evaluations = evaluations[evaluations["timesteps"] <= budgets]  # later ones are not used, as in the report
        self.envs = list(dict.fromkeys(self.summary["env"]))

    def row(self, env: str, algo: str) -> pd.Series | None:
        rows = self.summary[(self.summary["env"] == env) & (self.summary["algo"] == algo) & (self.summary["finished"] > 0)]
        return rows.iloc[0] if len(rows) else None

    def iqm(self, env: str, algo: str) -> str:
        """:return: ``IQM [CI low, CI high] (finished runs)``, with fewer seeds their mean and range; or ``not run``"""
        if (r := self.row(env, algo)) is None:
            return "not run"
        if r["finished"] < MIN_SEEDS_FOR_CI:
            return f"{r['iqm']:,.1f} (range {r['iqm_ci_low']:,.1f} to {r['iqm_ci_high']:,.1f}) ({r['finished']})"
        return f"{r['iqm']:,.1f} [{r['iqm_ci_low']:,.1f}, {r['iqm_ci_high']:,.1f}] ({r['finished']})"

    def mean_std(self, env: str, algo: str) -> str:
        if (r := self.row(env, algo)) is None:
            return "not run"
        return f"{r['final_return_mean']:,.1f} ± {r['final_return_std']:,.1f}"

    def versus(self, env: str, algo: str, other: str, others: "Comparison | None" = None) -> str:
        """:return: how ``algo``'s IQM CI on ``env`` stands to ``other``'s (from ``others`` when given), or ``not run``"""
        mine, theirs = self.row(env, algo), (others or self).row(env, other)
        if mine is None or theirs is None:
            return "not run"
        return stand(mine["iqm_ci_low"], mine["iqm_ci_high"], theirs["iqm_ci_low"], theirs["iqm_ci_high"])

    def seeds(self, env: str, algo: str, column: str) -> pd.Series:
        runs = self.runs[(self.runs["env"] == env) & (self.runs["algo"] == algo) & (self.runs["status"] == "finished")]
        return runs.sort_values("seed")[column]

    def best_ppo(self, env: str) -> str:
        """:return: the PPO-clip row of ``env`` with the higher IQM: the zoo's ``ppo``, or ``ppo_cleanrl`` where it ran"""
        return max((algo for algo in PPO_ROWS if self.row(env, algo) is not None), key=lambda a: self.row(env, a)["iqm"])

    def training_returns(self, env: str, algo: str) -> list[float]:
        """:return: per seed, SB3's ``rollout/ep_rew_mean`` at the end of training (the last 100 episodes, stochastic
        actions), from the run's last ``progress.csv``; empty when a run has none"""
        values = []
        for seed in self.seeds(env, algo, "seed"):
            if not (logs := progress_logs(self.folder / env / algo / f"seed_{seed}", algo, env)):
                return []
            values.append(pd.read_csv(io.BytesIO(logs[-1]))["rollout/ep_rew_mean"].dropna().iloc[-1])
        return values

    def seed_table(self, env: str) -> str:
        """:return: per algorithm and seed: final and best return, mean of the evaluations, evaluations at the time limit"""
        limit, rows = gym.spec(env).max_episode_steps, []
        for algo in dict.fromkeys(self.summary[self.summary["env"] == env]["algo"]):
            by_seed = self.evaluations[(self.evaluations["env"] == env) & (self.evaluations["algo"] == algo)].groupby("seed")
            full = by_seed["ep_length_mean"].apply(lambda lengths: f"{(lengths >= limit).sum()}/{len(lengths)}")
            cells = [self.seeds(env, algo, "final_return"), self.seeds(env, algo, "best_return"), by_seed["eval_mean"].mean()]
            rows.append([algo, *(", ".join(map(num, values)) for values in cells), ", ".join(full)])
        header = "algorithm | final return, per seed | best evaluation | mean of the evaluations | evaluations with every"
        return table(f"{header} episode at the time limit ({limit} steps)", rows)

    def target_kl(self, env: str, algo: str) -> float:
        """:return: the ``target_kl`` of ``algo``'s seed-0 run on ``env``: its override's, its entry's, or 0.01"""
        loose, name = self.folder / env / algo / "seed_0" / "spec.json", f"{algo}/seed_0/spec.json"
        spec = json.loads(loose.read_bytes() if loose.is_file() else read_archive(self.folder / env, name)[name])
        overrides = dict(item.split(":", 1) for item in spec.get("hyperparams", []) if ":" in item)
        return float(overrides.get("target_kl", json.loads(spec.get("entry") or "{}").get("target_kl", 0.01)))

    def penalty_table(self, rerun: Path) -> str:
        """
        :return: per KLPPO run, its beta and its rollout KL over training, from the run's own log; for a run that kept
            none, from the re-run of its spec and seed in the folder ``rerun``, with the re-run's final return
        """
        updates, reruns = pd.read_csv(self.folder / "updates.csv"), pd.read_csv(rerun / "updates.csv")
        finals = pd.read_csv(rerun / "finals.csv").set_index(["env", "seed"])["final_return"]
        rows = []
        for env in self.envs:
            target = self.target_kl(env, "klppo")
            for seed, final in zip(self.seeds(env, "klppo", "seed"), self.seeds(env, "klppo", "final_return"), strict=True):
                run, source = updates[(updates["env"] == env) & (updates["algo"] == "klppo") & (updates["seed"] == seed)], ""
                if run.empty:
                    run = reruns[(reruns["env"] == env) & (reruns["algo"] == "klppo") & (reruns["seed"] == seed)]
                    rerun_final = finals.get((env, seed))
                    if rerun_final is None:  # a re-run not finished
                        run = run.iloc[:0]
                    source = f"re-run, final {num(rerun_final)}" if len(run) else "none kept"
                if run.empty:
                    rows.append([env, str(seed), num(final), source, "", "", "", ""])
                    continue
                beta, kl = run["kl_coef"], run["kl"]
                band = ((kl >= target / 1.5) & (kl <= 1.5 * target)).mean()
                betas = f"{beta.iloc[0]:.3g} → {beta.median():.3g} → {beta.iloc[-1]:.3g}"
                cells = [f"{len(run):,}", betas, f"{kl.median():.3g} ({target:g})", f"{band:.0%}"]
                rows.append([env, str(seed), num(final), source or "the run's own", *cells])
        header = "environment | seed | final return | log | updates | beta: first → median → last | rollout KL, median"
        return table(f"{header} (target) | KL in the band", rows)

    def steps_table(self) -> str:
        """:return: per environment and algorithm that logs one: the KL after the step, TRPO's line search, the std"""
        updates = pd.read_csv(self.folder / "updates.csv")
        groups = updates.groupby(["env", "algo"], sort=False)
        frame = groups.agg(runs=("seed", "nunique"), updates=("seed", "size"), kl=("kl", "median"), kl_max=("kl", "max"))
        frame["updates"] //= frame["runs"]
        frame["target"] = [self.target_kl(*key) if pd.notna(frame.loc[key, "kl"]) else None for key in frame.index]
        updates = updates.join(frame["target"], on=["env", "algo"])
        over = (updates["kl"] > 2 * updates["target"]).groupby([updates["env"], updates["algo"]], sort=False).sum()
        frame["over"] = over.where(frame["target"].notna())
        search = groups["line_search_success"]
        frame["search"] = search.agg(lambda ok: f"{ok.sum():,.0f} of {ok.count():,}" if ok.count() else None)
        std = updates.dropna(subset=["std"]).groupby(["env", "algo", "seed"], sort=False)["std"].agg(["first", "last"])
        std = std.groupby(["env", "algo"], sort=False).mean()
        frame["std"] = std["first"].map("{:.3g}".format) + " → " + std["last"].map("{:.3g}".format)
        frame.index = [f"{env} | {algo}" for env, algo in frame.index]
        formats = {"updates per run": "{:,}", "target_kl": "{:.4g}", "KL median": "{:.3g}", "KL max": "{:.3g}"}
        formats |= {"KL > 2 x target": "{:.0f}", "line search succeeded": "{}", "policy std, first → last": "{}"}
        frame = frame[["updates", "target", "kl", "kl_max", "over", "search", "std"]]
        return frame_table(frame, formats, "environment | algorithm")


def refresh(page: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """:return: ``page`` with its blocks rewritten, and the problems: stale blocks, blocks with no text, text with no block"""
    blocks = {name: text.rstrip("\n") + "\n" for name, text in blocks.items()}
    found = {match["name"]: match["body"] for match in BLOCK.finditer(page)}
    problems = [f"block {name!r} is stale" for name, body in found.items() if blocks.get(name, body) != body]
    problems += [f"block {name!r} has no generator" for name in found if name not in blocks]
    problems += [f"no block {name!r} on the page" for name in blocks if name not in found]
    return BLOCK.sub(lambda m: m[1] + blocks.get(m["name"], m["body"]) + m[4], page), problems


def random_returns(env_id: str, episodes: int = 10) -> list[float]:
    """:return: the returns of uniformly random actions over ``episodes`` seeded episodes"""
    env, returns = gym.make(env_id), []
    env.action_space.seed(0)
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return returns


def random_return(env_id: str, episodes: int = 10) -> float:
    """:return: the mean return of uniformly random actions over ``episodes`` seeded episodes"""
    return sum(random_returns(env_id, episodes)) / episodes
