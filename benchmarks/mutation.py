"""
Mutation score of ``sb3_pg/common/`` and the four algorithm folders, with mutmut, outside CI.

Install the tool once: ``pip install -e .[mutation]`` (that is ``pip install "mutmut>=3.8,<3.9"``). Its configuration,
read from the repository root, is ``[tool.mutmut]`` in pyproject.toml: the mutated files, the tests each mutant runs
(every ``tests/test_*.py`` but the integration modules, without the ``slow`` marker), the excluded lines and the
timeout. mutmut keeps its work in ``mutants/`` (git-ignored): a mutated copy of the package and, per source file, a
``.meta`` file holding each mutant's result as soon as it is known.

Commands, from the repository root::

    python benchmarks/mutation.py start [--jobs 1] [MUTANT ...]         # in the background (nohup): mutmut run, then summary
    python benchmarks/mutation.py start --file sb3_pg/common/checks.py  # only that file's unchecked mutants
    python benchmarks/mutation.py status                                # progress per file, and whether the run is alive
    python benchmarks/mutation.py stop                                  # interrupt; a later start resumes
    python benchmarks/mutation.py summary                               # write docs/mutation.md's block and docs/mutation.csv
    python benchmarks/mutation.py survivors [FILE ...]                  # surviving mutants with their one-line diffs

``start`` resumes: mutmut skips every mutant that already has a result, regenerates the mutants of the functions
whose source changed since (their results are reset), and collects coverage stats only for tests it has not seen.
The log is ``mutants/mutation.log``. ``--jobs`` is mutmut's ``--max-children`` (worker processes; default 1). Each
process may use ``MUTATION_MEMORY_GB`` (default 8) GiB of address space: a mutant that grows a buffer without end
fails with MemoryError instead of drawing the out-of-memory killer.

Survivors, and re-running part of the mutants after adding a test (mutmut re-runs a mutant that is named, even
one that has a result; ``*`` globs, quoted)::

    mutmut results                                          # every mutant that was not killed, with its status
    mutmut show "sb3_pg.klppo.klppo.x_update_kl_coef__mutmut_3"   # its diff
    mutmut run --max-children 1 "sb3_pg.klppo.klppo.x_update_kl_coef__mutmut_*"   # one function
    mutmut run --max-children 1 "sb3_pg.klppo.klppo.xǁKLPPOǁtrain__mutmut_*"     # one method (ǁ is U+01C1)
    mutmut run --max-children 1 "sb3_pg.klppo.klppo.*"                          # one file
    python benchmarks/mutation.py start "sb3_pg.common.checks.*"           # the same, in the background

then ``python benchmarks/mutation.py summary`` to rewrite the committed summary.
"""

import argparse
import ast
import csv
import json
import os
import re
import resource
import shlex
import signal
import subprocess
import sys
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
LOG = MUTANTS / "mutation.log"
PID = MUTANTS / "mutation.pid"
DOC = ROOT / "docs" / "mutation.md"
CSV = ROOT / "docs" / "mutation.csv"
BEGIN, END = "<!-- mutation.py summary: begin -->", "<!-- mutation.py summary: end -->"
TODO = "TODO: equivalent: reason, or the test that kills it"
# mutmut's statuses (mutmut.stats.status_by_exit_code), in the order of the table
STATUSES = ["killed", "survived", "timeout", "suspicious", "no tests", "segfault", "skipped", "not checked"]
# The environment of the run: one thread per process, as the tests' conftest sets for torch
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _config():
    """:return: mutmut's configuration, as mutmut reads it from the current folder's pyproject.toml"""
    from mutmut.configuration import config

    return config()


def _alive() -> int | None:
    """:return: the pid of the background run, or None when there is none"""
    try:
        pid = int(PID.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def _command(jobs: int, mutants: list[str]) -> list[str]:
    return ["mutmut", "run", "--max-children", str(jobs), *mutants]


def start(jobs: int, mutants: list[str]) -> None:
    if (pid := _alive()) is not None:
        sys.exit(f"a run is already going (pid {pid}); `python benchmarks/mutation.py stop` first")
    MUTANTS.mkdir(exist_ok=True)
    _forget_interrupted()
    script = f"{' '.join(map(_quote, _command(jobs, mutants)))}; {_quote(sys.executable)} {_quote(__file__)} summary"
    with open(LOG, "a") as log:
        process = subprocess.Popen(
            ["nohup", "bash", "-c", script],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **ENV},
            start_new_session=True,
            preexec_fn=_limit_memory,
        )
    PID.write_text(str(process.pid))
    print(f"started (pid {process.pid}); log: {LOG.relative_to(ROOT)}")


def _limit_memory() -> None:
    """Cap each process's address space: a mutant that grows an array without end then fails with MemoryError, and the
    kernel's out-of-memory killer, which can take the whole run down with it, is left out of it"""
    limit = int(float(os.environ.get("MUTATION_MEMORY_GB", "8")) * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def stop() -> None:
    pid = _alive()
    if pid is None:
        print("no run is going")
        return
    # mutmut saves each result as it comes; on an interrupt it stops its workers without saving theirs. Only its main
    # process is interrupted: a worker interrupted by the same signal could be saved as "interrupted by user".
    children = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == pid]
    for child in children:
        os.kill(int(child.name), signal.SIGINT)
    print(f"interrupted mutmut (pid {', '.join(c.name for c in children)}); the summary follows; `start` resumes")


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _forget_interrupted() -> None:
    """Make the mutants whose check was interrupted unchecked again, so that the next run checks them"""
    from mutmut.stats import status_by_exit_code

    for meta in MUTANTS.glob("sb3_pg/**/*.py.meta"):
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        interrupted = [k for k, code in codes.items() if status_by_exit_code[code] == "check was interrupted by user"]
        if interrupted:
            codes.update(dict.fromkeys(interrupted))
            meta.write_text(json.dumps(data, indent=4))


def _results() -> dict[str, dict[str, int | None]]:
    """:return: per mutated source file (relative path), each mutant's exit code (None: not checked yet)"""
    results = {}
    for meta in sorted(MUTANTS.glob("sb3_pg/**/*.py.meta")):
        path = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        results[path] = json.loads(meta.read_text())["exit_code_by_key"]
    return results


def _status(exit_code: int | None) -> str:
    from mutmut.stats import status_by_exit_code

    return status_by_exit_code[exit_code]


def _counts(results: dict[str, dict[str, int | None]]) -> list[dict]:
    rows = []
    for path, codes in results.items():
        if not codes:
            continue
        count = defaultdict(int)
        for code in codes.values():
            count[_status(code)] += 1
        rows.append({"file": path, "mutants": len(codes), **{status: count[status] for status in STATUSES}})
    for row in rows:
        tried = row["mutants"] - row["not checked"]
        row["score"] = f"{100 * (row['killed'] + row['timeout']) / tried:.1f}" if tried else ""
    return rows


def status() -> None:
    pid = _alive()
    print(f"run: {'going, pid ' + str(pid) if pid else 'not going'}")
    rows = _counts(_results())
    print(f"{'file':36} {'mutants':>7} " + " ".join(f"{s:>11}" for s in STATUSES) + "  score")
    for row in rows:
        print(f"{row['file']:36} {row['mutants']:7} " + " ".join(f"{row[s]:11}" for s in STATUSES) + f"  {row['score']}")


def _function_lines(path: str) -> dict[str, int]:
    """:return: the line of each function's ``def`` in the working tree's file, keyed as mutmut names them"""
    lines = {}
    tree = ast.parse((ROOT / path).read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines[f"x_{node.name}"] = node.lineno
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines[f"xǁ{node.name}ǁ{item.name}"] = item.lineno
    return lines


def _one_line_diff(name: str, path: str, def_lines: dict[str, int]) -> tuple[str, str, str]:
    """:return: the mutant's function, the line it changes (in the working tree's file) and its diff on one line"""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    function = name.rpartition(".")[2].rpartition("__mutmut_")[0]
    diff = get_diff_for_mutant(name, path=path).splitlines()
    removed = [line[1:].strip() for line in diff[2:] if line.startswith("-")]
    added = [line[1:].strip() for line in diff[2:] if line.startswith("+")]
    line = ""
    hunk = next((d for d in diff if d.startswith("@@")), None)
    if hunk and function in def_lines:
        # line n of the function's source, which starts at its def; the first changed line follows the context
        first = int(re.match(r"@@ -(\d+)", hunk).group(1))
        body = diff[diff.index(hunk) + 1 :]
        offset = next((i for i, d in enumerate(body) if d.startswith(("-", "+"))), 0)
        line = str(def_lines[function] + first - 1 + offset)
    if len(removed) == len(added) == 1:
        removed, added = _trim(removed[0], added[0])
    text = f"`{' / '.join(removed)}` → `{' / '.join(added)}`" if removed else f"adds `{' / '.join(added)}`"
    shown = function[2:].replace("ǁ", ".") if function.startswith(("x_", "xǁ")) else function
    return shown, line, text


def _trim(old: str, new: str, context: int = 24) -> tuple[list[str], list[str]]:
    """:return: the two versions of a line cut to what differs, with ``context`` characters around it"""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    head = max(0, start - context)
    tail = max(0, end - context)
    cut = ["…" if head else "", "…" if tail else ""]
    return [cut[0] + old[head : len(old) - tail] + cut[1]], [cut[0] + new[head : len(new) - tail] + cut[1]]


def _survivors(results: dict[str, dict[str, int | None]], files: list[str]) -> list[dict]:
    rows = []
    for path, codes in results.items():
        if files and not any(path == f or path.endswith(f) for f in files):
            continue
        def_lines = _function_lines(path) if (ROOT / path).exists() else {}
        for name, code in codes.items():
            state = _status(code)
            if state in ("killed", "timeout", "not checked"):
                continue
            function, line, text = _one_line_diff(name, path, def_lines)
            rows.append({"file": path, "function": function, "mutant": name, "status": state, "line": line, "diff": text})
    return rows


def survivors(files: list[str]) -> None:
    current = None
    for row in _survivors(_results(), files):
        if (row["file"], row["function"]) != current:
            current = row["file"], row["function"]
            print(f"\n{row['file']} :: {row['function']}")
        print(f"  {row['mutant'].rpartition('__mutmut_')[2]:>4} {row['status']:9} line {row['line']:>4}  {row['diff']}")


def _test_modules() -> str:
    """:return: the test modules of mutmut's stats (the tests it ran once unmutated), with their numbers of tests"""
    try:
        tests = json.loads((MUTANTS / "mutmut-stats.json").read_text())["duration_by_test"]
    except FileNotFoundError:
        return "none yet"
    count = defaultdict(int)
    for test in tests:
        count[test.split("::")[0]] += 1
    return ", ".join(f"`{module}` ({n})" for module, n in sorted(count.items()))


def _verdicts() -> dict[str, str]:
    """:return: the verdict written in docs/mutation.md for each survivor, kept when the summary is rewritten"""
    if not DOC.exists():
        return {}
    verdicts = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0].startswith("`sb3_pg."):
            verdicts[cells[0].strip("`")] = cells[-1]
    return verdicts


def summary() -> None:
    config = _config()
    results = _results()
    rows = _counts(results)
    with open(CSV, "w", newline="") as file:
        writer = csv.DictWriter(file, ["file", "mutants", *STATUSES, "score"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    total = {s: sum(r[s] for r in rows) for s in ["mutants", *STATUSES]}
    tried = total["mutants"] - total["not checked"]
    verdicts = _verdicts()
    out = [
        BEGIN,
        f"Tool: mutmut {version('mutmut')}, command `python benchmarks/mutation.py start` "
        f"(`{' '.join(_command(1, []))}` with {', '.join(f'{k}={v}' for k, v in ENV.items())}).",
        "",
        "Mutated: " + ", ".join(f"`{p}`" for p in config.only_mutate) + ".",
        "",
        "Tests each mutant runs: those of `pytest "
        + shlex.join(config.pytest_add_cli_args_test_selection + config.pytest_add_cli_args)
        + "` that execute the mutated function (mutmut records which tests reach which function in a first run), "
        "stopping at the first failure. The tests mutmut collected: " + _test_modules() + ".",
        "",
        "Not mutated: docstrings and other triple-quoted strings (mutmut's rule), module-level code (mutmut mutates "
        "functions only), code under a `# pragma: no mutate` comment, and every expression that starts on a line "
        "matching one of " + ", ".join(f"`{p}`" for p in config.do_not_mutate_patterns) + " (logger records, "
        "warnings and raised errors with their messages, values computed only for the logger, `record_std`).",
        "",
        "Score: (killed + timed out) / checked. Timed out: the mutant's tests used more than "
        f"(their measured time + {config.timeout_constant} s) x 2 x {config.timeout_multiplier} "
        "CPU seconds.",
        "",
        "| file | mutants | " + " | ".join(STATUSES) + " | score % |",
        "|---|" + "---:|" * (len(STATUSES) + 2),
    ]
    score = f"{100 * (total['killed'] + total['timeout']) / tried:.1f}" if tried else ""
    for row in [*rows, {"file": "**all**", **total, "score": score}]:
        out.append(
            f"| {row['file']} | {row['mutants']} | " + " | ".join(str(row[s]) for s in STATUSES) + f" | {row['score']} |"
        )
    out += ["", "Mutants not killed (line: in the source when this summary was written):", ""]
    out += ["| mutant | status | line | change | verdict |", "|---|---|---:|---|---|"]
    for row in _survivors(results, []):
        change = row["diff"].replace("|", "\\|")
        verdict = verdicts.get(row["mutant"], TODO)
        out.append(f"| `{row['mutant']}` | {row['status']} | {row['line']} | {change} | {verdict} |")
    out.append(END)
    block = "\n".join(out)
    if DOC.exists() and BEGIN in (text := DOC.read_text()):
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = "# Mutation score\n\nGenerated by `python benchmarks/mutation.py summary` (see its header).\n\n" + block + "\n"
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)} and {CSV.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="run mutmut in the background, then write the summary")
    start_parser.add_argument("--jobs", type=int, default=1, help="mutmut's --max-children (default 1)")
    start_parser.add_argument("mutants", nargs="*", help="mutant names or globs to (re-)run; all unchecked ones if none")
    start_parser.add_argument(
        "--file", action="append", default=[], help="check the unchecked mutants of this source file first (repeatable)"
    )
    commands.add_parser("status", help="progress per file")
    commands.add_parser("stop", help="interrupt the background run")
    commands.add_parser("summary", help="write docs/mutation.md's generated block and docs/mutation.csv")
    survivors_parser = commands.add_parser("survivors", help="surviving mutants with their diffs")
    survivors_parser.add_argument("files", nargs="*", help="source files (default: all)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)  # mutmut reads its configuration and mutants/ from the current folder
    if args.command == "start":
        results = _results()
        unchecked = [name for path in args.file for name, code in results[path].items() if code is None]
        if args.file and not unchecked:
            sys.exit(f"every mutant of {', '.join(args.file)} has a result")
        start(args.jobs, args.mutants + unchecked)
    elif args.command == "stop":
        stop()
    elif args.command == "status":
        status()
    elif args.command == "summary":
        summary()
    else:
        survivors(args.files)


if __name__ == "__main__":
    main()
