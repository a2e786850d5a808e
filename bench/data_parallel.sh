#!/usr/bin/env bash
# Data-parallel training on this machine (issue 16): one process with all threads against N ranks
# with cores/N threads each, the gradient all-reduce overlapped with backward and not. Trains the
# fashion-mnist preset for STEPS steps at global batch BATCH in each setting and reports images/s
# (median of log.csv's rows after the first LOG_EVERY steps) and the share of step time spent
# waiting for gradient communication after backward (the trainer's "comm" figure).
#   bench/data_parallel.sh [ddpm binary]          # STEPS=60 BATCH=64 NPROC=2 by default
set -euo pipefail
ddpm=${1:-build/ddpm}
steps=${STEPS:-60}
batch=${BATCH:-64}
nproc=${NPROC:-2}
every=10
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median_images_per_s() {  # log.csv column 5, rows after the first
  awk -F, 'NR > 2 {print $5}' "$1" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
communication() {  # the last progress line's "comm N%"
  tr '\r' '\n' <"$1" | grep -o 'comm [0-9]*%' | tail -1 | grep -o '[0-9]*%' || echo "-"
}

run() {  # name, extra flags...
  local name=$1
  shift
  "$ddpm" train --preset fashion-mnist --out "$work/$name" --steps "$steps" --batch-size "$batch" \
    --log-every "$every" --sample-every 0 --checkpoint-every 100000 "$@" >"$work/$name.out" 2>&1
  printf '%-34s %10.1f %14s\n' "$name" "$(median_images_per_s "$work/$name/log.csv")" \
    "$(communication "$work/$name.out")"
}

echo "fashion-mnist, global batch $batch, $steps steps, $cores cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %10s %14s\n' "setting" "images/s" "communication"
run "1 process x $cores threads" --threads "$cores"
run "$nproc ranks x $((cores / nproc)) threads, overlap" --nproc-per-node "$nproc"
run "$nproc ranks x $((cores / nproc)) threads, no overlap" --nproc-per-node "$nproc" --no-overlap
run "$nproc ranks, 1 MiB buckets, overlap" --nproc-per-node "$nproc" --bucket-mb 1
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
