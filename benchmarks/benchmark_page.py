"""
Refresh the tables of ``docs/benchmark.md`` from the published comparison's ``docs/benchmark/summary.csv``.

The page's prose is written by hand; its tables are not. Each table sits between ``<!-- table: ENV -->`` and
``<!-- end table -->`` (and the list of how far each environment has got between ``<!-- status -->`` and
``<!-- end status -->``) and is rewritten here with the report's own formatting (``sb3_pg.compare.report``), so
the page cannot disagree with ``report.md`` and the raw CSVs. ``--check`` exits 1 when the page is stale.

    python benchmarks/benchmark_page.py [--check]     # from the repository root
"""

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from sb3_pg.compare.report import format_table, markdown_table

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(<!-- table: (?P<env>[\w.-]+) -->\n)(?P<body>.*?)(<!-- end table -->)", re.DOTALL)
STATUS = re.compile(r"(<!-- status -->\n)(?P<body>.*?)(<!-- end status -->)", re.DOTALL)
KLPPO = re.compile(r"(<!-- klppo -->\n)(?P<body>.*?)(<!-- end klppo -->)", re.DOTALL)
DUAL = re.compile(r"(<!-- klppo-dual -->\n)(?P<body>.*?)(<!-- end klppo-dual -->)", re.DOTALL)


def versus(summary: pd.DataFrame, env: str, algo: str, other: str, others: pd.DataFrame | None = None) -> str:
    """
    :return: ``above``, ``level`` or ``below``: how ``algo``'s final IQM 95% CI stands to ``other``'s on ``env``
        (``other``'s row from ``others`` when given)
    """
    rows = summary[summary["env"] == env].set_index("algo")
    other_rows = rows if others is None else others[others["env"] == env].set_index("algo")
    if algo not in rows.index or other not in other_rows.index:
        return "not run"
    mine, theirs = rows.loc[algo], other_rows.loc[other]
    if mine["iqm_ci_low"] > theirs["iqm_ci_high"]:
        return "above"
    return "below" if mine["iqm_ci_high"] < theirs["iqm_ci_low"] else "level"


def iqm(summary: pd.DataFrame, env: str, algo: str) -> str:
    """:return: ``IQM [CI low, CI high] (finished runs)`` of ``algo`` on ``env``, or ``not run``"""
    row = summary[(summary["env"] == env) & (summary["algo"] == algo)]
    if not len(row):
        return "not run"
    r = row.iloc[0]
    return f"{r['iqm']:,.1f} [{r['iqm_ci_low']:,.1f}, {r['iqm_ci_high']:,.1f}] ({int(r['finished'])})"


def dual_table(summary: pd.DataFrame, dual: pd.DataFrame) -> str:
    """:return: KLPPO's dual rule (``dual``, the summary of its own comparison folder) beside its adaptive rule"""
    lines = ["| environment | adaptive (the benchmark) | dual | dual vs adaptive |", "|---|---|---|---|"]
    for env in dict.fromkeys(dual["env"]):
        cells = [iqm(summary, env, "klppo"), iqm(dual, env, "klppo"), versus(dual, env, "klppo", "klppo", summary)]
        lines.append(f"| {env} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def klppo_table(envs: list[str], summary: pd.DataFrame) -> str:
    """:return: KLPPO's final IQM beside PPO's and TRPO's on each environment, and where it stands (CIs overlap: level)"""

    lines = [
        "| environment | KLPPO IQM [95% CI] (runs) | PPO | TRPO | KLPPO vs PPO | KLPPO vs TRPO |",
        "|---|---|---|---|---|---|",
    ]
    for env in envs:
        cells = [iqm(summary, env, algo) for algo in ("klppo", "ppo", "trpo")]
        cells += [versus(summary, env, "klppo", other) for other in ("ppo", "trpo")]
        lines.append(f"| {env} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def status_table(envs: list[str], summary: pd.DataFrame) -> str:
    """:return: a Markdown table of how far each environment of the page has got: budget, runs finished"""
    lines = ["| environment | budget (steps) | runs finished | seeds |", "|---|---|---|---|"]
    for env in envs:
        rows = summary[summary["env"] == env]
        if not len(rows):
            lines.append(f"| {env} | | not started | |")
            continue
        finished, runs = int(rows["finished"].sum()), int(rows["runs"].sum())
        seeds = "/".join(sorted({str(int(n)) for n in rows["runs"]}))
        lines.append(f"| {env} | {int(rows['n_timesteps'].iloc[0]):,} | {finished} of {runs} | {seeds} |")
    return "\n".join(lines) + "\n"


def refresh(page: str, summary: pd.DataFrame, dual: pd.DataFrame | None = None) -> str:
    """:return: the page with every table block rewritten from ``summary``"""

    def table(match: re.Match) -> str:
        env_rows = summary[summary["env"] == match.group("env")]
        body = markdown_table(format_table(env_rows)) + "\n" if len(env_rows) else "(no finished runs yet)\n"
        return match.group(1) + body + match.group(4)

    envs = [match.group("env") for match in BLOCK.finditer(page)]
    page = STATUS.sub(lambda match: match.group(1) + status_table(envs, summary) + match.group(3), page)
    page = KLPPO.sub(lambda match: match.group(1) + klppo_table(envs, summary) + match.group(3), page)
    if dual is not None:
        page = DUAL.sub(lambda match: match.group(1) + dual_table(summary, dual) + match.group(3), page)
    return BLOCK.sub(table, page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "benchmark.md")
    parser.add_argument("--summary", type=Path, default=ROOT / "docs" / "benchmark" / "summary.csv")
    parser.add_argument("--dual", type=Path, default=ROOT / "docs" / "klppo-dual" / "summary.csv")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page's tables are stale, change nothing")
    args = parser.parse_args()

    page = args.page.read_text()
    new = refresh(page, pd.read_csv(args.summary), pd.read_csv(args.dual) if args.dual.exists() else None)
    if args.check:
        sys.exit(0 if new == page else 1)
    args.page.write_text(new)
    print(f"{args.page}: {len(BLOCK.findall(new))} tables refreshed")


if __name__ == "__main__":
    main()
