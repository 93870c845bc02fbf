"""SB3's own test suite with each algorithm in A2C's place (benchmarks/conformance.py; docs/conformance.md)."""

import inspect
import json
import subprocess
import sys

import pytest
import stable_baselines3
from conftest import ROOT, load_script

import sb3_pg

conformance = load_script("conformance")
PUBLISHED = json.loads((ROOT / "docs" / "conformance.json").read_text())


@pytest.mark.parametrize("algo", ["reinforce", "vpg", "npg", "klppo"])
def test_sb3_test_suite_with_the_algorithm_in_a2c_place(algo):
    # Every module of the published run (docs/conformance.md), one process: xdist spreads the algorithms
    command = [sys.executable, str(ROOT / "benchmarks" / "conformance.py"), "--algo", algo, "-n", "1"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1200, check=False)
    # Exit status 1: an item failed that is not a listed exception (or a listed one passed)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    row = next(line for line in completed.stdout.splitlines() if line.startswith(f"| {algo.upper()} |"))
    cells = [int(cell) for cell in row.strip("| ").split(" | ")[1:]]
    counts = dict(zip(["items", "passed", "failed", "skipped", "excepted"], cells, strict=True))
    # The published counts, exactly: an item dropped by the selection or newly skipped changes them
    published = PUBLISHED["results"][algo]
    expected = {key: published[key] for key in ("passed", "failed", "skipped", "excepted")}
    assert counts == {"items": sum(expected.values()), **expected}, row


def test_the_published_run_is_of_the_installed_sb3_and_of_the_script():
    assert PUBLISHED["stable_baselines3"] == stable_baselines3.__version__
    assert PUBLISHED["modules"] == conformance.a2c_modules(conformance.sb3_tests(conformance.DEFAULT_CACHE))
    assert PUBLISHED["exceptions"] == {algo: [list(pair) for pair in pairs] for algo, pairs in conformance.EXCEPTIONS.items()}
    assert PUBLISHED["not_taken"] == conformance.NOT_TAKEN
    assert list(PUBLISHED["results"]) == list(conformance.ALGOS)


@pytest.mark.parametrize("algo", ["reinforce", "vpg", "npg", "klppo"])
def test_the_a2c_arguments_listed_as_not_taken_are_the_ones_refused(algo):
    algorithm = getattr(sb3_pg, algo.upper())
    a2c_only = set(inspect.signature(stable_baselines3.A2C).parameters) - set(inspect.signature(algorithm).parameters)
    listed = {argument for argument, reasons in conformance.NOT_TAKEN.items() if algo in reasons}
    assert listed == a2c_only
    for argument in sorted(listed):  # refused even at A2C's default value
        default = inspect.signature(stable_baselines3.A2C).parameters[argument].default
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{argument}'"):
            algorithm("MlpPolicy", "CartPole-v1", **{argument: default})


def _constructs_by_attribute():
    return stable_baselines3.A2C("MlpPolicy", "CartPole-v1")


@pytest.mark.parametrize("model_class", ["A2C"])
def _decorated_only(model_class):
    pass


def _imports_only():
    from stable_baselines3 import A2C  # noqa: F401


def _mentions_only():
    """A2C"""
    return "A2C"  # A2C


def test_an_item_uses_a2c_when_its_body_reads_the_name():
    def constructs():
        return A2C("MlpPolicy", "CartPole-v1")  # noqa: F821

    assert conformance.reads_a2c(constructs)
    assert conformance.reads_a2c(_constructs_by_attribute)
    # Not its decorators (a parametrisation over algorithms), an import, a string or a comment
    assert not conformance.reads_a2c(_decorated_only)
    assert not conformance.reads_a2c(_imports_only)
    assert not conformance.reads_a2c(_mentions_only)
    assert not conformance.reads_a2c(len)  # no source
