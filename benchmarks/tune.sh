#!/usr/bin/env bash
# Tune one entry of hyperparams/<algo>.yml with rl-zoo3's Optuna search (docs/tuning/ says how each entry was chosen):
#     bash benchmarks/tune.sh ALGO ENV N_TRIALS [more python -m sb3_pg.train flags]
# The study is the journal docs/tuning/<algo>-<env>.log: the same line again resumes it up to N_TRIALS trials, and
# workers on several machines pointed at one file share it (after a killed worker: python benchmarks/study.py
# fail-running JOURNAL STUDY). The study is unpacked from, and packed back into, docs/tuning/<algo>-<env>.tar.xz.
set -eu
algo=$1 env=$2 trials=$3
shift 3
[ -f "docs/tuning/$algo-$env.tar.xz" ] && python benchmarks/study.py unpack docs/tuning "$algo-$env"
python -m sb3_pg.train --algo "$algo" --env "$env" -optimize --n-trials "$trials" --max-total-trials "$trials" \
    --n-startup-trials 8 --n-evaluations 4 --eval-episodes 10 --sampler tpe --pruner median \
    --storage "docs/tuning/$algo-$env.log" --study-name "$algo-$env" --num-threads 1 --no-optim-plots \
    -f docs/tuning/logs "$@"
python benchmarks/study.py pack docs/tuning "$algo-$env"   # the study into docs/tuning/<algo>-<env>.tar.xz
