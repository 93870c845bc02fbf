"""
SB3's own test suite with each of sb3_pg's algorithms in A2C's place: the drop-in standard.

    python benchmarks/conformance.py                       # every algorithm and A2C, the page's block
    python benchmarks/conformance.py --algo npg -m test_run # one algorithm, some modules

Downloads the source distribution of the installed stable-baselines3 from PyPI (once, into ``--cache``), runs
the modules below with ``benchmarks/sb3_pg_conformance.py`` as a pytest plugin, and prints the counts per
algorithm. With ``--write``, they replace the generated block of ``docs/conformance.md``.
"""

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import stable_baselines3

MODULES = [
    "test_run",
    "test_save_load",
    "test_predict",
    "test_spaces",
    "test_identity",
    "test_dict_env",
    "test_cnn",
    "test_deterministic",
    "test_callbacks",
    "test_train_eval_mode",
    "test_custom_policy",
    "test_sde",
    "test_gae",
]
ALGOS = ("a2c", "reinforce", "vpg", "npg", "klppo")
HERE = Path(__file__).resolve().parent


def sb3_tests(cache: Path) -> Path:
    """:return: the ``tests/`` folder of the installed stable-baselines3's source distribution, downloaded once"""
    version = stable_baselines3.__version__
    folder = cache / f"stable_baselines3-{version}"
    if not (folder / "tests").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        # Downloaded and unpacked aside, then renamed into place: several runs may start at once (pytest -n 2)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps", "-d", tmp]
            subprocess.run([*pip, f"stable-baselines3=={version}"], check=True)
            with tarfile.open(Path(tmp, f"stable_baselines3-{version}.tar.gz")) as archive:
                archive.extractall(tmp, filter="data")
            with contextlib.suppress(OSError):  # another run got there first
                Path(tmp, folder.name).rename(folder)
    return folder / "tests"


def run(algo: str, tests: Path, modules: list[str], workers: int) -> dict:
    """Run the modules with ``algo`` in A2C's place; :return: counts and the ids of the items that did not pass"""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        command = [sys.executable, "-m", "pytest", *(str(tests / f"{m}.py") for m in modules), "-p", "sb3_pg_conformance"]
        command += ["-q", "-p", "no:cacheprovider", f"--junitxml={report}", "--rootdir", str(tests.parent)]
        if workers > 1:
            command += ["-n", str(workers)]
        env = {**os.environ, "SB3_PG_ALGO": algo, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        subprocess.run(command, env=env, cwd=tests.parent, check=False, stdout=subprocess.DEVNULL)
        counts = {"passed": 0, "failed": 0, "skipped": 0, "excepted": 0}
        failures = []
        for case in ET.parse(report).getroot().iter("testcase"):
            name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
            outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
            if outcome is None:
                counts["passed"] += 1
            elif outcome.tag == "skipped" and outcome.get("type") == "pytest.xfail":
                counts["excepted"] += 1
            elif outcome.tag == "skipped":
                counts["skipped"] += 1
            else:
                counts["failed"] += 1
                failures.append(name)
    return {**counts, "failures": failures}


def table(results: dict[str, dict]) -> str:
    lines = ["| algorithm | items | passed | failed | skipped | listed exceptions |", "|---|---|---|---|---|---|"]
    for algo, r in results.items():
        items = r["passed"] + r["failed"] + r["skipped"] + r["excepted"]
        name = "A2C (SB3, the reference)" if algo == "a2c" else algo.upper()
        lines.append(f"| {name} | {items} | {r['passed']} | {r['failed']} | {r['skipped']} | {r['excepted']} |")
    for algo, r in results.items():
        lines += [f"\nFailed for {algo.upper()}: `{name}`" for name in r["failures"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("-m", "--modules", nargs="+", default=MODULES)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "sb3-pg")
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument("--write", type=Path, help="replace the generated block of this page (docs/conformance.md)")
    args = parser.parse_args()

    tests = sb3_tests(args.cache)
    results = {algo: run(algo, tests, args.modules, args.workers) for algo in args.algo}
    block = f"Stable-Baselines3 {stable_baselines3.__version__}, modules: {', '.join(args.modules)}.\n\n{table(results)}"
    print(block)
    if args.write:
        sys.path.insert(0, str(HERE))
        from sb3_pg_conformance import EXCEPTIONS

        exceptions = "\n".join(
            f"- {algo.upper()}, `{fragment}`: {reason}" for algo, listed in EXCEPTIONS.items() for fragment, reason in listed
        )
        page = args.write.read_text()
        for name, text in (("conformance", block), ("exceptions", exceptions)):
            begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
            pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
            page = pattern.sub(lambda _, b=begin, t=text, e=end: f"{b}\n{t}\n{e}", page)
        args.write.write_text(page)
    if any(r["failed"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
