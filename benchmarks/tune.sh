#!/usr/bin/env bash
# Tune one entry of hyperparams/<algo>.yml with rl-zoo3's Optuna search, as the yml headers record it:
#     bash benchmarks/tune.sh ALGO ENV N_TRIALS [more python -m sb3_pg.train flags]
# The study lives in a journal file, docs/tuning/<algo>-<env>.log, so running the same line again after an
# interruption goes on until the study holds N_TRIALS trials (--max-total-trials), and two machines pointed at
# the same file share one study. Each trial trains once, unseeded, with the entry's own n_timesteps and the
# rest of the entry as defaults, evaluated 4 times on 10 episodes (TPE sampler after 8 random trials, median
# pruner). The trials table (rl-zoo3's report CSV) goes to docs/tuning/logs/<algo>/.
# A worker killed mid-trial leaves that trial RUNNING in the journal, and --max-total-trials counts it: before
# starting the workers again, with none running, run
#     python benchmarks/fail_running_trials.py docs/tuning/<algo>-<env>.log <algo>-<env>
set -eu
algo=$1 env=$2 trials=$3
shift 3
python -m sb3_pg.train --algo "$algo" --env "$env" -optimize --n-trials "$trials" --max-total-trials "$trials" \
    --n-startup-trials 8 --n-evaluations 4 --eval-episodes 10 --sampler tpe --pruner median \
    --storage "docs/tuning/$algo-$env.log" --study-name "$algo-$env" --num-threads 1 --no-optim-plots \
    -f docs/tuning/logs "$@"
