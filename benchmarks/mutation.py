"""
Write the mutation score of mutmut's last run (``mutants/``) into ``docs/mutation.md``'s generated block and
``docs/mutation.csv``: the counts per file and every mutant not killed, with its one-line diff and the verdict written
by hand in the page (kept when the block is rewritten). The run itself is mutmut's, configured by ``[tool.mutmut]``
in pyproject.toml (``docs/mutation.md`` has the commands)::

    python benchmarks/mutation.py
"""

import csv
import json
import os
import shlex
from collections import Counter
from importlib.metadata import version
from pathlib import Path

from mutmut.configuration import config
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
MUTANTS, DOC, CSV = ROOT / "mutants", ROOT / "docs" / "mutation.md", ROOT / "docs" / "mutation.csv"
BEGIN, END = "<!-- mutation.py summary: begin -->", "<!-- mutation.py summary: end -->"
TODO = "TODO: equivalent: reason, or the test that kills it"
# mutmut's statuses (mutmut.stats.status_by_exit_code), in the order of the table
STATUSES = ["killed", "survived", "timeout", "suspicious", "no tests", "segfault", "skipped", "not checked"]


def results() -> dict[str, dict[str, str]]:
    """:return: per mutated source file (relative path), each mutant's status"""
    found = {}
    for meta in sorted(MUTANTS.glob("sb3_pg/**/*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        found[str(meta.relative_to(MUTANTS))[: -len(".meta")]] = {k: status_by_exit_code[v] for k, v in codes.items()}
    return {path: statuses for path, statuses in found.items() if statuses}


def counts(path: str, statuses: dict[str, str]) -> dict:
    """:return: the file's row of the table: its mutants, each status's count and the score, (killed + timeout) / checked"""
    count, tried = Counter(statuses.values()), len(statuses) - list(statuses.values()).count("not checked")
    score = f"{100 * (count['killed'] + count['timeout']) / tried:.1f}" if tried else ""
    return {"file": path, "mutants": len(statuses), **{status: count[status] for status in STATUSES}, "score": score}


def one_line_diff(name: str, path: str, context: int = 24) -> str:
    """:return: the mutant's change on one line, each side cut to what differs with ``context`` characters around it"""
    diff = get_diff_for_mutant(name, path=path).splitlines()[2:]
    removed, added = ([line[1:].strip() for line in diff if line.startswith(sign)] for sign in "-+")
    if len(removed) == len(added) == 1:
        old, new = removed[0], added[0]
        start = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
        end = next((i for i in range(min(len(old), len(new)) - start) if old[-1 - i] != new[-1 - i]), 0)
        head, tail = max(0, start - context), max(0, end - context)
        removed, added = ([("…" if head else "") + s[head : len(s) - tail] + ("…" if tail else "")] for s in (old, new))
    return f"`{' / '.join(removed)}` → `{' / '.join(added)}`" if removed else f"adds `{' / '.join(added)}`"


def verdicts() -> dict[str, str]:
    """:return: the verdict written in docs/mutation.md for each survivor"""
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in DOC.read_text().splitlines()]
    return {cells[0].strip("`"): cells[-1] for cells in rows if len(cells) >= 4 and cells[0].startswith("`sb3_pg.")}


def block(found: dict[str, dict[str, str]]) -> str:
    """:return: docs/mutation.md's generated block: how the run was made, the table and the survivors"""
    cfg, rows = config(), [counts(path, statuses) for path, statuses in found.items()]
    total = counts("**all**", {key: status for statuses in found.values() for key, status in statuses.items()})
    stats = json.loads((MUTANTS / "mutmut-stats.json").read_text())
    tests = Counter(test.split("::")[0] for test in stats["duration_by_test"])
    out = [
        f"Tool: mutmut {version('mutmut')}. Mutated: " + ", ".join(f"`{p}`" for p in cfg.only_mutate) + ".",
        "",
        "Tests each mutant runs: those of `pytest "
        + shlex.join(cfg.pytest_add_cli_args_test_selection + cfg.pytest_add_cli_args)
        + "` that execute the mutated function, stopping at the first failure; collected: "
        + ", ".join(f"`{module}` ({n})" for module, n in sorted(tests.items()))
        + ".",
        "",
        "Not mutated: docstrings, module-level code, lines under `# pragma: no mutate`, and every expression that starts "
        "on a line matching one of " + ", ".join(f"`{p}`" for p in cfg.do_not_mutate_patterns) + ".",
        "",
        f"Score: (killed + timed out) / checked. Timed out: more than (the tests' time + {cfg.timeout_constant} s) x 2 x "
        f"{cfg.timeout_multiplier} CPU seconds.",
        "",
        "| file | mutants | " + " | ".join(STATUSES) + " | score % |",
        "|---|" + "---:|" * (len(STATUSES) + 2),
        *(f"| {r['file']} | {r['mutants']} | " + " | ".join(str(r[s]) for s in STATUSES) + f" | {r['score']} |" for r in rows),
        f"| **all** | {total['mutants']} | " + " | ".join(str(total[s]) for s in STATUSES) + f" | {total['score']} |",
        "",
        "Mutants not killed:",
        "",
        "| mutant | status | change | verdict |",
        "|---|---|---|---|",
    ]
    written = verdicts()
    for path, statuses in found.items():
        for name, status in statuses.items():
            if status not in ("killed", "timeout", "not checked"):
                change = one_line_diff(name, path).replace("|", "\\|")
                out.append(f"| `{name}` | {status} | {change} | {written.get(name, TODO)} |")
    with open(CSV, "w", newline="") as file:
        writer = csv.DictWriter(file, ["file", "mutants", *STATUSES, "score"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return "\n".join([BEGIN, *out, END])


def main() -> None:
    os.chdir(ROOT)  # mutmut reads its configuration and mutants/ from the current folder
    head, rest = DOC.read_text().split(BEGIN, 1)
    DOC.write_text(head + block(results()) + rest.split(END, 1)[1])
    print(f"wrote {DOC.relative_to(ROOT)} and {CSV.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
