"""
Rewrite every generated block of the pages, the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``, from
the committed raw results; nothing trains. The text around the blocks is written by hand and quotes no figure.

    python benchmarks/docs.py            # rewrite every block
    python benchmarks/docs.py --check    # exit 1, naming each stale or missing block; write nothing
"""

import argparse
import json
import math
import sys

import numpy as np
import pandas as pd
import yaml
from docs_studies import defaults_blocks, entry_status, gradient_blocks, tuning_pages
from pages import (
    DOCS,
    PPO_ROWS,
    PUBLISHED,
    ROOT,
    VERDICT,
    Comparison,
    Rows,
    frame_table,
    num,
    random_return,
    refresh,
    stand,
    table,
)
from scipy.stats import mannwhitneyu
from speed import speed_tables
from table1 import blocks as table1_blocks

from sb3_pg.compare.report import format_table, markdown_table

TARGETS = {  # the targets: the block of each on docs/benchmark.md, the header of its table
    "target-npg": "environment | NPG final | TRPO final | NPG IQM [95% CI] | TRPO IQM [95% CI] | verdict",
    "target-vpg": "environment | VPG IQM [95% CI] | A2C here | VPG vs A2C here | zoo's A2C (its budget) | verdict",
    "target-reinforce": "environment | seeds reaching 475 in training | seeds ending at 475 or more | finals | verdict",
    "target-tianshou": "environment | algorithm | best evaluation, mean (per seed) | Tianshou (its budget) | verdict",
}


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


def fast_path_table(bench: Comparison) -> str:
    """:return: the learning rows trained again on the rollout path (``docs/fast-path``) beside the published ones"""
    if not (DOCS / "fast-path" / "summary.csv").is_file():
        return "Not run yet: `bash benchmarks/fast_path.sh`.\n"
    rerun, rows = Comparison(DOCS / "fast-path"), []
    for env, algo in rerun.summary[["env", "algo"]].itertuples(index=False):
        new, old = rerun.row(env, algo), bench.row(env, algo)
        if new is None or old is None:
            continue
        inside = old["iqm_ci_low"] <= new["iqm"] <= old["iqm_ci_high"]
        finals = [frame.seeds(env, algo, "final_return") for frame in (bench, rerun)]
        seeds = ", ".join(map(num, finals[1]))
        test = "equal finals" if np.array_equal(*finals) else f"{mannwhitneyu(*finals).pvalue:.2f}"
        rows.append([env, algo, bench.iqm(env, algo), rerun.iqm(env, algo), "yes" if inside else "no", seeds, test])
    header = "environment | algorithm | published IQM [95% CI] (seeds) | rollout path IQM [95% CI] (seeds)"
    return table(f"{header} | inside the published CI? | rollout path finals, seeds 0-4 | Mann-Whitney p", rows)


def memory_table() -> str:
    """:return: the table of ``docs/memory.md``: resident memory early in the run and at its end, from the raw samples"""
    rows = []
    for path in sorted((DOCS / "memory").glob("*_*.csv")):
        rss = pd.read_csv(path)["rss_mib"]
        early, final = rss.iloc[max(0, len(rss) // 10 - 1)], rss.iloc[-1]
        rows.append([*path.stem.split("_", 1), str(len(rss)), f"{early:.1f}", f"{final:.1f}", f"{final - early:+.1f}"])
    header = "algorithm | environment | rollouts | RSS after 10% of the run (MiB) | RSS at the end (MiB)"
    return table(f"{header} | growth over the last 90% (MiB)", rows)


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
        "docs/speed.md": speed | {"fast-path": fast_path_table(bench)},
        "docs/memory.md": {"memory": memory_table()},
        "docs/gradients.md": gradient_blocks(),
        "docs/defaults.md": defaults_blocks(),
        "docs/algorithms.md": {"kl-estimators": kl_estimators_table()},
        "docs/table1.md": table1_blocks(),
        "README.md": readme_blocks(bench, goals, speed["speed-targets"]),
    } | tuning_pages()


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
