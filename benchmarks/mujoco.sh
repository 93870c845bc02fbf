#!/usr/bin/env bash
# The MuJoCo part of the published benchmark (docs/benchmark.md): 3 seeds, 1M steps (the zoo's budget; see
# compare_envs.sh). Needs the mujoco extra (pip install ".[zoo,mujoco]"). From the repository root, in the
# background:
#     nohup nice -n 10 bash benchmarks/mujoco.sh >> docs/benchmark/compare.log 2>&1 &
# Pass environment ids to run only those.
envs=("$@")
[ ${#envs[@]} -eq 0 ] && envs=(HalfCheetah-v4 Hopper-v4 Walker2d-v4)
exec bash "$(dirname "$0")/compare_envs.sh" 3 "${envs[@]}"
