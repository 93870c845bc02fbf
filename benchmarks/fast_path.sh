#!/usr/bin/env bash
# The benchmark rows of the four on CartPole-v1, Pendulum-v1 and Acrobot-v1 trained again on the rollout path
# (docs/speed.md, "Learning"): 5 seeds, the zoo's entries and budgets, into runs/fast-path, which resumes; then the
# experiment packed as data, docs/fast-path/{runs,summary,evaluations}.csv beside runs.tar.xz (all but models):
#     nohup nice -n 10 bash benchmarks/fast_path.sh > runs/fast-path.log 2>&1 &
set -eu
python -m sb3_pg.compare --env CartPole-v1 Pendulum-v1 Acrobot-v1 --algo reinforce vpg npg klppo --seeds 5 \
    -f runs/fast-path --save-freq 50000 --no-progress "$@"
mkdir -p docs/fast-path
cp runs/fast-path/runs.csv runs/fast-path/summary.csv runs/fast-path/evaluations.csv docs/fast-path/
tar -C runs/fast-path -cJf docs/fast-path/runs.tar.xz --exclude='*.zip' --exclude='*.monitor.csv' .
