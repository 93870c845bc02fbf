#!/usr/bin/env bash
# The PPO paper's Table 1 (docs/table1.md): each setting of benchmarks/table1/ on the paper's seven MuJoCo tasks at
# 1M steps, one comparison folder per setting, resumable (finished runs are skipped, others resume from checkpoints):
#     SEEDS=3 nohup nice -n 10 bash benchmarks/table1.sh [SETTING ...] >> runs/table1.log 2>&1 &
# Two settings side by side, a core each: WORKERS=1 bash benchmarks/table1.sh clip_0.2 & WORKERS=1 bash ... adaptive_0.01
# The paper's budget, 1M steps, for every task (the zoo has none for some); N_TIMESTEPS=4096 makes a quick check.
# Task by task (ENVS="Hopper-v4 Reacher-v4" for some), each setting is unpacked from docs/table1/<setting>.tar.xz,
# trained, scored into docs/table1/scores.csv (the paper's metric: each run's last rollout/ep_rew_mean, SB3's window
# of 100 episodes) and packed back, under a lock on the shared tables.
set -u
read -r -a envs <<< "${ENVS:-HalfCheetah-v4 Hopper-v4 InvertedDoublePendulum-v4 InvertedPendulum-v4 Reacher-v4 Swimmer-v4 Walker2d-v4}"
[ $# -gt 0 ] && settings=("$@") || settings=(clip_0.2 adaptive_0.01 none fixed_1 dual_0.01)
status=0
for setting in "${settings[@]}"; do
    algo=klppo && [ "${setting%%_*}" = clip ] && algo=ppo_fast  # SB3's PPO on the rollout path KLPPO takes
    for env in "${envs[@]}"; do
        echo "=== $setting $env ($(date -u +%FT%TZ))"
        [ -f "docs/table1/$setting.tar.xz" ] && flock docs/table1/.lock python benchmarks/study.py unpack docs/table1 "$setting"
        python -m sb3_pg.compare --env "$env" --algo "$algo" --conf-file "$algo:benchmarks/table1/$setting.yml" \
            -n "${N_TIMESTEPS:-1000000}" --seeds "${SEEDS:-3}" -f "docs/table1/$setting" --save-freq 100000 \
            --workers "${WORKERS:-2}" --no-progress || status=$?
        if [ -f "docs/table1/$setting/runs.csv" ]; then  # a report was written: score its finished runs, pack the setting
            flock docs/table1/.lock sh -c "python benchmarks/table1.py scores docs/table1/$setting &&
                python benchmarks/study.py pack docs/table1 $setting"
        fi
    done
done
exit $status
