#!/usr/bin/env bash
# Runs miri (CONTRIBUTING.md, "Miri") over every unit test (--lib: the sync shim's wait list, ids,
# perm seqlock, msg store, sem engine, shm mapping, ...) and over the integration tests that
# touch unsafe code or the sync shim, then the unsafe shared-memory paths again under Tree
# Borrows. Called by .ci/run.
#   scripts/miri.sh                   # everything below (7 min on 2 busy cores from a cold target/miri)
#   scripts/miri.sh lib shm_views     # some targets only ("lib" = the unit tests), Stacked Borrows
#   MIRIFLAGS_EXTRA=-Zmiri-tree-borrows scripts/miri.sh lib   # any target under Tree Borrows
# Left out: kernel_diff.rs (unshare(2) and raw libc calls miri cannot run), and the soaks and
# stress tests (msg_soak.rs, sem_stress.rs, soak.rs: far too slow interpreted; natively they
# run in `cargo test`). A test that cannot run under miri says why in its
# #[cfg_attr(miri, ignore = "...")]; loops shrink under cfg!(miri).
# Flags: -Zmiri-strict-provenance -Zmiri-symbolic-alignment-check, and -Zmiri-disable-isolation
# because every object creation reads the wall clock (clock_gettime(CLOCK_REALTIME_COARSE) for
# the *_ctime fields), which miri refuses under isolation, and tests compare those fields with
# SystemTime::now and read files (ftok of real paths).
# If miri cannot be installed (no network, no nightly), the script says so loudly and exits 0:
# CI fails only on real findings. A separate target dir keeps miri builds out of the normal one.
set -uo pipefail
cd "$(dirname "$0")/.."

targets_default=(lib errors ipc_namespace msg_auto_traits msg_basic msg_cancel msg_perm msg_ring msg_semantics msg_wakeup
  owned_permits poll_after_completion shutdown
  sem_auto_traits sem_bad_input sem_cancel sem_perm sem_semop sem_undo sem_wake_order
  shm_auto_traits shm_lifecycle shm_mlock shm_open shm_perms shm_views)
# the unsafe code itself (src/shm/attach.rs; src/sync/: the ring, the mailbox, the cells), for
# the Tree Borrows pass
targets_tree=(lib:shm:: lib:sync:: shm_views shm_lifecycle)

not_run() {
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! scripts/miri.sh: $1"
  echo "!!! MIRI DID NOT RUN: the unsafe code and the sync shim went unchecked."
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 0
}

# Install: the component on an existing nightly, else a minimal nightly with it.
if rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1 \
    || not_run "rustup component add --toolchain nightly miri rust-src failed (no network, or no miri in this nightly)"
else
  rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null 2>&1 \
    || not_run "rustup toolchain install nightly --profile minimal --component miri,rust-src failed (no network?)"
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/miri}"
if ! setup_log=$(cargo +nightly miri setup 2>&1); then
  echo "$setup_log" | tail -20
  not_run "cargo +nightly miri setup failed (building miri's sysroot; its output is above)"
fi

base="-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check -Zmiri-disable-isolation"
failed=()
start=$(date +%s)

# run_target FLAGS TARGET: "lib" or "lib:FILTER" for the unit tests, else a tests/ file.
run_target() {
  local flags=$1 target=$2 t0 args
  t0=$(date +%s)
  case $target in
    lib) args=(--lib) ;;
    lib:*) args=(--lib -- "${target#lib:}") ;;
    *) args=(--test "$target") ;;
  esac
  echo "--- miri $target (MIRIFLAGS=$flags)"
  if ! MIRIFLAGS="$flags" cargo +nightly miri test -p svipc -q "${args[@]}"; then
    failed+=("$target ($flags)")
  fi
  echo "--- miri $target: $(( $(date +%s) - t0 )) s"
}

if [ $# -gt 0 ]; then
  for t in "$@"; do run_target "$base ${MIRIFLAGS_EXTRA:-}" "$t"; done
else
  for t in "${targets_default[@]}"; do run_target "$base ${MIRIFLAGS_EXTRA:-}" "$t"; done
  for t in "${targets_tree[@]}"; do run_target "$base -Zmiri-tree-borrows ${MIRIFLAGS_EXTRA:-}" "$t"; done
fi

echo "miri: $(( $(date +%s) - start )) s in all"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'miri: FAILED: %s\n' "${failed[@]}"
  exit 1
fi
