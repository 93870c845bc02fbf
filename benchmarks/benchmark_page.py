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


def refresh(page: str, summary: pd.DataFrame) -> str:
    """:return: the page with every table block rewritten from ``summary``"""

    def table(match: re.Match) -> str:
        env_rows = summary[summary["env"] == match.group("env")]
        body = markdown_table(format_table(env_rows)) + "\n" if len(env_rows) else "(no finished runs yet)\n"
        return match.group(1) + body + match.group(4)

    envs = [match.group("env") for match in BLOCK.finditer(page)]
    page = STATUS.sub(lambda match: match.group(1) + status_table(envs, summary) + match.group(3), page)
    return BLOCK.sub(table, page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "benchmark.md")
    parser.add_argument("--summary", type=Path, default=ROOT / "docs" / "benchmark" / "summary.csv")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page's tables are stale, change nothing")
    args = parser.parse_args()

    page = args.page.read_text()
    new = refresh(page, pd.read_csv(args.summary))
    if args.check:
        sys.exit(0 if new == page else 1)
    args.page.write_text(new)
    print(f"{args.page}: {len(BLOCK.findall(new))} tables refreshed")


if __name__ == "__main__":
    main()
