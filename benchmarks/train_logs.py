"""
Per-update training statistics of a comparison's runs, read from their training logs.

The page's figures on step sizes (the KL after NPG's and TRPO's steps, TRPO's line search, the policies'
standard deviation) come from SB3's logger output in each run's ``train.log``, which is not committed (it is
large). This script keeps the few columns those figures use, one row per update of the new algorithms and
TRPO (where the update logs one of them), in ``<folder>/updates.csv``:

    python benchmarks/train_logs.py [-f docs/benchmark]

A finished run whose ``train.log`` is absent (a fresh checkout holds only the logs of the runs trained in it)
keeps its rows from the existing ``updates.csv``, so rebuilding after re-running some runs loses nothing.
"""

import argparse
import csv
import json
import re
from pathlib import Path

# SB3's logger key -> column; NPG logs train/kl_divergence, sb3-contrib's TRPO train/kl_divergence_loss
KEYS = {
    "total_timesteps": "total_timesteps",
    "n_updates": "n_updates",
    "kl_divergence": "kl",
    "kl_divergence_loss": "kl",
    "is_line_search_success": "line_search_success",
    "std": "std",
}
COLUMNS = ["env", "algo", "seed", "total_timesteps", "n_updates", "kl", "line_search_success", "std"]
ALGOS = ("reinforce", "vpg", "npg", "trpo")  # the rows kept: the new algorithms and TRPO
ROW = re.compile(r"^\|\s+(\w+)\s+\|\s+(\S+)\s+\|$")


def read_updates(log: Path) -> list[dict[str, str]]:
    """:return: one dict per logger table of ``log`` that has ``n_updates``, with the columns of ``KEYS``"""
    updates, table = [], {}
    for line in log.read_text(errors="replace").splitlines():
        match = ROW.match(line.strip())
        if match and match[1] in KEYS:
            table[KEYS[match[1]]] = match[2]
        elif line.startswith("---") and table:
            if "n_updates" in table:
                updates.append(table)
            table = {}
    return updates


def previous_updates(path: Path) -> dict[tuple[str, str, str], list[dict[str, str]]]:
    """:return: the rows of an existing ``updates.csv``, by (env, algo, seed); empty if there is none"""
    runs: dict[tuple[str, str, str], list[dict[str, str]]] = {}
    if path.is_file():
        with path.open(newline="") as file:
            for row in csv.DictReader(file):
                runs.setdefault((row["env"], row["algo"], row["seed"]), []).append(row)
    return runs


def collect(folder: Path) -> tuple[list[dict[str, str]], dict[str, int]]:
    """
    :param folder: a comparison folder
    :return: the rows of ``updates.csv`` for the folder's finished runs, read from each run's ``train.log`` or,
        where that is absent, kept from the folder's existing ``updates.csv``; and how many runs took each way
        (``lost``: runs with neither, though another seed of their (env, algo) has rows)
    """
    previous = previous_updates(folder / "updates.csv")
    rows: list[dict[str, str]] = []
    counts = {"read": 0, "kept": 0}
    missing: list[tuple[str, str, str]] = []
    for spec_file in sorted(folder.glob("*/*/seed_*/spec.json")):
        spec = json.loads(spec_file.read_text())
        if spec["algo"] not in ALGOS or not (spec_file.parent / "result.json").is_file():
            continue
        key = (spec["env_id"], spec["algo"], str(spec["seed"]))
        log = spec_file.parent / "train.log"
        if log.is_file():
            counts["read"] += 1
            for update in read_updates(log):
                if any(update.get(column) for column in ("kl", "line_search_success", "std")):
                    rows.append({"env": key[0], "algo": key[1], "seed": key[2], **update})
        elif key in previous:
            counts["kept"] += 1
            rows.extend(previous[key])
        else:
            missing.append(key)
    # A run with neither has no rows to keep: expected where no seed of its (env, algo) has any (discrete-action
    # REINFORCE and VPG log no KL or std), a lost train.log where another seed has some
    with_rows = {(row["env"], row["algo"]) for row in rows}
    counts["lost"] = sum(key[:2] in with_rows for key in missing)
    counts["missing"] = len(missing) - counts["lost"]
    return rows, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("-f", "--folder", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "benchmark")
    args = parser.parse_args()
    rows, counts = collect(args.folder)
    with (args.folder / "updates.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(
        f"{len(rows)} updates -> {args.folder / 'updates.csv'} (runs read from train.log: {counts['read']}, kept from the "
        f"previous updates.csv: {counts['kept']}, with neither: {counts['missing']}, as for discrete-action REINFORCE and "
        "VPG, which log no KL or std)"
    )
    if counts["lost"]:
        raise SystemExit(
            f"{counts['lost']} finished runs have no train.log and no rows in the previous updates.csv either, though other "
            "seeds of their (env, algo) have rows: their rows were lost: train them again here, or restore updates.csv"
        )


if __name__ == "__main__":
    main()
