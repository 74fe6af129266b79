#!/usr/bin/env bash
# The scaling sweep: svipc beside async-channel, tokio's mpsc, kanal, flume and the kernel's
# msgsnd/msgrcv (MPSC P:1, MPMC PxP), and beside tokio's and async-lock's semaphores (T tasks
# on one unit), for every tokio worker count, as one table of ns per message (per pair) with
# the ratios svipc / peer.
#
#   scripts/scaling.sh build                # with cargo: build the benches once (release) and
#                                           # copy them, with this script, into .bench-bin/
#   .bench-bin/scaling.sh run               # anywhere, bash + coreutils only: the full sweep,
#                                           # workers 2 4 8 16 x P 1 2 4 8, T 2 4 8 16 (~5 min
#                                           # on 16 cores)
#   .bench-bin/scaling.sh run --quick       # shorter measurements (~1.5 min on 16 cores)
#   .bench-bin/scaling.sh run --workers "2 4" --p "1 8" --t "2 16" --only msg
#   .bench-bin/scaling.sh counters [--quick] [--workers ..] [--p ..] [--t ..]
#                                           # the counters report (locks, CAS failures, waits
#                                           # per message) over the same sweep
#   .bench-bin/scaling.sh table DIR         # print a finished run's table again
#   scripts/scaling.sh selftest             # the table from fixed input, checked (CI)
#
# To measure a many-core machine without a Rust toolchain there: run `build` here, copy
# .bench-bin/ over (the binaries are built for this machine's target triple and glibc), and
# run `.bench-bin/scaling.sh run` there. Each run writes DIR (default
# .bench-out/scaling-<time>/ under the current directory; `--out DIR`): raw.txt (criterion's
# bencher lines), stderr.txt, table.md and, from `counters`, counters.txt.
#
# Times come from criterion (sample size 10, flat sampling, the median of the samples); a
# run's "time per iteration" is the time per message (per acquire + release pair), see
# benches/lib.rs. Worker counts above this machine's cores are run and marked `*`. The run,
# counters and table steps use bash (4 or later) and coreutils only.
set -euo pipefail

# The header above, without its "# ".
usage() {
  local line
  { read -r line; while IFS= read -r line && [[ $line == "#"* ]]; do line=${line#\#}; echo "${line# }"; done; } <"$0"
  exit "${1:-2}"
}

# ----- build (needs cargo; run in the repository) -----

build() {
  cd "$(dirname "$0")/.."
  local dest=.bench-bin json
  mkdir -p "$dest"
  json=$(mktemp)
  trap 'rm -f "$json"' RETURN
  echo "scaling: building the benches (release)" >&2
  # From the root without -p, as `cargo bench` builds them: the same features (tokio's "full",
  # from the library's dev-dependencies, among them), so the sweep's binaries match the rows
  # of BENCHMARKS.md.
  cargo bench --no-run --message-format=json-render-diagnostics >"$json"
  cargo bench --features counters --bench counters --no-run --message-format=json-render-diagnostics >>"$json"
  local line name exe n=0
  while IFS= read -r line; do
    case $line in *'"reason":"compiler-artifact"'*'"kind":["bench"]'*'"executable":"'*) ;; *) continue ;; esac
    name=$(sed 's/.*"target":{[^}]*"name":"\([^"]*\)".*/\1/' <<<"$line")
    exe=$(sed 's/.*"executable":"\([^"]*\)".*/\1/' <<<"$line")
    cp -f "$exe" "$dest/$name"
    echo "scaling: $dest/$name <- $exe" >&2
    n=$((n + 1))
  done <"$json"
  [ "$n" -ge 3 ] || { echo "scaling: expected the msg, sem and counters benches, copied $n" >&2; exit 1; }
  cp -f scripts/scaling.sh "$dest/scaling.sh"
  {
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $(rustc --version)"
    echo "target: $(rustc -vV | sed -n 's/^host: //p')"
  } >"$dest/BUILD-INFO"
  echo "scaling: done; run .bench-bin/scaling.sh run (copy .bench-bin/ to another machine first if need be)" >&2
}

# ----- run (bash + coreutils) -----

bindir() {
  local here
  here=$(cd "$(dirname "$0")" && pwd)
  if [ -x "$here/msg" ]; then echo "$here"; elif [ -x "$here/../.bench-bin/msg" ]; then
    (cd "$here/../.bench-bin" && pwd)
  else
    echo "scaling: no bench binaries next to this script or in .bench-bin/; run scripts/scaling.sh build" >&2
    exit 1
  fi
}

# " 2  4 8" -> "2,4,8"
commas() {
  local -a words
  read -r -a words <<<"$1"
  local IFS=,
  echo "${words[*]}"
}

WORKERS="2 4 8 16" P="1 2 4 8" T="2 4 8 16" QUICK=0 ONLY="msg sem" OUT=""
parse() {
  while [ $# -gt 0 ]; do
    case $1 in
      --quick) QUICK=1 ;;
      --workers) WORKERS=$2; shift ;;
      --p) P=$2; shift ;;
      --t) T=$2; shift ;;
      --only) ONLY=$2; shift ;;
      --out) OUT=$2; shift ;;
      -h | --help) usage 0 ;;
      *) echo "scaling: unknown option $1" >&2; usage ;;
    esac
    shift
  done
  [ -n "$OUT" ] || OUT=.bench-out/scaling-$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$OUT"
  export SVIPC_BENCH_WORKERS SVIPC_BENCH_P SVIPC_BENCH_T
  SVIPC_BENCH_WORKERS=$(commas "$WORKERS")
  SVIPC_BENCH_P=$(commas "$P")
  SVIPC_BENCH_T=$(commas "$T")
}

run() {
  parse "$@"
  local bin warm measure
  bin=$(bindir)
  if [ "$QUICK" = 1 ]; then warm=100 measure=300; else warm=300 measure=1000; fi
  export SVIPC_BENCH_SAMPLES=10 SVIPC_BENCH_WARMUP_MS=$warm SVIPC_BENCH_MEASURE_MS=$measure
  export CRITERION_HOME="$OUT/criterion"
  # Benchmarks in the sweep: per worker count, MPSC 5 peers per P, MPMC 4 per P > 1, the
  # semaphore 3 per T; the kernel once per pattern for P = 8 and once per T.
  local w p t per_w=0 n=0
  for p in $P; do
    per_w=$((per_w + 5))
    if [ "$p" != 1 ]; then per_w=$((per_w + 4)); fi
    if [ "$p" = 8 ]; then n=$((n + 2)); fi
  done
  case " $ONLY " in *" msg "*) for w in $WORKERS; do n=$((n + per_w)); done ;; *) n=0 ;; esac
  case " $ONLY " in *" sem "*) for t in $T; do for w in $WORKERS; do n=$((n + 3)); done; n=$((n + 1)); done ;; esac
  {
    echo "scaling: $n benchmarks, ~$(((n * (warm + measure + 150) + 999) / 1000)) s of measuring (plus the slow peers' longer samples)"
    echo "scaling: workers [$WORKERS] P [$P] T [$T], warm-up ${warm} ms, measurement ${measure} ms, $(nproc) cores here; results in $OUT"
  } >&2
  local k v model=unknown
  if [ -r /proc/cpuinfo ]; then
    while IFS=: read -r k v; do
      if [[ $k == "model name"* ]]; then model=${v# }; break; fi
    done </proc/cpuinfo
  fi
  {
    echo "cores: $(nproc)"
    echo "machine: $model, $(uname -sr)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    if [ -f "$bin/BUILD-INFO" ]; then cat "$bin/BUILD-INFO"; fi
  } >"$OUT/machine.txt"
  local t0 b
  t0=$(date +%s)
  : >"$OUT/raw.txt"
  for b in $ONLY; do
    "$bin/$b" --bench --output-format bencher 2>>"$OUT/stderr.txt" | tee -a "$OUT/raw.txt" >&2 ||
      { echo "scaling: $b failed; see $OUT/stderr.txt" >&2; exit 1; }
  done
  echo "scaling: measured in $(($(date +%s) - t0)) s" >&2
  table "$OUT" | tee "$OUT/table.md"
}

counters() {
  parse "$@"
  local bin
  bin=$(bindir)
  [ -x "$bin/counters" ] || { echo "scaling: no counters binary; run scripts/scaling.sh build" >&2; exit 1; }
  if [ "$QUICK" = 1 ]; then export SVIPC_BENCH_OPS=20000 SVIPC_BENCH_ROUNDS=1; fi
  "$bin/counters" 2>>"$OUT/stderr.txt" | tee "$OUT/counters.txt" ||
    { echo "scaling: counters failed; see $OUT/stderr.txt" >&2; exit 1; }
}

# ----- the table -----

declare -A NS
# Reads criterion's bencher lines: "test ID ... bench:      1,234 ns/iter (+/- 56)".
load() {
  local line re='^test ([^ ]+) \.\.\. bench: +([0-9,]+) ns/iter'
  while IFS= read -r line; do
    if [[ $line =~ $re ]]; then NS[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]//,/}; fi
  done <"$1"
}

cell() { echo "${NS[$1]:-n/a}"; }

# svipc / peer to two decimals, from integer nanoseconds.
ratio() {
  local s=${NS[$1]:-} q=${NS[$2]:-} r
  if [ -z "$s" ] || [ -z "$q" ] || [ "$q" = 0 ]; then echo "n/a"; return; fi
  r=$(((s * 200 / q + 1) / 2))
  printf '%d.%02d' $((r / 100)) $((r % 100))
}

mark() { if [ "$1" -gt "$CORES" ]; then echo "$1*"; else echo "$1"; fi; }

table() {
  local dir=$1 id line pat p c w t g k any_over=0 msg=() sem=()
  load "$dir/raw.txt"
  CORES=$(nproc)
  if [ -f "$dir/machine.txt" ]; then
    while IFS= read -r line; do
      if [[ $line == "cores: "* ]]; then CORES=${line#cores: }; fi
      echo "    $line"
    done <"$dir/machine.txt"
  fi
  for id in "${!NS[@]}"; do
    if [[ $id =~ ^msg/(mpsc|mpmc)_([0-9]+)x([0-9]+)/w([0-9]+)/svipc$ ]]; then
      msg+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]} ${BASH_REMATCH[3]} ${BASH_REMATCH[4]}")
      if [ "${BASH_REMATCH[4]}" -gt "$CORES" ]; then any_over=1; fi
    elif [[ $id =~ ^sem/contended_t([0-9]+)/w([0-9]+)/svipc$ ]]; then
      sem+=("${BASH_REMATCH[1]} ${BASH_REMATCH[2]}")
      if [ "${BASH_REMATCH[2]}" -gt "$CORES" ]; then any_over=1; fi
    fi
  done
  if [ ${#msg[@]} -gt 0 ]; then
    echo
    echo "ns per message (lower is better); / peer = svipc's time / the peer's (below 1: svipc faster)"
    echo
    echo "| pattern | workers | svipc | async-channel | tokio mpsc | kanal | flume | kernel | / async-channel | / tokio | / kanal | / flume | / kernel |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${msg[@]}" | sort -k1,1r -k2,2n -k4,4n | while read -r pat p c w; do
      g="msg/${pat}_${p}x${c}/w$w" k="msg/${pat}_${p}x${c}/os_threads/kernel"
      echo "| ${pat^^} $p$([ "$pat" = mpsc ] && echo ":1" || echo "x$c") | $(mark "$w") | $(cell "$g/svipc") | $(cell "$g/async_channel") | $(cell "$g/tokio_mpsc") | $(cell "$g/kanal") | $(cell "$g/flume") | $(cell "$k") | $(ratio "$g/svipc" "$g/async_channel") | $(ratio "$g/svipc" "$g/tokio_mpsc") | $(ratio "$g/svipc" "$g/kanal") | $(ratio "$g/svipc" "$g/flume") | $(ratio "$g/svipc" "$k") |"
    done
  fi
  if [ ${#sem[@]} -gt 0 ]; then
    echo
    echo "ns per acquire + release pair, T tasks on one unit; / peer as above"
    echo
    echo "| T | workers | svipc | tokio | async-lock | kernel | / tokio | / async-lock | / kernel |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${sem[@]}" | sort -k1,1n -k2,2n | while read -r t w; do
      g="sem/contended_t$t/w$w" k="sem/contended_t$t/os_threads/kernel"
      echo "| $t | $(mark "$w") | $(cell "$g/svipc") | $(cell "$g/tokio") | $(cell "$g/async_lock") | $(cell "$k") | $(ratio "$g/svipc" "$g/tokio") | $(ratio "$g/svipc" "$g/async_lock") | $(ratio "$g/svipc" "$k") |"
    done
  fi
  echo
  echo "(the kernel: OS threads, P or T of them, whatever the workers; MPMC 1x1 is MPSC 1:1 and not run)"
  if [ "$any_over" = 1 ]; then echo "(* = more workers than the $CORES cores of the machine that ran it)"; fi
  return 0
}

# ----- selftest: the table from fixed input (CI runs it) -----

selftest() {
  local dir got want status=0
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  printf 'cores: 2\n' >"$dir/machine.txt"
  cat >"$dir/raw.txt" <<'RAW'
test msg/mpsc_8x1/w2/svipc ... bench:       1,146 ns/iter (+/- 33)
test msg/mpsc_8x1/w2/async_channel ... bench:         448 ns/iter (+/- 3)
test msg/mpsc_8x1/w2/tokio_mpsc ... bench:         370 ns/iter (+/- 3)
test msg/mpsc_8x1/w2/kanal ... bench:         466 ns/iter (+/- 3)
test msg/mpsc_8x1/w2/flume ... bench:       1,146 ns/iter (+/- 3)

test msg/mpmc_8x8/w16/svipc ... bench:       1,472 ns/iter (+/- 33)
test msg/mpmc_8x8/w16/kanal ... bench:         117 ns/iter (+/- 3)
test msg/mpsc_8x1/os_threads/kernel ... bench:       4,109 ns/iter (+/- 9)
test sem/contended_t16/w4/svipc ... bench:         959 ns/iter (+/- 9)
test sem/contended_t16/w4/tokio ... bench:         374 ns/iter (+/- 9)
test sem/contended_t16/os_threads/kernel ... bench:       5,000 ns/iter (+/- 9)
RAW
  got=$(table "$dir")
  for want in \
    "| MPSC 8:1 | 2 | 1146 | 448 | 370 | 466 | 1146 | 4109 | 2.56 | 3.10 | 2.46 | 1.00 | 0.28 |" \
    "| MPMC 8x8 | 16* | 1472 | n/a | n/a | 117 | n/a | n/a | n/a | n/a | 12.58 | n/a | n/a |" \
    "| 16 | 4* | 959 | 374 | n/a | 5000 | 2.56 | n/a | 0.19 |" \
    "(* = more workers than the 2 cores of the machine that ran it)"; do
    if ! grep -qxF -- "$want" <<<"$got"; then
      echo "scaling selftest: missing row: $want" >&2
      status=1
    fi
  done
  if [ "$status" = 0 ]; then echo "scaling selftest: ok"; else echo "$got" >&2; fi
  return "$status"
}

case ${1:-} in
  build) shift; build "$@" ;;
  selftest) selftest ;;
  run) shift; run "$@" ;;
  counters) shift; counters "$@" ;;
  table) [ $# -eq 2 ] || usage; table "$2" ;;
  -h | --help) usage 0 ;;
  *) usage ;;
esac
