"""
Per-update training statistics of a comparison's finished runs, into ``<folder>/updates.csv``: the KL after NPG's and
TRPO's steps and after KLPPO's epochs, KLPPO's beta, TRPO's line search and the policy's std, read from SB3's
``progress.csv`` of each of the run's segments (in the run folder, or in the env's ``runs.tar.xz``). A run
without one keeps its rows of the existing file:

    python benchmarks/train_logs.py [-f docs/benchmark]
    python benchmarks/train_logs.py -f runs/klppo-logs runs/klppo-logs-mcc -o docs/klppo-logs   # several, together
"""

import argparse
import io
import tarfile
from pathlib import Path

import pandas as pd

from sb3_pg.compare.spec import find_runs, read_archive

# SB3's logger key -> column; NPG logs train/kl_divergence, sb3-contrib's TRPO train/kl_divergence_loss
KEYS = {"time/total_timesteps": "total_timesteps", "train/n_updates": "n_updates", "train/kl_divergence": "kl"}
KEYS |= {"train/kl_divergence_loss": "kl", "train/is_line_search_success": "line_search_success", "train/std": "std"}
KEYS |= {"train/kl_coef": "kl_coef"}
COLUMNS = ["env", "algo", "seed", "total_timesteps", "n_updates", "kl", "line_search_success", "std", "kl_coef"]


def progress_logs(run_dir: Path, algo: str, env: str) -> list[bytes]:
    """:return: the run's ``progress.csv`` files, one per segment in order, from its folder or its env's archive"""
    pattern, prefix = f"{algo}/{env}_*/progress.csv", f"{run_dir.parent.name}/{run_dir.name}/"
    found = {name.removeprefix(prefix): data for name, data in read_archive(run_dir.parent.parent, prefix + pattern).items()}
    found |= {path.relative_to(run_dir).as_posix(): path.read_bytes() for path in run_dir.glob(pattern)}
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
    for spec, result, _ in find_runs(folder):
        env, algo, seed = spec.env_id, spec.algo, str(spec.seed)
        if algo not in ("reinforce", "vpg", "npg", "klppo", "trpo") or result is None:
            continue
        if logs := progress_logs(Path(spec.run_dir), algo, env):
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
                found = {}  # spec.json and result.json, packed or in the run folders
                for env_dir in folder.glob("*/runs.tar.xz"):
                    packed = read_archive(env_dir.parent, "*/seed_*/*.json")
                    found |= {f"{env_dir.parent.name}/{name}": data for name, data in packed.items() if name.count("/") == 2}
                for path in [*folder.glob("*/*/seed_*/spec.json"), *folder.glob("*/*/seed_*/result.json")]:
                    found[path.relative_to(folder).as_posix()] = path.read_bytes()
                for name, data in sorted(found.items()):
                    if str(Path(name).parent) in set(finished["run_dir"]):
                        (info := tarfile.TarInfo(name)).size = len(data)
                        archive.addfile(info, io.BytesIO(data))
    print(f"-> {out / 'updates.csv'}")


if __name__ == "__main__":
    main()
