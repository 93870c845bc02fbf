#!/usr/bin/env bash
# The constructor-defaults sweep of docs/defaults.md: each candidate (benchmarks/defaults/*.yml, one default: entry)
# trains 1e5 steps on CartPole-v1 and four environments no hyperparameter file names, one comparison folder each,
# packed into docs/defaults/<candidate>.tar.xz beside the sweep's CSVs:
#     SEEDS=3 bash benchmarks/defaults.sh [CANDIDATE ...]     # resumable: finished runs are skipped
# ENVS="Reacher-v4 Swimmer-v4" trains on those only (the pinned <algo>_0.1.0 candidates fill the class rows).
set -u
read -ra envs <<<"${ENVS:-CartPole-v1 InvertedPendulum-v4 InvertedDoublePendulum-v4 Reacher-v4 Swimmer-v4}"
[ $# -gt 0 ] && candidates=("$@") || candidates=(class vpg_512_3e-3 vpg_512_3e-3_critic80 reinforce_1000_3e-3)
status=0
for candidate in "${candidates[@]}"; do
    conf=benchmarks/defaults/$candidate.yml
    case $candidate in
    class) algos=(reinforce vpg npg trpo) ;;
    *) algos=("${candidate%%_*}") ;;
    esac
    echo "=== $candidate ($(date -u +%FT%TZ))"
    [ -f "docs/defaults/$candidate.tar.xz" ] && python benchmarks/study.py unpack docs/defaults "$candidate"
    python -m sb3_pg.compare --env "${envs[@]}" --algo "${algos[@]}" --conf-file "${algos[@]/%/:$conf}" --seeds "${SEEDS:-3}" -n 100000 \
        --eval-freq 20000 -f "docs/defaults/$candidate" --workers 1 --no-progress || status=$?
    python benchmarks/study.py pack docs/defaults "$candidate"   # docs/defaults/$candidate.tar.xz and the CSVs
done
exit $status
