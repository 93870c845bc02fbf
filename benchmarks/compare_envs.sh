#!/usr/bin/env bash
# The published benchmark, one environment at a time (docs/benchmark.md):
#     bash benchmarks/compare_envs.sh SEEDS ENV [ENV ...]
# Each environment is one `python -m sb3_pg.compare` into docs/benchmark/ with the six algorithms and the zoo's
# A2C (for the target "VPG beats A2C"), SEEDS seeds, at the zoo's budget. It resumes: finished runs are skipped,
# an interrupted one restarts from its latest checkpoint (--save-freq). classic_control.sh and mujoco.sh call it.
set -u
seeds=$1
shift
status=0
for env in "$@"; do
    echo "=== $env ($(date -u +%FT%TZ))"
    python -m sb3_pg.compare --env "$env" --algo reinforce vpg npg klppo ppo trpo a2c --seeds "$seeds" -f docs/benchmark \
        --save-freq 50000 --no-progress || status=$?
done
exit $status
