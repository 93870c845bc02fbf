#!/usr/bin/env bash
# Train trials of a study (benchmarks/tune.sh) again on held-out seeds 100-102, as the benchmark evaluates:
#     bash benchmarks/recheck.sh ALGO ENV TRIAL [TRIAL ...]   # -> docs/tuning/recheck/<algo>-<env>/trial_<n>/
set -eu
algo=$1 env=$2
shift 2
[ -f "docs/tuning/$algo-$env.tar.xz" ] && python benchmarks/study.py unpack docs/tuning "$algo-$env"
for trial in "$@"; do
    python -m sb3_pg.compare --env "$env" --algo "$algo" --seeds 3 --first-seed 100 --no-progress \
        -f "docs/tuning/recheck/$algo-$env/trial_$trial" \
        -- --storage "docs/tuning/$algo-$env.log" --study-name "$algo-$env" --trial-id "$trial"
done
python benchmarks/study.py pack docs/tuning "$algo-$env"   # docs/tuning/<algo>-<env>.tar.xz, trials.csv, runs.csv
