#!/usr/bin/env bash
# Train the best trials of a study (benchmarks/tune.sh) again, each on 3 seeds the benchmark does not use
# (100-102), with the comparison's evaluation (20 evaluations of 10 episodes), to choose the entry:
#     bash benchmarks/recheck.sh ALGO ENV TRIAL [TRIAL ...]
# The trial's hyperparameters come from the study through rl-zoo3's --trial-id, on top of the file's entry.
# Results: docs/tuning/recheck/<algo>-<env>/trial_<n>/report.md (resumes like any comparison).
set -eu
algo=$1 env=$2
shift 2
for trial in "$@"; do
    python -m sb3_pg.compare --env "$env" --algo "$algo" --seeds 3 --first-seed 100 --no-progress \
        -f "docs/tuning/recheck/$algo-$env/trial_$trial" \
        -- --storage "docs/tuning/$algo-$env.log" --study-name "$algo-$env" --trial-id "$trial"
done
