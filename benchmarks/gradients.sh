#!/usr/bin/env bash
# The measurements of docs/gradients.md: train the partly trained policies (VPG with its zoo entry; REINFORCE's
# CartPole-v1 entry as it was before 0.2.0, with and without the time in the observation), then measure each
# policy's gradient estimators into docs/gradients/<name>/. Resumable: a policy or measurement on disk is kept. The
# policies are committed packed (docs/gradients/policies.tar.xz): unpacked first, packed again if one was trained.
#     bash benchmarks/gradients.sh [NAME ...]        # default: all; one torch thread per process
set -eu
policies=docs/gradients/policies
tf="env_wrapper:'sb3_contrib.common.wrappers.TimeFeatureWrapper'"
constant="learning_rate:0.003" # the REINFORCE CartPole-v1 entry before it annealed its learning rate (0.2.0)
mujoco=(-b 512 1024 2048 4096 8192 16384 -k 32 --reference-steps 163840)
classic=(-b 256 512 1024 2048 4096 8192 -k 32 --reference-steps 81920)

train() { # algo env steps folder [zoo args ...]
    local algo=$1 env=$2 steps=$3 folder=$4
    shift 4
    [ -e "$folder/$algo/${env}_1/$env.zip" ] && return
    trained=1
    python -m sb3_pg.train --algo "$algo" --env "$env" -n "$steps" --seed 0 --num-threads 1 --eval-freq $((steps / 4)) \
        --eval-episodes 10 -f "$folder" "$@"
}

measure() { # name env algo [tool args ...]
    local name=$1 env=$2 algo=$3
    shift 3
    [ -e "docs/gradients/$name/gradients.csv" ] && return
    local command=(python -m sb3_pg.gradients --env "$env" --algo "$algo" --seed 0 --num-threads 1 --no-progress
        -o "docs/gradients/$name" "$@")
    echo "=== $name ($(date -u +%FT%TZ))"
    local start=$SECONDS
    "${command[@]}"
    printf '%s\nwall time: %d s (%s, %s cores)\n' "${command[*]}" $((SECONDS - start)) "$(date -u +%F)" "$(nproc)" \
        >"docs/gradients/$name/command.txt"
}

run() { # name
    case $1 in
    cartpole-untrained) measure "$1" CartPole-v1 vpg -b 256 512 1024 2048 4096 8192 -k 100 --reference-steps 100000 \
        --critic-steps 32768 ;;
    cartpole-vpg-20k) train vpg CartPole-v1 20000 $policies && measure "$1" CartPole-v1 vpg -f $policies "${classic[@]}" ;;
    hopper-untrained) measure "$1" Hopper-v4 vpg "${mujoco[@]}" ;;
    hopper-vpg-200k) train vpg Hopper-v4 200000 $policies && measure "$1" Hopper-v4 vpg -f $policies "${mujoco[@]}" ;;
    halfcheetah-untrained) measure "$1" HalfCheetah-v4 vpg "${mujoco[@]}" ;;
    halfcheetah-vpg-200k) train vpg HalfCheetah-v4 200000 $policies && measure "$1" HalfCheetah-v4 vpg -f $policies "${mujoco[@]}" ;;
    reinforce-cartpole-500) train reinforce CartPole-v1 100000 $policies/plain -params "$constant" &&
        measure "$1" CartPole-v1 reinforce -f $policies/plain "${classic[@]}" ;;
    reinforce-cartpole-500-timefeature) train reinforce CartPole-v1 100000 $policies/timefeature -params "$tf" "$constant" &&
        measure "$1" CartPole-v1 reinforce -f $policies/timefeature "${classic[@]}" ;;
    *) echo "unknown measurement $1" >&2 && exit 2 ;;
    esac
}

[ $# -gt 0 ] && names=("$@") || names=(cartpole-untrained cartpole-vpg-20k reinforce-cartpole-500
    reinforce-cartpole-500-timefeature hopper-untrained hopper-vpg-200k halfcheetah-untrained halfcheetah-vpg-200k)
trained=0
[ -f $policies.tar.xz ] && tar -xJf $policies.tar.xz -C docs/gradients --skip-old-files
for name in "${names[@]}"; do run "$name"; done
if [ $trained = 1 ]; then  # pack the policies this call trained beside those it found
    (cd docs/gradients && find policies -type f \( -name "*.zip" -o -name "*.yml" -o -name "*.npz" -o \
        -name "*.pkl" -o -name command.txt \) | sort | tar -cJf policies.tar.xz --owner=0 --group=0 -T -)
fi
