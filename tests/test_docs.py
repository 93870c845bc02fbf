"""The published figures agree with the raw results they come from, and every hyperparameter entry says how it was chosen."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


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
