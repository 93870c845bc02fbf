"""The published figures agree with the raw results they come from, and every hyperparameter entry says how it was chosen."""

import sys

import pandas as pd
import pytest
import yaml
from conftest import ROOT, load_script


def test_benchmark_page_tables_match_the_summary():
    page_script = load_script("benchmark_page")
    page = (ROOT / "docs" / "benchmark.md").read_text()
    summary = pd.read_csv(ROOT / "docs" / "benchmark" / "summary.csv")
    assert page_script.BLOCK.search(page), "docs/benchmark.md has no generated table"
    assert page_script.refresh(page, summary) == page, "stale tables: run python benchmarks/benchmark_page.py"
    # A figure typed into a table by hand is overwritten
    edited = page.replace("| npg | 5/5 |", "| npg | 4/5 |", 1)
    assert edited != page and page_script.refresh(edited, summary) == page


def test_hyperparameter_table_is_current(tmp_path, monkeypatch):
    table = load_script("hyperparams_table")
    out = tmp_path / "hyperparameters.md"
    monkeypatch.setattr(sys, "argv", ["hyperparams_table.py", "--out", str(out)])
    table.main()
    assert out.read_text() == (ROOT / "docs" / "hyperparameters.md").read_text(), (
        "stale docs/hyperparameters.md: run python benchmarks/hyperparams_table.py"
    )


@pytest.mark.parametrize("algo", ["reinforce", "vpg", "npg"])
def test_every_entry_says_how_it_was_chosen(algo):
    table = load_script("hyperparams_table")
    path = ROOT / "hyperparams" / f"{algo}.yml"
    status = table.entry_status(path)
    entries = [key for key in yaml.safe_load(path.read_text()) if key != "default"]
    assert set(entries) <= set(status), f"entries of {path.name} without a Tuned/Searched/Untuned comment"
    assert all(value.startswith(("Tuned", "Searched", "Untuned")) for value in status.values())


def test_reached_compares_means_with_higher_better():
    table = load_script("hyperparams_table")
    assert table.reached_verdict(-67.7, -73.5) == "yes"  # returns below zero: closer to zero is better
    assert table.reached_verdict(500.0, 500.0) == "yes"
    assert table.reached_verdict(-82.9, -73.5) == "no (-9.4)"
    assert table.reached_verdict(633.4, 5819.1) == "no (-5,185.7)"


def test_prose_figures_match_the_raw_results():
    """A sample of the figures the benchmark page's prose quotes, recomputed by ``benchmarks/page_figures.py``."""
    figures = load_script("page_figures")
    page = " ".join((ROOT / "docs" / "benchmark.md").read_text().split())  # prose wraps lines anywhere
    runs, evaluations, updates = (pd.read_csv(ROOT / "docs" / "benchmark" / name) for name in figures.CSVS)

    def of(frame: pd.DataFrame, env: str) -> pd.DataFrame:
        return frame[frame["env"] == env]

    def steps(env: str) -> pd.DataFrame:
        targets = figures.read_targets(env, ["npg", "trpo"], None)
        return figures.step_figures(of(updates, env), targets).set_index("algo")

    # Hopper-v4: PPO stands (full-length evaluations from 200k steps on), NPG and TRPO take steps of one size
    hopper = figures.seed_figures(of(runs, "Hopper-v4"), of(evaluations, "Hopper-v4"), 200_000, 1000).set_index("algo")
    assert set(hopper.loc["ppo", "at time limit from 200,000"]) == {"12 of 17", "13 of 17"}
    assert "(12 or 13 of 17)" in page and hopper.loc["ppo", "their max"].max() <= 1013 and "none exceeds 1,013" in page
    hopper_steps = steps("Hopper-v4")
    npg_kl, trpo_kl = (float(hopper_steps.loc[algo, "kl median"]) for algo in ("npg", "trpo"))
    assert f"median {npg_kl:.2g} for NPG and {trpo_kl:.2g}" in page
    assert hopper_steps.loc["trpo", "line search succeeded"] == "1464 of 1464" and "succeeded on all 1,464 updates" in page
    # Tianshou's metric: the mean over seeds of each run's best evaluation
    for env, algo, name in [
        ("HalfCheetah-v4", "npg", "NPG"),
        ("Hopper-v4", "npg", "NPG"),
        ("Hopper-v4", "reinforce", "REINFORCE"),
        ("Walker2d-v4", "npg", "NPG"),
        ("Walker2d-v4", "reinforce", "REINFORCE"),
    ]:
        best = of(runs, env)[of(runs, env)["algo"] == algo].sort_values("seed")["best_return"]
        seeds = [f"{value:,.0f}" for value in best]
        quote = f"{name}'s is {best.mean():,.0f} ({', '.join(seeds[:-1])} and {seeds[-1]})"
        assert quote in page, f"{env}: {quote!r} not on the page"
    # HalfCheetah-v4: steps of one size over the three seeds
    cheetah = steps("HalfCheetah-v4")
    assert (
        f"{float(cheetah.loc['npg', 'kl median']):.3g} for NPG, {float(cheetah.loc['trpo', 'kl median']):.3g} for TRPO" in page
    )
    # LunarLander-v3: NPG's tuned entry takes steps without a tail; TRPO's line search keeps its own under target_kl
    lunar = steps("LunarLander-v3")
    npg_updates, kl_median, kl_max = (lunar.loc["npg", key] for key in ("updates", "kl median", "kl max"))
    assert f"over {npg_updates:,} updates the KL after the step has median {kl_median} and max {kl_max}" in page
    assert lunar.loc["npg", "> 2x target"] == 0 and "never reach twice its target" in page
    assert lunar.loc["trpo", "> 2x target"] == 0 and float(lunar.loc["trpo", "kl max"]) <= 0.01


@pytest.mark.parametrize(
    "env, chosen, quote",
    [
        ("HalfCheetah-v4", "trial_11", "last 5 evaluations ({chosen_last5:.0f} against {entry_last5:.0f}"),
        ("HalfCheetah-v4", "trial_11", "all 20 ({chosen_all:.0f} against {entry_all:.0f}"),
        ("Hopper-v4", "trial_25", "evaluations ({chosen_last5:.0f} against {entry_last5:.0f}, averaged over the seeds)"),
        ("Hopper-v4", "trial_25", "every held-out seed ({chosen_all:.0f} against {entry_all:.0f}"),
    ],
)
def test_recheck_figures_in_npg_yml_match_the_recheck_folders(env, chosen, quote):
    """The means over held-out seeds that npg.yml quotes to justify an entry, recomputed by page_figures.py --folder."""
    figures = load_script("page_figures")
    folder = ROOT / "docs" / "tuning" / "recheck" / f"npg-{env}"
    means = {}
    for name in ("entry", chosen):
        runs, evaluations = (pd.read_csv(folder / name / csv) for csv in ("runs.csv", "evaluations.csv"))
        per_seed = figures.seed_figures(runs, evaluations, 0, 1000)
        means[name] = per_seed[["mean of last 5", "mean of evaluations"]].mean()
    text = quote.format(
        chosen_last5=means[chosen]["mean of last 5"],
        entry_last5=means["entry"]["mean of last 5"],
        chosen_all=means[chosen]["mean of evaluations"],
        entry_all=means["entry"]["mean of evaluations"],
    )
    npg_yml = " ".join(line.lstrip("# ") for line in (ROOT / "hyperparams" / "npg.yml").read_text().splitlines())
    assert text in npg_yml, f"{env}: {text!r} not in hyperparams/npg.yml"


@pytest.mark.parametrize(
    "env, folder, quote",
    [
        ("HalfCheetah-v4", "entry", "TRPO's entry {mean:.1f} +- {std:.1f}"),
        ("HalfCheetah-v4", "trial_11", "trials 11, 22, 8, 10: {mean:.1f} +- {std:.1f}"),
        ("Hopper-v4", "entry", "TRPO's entry {mean:.1f} +- {std:.1f}"),
        ("Hopper-v4", "trial_25", "10: {mean:.1f} +- {std:.1f}"),
    ],
)
def test_three_seed_figures_in_npg_yml_come_from_the_first_three_held_out_seeds(env, folder, quote):
    """Folders that hold seeds 100-105: npg.yml's 3-seed figures are page_figures.py --seeds 100 101 102's."""
    figures = load_script("page_figures")
    path = ROOT / "docs" / "tuning" / "recheck" / f"npg-{env}" / folder
    runs, evaluations = (pd.read_csv(path / csv) for csv in ("runs.csv", "evaluations.csv"))
    assert sorted(runs["seed"]) == list(range(100, 106)), "the folder no longer holds seeds 100-105"
    seeds = [100, 101, 102]
    runs, evaluations = runs[runs["seed"].isin(seeds)], evaluations[evaluations["seed"].isin(seeds)]
    row = figures.seed_means(figures.seed_figures(runs, evaluations, 0, 1000)).iloc[0]
    text = quote.format(mean=row["final"], std=row["final std"])
    npg_yml = " ".join(line.lstrip("# ") for line in (ROOT / "hyperparams" / "npg.yml").read_text().splitlines())
    assert text in npg_yml, f"{env}: {text!r} not in hyperparams/npg.yml"


@pytest.mark.parametrize(
    "folder, seeds, quote",
    [
        ("entry", [100, 101, 102], "this entry {mean:.1f} +- {std:.1f} (python"),
        ("trial_18", [100, 101, 102], "-385.5 +- 359.1, {mean:.1f} +- {std:.1f};"),
        ("entry", list(range(100, 106)), "this entry {mean:.1f} +- {std:.1f}, trial 18"),
        ("trial_18", list(range(100, 106)), "trial 18 {mean:.1f} +- {std:.1f} (between"),
    ],
)
def test_recheck_figures_in_reinforce_yml_match_the_recheck_folders(folder, seeds, quote):
    """REINFORCE's LunarLander-v3 re-check: the 3- and 6-seed figures reinforce.yml quotes, recomputed from the folders."""
    figures = load_script("page_figures")
    path = ROOT / "docs" / "tuning" / "recheck" / "reinforce-LunarLander-v3" / folder
    runs, evaluations = (pd.read_csv(path / csv) for csv in ("runs.csv", "evaluations.csv"))
    runs, evaluations = runs[runs["seed"].isin(seeds)], evaluations[evaluations["seed"].isin(seeds)]
    assert sorted(runs["seed"]) == seeds
    row = figures.seed_means(figures.seed_figures(runs, evaluations, 0, 1000)).iloc[0]
    text = quote.format(mean=row["final"], std=row["final std"])
    reinforce_yml = " ".join(line.lstrip("# ") for line in (ROOT / "hyperparams" / "reinforce.yml").read_text().splitlines())
    assert text in reinforce_yml, f"{text!r} not in hyperparams/reinforce.yml"
