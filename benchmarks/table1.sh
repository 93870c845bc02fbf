#!/usr/bin/env bash
# The PPO paper's Table 1 (issue: clipping against the KL penalty): each setting of benchmarks/table1/ on the paper's
# seven MuJoCo tasks at 1M steps, one comparison folder per setting; resumable (finished runs are skipped):
#     SEEDS=3 nohup nice -n 10 bash benchmarks/table1.sh [SETTING ...] >> runs/table1.log 2>&1 &
# The paper's metric, the mean return of the last 100 training episodes, is each run's last rollout/ep_rew_mean
# (SB3's window of 100 episodes) in its progress.csv; the deterministic evaluations are the comparison's own.
set -u
envs=(HalfCheetah-v4 Hopper-v4 InvertedDoublePendulum-v4 InvertedPendulum-v4 Reacher-v4 Swimmer-v4 Walker2d-v4)
[ $# -gt 0 ] && settings=("$@") || settings=(clip_0.2 adaptive_0.01 none fixed_1 dual_0.01)
status=0
for setting in "${settings[@]}"; do
    algo=klppo && [ "${setting%%_*}" = clip ] && algo=ppo
    echo "=== $setting ($(date -u +%FT%TZ))"
    python -m sb3_pg.compare --env "${envs[@]}" --algo "$algo" --conf-file "$algo:benchmarks/table1/$setting.yml" \
        --seeds "${SEEDS:-3}" -f "runs/table1/$setting" --save-freq 100000 --no-progress || status=$?
done
exit $status
