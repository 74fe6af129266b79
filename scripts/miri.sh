#!/usr/bin/env bash
# Runs the shared-memory tests under miri (STYLE.md section 8.2): the unsafe paths of
# src/shm/attach.rs and threads racing on the safe views.
#   scripts/miri.sh                       # the shm unit tests and the miri-suitable shm test files
#   MIRIFLAGS_EXTRA=-Zmiri-tree-borrows scripts/miri.sh   # second pass, Tree Borrows
# Iteration counts shrink under cfg(miri). Isolation is disabled because creating an object
# reads the wall clock (SystemTime::now for *_ctime), which miri refuses under isolation.
# A separate target dir keeps miri builds from invalidating the normal cache.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! rustup component add --toolchain nightly miri >/dev/null 2>&1; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! scripts/miri.sh: could not install miri (rustup component add --toolchain nightly"
  echo "!!! miri failed: no nightly toolchain or no network). MIRI DID NOT RUN."
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 0
fi
set -e
export MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check -Zmiri-disable-isolation ${MIRIFLAGS_EXTRA:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/miri}"
start=$(date +%s)
cargo +nightly miri setup
# The name filter applies to every target of one invocation, hence two: the engine's unit
# tests (module path shm::), then every test of the miri-suitable integration files.
cargo +nightly miri test --lib shm
cargo +nightly miri test --test shm_views --test shm_lifecycle
echo "miri: $(( $(date +%s) - start )) s (MIRIFLAGS=$MIRIFLAGS)"
