"""
SB3's own test suite with each of sb3_pg's algorithms in A2C's place (``docs/conformance.md``):

    python benchmarks/conformance.py --write                # every algorithm and A2C -> docs/conformance.json
    python benchmarks/conformance.py --algo npg -m test_run # one algorithm, some modules

It runs every module of SB3's released ``tests/`` folder that mentions ``A2C``. As a pytest plugin, this file binds
``stable_baselines3.A2C`` to the algorithm of ``SB3_PG_ALGO`` before those modules are imported, keeps the items
that use A2C, and marks ``EXCEPTIONS`` strict expected failures. An item uses A2C when a parameter is A2C (or its
name, ``"a2c"``), or, if no parameter is an algorithm, when the body of its test function or of a fixture it requests
reads the name ``A2C``: items parametrised over algorithms run once, with A2C's parameter. ``test_utils`` needs ale-py.
"""

import argparse
import ast
import contextlib
import inspect
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import stable_baselines3
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm

ALGOS = ("a2c", "reinforce", "vpg", "npg", "klppo")
HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = Path.home() / ".cache" / "sb3-pg"
ALGO = os.environ.get("SB3_PG_ALGO", "a2c")
A2C_STEPS = "A2C's n_steps=5 updates every 5 steps"


def within(what: str, steps: int, n_steps: int) -> str:
    """:return: why an item that must ``what`` within ``steps`` steps fails at the class default ``n_steps``"""
    rollouts = -(-steps // n_steps)  # learn() collects whole rollouts until it has the steps
    updates = "one update" if rollouts == 1 else f"{rollouts} updates"
    return f"{what} within {steps:,} steps: the class default n_steps={n_steps:,} gives {updates} there, {A2C_STEPS}"


NO_V = "REINFORCE has no value function, hence no gae_lambda and no V(s) to check"
SET_ENV = "asserts num_timesteps == n_steps after learn(n_steps): a REINFORCE rollout runs on to the end of its episode"
GAE, CONTINUOUS = "test_gae.py::test_infinite_horizon[True-", "test_identity.py::test_continuous"
DISCRETE = "test_identity.py::test_discrete[env{}-"
FITS_V = "fits V(s0) to 50 +- 1"
EVAL_SYNC = (
    "asserts the eval env's VecNormalize statistics, copied at the evaluation at step 100, equal the training env's "
    "after learn(100): a REINFORCE rollout runs on to the end of its episode, updating the training statistics"
)
BUFFER = "passes SB3's RolloutBuffer: REINFORCE's must hold complete episodes (EpisodicRolloutBuffer), a ValueError"
TENSORBOARD = "test_tensorboard.py::test_tensorboard[a2c]"
LOG_NAME = "asserts the log folder A2C_1: the algorithm logs under its own name (tb_log_name defaults to it), as PPO does"
# (test id fragment, reason), per algorithm: the only items allowed not to pass
EXCEPTIONS: dict[str, list[tuple[str, str]]] = {
    "reinforce": [
        ("test_gae.py::test_gae_computation", NO_V),
        (GAE, NO_V),
        (DISCRETE.format(2), within("learns", 1200, 1000)),
        (CONTINUOUS, within("learns", 2000, 1000)),
        ("test_save_load.py::test_set_env", SET_ENV),
        ("test_callbacks.py::test_eval_friendly_error", EVAL_SYNC),
        ("test_buffers.py::test_custom_rollout_buffer", BUFFER),
        (TENSORBOARD, LOG_NAME),
    ],
    "vpg": [
        (DISCRETE.format(1), within("learns", 1200, 512)),
        (DISCRETE.format(2), within("learns", 1200, 512)),
        (CONTINUOUS, within("learns", 2000, 512)),
        (GAE, within(FITS_V, 500, 512) + "; and VPG's learning_rate is the policy's (the critic's is vf_learning_rate)"),
        (TENSORBOARD, LOG_NAME),
    ],
    "npg": [(CONTINUOUS, within("learns", 2000, 2048)), (GAE, within(FITS_V, 500, 2048)), (TENSORBOARD, LOG_NAME)],
    "klppo": [
        (CONTINUOUS, within("learns", 2000, 2048) + " (SB3's test gives PPO n_steps=256 for this)"),
        (GAE, within(FITS_V, 500, 2048)),
        (TENSORBOARD, LOG_NAME),
    ],
}


OPTIMIZER = "the optimizer is policy_kwargs' optimizer_class (Adam by default), as in SB3's PPO, which does not take it either"
CRITIC_APART = "the critic is fitted apart from the policy step, by its own passes (n_critic_updates): no joint loss to weight"
# A2C's own arguments that an algorithm refuses with TypeError, per algorithm, with the reason
NOT_TAKEN: dict[str, dict[str, str]] = {
    "use_rms_prop": dict.fromkeys(ALGOS[1:], OPTIMIZER),
    "rms_prop_eps": dict.fromkeys(ALGOS[1:], OPTIMIZER),
    "gae_lambda": {"reinforce": "REINFORCE has no value function: its weights are Monte Carlo returns, no advantage estimate"},
    "vf_coef": {
        "reinforce": "REINFORCE has no value function, hence no value loss",
        "vpg": CRITIC_APART.replace(" (n_critic_updates)", " (n_critic_updates) at its own rate (vf_learning_rate)"),
        "npg": CRITIC_APART,
    },
    "ent_coef": {"npg": "NPG's step is the natural gradient of the surrogate within a KL trust region, with no entropy bonus"},
    "max_grad_norm": {"npg": "NPG's step length is set by its KL trust region (step_size), not by clipping the gradient"},
}


def pytest_configure(config: pytest.Config) -> None:
    # The test modules do `from stable_baselines3 import A2C` when collected, after this hook
    import sb3_pg

    th.set_num_threads(1)  # one process per worker, as in tests/conftest.py: timed items (test_fps_logger) need a core
    config.sb3_pg_algorithm = stable_baselines3.A2C if ALGO == "a2c" else getattr(sb3_pg, ALGO.upper())  # type: ignore[attr-defined]
    stable_baselines3.A2C = config.sb3_pg_algorithm  # type: ignore[attr-defined, misc]


def reads_a2c(function: Callable) -> bool:
    """:return: whether the body of ``function`` (not its decorators) reads the name ``A2C`` (or an attribute of that name)"""
    try:
        definition = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    except (OSError, TypeError):  # no source: a builtin or generated fixture
        return False
    body = getattr(definition, "body", [])
    nodes = [node for statement in body for node in ast.walk(statement)]
    return any(getattr(node, "id", None) == "A2C" or getattr(node, "attr", None) == "A2C" for node in nodes)


def uses_a2c(item: pytest.Item, algorithm: type[BaseAlgorithm]) -> bool:
    """:return: whether ``item`` uses A2C (bound to ``algorithm``): the selection rule of the module docstring"""
    params = list(getattr(getattr(item, "callspec", None), "params", {}).values())
    if any(value is algorithm or (isinstance(value, str) and value == "a2c") for value in params):
        return True
    if any(isinstance(value, type) and issubclass(value, BaseAlgorithm) for value in params):
        return False  # parametrised over algorithms, with another one
    fixtures = [fixture.func for fixtures in item._fixtureinfo.name2fixturedefs.values() for fixture in fixtures]  # type: ignore[attr-defined]
    return any(reads_a2c(function) for function in [getattr(item, "function", None), *fixtures] if function is not None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    algorithm = config.sb3_pg_algorithm  # type: ignore[attr-defined]
    kept, deselected = [], []
    for item in items:
        (kept if uses_a2c(item, algorithm) else deselected).append(item)
    for item in kept:
        for fragment, reason in EXCEPTIONS.get(ALGO, []):
            if fragment in item.nodeid:
                item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    config.hook.pytest_deselected(items=deselected)
    items[:] = kept


def sb3_tests(cache: Path) -> Path:
    """:return: the ``tests/`` folder of the installed stable-baselines3's source distribution, downloaded once"""
    folder = cache / f"stable_baselines3-{stable_baselines3.__version__}"
    if not (folder / "tests").is_dir():  # unpacked aside, then renamed into place: several runs may start at once
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp, contextlib.suppress(OSError):  # OSError: another run got there
            pip = [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", "-d", tmp]
            subprocess.run([*pip, f"stable-baselines3=={stable_baselines3.__version__}"], check=True)
            with tarfile.open(Path(tmp, f"{folder.name}.tar.gz")) as archive:
                archive.extractall(tmp, filter="data")
            Path(tmp, folder.name).rename(folder)
    return folder / "tests"


def a2c_modules(tests: Path) -> list[str]:
    """:return: the modules of SB3's ``tests`` folder that mention ``A2C``, sorted"""
    return sorted(path.stem for path in tests.glob("test_*.py") if "A2C" in path.read_text())


def run(algo: str, tests: Path, modules: list[str], workers: int) -> dict:
    """Run the modules with ``algo`` in A2C's place; :return: counts and the ids of the items that did not pass"""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pytest", *(str(tests / f"{m}.py") for m in modules), "-p", "conformance", "-q"]
        command += ["-p", "no:cacheprovider", f"--junitxml={tmp}/report.xml", "--rootdir", str(tests.parent)]
        env = {**os.environ, "SB3_PG_ALGO": algo, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
        command += ["-n", str(workers)] if workers > 1 else []
        subprocess.run(command, env=env, cwd=tests.parent, stdout=subprocess.DEVNULL)
        result = {"passed": 0, "failed": 0, "skipped": 0, "excepted": 0, "failures": []}
        for case in ET.parse(f"{tmp}/report.xml").getroot().iter("testcase"):
            outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), ET.Element("passed"))
            kind = {"failure": "failed", "error": "failed"}.get(outcome.tag, outcome.tag)  # or passed, skipped
            if outcome.get("type") == "pytest.xfail":
                kind = "excepted"
            result[kind] += 1
            if kind == "failed":
                result["failures"].append(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("-m", "--modules", nargs="+", help="some modules (default: every one that mentions A2C)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="record the results in docs/conformance.json")
    args = parser.parse_args()

    tests = sb3_tests(args.cache)
    args.modules = args.modules or a2c_modules(tests)
    results = {algo: run(algo, tests, args.modules, args.workers) for algo in args.algo}
    for algo, r in results.items():  # the rows of the page's table, which tests/test_conformance.py reads
        counts = [r[key] for key in ("passed", "failed", "skipped", "excepted")]
        print(f"| {algo.upper()} | {sum(counts)} | " + " | ".join(map(str, counts)) + " |", *r["failures"], sep="\n  failed: ")
    if args.write:
        path = HERE.parent / "docs" / "conformance.json"
        raw = json.loads(path.read_text()) if path.is_file() else {"results": {}}
        raw |= {"stable_baselines3": stable_baselines3.__version__, "modules": args.modules, "exceptions": EXCEPTIONS}
        raw["not_taken"] = NOT_TAKEN
        raw["results"] = {algo: r for algo in ALGOS if (r := results.get(algo, raw["results"].get(algo)))}
        path.write_text(json.dumps(raw, indent=1) + "\n")
    sys.exit(1 if any(r["failed"] for r in results.values()) else 0)


if __name__ == "__main__":
    main()
