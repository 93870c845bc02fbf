#!/usr/bin/env bash
# The gradient-quality table of docs/gradients.md: CartPole-v1 at a fresh (untrained) VPG policy, on one core.
# K = 100 batches per size, B = 256 ... 8192 steps, reference pool 100,000 steps (> 10 * B_max), V fitted on 32,768.
set -euo pipefail
out=${1:-docs/gradients/cartpole-untrained}
python -m sb3_pg.gradients --env CartPole-v1 --algo vpg --seed 0 --num-threads 1 \
    -b 256 512 1024 2048 4096 8192 -k 100 --reference-steps 100000 --critic-steps 32768 -o "$out"
