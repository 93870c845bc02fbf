#!/usr/bin/env bash
# The classic-control part of the published benchmark (docs/benchmark.md): 5 seeds, cheapest environment first
# (see compare_envs.sh). From the repository root, in the background:
#     nohup nice -n 10 bash benchmarks/classic_control.sh >> docs/benchmark/compare.log 2>&1 &
# Pass environment ids to run only those.
envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(CartPole-v1 Pendulum-v1 MountainCarContinuous-v0 Acrobot-v1 LunarLander-v3)
exec bash "$(dirname "$0")/compare_envs.sh" 5 "${envs[@]}"
