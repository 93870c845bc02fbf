#!/usr/bin/env bash
# The classic-control part of the published benchmark (docs/benchmark.md): the five algorithms, and the zoo's A2C
# for the target "VPG beats A2C", 5 seeds each at the zoo's PPO/TRPO budget for each environment. Each line
# resumes: finished runs are skipped, an interrupted one restarts from its latest checkpoint (--save-freq). Run it
# from the repository root, in the background:
#     nohup nice -n 10 bash benchmarks/classic_control.sh >> docs/benchmark/compare.log 2>&1 &
# Pass environment ids to run only those (default: all five, cheapest first).
set -u
envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(CartPole-v1 Pendulum-v1 MountainCarContinuous-v0 Acrobot-v1 LunarLander-v3)
status=0
for env in "${envs[@]}"; do
    echo "=== $env ($(date -u +%FT%TZ))"
    python -m sb3_pg.compare --env "$env" --algo reinforce vpg npg ppo trpo a2c --seeds 5 -f docs/benchmark \
        --save-freq 50000 --no-progress || status=$?
done
exit $status
