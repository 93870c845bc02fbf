#!/usr/bin/env bash
# The published benchmark (docs/benchmark.md), one `python -m sb3_pg.compare` per environment, at the zoo's budget:
#     bash benchmarks/compare_envs.sh classic|mujoco [ENV ...]     # 5 seeds / 3 seeds (mujoco needs the mujoco extra)
set -u
case ${1:-} in
classic) seeds=5 envs=(CartPole-v1 Pendulum-v1 MountainCarContinuous-v0 Acrobot-v1 LunarLander-v3) ;;
mujoco) seeds=3 envs=(HalfCheetah-v4 Hopper-v4 Walker2d-v4) ;;
*) echo "usage: $0 classic|mujoco [ENV ...]" >&2 && exit 2 ;;
esac
shift
[ $# -gt 0 ] && envs=("$@")
status=0
for env in "${envs[@]}"; do
    echo "=== $env ($(date -u +%FT%TZ))"
    extra=() && [ "$env" = Hopper-v4 ] && extra=(ppo_cleanrl)  # PPO at its best public settings, where the zoo's stands
    python -m sb3_pg.compare --env "$env" --algo reinforce vpg npg klppo ppo trpo a2c "${extra[@]}" --seeds "$seeds" \
        -f docs/benchmark --save-freq 50000 --no-progress || status=$?
done
exit $status
