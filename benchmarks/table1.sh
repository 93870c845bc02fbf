#!/usr/bin/env bash
# The PPO paper's Table 1 (docs/table1.md): each setting of benchmarks/table1/ on the paper's seven MuJoCo tasks at
# 1M steps, one comparison folder per setting, resumable (finished runs are skipped, others resume from checkpoints):
#     SEEDS=3 nohup nice -n 10 bash benchmarks/table1.sh [SETTING ...] >> runs/table1.log 2>&1 &
# The paper's budget, 1M steps, for every task (the zoo has none for some); N_TIMESTEPS=4096 makes a quick check.
# Each setting is unpacked from docs/table1/<setting>.tar.xz, trained, scored into docs/table1/scores.csv (the paper's
# metric: each run's last rollout/ep_rew_mean, SB3's window of 100 episodes), and packed back.
set -u
envs=(HalfCheetah-v4 Hopper-v4 InvertedDoublePendulum-v4 InvertedPendulum-v4 Reacher-v4 Swimmer-v4 Walker2d-v4)
[ $# -gt 0 ] && settings=("$@") || settings=(clip_0.2 adaptive_0.01 none fixed_1 dual_0.01)
status=0
for setting in "${settings[@]}"; do
    algo=klppo && [ "${setting%%_*}" = clip ] && algo=ppo
    echo "=== $setting ($(date -u +%FT%TZ))"
    [ -f "docs/table1/$setting.tar.xz" ] && python benchmarks/study.py unpack docs/table1 "$setting"
    python -m sb3_pg.compare --env "${envs[@]}" --algo "$algo" --conf-file "$algo:benchmarks/table1/$setting.yml" \
        -n "${N_TIMESTEPS:-1000000}" --seeds "${SEEDS:-3}" -f "docs/table1/$setting" --save-freq 100000 --no-progress \
        || status=$?
    if [ -f "docs/table1/$setting/runs.csv" ]; then  # a report was written: score its finished runs, pack the setting
        python benchmarks/table1.py scores "docs/table1/$setting" && python benchmarks/study.py pack docs/table1 "$setting"
    fi
done
exit $status
