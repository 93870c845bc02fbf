#!/usr/bin/env bash
# The MuJoCo part of the published benchmark (docs/benchmark.md): the five algorithms and the zoo's A2C, 3 seeds,
# 1M steps (the zoo's budget). Each line resumes: finished runs are skipped, an interrupted one restarts from its
# latest checkpoint (--save-freq). Needs the mujoco extra (pip install ".[zoo,mujoco]"). From the repository
# root, in the background:
#     nohup nice -n 10 bash benchmarks/mujoco.sh >> docs/benchmark/compare.log 2>&1 &
# Pass environment ids to run only those (default: both).
set -u
envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(HalfCheetah-v4 Hopper-v4)
status=0
for env in "${envs[@]}"; do
    echo "=== $env ($(date -u +%FT%TZ))"
    python -m sb3_pg.compare --env "$env" --algo reinforce vpg npg ppo trpo a2c --seeds 3 -f docs/benchmark \
        --save-freq 50000 --no-progress || status=$?
done
exit $status
