"""
Refresh the tables of ``docs/benchmark.md`` from the published comparison's ``docs/benchmark/summary.csv``.

The page's prose is written by hand; its tables are not. Each table sits between ``<!-- table: ENV -->`` and
``<!-- end table -->`` and is rewritten here with the report's own formatting (``sb3_pg.compare.report``), so
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


def refresh(page: str, summary: pd.DataFrame) -> str:
    """:return: the page with every table block rewritten from ``summary``"""

    def table(match: re.Match) -> str:
        env_rows = summary[summary["env"] == match.group("env")]
        body = markdown_table(format_table(env_rows)) + "\n" if len(env_rows) else "(no finished runs yet)\n"
        return match.group(1) + body + match.group(4)

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
