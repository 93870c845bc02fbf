"""
Rewrite every generated block of the pages, the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``, from
the committed raw results; nothing trains. The text around the blocks is written by hand and quotes no figure.

    python benchmarks/docs.py            # rewrite every block
    python benchmarks/docs.py --check    # exit 1, naming each stale or missing block; write nothing
"""

import argparse
import functools
import io
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np
import optuna
import pandas as pd
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState
from scipy.stats import mannwhitneyu
from speed import speed_tables
from train_logs import progress_logs

from sb3_pg.compare.report import MIN_SEEDS_FOR_CI, format_table, markdown_table

ROOT = Path(__file__).resolve().parent.parent
DOCS, TUNING = ROOT / "docs", ROOT / "docs" / "tuning"
BLOCK = re.compile(r"(<!-- begin (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end (?P=name) -->)", re.DOTALL)
PUBLISHED = json.loads((DOCS / "published.json").read_text())
VERDICT = {"above": "met", "level": "level", "below": "not met", "not run": "not run"}
TOP, FIRST = 5, 3  # a study table shows the TOP best complete trials; every re-check holds the FIRST seeds (100-102)
Rows = list[list[str]]
# docs/defaults.md: the candidate each algorithm's defaults are, and the aims (CartPole-v1 mean, score)
CHOSEN = {
    "vpg": ("vpg_512_3e-3_critic80", 400, 0.5),
    "reinforce": ("reinforce_1000_3e-3", 300, None),
    "npg": ("class", None, 0.9),
}
PINNED = "0.1.0"  # benchmarks/defaults/<algo>_0.1.0.yml: 0.1.0's class defaults, written out once 0.2.0 changed them
PPO_ROWS = ("ppo", "ppo_cleanrl")  # PPO-clip as the zoo ships it, and at its best public settings where those differ
TARGETS = {  # the targets: the block of each on docs/benchmark.md, the header of its table
    "target-npg": "environment | NPG final | TRPO final | NPG IQM [95% CI] | TRPO IQM [95% CI] | verdict",
    "target-vpg": "environment | VPG IQM [95% CI] | A2C here | VPG vs A2C here | zoo's A2C (its budget) | verdict",
    "target-reinforce": "environment | seeds reaching 475 in training | seeds ending at 475 or more | finals | verdict",
    "target-tianshou": "environment | algorithm | best evaluation, mean (per seed) | Tianshou (its budget) | verdict",
}


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

    def __init__(self, folder: Path) -> None:
        self.folder, self.summary, self.runs = folder, pd.read_csv(folder / "summary.csv"), pd.read_csv(folder / "runs.csv")
        evaluations = pd.read_csv(folder / "evaluations.csv")
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
        spec = json.loads((self.folder / env / algo / "seed_0" / "spec.json").read_text())
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


def targets(bench: Comparison) -> dict[str, Rows]:
    """:return: per target of the issue, the rows of its table: one per environment, the verdict last"""
    npg = []
    for env in bench.envs:
        finals = [bench.mean_std(env, "npg"), bench.mean_std(env, "trpo"), bench.iqm(env, "npg"), bench.iqm(env, "trpo")]
        npg.append([env, *finals, VERDICT[bench.versus(env, "npg", "trpo")]])
    vpg = []
    for env, (mean, std, budget) in PUBLISHED["zoo_a2c"].items():
        r = bench.row(env, "vpg")
        verdict = "not run" if r is None else VERDICT[stand(r["iqm_ci_low"], r["iqm_ci_high"], mean, mean)]
        here = [bench.iqm(env, "vpg"), bench.iqm(env, "a2c"), bench.versus(env, "vpg", "a2c")]
        vpg.append([env, *here, f"{mean:,.1f} ± {std:,.1f} ({budget})", verdict])
    finals, r = bench.seeds("CartPole-v1", "reinforce", "final_return"), bench.row("CartPole-v1", "reinforce")
    reached = [f"{r['seeds_reaching_threshold']} of {r['finished']}", f"{(finals >= 475).sum()} of {len(finals)}"]
    reinforce = [["CartPole-v1", *reached, ", ".join(map(num, finals)), "met" if (finals >= 475).all() else "not met"]]
    tianshou = []
    for env, theirs in PUBLISHED["tianshou"].items():
        for algo, (figure, budget) in theirs.items():
            best = bench.seeds(env, algo, "best_return")
            mine = f"{best.mean():,.0f} ({', '.join(f'{value:,.0f}' for value in best)})"
            verdict = VERDICT[stand(best.min(), best.max(), figure, figure)]
            tianshou.append([env, algo, mine, f"{figure:,} ({budget})", verdict])
    return dict(zip(TARGETS, (npg, vpg, reinforce, tianshou), strict=True))


def benchmark_blocks(bench: Comparison, dual: Comparison, goals: dict[str, Rows]) -> dict[str, str]:
    """:return: the blocks of ``docs/benchmark.md``, the tables of the targets ``goals`` among them"""
    blocks, status, klppo = {name: table(TARGETS[name], rows) for name, rows in goals.items()}, [], []
    for env in bench.envs:
        rows = bench.summary[bench.summary["env"] == env]
        blocks[f"table-{env}"], blocks[f"seeds-{env}"] = markdown_table(format_table(rows)), bench.seed_table(env)
        seeds = "/".join(sorted({str(n) for n in rows["runs"]}))
        status.append([env, f"{rows['n_timesteps'].iloc[0]:,}", f"{rows['finished'].sum()} of {rows['runs'].sum()}", seeds])
        ppo = bench.best_ppo(env)
        iqms = [bench.iqm(env, "klppo"), f"{bench.iqm(env, ppo)} {ppo}", bench.iqm(env, "trpo")]
        klppo.append([env, *iqms, bench.versus(env, "klppo", ppo), bench.versus(env, "klppo", "trpo")])
    blocks["status"] = table("environment | budget (steps) | runs finished | seeds", status)
    blocks["steps"], blocks["klppo-penalty"] = bench.steps_table(), bench.penalty_table(DOCS / "klppo-logs")
    goals = []
    for name, column, needed in (("PPO-clip", 4, 6), ("TRPO", 5, 5)):
        level_or_above = sum(row[column] in ("level", "above") for row in klppo)
        verdict = "met" if level_or_above >= needed else "not met"
        goals.append([f"KLPPO level with or above {name}", f"{level_or_above} of {len(klppo)}", f"{needed} of 8", verdict])
    blocks["target-klppo"] = table("target | environments | needed | verdict", goals)
    header = "environment | KLPPO IQM [95% CI] (runs) | PPO-clip, the better row | TRPO | KLPPO vs PPO-clip | KLPPO vs TRPO"
    blocks["klppo"], blocks["table1"], blocks["ppo-public"] = table(header, klppo), table1(bench), public_figures(bench)
    dual_rows = [
        [env, bench.iqm(env, "klppo"), dual.iqm(env, "klppo"), dual.versus(env, "klppo", "klppo", bench)] for env in dual.envs
    ]
    blocks["klppo-dual"] = table("environment | adaptive (the benchmark) | dual | dual vs adaptive", dual_rows)
    return blocks


@functools.cache
def random_return(env_id: str, episodes: int = 10) -> float:
    """:return: the mean return of uniformly random actions over ``episodes`` seeded episodes"""
    env, returns = gym.make(env_id), []
    env.action_space.seed(0)
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return sum(returns) / episodes


def ahead(penalty: float, clipping: float) -> str:
    """:return: which normalised score is ahead to two decimals: ``clipping``, ``penalty`` or ``neither``"""
    return "neither" if round(penalty, 2) == round(clipping, 2) else "clipping" if clipping > penalty else "penalty"


def table1(bench: Comparison) -> str:
    """:return: KLPPO's and PPO-clip's final returns normalised as in the PPO paper's Table 1, per env and averaged"""
    rows, scores = [], {"klppo": {}, "ppo": {}}
    for env in [env for env in bench.envs if bench.row(env, "klppo") is not None]:
        ppo, random = bench.best_ppo(env), random_return(env)
        finals = {"klppo": bench.row(env, "klppo")["final_return_mean"], "ppo": bench.row(env, ppo)["final_return_mean"]}
        for algo, final in finals.items():
            scores[algo][env] = (final - random) / (max(finals.values()) - random)
        cells = [num(random), num(finals["klppo"]), num(finals["ppo"]), *(f"{scores[a][env]:.2f}" for a in scores)]
        rows.append([env, *cells, ahead(scores["klppo"][env], scores["ppo"][env])])
    for name, envs in (("MuJoCo, mean", ["HalfCheetah-v4", "Hopper-v4", "Walker2d-v4"]), ("all, mean", list(scores["ppo"]))):
        if all(env in scores["ppo"] for env in envs):
            means = [sum(scores[algo][env] for env in envs) / len(envs) for algo in scores]
            rows.append([name, "", "", "", f"{means[0]:.2f}", f"{means[1]:.2f}", ahead(*means)])
    header = "environment | random | KLPPO final | PPO-clip final | KLPPO score | PPO-clip score | ahead (Table 1: clipping)"
    return table(header, rows)


def public_figures(bench: Comparison) -> str:
    """:return: PPO's and TRPO's rows beside their public figures, each against the figure's spread on its own metric"""
    rows = []
    for env, zoo in PUBLISHED["zoo_ppo_trpo"].items():
        figures = [(a, "zoo", zoo[a]) for a in zoo] + [(a, "CleanRL", PUBLISHED["cleanrl_ppo"][env]) for a in PPO_ROWS]
        for algo, source, (mean, std) in [figure for figure in figures if bench.row(env, figure[0]) is not None]:
            finals, training = bench.seeds(env, algo, "final_return"), bench.training_returns(env, algo)
            # The zoo's figure is a final evaluation, CleanRL's a training return: each is set against its own kind
            mine = finals.mean() if source == "zoo" else sum(training) / len(training) if training else math.nan
            where = (
                "other metric" if math.isnan(mine) else stand(mine, mine, mean - std, mean + std).replace("level", "within")
            )
            cells = [f"{', '.join(map(num, finals))} ({num(finals.mean())})", ", ".join(map(num, training)) or "not logged"]
            rows.append([env, algo, f"{num(mean)} ± {num(std)} ({source})", *cells, where])
    header = "environment | row here | public figure | final evaluation here, per seed (mean) | training return here | here"
    return table(header + " against the figure's spread", rows)


def defaults_blocks() -> dict[str, str]:
    """:return: the sweep of ``docs/defaults.md`` (per algorithm and candidate, each env's final return per seed, and
    the mean over the envs but CartPole-v1 of ``(R - R_random) / (R_TRPO - R_random)``, TRPO at its class defaults),
    and the issue's aims for the candidates chosen, ``CHOSEN``"""
    folders = {path.parent.name: Comparison(path.parent) for path in sorted((DOCS / "defaults").glob("*/summary.csv"))}
    pinned = {name.split("_")[0]: folders.pop(name) for name in list(folders) if name.endswith(f"_{PINNED}")}
    envs, trpo, rows, found, same = folders["class"].envs, folders["class"], [], {}, []
    for name, folder in folders.items():
        for algo in dict.fromkeys(folder.summary["algo"]):
            finals = {env: folder.seeds(env, algo, "final_return") for env in envs}
            for env in envs if name == "class" and algo in pinned else []:
                again = pinned[algo].seeds(env, algo, "final_return")
                if len(again) > len(finals[env]):  # trained only from the pinned file
                    finals[env] = again
                elif len(again):  # trained both ways: the pinned file must train what the class did
                    agree = "the same" if np.array_equal(again, finals[env]) else "DIFFERENT"
                    same.append([algo, env, ", ".join(map(num, finals[env])), ", ".join(map(num, again)), agree])
            others = [env for env in envs if env != "CartPole-v1" and len(finals[env]) and trpo.row(env, "trpo") is not None]
            scores = [
                (finals[env].mean() - random_return(env)) / (trpo.row(env, "trpo")["final_return_mean"] - random_return(env))
                for env in others
            ]
            found[algo, name] = (finals["CartPole-v1"].mean(), sum(scores) / len(scores))
            rows.append(
                [algo, name, *(", ".join(map(num, finals[env])) or "not run" for env in envs), f"{found[algo, name][1]:.2f}"]
            )
    aims = []
    for algo, (name, cartpole, score) in CHOSEN.items():
        mine = found[algo, name]
        met = (cartpole is None or mine[0] >= cartpole) and (score is None or mine[1] >= score)
        aims.append(
            [
                algo,
                name,
                f"{num(mine[0])} (aim {cartpole or '-'})",
                f"{mine[1]:.2f} (aim {score or '-'})",
                "met" if met else "not met",
            ]
        )
    header = "algorithm | defaults (candidate) | CartPole-v1, mean | score against TRPO | verdict"
    return {
        "defaults": table(" | ".join(["algorithm", "candidate", *envs, "score against TRPO"]), rows),
        "aims": table(header, aims),
        "pinned": table(f"algorithm | environment | class | <algo>_{PINNED}.yml | finals", same),
    }


def entry_status(path: Path) -> dict[str, str]:
    """:return: per entry of a hyperparameter file, the first words of the ``Tuned``/``Searched``/``Untuned`` comment above"""
    above = re.findall(r"^# ((?:Tuned|Searched|Untuned).*)\n(?:#.*\n)*([A-Za-z][\w.-]*):", path.read_text(), re.MULTILINE)
    return {entry: re.split(r"\. |: |;", said)[0].rstrip(".") for said, entry in above}


def hyperparameter_table(bench: Comparison) -> str:
    """:return: the table of ``docs/hyperparameters.md``: each entry's result beside PPO's, TRPO's and the zoo's best"""
    rows = []
    for env, (zoo_algo, zoo_mean, zoo_std, zoo_budget) in PUBLISHED["zoo_best_on_policy"].items():
        for algo in ("reinforce", "vpg", "npg"):
            path = ROOT / "hyperparams" / f"{algo}.yml"
            if (entry := yaml.safe_load(path.read_text()).get(env)) is None:
                continue
            r, steps = bench.row(env, algo), float(entry["n_timesteps"])
            entry_cells = [entry_status(path).get(env, "?"), f"{steps / 1e6:g}M" if steps >= 1e6 else f"{steps / 1e3:g}k"]
            others = [" / ".join(bench.mean_std(env, other) for other in ("ppo", "trpo"))]
            others.append(f"{zoo_mean:.1f} ± {zoo_std:.1f} ({zoo_algo}, {zoo_budget})")
            if r is None:
                rows.append([env, algo, *entry_cells, "0", "not measured", *others, "n/a"])
                continue
            short = r["final_return_mean"] - zoo_mean
            verdict = "yes" if short >= 0 else f"no ({short:+,.1f})"
            rows.append([env, algo, *entry_cells, f"{r['finished']}/{r['runs']}", bench.mean_std(env, algo), *others, verdict])
    reached = [f"{env} {algo}" for env, algo, *_, verdict in rows if verdict == "yes"]
    header = "env | algo | status | budget | seeds | final return (mean ± std) | same env: PPO / TRPO here"
    text = table(f"{header} | zoo's best on-policy | reached", rows)
    return f"{text}\n{len(reached)} of the {len(rows)} entries reach the zoo's figure: {', '.join(reached)}."


def conformance_blocks() -> dict[str, str]:
    """:return: the counts, the listed exceptions and the arguments not taken of ``docs/conformance.md``, from its JSON"""
    raw = json.loads((DOCS / "conformance.json").read_text())
    frame = pd.DataFrame(raw["results"]).T.drop(columns="failures").astype(int)
    frame.insert(0, "items", frame.sum(axis=1))
    frame.index = [algo.upper() if algo != "a2c" else "A2C (SB3, the reference)" for algo in frame.index]
    formats = dict.fromkeys(["items", "passed", "failed", "skipped", "listed exceptions"], "{}")
    listed = [f"- {algo.upper()}, `{fragment}`: {why}" for algo, items in raw["exceptions"].items() for fragment, why in items]
    modules = f"Stable-Baselines3 {raw['stable_baselines3']}, modules: {', '.join(raw['modules'])}.\n\n"
    not_taken = []  # one line per argument and reason, naming the algorithms that give it
    for argument, reasons in raw["not_taken"].items():
        for why in dict.fromkeys(reasons.values()):
            algos = ", ".join(algo.upper() for algo, reason in reasons.items() if reason == why)
            not_taken.append(f"- `{argument}` ({algos}): {why}")
    table_text = modules + frame_table(frame, formats, "algorithm")
    return {"conformance": table_text, "exceptions": "\n".join(listed), "not-taken": "\n".join(not_taken)}


def memory_table() -> str:
    """:return: the table of ``docs/memory.md``: resident memory early in the run and at its end, from the raw samples"""
    rows = []
    for path in sorted((DOCS / "memory").glob("*_*.csv")):
        rss = pd.read_csv(path)["rss_mib"]
        early, final = rss.iloc[max(0, len(rss) // 10 - 1)], rss.iloc[-1]
        rows.append([*path.stem.split("_", 1), str(len(rss)), f"{early:.1f}", f"{final:.1f}", f"{final - early:+.1f}"])
    header = "algorithm | environment | rollouts | RSS after 10% of the run (MiB) | RSS at the end (MiB)"
    return table(f"{header} | growth over the last 90% (MiB)", rows)


def first_batch(sizes: pd.Series, cosines: pd.Series, level: float) -> str:
    """:return: the smallest measured ``B`` whose mean cosine reaches ``level``, or ``> B_max`` where none does"""
    reached = sizes[cosines.to_numpy() >= level]
    if not len(reached):
        return f"> {sizes.max():,}"
    return f"<= {reached.min():,}" if reached.min() == sizes.min() else f"{reached.min():,}"


def gradient_blocks() -> dict[str, str]:
    """:return: per measured policy (``docs/gradients/<name>/gradients.csv``), one row per weighting: its variance
    as a fraction of ``R(tau)``'s (per step, ``variance * steps`` averaged over the batch sizes, as the variance falls
    as ``1/B``), its mean cosine to its own reference at ``B = 2048`` and at the largest ``B``, and the first ``B``
    at which that cosine reaches 0.5 and 0.9 (``<= B_min`` if the smallest
    does); then the same for the natural direction ``F^-1 g``"""
    blocks = {}
    for path in sorted((DOCS / "gradients").glob("*/gradients.csv")):
        raw, rows = pd.read_csv(path), []
        per_step = {
            prefix: (raw[f"{prefix}variance"] * raw["mean_steps"]).groupby(raw["weighting"], sort=False).mean()
            for prefix in ("", "nat_")
        }
        for weighting, runs in raw.groupby("weighting", sort=False):
            sizes, cells = runs["batch_size"], [weighting]
            for prefix in ("", "nat_"):
                cosine = runs[f"{prefix}cos_ref"]
                at = dict(zip(sizes, cosine, strict=True))
                cells += [
                    f"{per_step[prefix][weighting] / per_step[prefix]['R(tau)']:.3g}",
                    f"{at[2048]:.2f}" if 2048 in at else "-",
                    f"{at[sizes.max()]:.2f}",
                    first_batch(sizes, cosine, 0.5),
                    first_batch(sizes, cosine, 0.9),
                ]
            rows.append(cells)
        b_max = f"{raw['batch_size'].max():,}"
        measures = ["variance / R(tau)'s", "cos ref at 2,048", f"cos ref at {b_max}", "B to cos 0.5", "B to cos 0.9"]
        header = " | ".join(["weighting", *measures, *(f"natural: {m}" for m in measures)])
        blocks[f"gradients-{path.parent.name}"] = table(header, rows)
    return blocks | {"gradients-settings": gradient_settings(), "timefeature": timefeature_table()}


def timefeature_table() -> str:
    """:return: REINFORCE's CartPole-v1 entry of 0.2.0 trained as it was, with the remaining time in the observation, and
    with its learning rate annealed (``docs/timefeature/<arm>/``): each seed's final evaluation, how many end at 475
    or more, the IQM, the evaluations after a seed first reached 475 that fell below it, and a one-sided Mann-Whitney
    test that each seed's share of those is smaller than with the entry as it was"""
    rows, shares = [], {}
    arms = {"plain": "as it was (`3e-3`)", "wrapper": "with `TimeFeatureWrapper`", "linear": "`lin_3e-3`"}
    for arm, said in arms.items():
        runs = Comparison(DOCS / "timefeature" / arm)
        finals = runs.seeds("CartPole-v1", "reinforce", "final_return")
        after = [
            seed[seed["timesteps"] > seed.loc[seed["eval_mean"] >= 475, "timesteps"].min()]["eval_mean"]
            for _, seed in runs.evaluations.groupby("seed")
        ]
        shares[arm] = [float((evals < 475).mean()) for evals in after]
        fell = f"{sum(int((evals < 475).sum()) for evals in after)}/{sum(len(evals) for evals in after)}"
        test = "-" if arm == "plain" else f"{mannwhitneyu(shares['plain'], shares[arm], alternative='greater').pvalue:.3f}"
        cells = [f"{(finals >= 475).sum()}/{len(finals)}", runs.iqm("CartPole-v1", "reinforce"), fell, test]
        rows.append([said, ", ".join(map(num, finals)), *cells])
    header = "REINFORCE CartPole-v1 entry | final evaluation, seeds 0, 1, ... | seeds at 475 or more | IQM [95% CI]"
    return table(f"{header} | evaluations below 475 once 475 was reached | p, fewer than as it was", rows)


def gradient_settings() -> str:
    """:return: per measurement of ``docs/gradients.md``: the policy, the return it scores (the last evaluation of its
    zoo run, 10 deterministic episodes), ``K``, the batch sizes, the pools, and the wall time of the measurement"""
    rows = []
    for path in sorted((DOCS / "gradients").glob("*/gradients.csv")):
        raw = pd.read_csv(path)
        first, sizes = raw.iloc[0], raw["batch_size"].unique()
        policy = Path(first["policy"])
        if (evaluations := ROOT / policy.parent / "evaluations.npz").is_file():
            with np.load(evaluations) as saved:
                steps, score = saved["timesteps"][-1], saved["results"][-1].mean()
            described = f"{first['algo']} zoo entry, {steps:,} steps: {num(score)}"
        else:
            described = f"untrained {first['algo']} `MlpPolicy`, seed 0"
        ran = (path.parent / "command.txt").read_text() if (path.parent / "command.txt").is_file() else ""
        wall = re.search(r"wall time: (\d+) s", ran)
        cells = [f"{first['n_batches']:,}", f"{sizes.min():,} ... {sizes.max():,}", f"{first['reference_steps']:,}"]
        cells += [f"{first['critic_steps']:,}", f"{first['pool_steps']:,}", f"{int(wall[1]) / 60:.0f} min" if wall else "-"]
        # The value fit: its passes and its R^2 on the batch pool (a measurement older than those columns: 20 fixed passes)
        fitted = "critic_r2" in raw
        cells += [f"{first['critic_passes']:,}" if fitted else "20 (fixed)", f"{first['critic_r2']:.2f}" if fitted else "-"]
        rows.append([path.parent.name, first["env"], described, *cells])
    header = "measurement | environment | policy (return) | K | B | reference steps | V fit steps | batch pool steps"
    return table(f"{header} | wall time | V fit passes | V R^2 on the batch pool", rows)


def score(trial: FrozenTrial) -> float:
    """:return: the trial's value, or for a pruned or failed trial its last reported evaluation (NaN if none)"""
    if trial.value is not None:
        return trial.value
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else math.nan


def fmt(value: float) -> str:
    """:return: a return with one decimal, or in scientific notation when it is that close to zero"""
    return f"{value:.1e}" if 0 < abs(value) < 0.05 else f"{value:.1f}"


def spread(values: pd.Series) -> str:
    """:return: mean ± sample standard deviation (ddof 1, as ``summary.csv``), the value alone for one run"""
    return f"{values.mean():.1f}" if len(values) == 1 else f"{values.mean():.1f} ± {values.std():.1f}"


def study_block(log: Path) -> str:
    """:return: the trials of the study in the journal ``log`` by state, and the best, the enqueued and the re-checked"""
    trials = optuna.load_study(study_name=log.stem, storage=JournalStorage(JournalFileBackend(str(log)))).trials
    folders = (TUNING / "recheck" / log.stem).glob("trial_*")
    rechecked = {int(path.name[6:]) for path in folders if path.name[6:].isdigit()}
    enqueued = {trial.number for trial in trials if trial.system_attrs.get("fixed_params") is not None}
    complete = sorted((trial for trial in trials if trial.state == TrialState.COMPLETE), key=lambda trial: -trial.value)
    shown = [trial for trial in trials if trial.number in rechecked | enqueued | {best.number for best in complete[:TOP]}]
    rows = []
    for trial in sorted(shown, key=lambda trial: math.inf if math.isnan(score(trial)) else -score(trial)):
        start, end = trial.datetime_start, trial.datetime_complete
        minutes = "" if start is None or end is None else f"{(end - start).total_seconds() / 60:.0f}"
        cells = [str(trial.number), trial.state.name.lower(), str(len(trial.intermediate_values)), fmt(score(trial)), minutes]
        rows.append(cells + ["yes" if trial.number in numbers else "" for numbers in (enqueued, rechecked)])
    states = Counter(trial.state.name.lower() for trial in trials)
    counts = f"{len(trials)} trials: {states['complete']} complete, {states['pruned']} pruned"
    counts += f", {states['fail']} failed (cut off, marked FAIL)"
    if states["running"]:
        counts += f", {states['running']} still marked RUNNING"
    text = f"{counts}; the complete ones ended between {fmt(complete[-1].value)} and {fmt(complete[0].value)}. The {TOP}"
    header = "trial | state | evaluations | last evaluation | minutes | enqueued | re-checked"
    return f"{text} best complete trials, and every trial enqueued by hand or re-checked:\n\n" + table(header, rows)


def recheck_block(folder: Path) -> str:
    """:return: a row per candidate of ``folder``: its final return per seed, and the mean over the first seeds (and all)"""
    names = [path.parent.name for path in folder.glob("*/runs.csv")]
    names.sort(key=lambda name: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)])  # 5 < 10
    rows = []
    for name in names:
        runs = pd.read_csv(folder / name / "runs.csv").sort_values("seed")
        first, seeds = runs.head(FIRST), list(runs["seed"])
        steps = first["steps_to_threshold"].dropna()
        consecutive = len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1))
        reached = f"{len(steps)} of {len(first)}" + (f" (median {steps.median() / 1000:g}k steps)" if len(steps) else "")
        row = {
            "candidate": f"`{name}`",
            "seeds": f"{seeds[0]}-{seeds[-1]}" if consecutive else ", ".join(map(str, seeds)),
            "final return, by seed": ", ".join(f"{value:.1f}" for value in runs["final_return"]),
            "final return, first 3 seeds": spread(first["final_return"]),
            "final return, all seeds": spread(runs["final_return"]) if len(runs) > FIRST else "",
            "best evaluation, first 3 seeds (mean)": f"{first['best_return'].mean():.1f}",
            "reached the threshold, first 3 seeds": reached if runs["reward_threshold"].notna().any() else "",
            "minutes a run, first 3 seeds (mean)": f"{first['wall_time_s'].mean() / 60:.1f}",
        }
        rows.append(row)
    header = [column for column in rows[0] if any(row[column] for row in rows)]  # no column left empty
    return table(" | ".join(header), [[row[column] for column in header] for row in rows])


def tuning_pages() -> dict[str, dict[str, str]]:
    """:return: per page ``docs/tuning/<algo>.md``, ``<env>-study`` per study journal, ``<env>-recheck`` per re-check"""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pages = {}
    for algo in ("reinforce", "vpg", "npg"):
        blocks = {f"{log.stem.removeprefix(algo + '-')}-study": study_block(log) for log in TUNING.glob(f"{algo}-*.log")}
        for folder in (TUNING / "recheck").glob(f"{algo}-*"):
            blocks[f"{folder.name.removeprefix(algo + '-')}-recheck"] = recheck_block(folder)
        pages[f"docs/tuning/{algo}.md"] = blocks
    return pages


def kl_estimators_table() -> str:
    """:return: per environment, KLPPO's exact rollout KL and how far the k1 and k3 estimates are from it"""
    frame, rows = pd.read_csv(DOCS / "klppo" / "kl_estimators.csv"), []

    def side(kl: pd.Series) -> np.ndarray:  # below, inside or above the adaptive rule's band around target_kl 0.01
        return np.select([kl < 0.01 / 1.5, kl > 1.5 * 0.01], [0, 2], 1)

    for env, runs in frame.groupby("env", sort=False):
        cells = []
        for estimate in ("k1", "k3"):
            error = ((runs[estimate] - runs["exact"]).abs() / runs["exact"]).quantile([0.5, 0.9])
            same = (side(runs[estimate]) == side(runs["exact"])).mean()
            cells.append(f"{error[0.5]:.1%} / {error[0.9]:.1%} / {same:.0%}")
        runs_updates = f"{runs['seed'].nunique()} x {len(runs) // runs['seed'].nunique()}"
        rows.append([env, runs_updates, f"{runs['exact'].median():.3g}", *cells])
    header = "environment | runs x updates | exact KL, median | k1: relative error, median / 90th percentile / same side"
    return table(f"{header} of the band as the exact KL | k3: the same", rows)


def readme_blocks(bench: Comparison, goals: dict[str, Rows], speed: str) -> dict[str, str]:
    """:return: the README's summary: each target's verdicts, counted over the rows of its table, linked to its page"""
    names = ["NPG matches or beats TRPO", "VPG beats the zoo's A2C result", "REINFORCE holds 475 on every CartPole-v1 seed"]
    names.append("NPG, REINFORCE above Tianshou")
    link = "docs/benchmark.md#against-the-targets"
    found = {f"[{name}]({link})": [row[-1] for row in rows] for name, rows in zip(names, goals.values(), strict=True)}
    klppo_envs, link = [env for env in bench.envs if bench.row(env, "klppo") is not None], "docs/benchmark.md#klppo-against"
    found[f"[KLPPO level with or above PPO-clip]({link}-ppo-clip-and-trpo)"] = [
        VERDICT[bench.versus(env, "klppo", bench.best_ppo(env))] for env in klppo_envs
    ]
    found[f"[KLPPO level with or above TRPO]({link}-ppo-clip-and-trpo)"] = [
        VERDICT[bench.versus(env, "klppo", "trpo")] for env in klppo_envs
    ]
    speed_verdicts = [line.rsplit("|", 2)[-2].strip() for line in speed.splitlines()[2:]]
    found["[speed targets](docs/speed.md)"] = ["met" if verdict == "yes" else "not met" for verdict in speed_verdicts]
    rows = []
    for name, verdicts in found.items():
        counts = ", ".join(f"{verdicts.count(verdict)} {verdict}" for verdict in VERDICT.values() if verdict in verdicts)
        rows.append([name, f"{counts} (of {len(verdicts)})"])
    failed = sum(r["failed"] for r in json.loads((DOCS / "conformance.json").read_text())["results"].values())
    rows.append(["[SB3's own tests, each algorithm in A2C's place](docs/conformance.md)", f"{failed} unlisted failures"])
    return {"results": table("target | verdicts, counted over the rows of its table", rows)}


def pages() -> dict[str, dict[str, str]]:
    """:return: per page, relative to the repository, its blocks by name"""
    bench, dual = Comparison(DOCS / "benchmark"), Comparison(DOCS / "klppo-dual")
    goals, speed = targets(bench), speed_tables(DOCS / "speed_raw.json")
    return {
        "docs/benchmark.md": benchmark_blocks(bench, dual, goals),
        "docs/hyperparameters.md": {"hyperparameters": hyperparameter_table(bench)},
        "docs/conformance.md": conformance_blocks(),
        "docs/speed.md": speed,
        "docs/memory.md": {"memory": memory_table()},
        "docs/gradients.md": gradient_blocks(),
        "docs/defaults.md": defaults_blocks(),
        "docs/algorithms.md": {"kl-estimators": kl_estimators_table()},
        "README.md": readme_blocks(bench, goals, speed["speed-targets"]),
    } | tuning_pages()


def refresh(page: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """:return: ``page`` with its blocks rewritten, and the problems: stale blocks, blocks with no text, text with no block"""
    blocks = {name: text.rstrip("\n") + "\n" for name, text in blocks.items()}
    found = {match["name"]: match["body"] for match in BLOCK.finditer(page)}
    problems = [f"block {name!r} is stale" for name, body in found.items() if blocks.get(name, body) != body]
    problems += [f"block {name!r} has no generator" for name in found if name not in blocks]
    problems += [f"no block {name!r} on the page" for name in blocks if name not in found]
    return BLOCK.sub(lambda m: m[1] + blocks.get(m["name"], m["body"]) + m[4], page), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale or missing; write nothing")
    args, failed = parser.parse_args(), False
    for name, blocks in pages().items():
        page = (ROOT / name).read_text()
        new, problems = refresh(page, blocks)
        print("".join(f"{name}: {problem}\n" for problem in problems), end="")
        failed |= any(args.check or "stale" not in problem for problem in problems)
        if not args.check and new != page:
            (ROOT / name).write_text(new)
            print(f"{name}: rewritten")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
