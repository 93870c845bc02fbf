"""
Rewrite every generated block of the documentation from the committed raw results; nothing trains.

A block is the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``; the rest of a page is written by hand
and quotes no measured figure. The sources: the comparison folders' CSVs, ``docs/{published,conformance}.json``,
``docs/speed_raw.json``, ``docs/memory/*.csv``, ``docs/gradients/*/gradients.csv``, the hyperparameter files, and
``benchmarks/tuning_pages.py`` (the pages of ``docs/tuning/``).

    python benchmarks/docs.py            # rewrite every block
    python benchmarks/docs.py --check    # exit 1, naming each stale or missing page block; write nothing
"""

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import pandas as pd
import yaml

from sb3_pg.compare.report import format_table, markdown_table

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(<!-- begin (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end (?P=name) -->)", re.DOTALL)
PUBLISHED = json.loads((DOCS / "published.json").read_text())
VERDICT = {"above": "met", "level": "level", "below": "not met", "not run": "not run"}


def num(value: float) -> str:
    """:return: ``value`` with a thousands separator, one decimal below 1,000"""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}"


def table(header: str, rows: list[list[str]]) -> str:
    """:return: a Markdown table, its column names ``header`` separated by `` | ``"""
    lines = [f"| {header} |", "|" + "---|" * len(header.split(" | "))]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def frame_table(frame: pd.DataFrame, columns: dict[str, str], first: str) -> str:
    """:return: ``frame`` as a Markdown table, its index as column ``first``, each of ``columns`` (header: format)"""
    cells = [[str(index), *("" if pd.isna(v) else f.format(v) for v, f in zip(row, columns.values(), strict=True))]
             for index, row in zip(frame.index, frame.to_numpy(), strict=True)]  # fmt: skip
    return table(" | ".join([first, *columns]), cells)


def stand(low: float, high: float, other_low: float, other_high: float) -> str:
    """:return: ``above``, ``level`` or ``below``: an interval against another; overlapping intervals are level"""
    return "above" if low > other_high else "below" if high < other_low else "level"


class Comparison:
    """The CSVs of a comparison folder, and the figures the pages quote from them."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.summary, self.runs = folder, pd.read_csv(folder / "summary.csv"), pd.read_csv(folder / "runs.csv")
        evaluations = pd.read_csv(folder / "evaluations.csv")
        budgets = evaluations["env"].map(self.runs.groupby("env")["n_timesteps"].first())
        self.evaluations = evaluations[evaluations["timesteps"] <= budgets]  # later ones are not used, as in the report
        self.updates = pd.read_csv(folder / "updates.csv") if (folder / "updates.csv").is_file() else None
        self.envs = list(dict.fromkeys(self.summary["env"]))

    def row(self, env: str, algo: str) -> pd.Series | None:
        rows = self.summary[(self.summary["env"] == env) & (self.summary["algo"] == algo) & (self.summary["finished"] > 0)]
        return rows.iloc[0] if len(rows) else None

    def iqm(self, env: str, algo: str) -> str:
        """:return: ``IQM [CI low, CI high] (finished runs)``, or ``not run``"""
        r = self.row(env, algo)
        return (
            "not run" if r is None else f"{r['iqm']:,.1f} [{r['iqm_ci_low']:,.1f}, {r['iqm_ci_high']:,.1f}] ({r['finished']})"
        )

    def mean_std(self, env: str, algo: str) -> str:
        r = self.row(env, algo)
        return "not run" if r is None else f"{r['final_return_mean']:,.1f} ± {r['final_return_std']:,.1f}"

    def versus(self, env: str, algo: str, other: str, others: "Comparison | None" = None) -> str:
        """:return: how ``algo``'s IQM CI on ``env`` stands to ``other``'s (from ``others`` when given), or ``not run``"""
        mine, theirs = self.row(env, algo), (others or self).row(env, other)
        if mine is None or theirs is None:
            return "not run"
        return stand(mine["iqm_ci_low"], mine["iqm_ci_high"], theirs["iqm_ci_low"], theirs["iqm_ci_high"])

    def seeds(self, env: str, algo: str, column: str) -> pd.Series:
        runs = self.runs[(self.runs["env"] == env) & (self.runs["algo"] == algo) & (self.runs["status"] == "finished")]
        return runs.sort_values("seed")[column]

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

    def steps_table(self) -> str:
        """:return: per environment and algorithm that logs one: the KL after the step, TRPO's line search, the std"""
        assert self.updates is not None
        groups = self.updates.groupby(["env", "algo"], sort=False)
        frame = groups.agg(runs=("seed", "nunique"), updates=("seed", "size"), kl=("kl", "median"), kl_max=("kl", "max"))
        frame["updates"] //= frame["runs"]
        frame["target"] = [self.target_kl(*key) if pd.notna(frame.loc[key, "kl"]) else None for key in frame.index]
        updates = self.updates.join(frame["target"], on=["env", "algo"])
        over = (updates["kl"] > 2 * updates["target"]).groupby([updates["env"], updates["algo"]], sort=False).sum()
        frame["over"] = over.where(frame["target"].notna())
        frame["search"] = groups["line_search_success"].agg(
            lambda s: f"{s.sum():,.0f} of {s.count():,}" if s.count() else None
        )
        std = self.updates.dropna(subset=["std"]).groupby(["env", "algo", "seed"], sort=False)["std"].agg(["first", "last"])
        std = std.groupby(["env", "algo"], sort=False).mean()
        frame["std"] = std.apply(lambda s: f"{s['first']:.3g} → {s['last']:.3g}", axis=1)
        frame = frame[["updates", "target", "kl", "kl_max", "over", "search", "std"]]
        frame.index = [f"{env} | {algo}" for env, algo in frame.index]
        columns = {"updates per run": "{:,}", "target_kl": "{:.4g}", "KL median": "{:.3g}", "KL max": "{:.3g}"}
        columns |= {"KL > 2 x target": "{:.0f}", "line search succeeded": "{}", "policy std, first → last": "{}"}
        return frame_table(frame, columns, "environment | algorithm")


def targets(bench: Comparison) -> dict[str, str]:
    """:return: a table per target of the issue, one row per environment, the verdict last"""
    npg = [[env, *(bench.mean_std(env, a) for a in ("npg", "trpo")), *(bench.iqm(env, a) for a in ("npg", "trpo")),
            VERDICT[bench.versus(env, "npg", "trpo")]] for env in bench.envs]  # fmt: skip
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
            tianshou += [[env, algo, mine, f"{figure:,} ({budget})", VERDICT[stand(best.min(), best.max(), figure, figure)]]]
    return {
        "target-npg": table("environment | NPG final | TRPO final | NPG IQM [95% CI] | TRPO IQM [95% CI] | verdict", npg),
        "target-vpg": table("environment | VPG IQM [95% CI] | A2C here | VPG vs A2C here | zoo's A2C (its budget) | verdict",
                            vpg),
        "target-reinforce": table("environment | seeds reaching 475 in training | seeds ending at 475 or more | finals"
                                  " | verdict", reinforce),
        "target-tianshou": table("environment | algorithm | best evaluation, mean (per seed) | Tianshou (its budget)"
                                 " | verdict", tianshou),
    }  # fmt: skip


def benchmark_blocks(bench: Comparison, dual: Comparison) -> dict[str, str]:
    """:return: the blocks of ``docs/benchmark.md``"""
    blocks, status = targets(bench), []
    for env in bench.envs:
        rows = bench.summary[bench.summary["env"] == env]
        blocks[f"table-{env}"], blocks[f"seeds-{env}"] = markdown_table(format_table(rows)), bench.seed_table(env)
        seeds = "/".join(sorted({str(n) for n in rows["runs"]}))
        status.append([env, f"{rows['n_timesteps'].iloc[0]:,}", f"{rows['finished'].sum()} of {rows['runs'].sum()}", seeds])
    blocks["status"] = table("environment | budget (steps) | runs finished | seeds", status)
    blocks["steps"] = bench.steps_table()
    klppo = [[env, *(bench.iqm(env, a) for a in ("klppo", "ppo", "trpo")), bench.versus(env, "klppo", "ppo"),
              bench.versus(env, "klppo", "trpo")] for env in bench.envs]  # fmt: skip
    blocks["klppo"] = table("environment | KLPPO IQM [95% CI] (runs) | PPO | TRPO | KLPPO vs PPO | KLPPO vs TRPO", klppo)
    dual_rows = [[env, bench.iqm(env, "klppo"), dual.iqm(env, "klppo"), dual.versus(env, "klppo", "klppo", bench)]
                 for env in dual.envs]  # fmt: skip
    return blocks | {"klppo-dual": table("environment | adaptive (the benchmark) | dual | dual vs adaptive", dual_rows)}


def entry_status(path: Path) -> dict[str, str]:
    """:return: per entry of a hyperparameter file, the first sentence of its ``Tuned``/``Searched``/``Untuned`` comment"""
    status, comments = {}, []
    for line in path.read_text().splitlines():
        comments = [*comments, line.lstrip("# ").strip()] if line.startswith("#") else comments
        if match := re.match(r"^([A-Za-z][\w.-]*):", line):
            said = [comment for comment in comments if comment.startswith(("Tuned", "Searched", "Untuned"))]
            status[match[1]] = re.split(r"\. |: |;", said[0])[0].rstrip(".") if said else "?"
        comments = comments if line.startswith("#") else []
    return status


def hyperparameter_blocks(bench: Comparison) -> dict[str, str]:
    """:return: the table of ``docs/hyperparameters.md``: each entry's result beside PPO's, TRPO's and the zoo's best"""
    rows, reached = [], []
    for env, (zoo_algo, zoo_mean, zoo_std, zoo_budget) in PUBLISHED["zoo_best_on_policy"].items():
        for algo in ("reinforce", "vpg", "npg"):
            path = ROOT / "hyperparams" / f"{algo}.yml"
            if (entry := yaml.safe_load(path.read_text()).get(env)) is None:
                continue
            r, steps = bench.row(env, algo), float(entry["n_timesteps"])
            short = 0.0 if r is None else r["final_return_mean"] - zoo_mean
            verdict = "n/a" if r is None else "yes" if short >= 0 else f"no ({short:+,.1f})"
            reached += [f"{env} {algo}"] if verdict == "yes" else []
            cells = [entry_status(path).get(env, "?"), f"{steps / 1e6:g}M" if steps >= 1e6 else f"{steps / 1e3:g}k"]
            cells += ["0", "not measured"] if r is None else [f"{r['finished']}/{r['runs']}", bench.mean_std(env, algo)]
            baselines = " / ".join(bench.mean_std(env, other) for other in ("ppo", "trpo"))
            rows.append([env, algo, *cells, baselines, f"{zoo_mean:.1f} ± {zoo_std:.1f} ({zoo_algo}, {zoo_budget})", verdict])
    text = table("env | algo | status | budget | seeds | final return (mean ± std) | same env: PPO / TRPO here"
                 " | zoo's best on-policy | reached", rows)  # fmt: skip
    return {
        "hyperparameters": f"{text}\n{len(reached)} of the {len(rows)} entries reach the zoo's figure: {', '.join(reached)}."
    }


def conformance_blocks() -> dict[str, str]:
    """:return: the counts and the listed exceptions of ``docs/conformance.md``, from ``docs/conformance.json``"""
    raw = json.loads((DOCS / "conformance.json").read_text())
    frame = pd.DataFrame(raw["results"]).T.drop(columns="failures").astype(int)
    frame.insert(0, "items", frame.sum(axis=1))
    frame.index = [algo.upper() if algo != "a2c" else "A2C (SB3, the reference)" for algo in frame.index]
    counts = frame_table(
        frame, dict.fromkeys(["items", "passed", "failed", "skipped", "listed exceptions"], "{}"), "algorithm"
    )
    listed = [
        f"- {algo.upper()}, `{fragment}`: {reason}" for algo, items in raw["exceptions"].items() for fragment, reason in items
    ]
    return {"conformance": f"Stable-Baselines3 {raw['stable_baselines3']}, modules: {', '.join(raw['modules'])}.\n\n{counts}",
            "exceptions": "\n".join(listed)}  # fmt: skip


def speed_blocks() -> dict[str, str]:
    """:return: the targets and the tables of ``docs/speed.md``: medians over the repetitions of ``docs/speed_raw.json``"""
    raw = json.loads((DOCS / "speed_raw.json").read_text())
    runs, s = pd.DataFrame(raw["records"]), raw["setup"]
    for phase in ("rollout", "env", "returns", "update"):
        runs[f"{phase}_100k"] = runs[f"{phase}_s"] * 100_000 / runs["timesteps"]  # seconds per 100k environment steps
    runs["total"], runs["share"] = runs["rollout_100k"] + runs["update_100k"], runs["update_s"] / runs["rollout_s"]
    for phase in ("update", "policy", "critic"):  # the policy step on the whole batch, then the critic fit: VPG, NPG, TRPO
        runs[f"{phase}_ms"] = 1000 * runs[f"{phase}_s"] / runs[f"{phase}_calls"].clip(lower=1)
        runs[f"{phase}_ms"] = runs[f"{phase}_ms"].where(runs["algo"].isin(["vpg", "npg", "trpo"]) | (phase == "update"))
    per_rep, medians = (
        runs.set_index(["env", "rep", "algo"]),
        runs.groupby(["env", "algo"], sort=False).median(numeric_only=True),
    )
    columns = {"rollout_100k": "rollout s/100k:.2f", "env_100k": "(env s/100k):.2f", "returns_100k": "(returns s/100k):.3f"}
    columns |= {"update_100k": "update s/100k:.2f", "share": "update / rollout:.1%", "total": "total s/100k:.2f"}
    columns |= {"update_ms": "ms / update:.1f", "policy_ms": "policy ms / update:.1f", "critic_ms": "critic ms / update:.1f"}
    formats = {header: "{:" + spec + "}" for header, spec in (column.rsplit(":", 1) for column in columns.values())}
    versions = ", ".join(f"{k} {v}" for k, v in s["versions"].items())
    text = [f"Command: `{s['command']}`\n", f"{s['steps_per_run']} environment steps per run (figures scaled to 100k), "
            f"{s['reps']} alternated repetitions (median), n_steps={s['n_steps']}, n_envs={s['n_envs']}, torch threads="
            f"{s['torch_threads']}, net_arch {s['net_arch']}, CPU. Versions: {versions}. Machine: {s['machine']}.\n"
            ]  # fmt: skip
    for env, frame in medians.groupby("env", sort=False):
        text += [f"#### {env}\n", frame_table(frame.droplevel("env")[list(columns)], formats, "algo")]
    pairs = (("npg/trpo", "policy_ms", "npg", "trpo"), ("reinforce/a2c", "total", "reinforce", "a2c"))
    ratios = {name: (per_rep[column].xs(a, level="algo") / per_rep[column].xs(b, level="algo")).groupby("env", sort=False)
              .median() for name, column, a, b in pairs}  # fmt: skip
    checks = {f"{a.upper()} update <= {limit:.0%} of its rollout": (medians["share"].xs(a, level="algo"), limit, "{:.1%}")
              for a, limit in (("reinforce", 0.02), ("vpg", 0.15), ("npg", 0.15))}  # fmt: skip
    checks["NPG policy step <= 0.6 x TRPO's (both defaults)"] = (ratios["npg/trpo"], 0.6, "{:.3f}")
    checks["REINFORCE total <= A2C total"] = (ratios["reinforce/a2c"], 1.0, "{:.3f}")
    rows = [
        [name, *map(f.format, values), "yes" if (values <= limit).all() else "no"]
        for name, (values, limit, f) in checks.items()
    ]
    return {
        "speed-targets": table(" | ".join(["target", *medians.index.unique("env"), "met?"]), rows),
        "speed-results": "\n".join(text),
    }


def memory_blocks() -> dict[str, str]:
    """:return: the table of ``docs/memory.md``: resident memory early in the run and at its end, from the raw samples"""
    rows = []
    for path in sorted((DOCS / "memory").glob("*_*.csv")):
        rss = pd.read_csv(path)["rss_mib"]
        early, final = rss.iloc[max(0, len(rss) // 10 - 1)], rss.iloc[-1]
        rows.append([*path.stem.split("_", 1), str(len(rss)), f"{early:.1f}", f"{final:.1f}", f"{final - early:+.1f}"])
    return {"memory": table("algorithm | environment | rollouts | RSS after 10% of the run (MiB) | RSS at the end (MiB)"
                            " | growth over the last 90% (MiB)", rows)}  # fmt: skip


def gradient_blocks() -> dict[str, str]:
    """:return: the measures of ``docs/gradients.md``, from ``gradients.csv``"""
    raw = pd.read_csv(DOCS / "gradients" / "cartpole-untrained" / "gradients.csv")
    names = ["variance", "relative_variance", "snr", "cos_pairwise", "cos_ref", "cos_true", "nat_cos_pairwise", "nat_cos_ref"]
    frame = raw.set_index(raw["weighting"] + " | " + raw["batch_size"].astype(str))[["mean_steps", *names]]
    columns = ["steps", "variance", "rel. var.", "SNR", "cos pairs", "cos ref", "cos true", "nat cos pairs", "nat cos ref"]
    return {"gradients": frame_table(frame, {"steps": "{:.0f}"} | dict.fromkeys(columns[1:], "{:.3g}"), "weighting | B")}


def readme_blocks(bench: Comparison) -> dict[str, str]:
    """:return: the README's summary: each target's verdicts, counted over the rows of its table, linked to its page"""
    names = ["NPG matches or beats TRPO", "VPG beats the zoo's A2C result", "REINFORCE holds 475 on every CartPole-v1 seed",
             "NPG, REINFORCE above Tianshou"]  # fmt: skip
    found = {f"[{name}](docs/benchmark.md#against-the-targets)": [line.split(" | ")[-1][:-2] for line in text.splitlines()[2:]]
             for name, text in zip(names, targets(bench).values(), strict=True)}  # fmt: skip
    klppo = [VERDICT[bench.versus(env, "klppo", "ppo")] for env in bench.envs if bench.row(env, "klppo") is not None]
    found["[KLPPO against PPO-clip](docs/benchmark.md#klppo-against-ppo-clip-and-trpo)"] = klppo
    speed = speed_blocks()["speed-targets"].splitlines()[2:]
    found["[speed targets](docs/speed.md)"] = ["met" if line.endswith("yes |") else "not met" for line in speed]
    rows = [
        [name, ", ".join(f"{v.count(k)} {k}" for k in VERDICT.values() if k in v) + f" (of {len(v)})"]
        for name, v in found.items()
    ]
    failed = sum(r["failed"] for r in json.loads((DOCS / "conformance.json").read_text())["results"].values())
    rows.append(["[SB3's own tests, each algorithm in A2C's place](docs/conformance.md)", f"{failed} unlisted failures"])
    return {"results": table("target | verdicts, counted over the rows of its table", rows)}


def generators() -> dict[str, Callable[[], dict[str, str]]]:
    """:return: per page, relative to the repository, the function that renders its blocks"""
    bench, dual = Comparison(DOCS / "benchmark"), Comparison(DOCS / "klppo-dual")
    pages = {"docs/benchmark.md": lambda: benchmark_blocks(bench, dual), "docs/speed.md": speed_blocks}
    pages |= {"docs/hyperparameters.md": lambda: hyperparameter_blocks(bench), "docs/conformance.md": conformance_blocks}
    pages |= {"docs/memory.md": memory_blocks, "docs/gradients.md": gradient_blocks, "README.md": lambda: readme_blocks(bench)}
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from tuning_pages import tuning_blocks  # beside this script
    except ImportError:
        return pages
    return pages | {page: (lambda blocks=blocks: blocks) for page, blocks in tuning_blocks().items()}


def refresh(page: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """:return: ``page`` with its blocks rewritten, and the problems: stale blocks, blocks with no text, text with no block"""
    blocks = {name: text.rstrip("\n") + "\n" for name, text in blocks.items()}
    found = [match["name"] for match in BLOCK.finditer(page)]
    problems = [f"block {m['name']!r} is stale" for m in BLOCK.finditer(page) if blocks.get(m["name"], m["body"]) != m["body"]]
    problems += [f"block {name!r} has no generator" for name in found if name not in blocks]
    problems += [f"no block {name!r} on the page" for name in blocks if name not in found]
    return BLOCK.sub(lambda m: m[1] + blocks.get(m["name"], m["body"]) + m[4], page), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale or missing; write nothing")
    args, failed = parser.parse_args(), False
    for name, render in generators().items():
        page = (ROOT / name).read_text()
        new, problems = refresh(page, render())
        print("".join(f"{name}: {problem}\n" for problem in problems), end="")
        failed |= any(args.check or "stale" not in problem for problem in problems)
        if not args.check and new != page:
            (ROOT / name).write_text(new)
            print(f"{name}: rewritten")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
