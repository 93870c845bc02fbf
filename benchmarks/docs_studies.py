"""The blocks of the study pages: the defaults sweep, the tuning studies and re-checks, the gradient measurements."""

import io
import math
import re
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from pages import DOCS, TUNING, Comparison, num, random_return, table
from scipy.stats import mannwhitneyu

TOP, FIRST = 5, 3  # a study table shows the TOP best complete trials; every re-check holds the FIRST seeds (100-102)
# docs/defaults.md: the candidate each algorithm's defaults are, and the aims (CartPole-v1 mean, score)
CHOSEN = {
    "vpg": ("vpg_512_3e-3_critic80", 400, 0.5),
    "reinforce": ("reinforce_1000_3e-3", 300, None),
    "npg": ("class", None, 0.9),
}
PINNED = "0.1.0"  # benchmarks/defaults/<algo>_0.1.0.yml: 0.1.0's class defaults, written out once 0.2.0 changed them


def defaults_blocks() -> dict[str, str]:
    """:return: the sweep of ``docs/defaults.md`` (per algorithm and candidate, each env's final return per seed, and
    the mean over the envs but CartPole-v1 of ``(R - R_random) / (R_TRPO - R_random)``, TRPO at its class defaults),
    and the issue's aims for the candidates chosen, ``CHOSEN``"""
    names = sorted(set(pd.read_csv(DOCS / "defaults" / "runs.csv")["candidate"]))
    folders = {name: Comparison(DOCS / "defaults", name) for name in names}
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
            trpo_rows = {
                env: row
                for env in envs
                if env != "CartPole-v1" and len(finals[env]) and (row := trpo.row(env, "trpo")) is not None
            }
            scores = [
                (finals[env].mean() - random_return(env)) / (row["final_return_mean"] - random_return(env))
                for env, row in trpo_rows.items()
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
    with its learning rate annealed (``docs/timefeature/``, a candidate per arm): each seed's final evaluation, how
    many end at 475 or more, the IQM, the evaluations after a seed first reached 475 that fell below it, and a one-sided
    Mann-Whitney test that each seed's share of those is smaller than with the entry as it was"""
    rows, shares = [], {}
    arms = {"plain": "as it was (`3e-3`)", "wrapper": "with `TimeFeatureWrapper`", "linear": "`lin_3e-3`"}
    for arm, said in arms.items():
        runs = Comparison(DOCS / "timefeature", arm)
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


def trained_policy_evaluations(policy: str) -> dict[str, np.ndarray] | None:
    """:return: the ``evaluations.npz`` of a measured policy's zoo run, read from ``docs/gradients/policies.tar.xz`` (its
    members are paths under ``docs/gradients/``); None for a fresh policy, which has no zoo run"""
    member = (Path(policy).parent / "evaluations.npz").as_posix().removeprefix("docs/gradients/")
    with tarfile.open(DOCS / "gradients" / "policies.tar.xz") as tar:
        if member not in tar.getnames() or (data := tar.extractfile(member)) is None:
            return None
        with np.load(io.BytesIO(data.read())) as saved:
            return dict(saved)


def gradient_settings() -> str:
    """:return: per measurement of ``docs/gradients.md``: the policy, the return it scores (the last evaluation of its
    zoo run, 10 deterministic episodes), ``K``, the batch sizes, the pools, and the wall time of the measurement"""
    rows = []
    for path in sorted((DOCS / "gradients").glob("*/gradients.csv")):
        raw = pd.read_csv(path)
        first, sizes = raw.iloc[0], raw["batch_size"].unique()
        if (saved := trained_policy_evaluations(first["policy"])) is not None:
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


def fmt(value: float) -> str:
    """:return: a return with one decimal, or in scientific notation when it is that close to zero"""
    return f"{value:.1e}" if 0 < abs(value) < 0.05 else f"{value:.1f}"


def spread(values: pd.Series) -> str:
    """:return: mean ± sample standard deviation (ddof 1, as ``summary.csv``), the value alone for one run"""
    return f"{values.mean():.1f}" if len(values) == 1 else f"{values.mean():.1f} ± {values.std():.1f}"


def study_block(study: str) -> str:
    """:return: the trials of ``study`` (``docs/tuning/trials.csv``) by state, the best, the enqueued and the re-checked"""
    trials = pd.read_csv(TUNING / "trials.csv").query("study == @study")
    trials["score"] = trials["value"].fillna(trials["last_evaluation"])  # a pruned or failed trial: its last evaluation
    candidates = pd.read_csv(TUNING / "runs.csv").query("study == @study")["candidate"]
    rechecked = {int(name[6:]) for name in candidates if name.startswith("trial_") and name[6:].isdigit()}
    enqueued = set(trials.loc[trials["enqueued"], "trial"])
    complete = trials[trials["state"] == "complete"].sort_values("value", ascending=False, kind="stable")
    shown = trials[trials["trial"].isin(rechecked | enqueued | set(complete["trial"].head(TOP)))]
    rows = []
    for trial in shown.sort_values("score", ascending=False, na_position="last", kind="stable").itertuples():
        minutes = "" if math.isnan(trial.minutes) else f"{trial.minutes:.0f}"
        cells = [str(trial.trial), trial.state, str(trial.evaluations), fmt(trial.score), minutes]
        rows.append(cells + ["yes" if trial.trial in numbers else "" for numbers in (enqueued, rechecked)])
    states = Counter(trials["state"])
    counts = f"{len(trials)} trials: {states['complete']} complete, {states['pruned']} pruned"
    counts += f", {states['fail']} failed (cut off, marked FAIL)"
    if states["running"]:
        counts += f", {states['running']} still marked RUNNING"
    text = f"{counts}; the complete ones ended between {fmt(complete['value'].min())} and {fmt(complete['value'].max())}."
    header = "trial | state | evaluations | last evaluation | minutes | enqueued | re-checked"
    return f"{text} The {TOP} best complete trials, and every trial enqueued by hand or re-checked:\n\n" + table(header, rows)


def recheck_block(runs: pd.DataFrame) -> str:
    """:return: a row per candidate of a study's re-check runs: its final return per seed, the mean over the first seeds
    (and all)"""
    names = list(dict.fromkeys(runs["candidate"]))
    names.sort(key=lambda name: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)])  # 5 < 10
    rows = []
    for name in names:
        runs_of = runs[runs["candidate"] == name].sort_values("seed")
        first, seeds = runs_of.head(FIRST), list(runs_of["seed"])
        steps = first["steps_to_threshold"].dropna()
        consecutive = len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1))
        reached = f"{len(steps)} of {len(first)}" + (f" (median {steps.median() / 1000:g}k steps)" if len(steps) else "")
        row = {
            "candidate": f"`{name}`",
            "seeds": f"{seeds[0]}-{seeds[-1]}" if consecutive else ", ".join(map(str, seeds)),
            "final return, by seed": ", ".join(f"{value:.1f}" for value in runs_of["final_return"]),
            "final return, first 3 seeds": spread(first["final_return"]),
            "final return, all seeds": spread(runs_of["final_return"]) if len(runs_of) > FIRST else "",
            "best evaluation, first 3 seeds (mean)": f"{first['best_return'].mean():.1f}",
            "reached the threshold, first 3 seeds": reached if runs_of["reward_threshold"].notna().any() else "",
            "minutes a run, first 3 seeds (mean)": f"{first['wall_time_s'].mean() / 60:.1f}",
        }
        rows.append(row)
    header = [column for column in rows[0] if any(row[column] for row in rows)]  # no column left empty
    return table(" | ".join(header), [[row[column] for column in header] for row in rows])


def tuning_pages() -> dict[str, dict[str, str]]:
    """:return: per page ``docs/tuning/<algo>.md``, ``<env>-study`` per study, ``<env>-recheck`` per re-checked study"""
    studies, rechecks = pd.read_csv(TUNING / "trials.csv")["study"].unique(), pd.read_csv(TUNING / "runs.csv")
    pages = {}
    for algo in ("reinforce", "vpg", "npg"):
        mine = [study for study in studies if study.startswith(f"{algo}-")]
        blocks = {f"{study.removeprefix(algo + '-')}-study": study_block(study) for study in mine}
        for study, runs in rechecks[rechecks["study"].str.startswith(f"{algo}-")].groupby("study"):
            blocks[f"{str(study).removeprefix(algo + '-')}-recheck"] = recheck_block(runs)
        pages[f"docs/tuning/{algo}.md"] = blocks
    return pages
