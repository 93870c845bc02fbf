"""
Per-update training statistics of a comparison's finished runs, into ``<folder>/updates.csv``: the KL after NPG's and
TRPO's steps and after KLPPO's epochs, KLPPO's beta, TRPO's line search and the policy's std, read from SB3's
``progress.csv`` of each of the run's segments (in the run folder, or in the env's ``zoo_runs.tar.xz``). A run
without one keeps its rows of the existing file:

    python benchmarks/train_logs.py [-f docs/benchmark]
    python benchmarks/train_logs.py -f runs/klppo-logs runs/klppo-logs-mcc -o docs/klppo-logs   # several, together
"""

import argparse
import fnmatch
import io
import json
import tarfile
from pathlib import Path

import pandas as pd

# SB3's logger key -> column; NPG logs train/kl_divergence, sb3-contrib's TRPO train/kl_divergence_loss
KEYS = {"time/total_timesteps": "total_timesteps", "train/n_updates": "n_updates", "train/kl_divergence": "kl"}
KEYS |= {"train/kl_divergence_loss": "kl", "train/is_line_search_success": "line_search_success", "train/std": "std"}
KEYS |= {"train/kl_coef": "kl_coef"}
COLUMNS = ["env", "algo", "seed", "total_timesteps", "n_updates", "kl", "line_search_success", "std", "kl_coef"]


def progress_logs(run_dir: Path, algo: str, env: str) -> list[bytes]:
    """:return: the run's ``progress.csv`` files, one per segment in order, from its folder or its env's archive"""
    pattern, found = f"{algo}/{env}_*/progress.csv", {}
    for path in run_dir.glob(pattern):
        found[path.relative_to(run_dir).as_posix()] = path.read_bytes()
    if (archive := run_dir.parent.parent / "zoo_runs.tar.xz").is_file():
        with tarfile.open(archive) as tar:
            prefix = f"{run_dir.parent.name}/{run_dir.name}/"
            for member in tar.getmembers():
                if member.name.startswith(prefix) and fnmatch.fnmatch(member.name.removeprefix(prefix), pattern):
                    found[member.name.removeprefix(prefix)] = tar.extractfile(member).read()  # type: ignore[union-attr]
    return [found[name] for name in sorted(found, key=lambda name: int(name.split("/")[1].rsplit("_", 1)[1]))]


def read_progress(log: bytes) -> pd.DataFrame:
    """:return: the rows of a ``progress.csv`` that record an update and one of the statistics, as logged (text)"""
    progress = pd.read_csv(io.BytesIO(log), dtype=str).rename(columns=KEYS)
    progress = progress.loc[:, ~progress.columns.duplicated()].reindex(columns=COLUMNS[3:])
    return progress[progress["n_updates"].notna() & progress[COLUMNS[5:]].notna().any(axis=1)]


def collect(folder: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    """:return: the rows of ``updates.csv`` for the comparison ``folder``'s finished runs of REINFORCE, VPG, NPG, KLPPO
    and TRPO, and how many were read, kept, or missing (neither: discrete-action REINFORCE and VPG log no KL or std)"""
    path, frames, counts = folder / "updates.csv", [], {"read": 0, "kept": 0, "missing": 0}
    previous = pd.read_csv(path, dtype=str).reindex(columns=COLUMNS) if path.is_file() else pd.DataFrame(columns=COLUMNS)
    for spec_file in sorted(folder.glob("*/*/seed_*/spec.json")):
        spec = json.loads(spec_file.read_text())
        env, algo, seed = spec["env_id"], spec["algo"], str(spec["seed"])
        if algo not in ("reinforce", "vpg", "npg", "klppo", "trpo") or not (spec_file.parent / "result.json").is_file():
            continue
        if logs := progress_logs(spec_file.parent, algo, env):
            rows = pd.concat([read_progress(log) for log in logs]).assign(env=env, algo=algo, seed=seed)
            way = "read"
        else:
            rows = previous[(previous["env"] == env) & (previous["algo"] == algo) & (previous["seed"] == seed)]
            way = "kept" if len(rows) else "missing"
        frames.append(rows[COLUMNS])
        counts[way] += 1
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS), counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parent.parent / "docs" / "benchmark"
    parser.add_argument("-f", "--folder", type=Path, nargs="+", default=[default], help="comparison folders")
    parser.add_argument("-o", "--out", type=Path, help="write updates.csv here, with finals.csv and runs.tar.xz (raw)")
    args = parser.parse_args()
    out = args.out or args.folder[0]
    if len(args.folder) > 1 and args.out is None:
        parser.error("several folders need --out")
    frames, runs = [], []
    for folder in args.folder:
        rows, counts = collect(folder)
        frames.append(rows)
        runs.append(pd.read_csv(folder / "runs.csv"))
        print(f"{folder}: {len(rows)} updates; runs read from progress.csv, kept, with neither: {counts}")
    out.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(out / "updates.csv", index=False, lineterminator="\r\n")  # as csv.writer wrote it
    if args.out is not None:  # the finished runs' final returns beside their logs, and their raw results in one archive
        finished = pd.concat(runs)
        finished = finished[finished["status"] == "finished"]
        finished.to_csv(out / "finals.csv", index=False)
        with tarfile.open(out / "runs.tar.xz", "w:xz") as archive:
            for folder in args.folder:
                for run_dir in sorted(set(finished["run_dir"])):
                    for name in ("spec.json", "result.json"):
                        if (folder / run_dir / name).is_file():
                            archive.add(folder / run_dir / name, arcname=f"{run_dir}/{name}")
    print(f"-> {out / 'updates.csv'}")


if __name__ == "__main__":
    main()
