#!/usr/bin/env bash
# Model-checks every loom test in loom-tests/ (CONTRIBUTING.md, "Loom").
#   scripts/loom.sh                 # all models, LOOM_MAX_PREEMPTIONS=2 (CI's setting)
#   scripts/loom.sh loom_ids        # one file
#   LOOM_MAX_PREEMPTIONS=3 scripts/loom.sh   # deeper, for a nightly run
# A separate target dir keeps loom builds from invalidating the normal cache.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom -C debug_assertions ${RUSTFLAGS:-}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export LOOM_MAX_BRANCHES="${LOOM_MAX_BRANCHES:-10000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
args=()
if [ $# -gt 0 ]; then
  for t in "$@"; do args+=(--test "$t"); done
fi
start=$(date +%s)
cargo test -p loom-tests --release "${args[@]}" -- --test-threads=1
echo "loom: LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS, $(( $(date +%s) - start )) s"
