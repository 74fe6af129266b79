#!/usr/bin/env bash
# The A/B of a change: the criterion benches of an earlier revision and of the working tree,
# the two builds' binaries run in turn for several rounds, so that both see the same machine
# (its load, its clock, the other tenants of a VM) and a row's figure is the median of its
# rounds. CONTRIBUTING.md asks one of every change to a hot path; BENCHMARKS.md reports them.
#
#   scripts/ab.sh build [--layouts N] [REV] # with cargo: the `msg` and `sem` bench binaries of
#                                           # REV (default: main) into .ab/base/, those of the
#                                           # working tree into .ab/new/; N link orders of each
#                                           # (default 1: the linker's own order)
#   scripts/ab.sh run [--rounds N] [--quick] [--out DIR] [FILTER]
#                                           # N rounds (default 6), base and new in each (every
#                                           # link order of each), of the rows whose id matches
#                                           # FILTER (criterion's regex; default: every row),
#                                           # then the table
#   scripts/ab.sh table DIR                 # print a finished run's table again
#   scripts/ab.sh selftest                  # the table from fixed input, checked (CI)
#
# For example, the semaphore rows on two workers after a change to the hand-off:
#
#   scripts/ab.sh build && SVIPC_BENCH_WORKERS=2 scripts/ab.sh run --quick 'sem/contended_t'
#
# The table gives, per row, each side's median ns over the rounds with its range, and new /
# base, marked "slower" above 1.05 (the limit BENCHMARKS.md holds every row to). `--quick`
# measures each row for 2 s after a 1 s warm-up instead of the benches' own settings. Each
# run writes DIR (default .ab/out-<time>/): raw.txt (the bencher lines, each prefixed with
# its side and round, and its link order when there are several), stderr.txt and table.md.
# `run` and `table` use bash (4 or later) and coreutils only; `build` needs git and cargo.
#
# Link orders. Where the code is placed moves a hot loop's time by itself: on the project's
# two-core VM one binary of the contended semaphore driver ran 5% slower than another built
# from the same engine plus one unrelated load, the same pair built with its functions
# aligned to 64 bytes came out the other way round, and the one engine linked in four
# orders ran 200-216 ns per pair (BENCHMARKS.md, "Semaphores under contention", round 12). A change whose effect is that small is judged over several
# placements: `--layouts N` builds each side N times, the linker's own order and N - 1
# orders shuffled by seed (lld's `--shuffle-sections`, which Rust's x86-64 Linux target uses
# by default; each order in a target directory of its own under target/ab-layout-<seed>),
# and `run` runs every order of both sides in each round, so that a row's median is taken
# over placements as well as rounds.
set -euo pipefail

usage() {
  local line
  { read -r line; while IFS= read -r line && [[ $line == "#"* ]]; do line=${line#\#}; echo "${line# }"; done; } <"$0"
  exit "${1:-2}"
}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
AB=$ROOT/.ab

# ----- build (needs git and cargo) -----

# Builds the benches of the workspace in $1 (`cargo bench --no-run`, as `cargo bench` from
# the root builds them) and copies `msg` and `sem` to $2; link order $3 (0: the linker's own,
# in the shared target directory; else shuffled by that seed, in a directory of its own).
build_in() {
  local src=$1 dest=$2 seed=$3 json line name exe n=0
  json=$(mktemp)
  mkdir -p "$dest"
  (
    cd "$src"
    export CARGO_TARGET_DIR=$ROOT/target
    if [ "$seed" != 0 ]; then
      export CARGO_TARGET_DIR=$ROOT/target/ab-layout-$seed
      export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,--shuffle-sections=*=$seed"
    fi
    cargo bench --no-run --message-format=json-render-diagnostics
  ) >"$json" ||
    {
      rm -f "$json"
      [ "$seed" = 0 ] || echo "ab: the build with a shuffled link order failed; --layouts needs a linker with --shuffle-sections (lld)" >&2
      exit 1
    }
  while IFS= read -r line; do
    case $line in *'"reason":"compiler-artifact"'*'"kind":["bench"]'*'"executable":"'*) ;; *) continue ;; esac
    name=$(sed 's/.*"target":{[^}]*"name":"\([^"]*\)".*/\1/' <<<"$line")
    case $name in msg | sem) ;; *) continue ;; esac
    exe=$(sed 's/.*"executable":"\([^"]*\)".*/\1/' <<<"$line")
    cp -f "$exe" "$dest/$name"
    n=$((n + 1))
  done <"$json"
  rm -f "$json"
  [ "$n" -eq 2 ] || { echo "ab: expected the msg and sem benches in $src, copied $n" >&2; exit 1; }
}

# Builds one side ($1: base or new) from the workspace in $2, in $3 link orders: 0 (the
# linker's own) into .ab/$1/, each seed s > 0 into .ab/$1/L$s/. A shuffle that changed
# nothing (a linker that ignores the option) is an error, not a silent single layout.
build_side() {
  local side=$1 src=$2 layouts=$3 seed
  build_in "$src" "$AB/$side" 0
  for ((seed = 1; seed < layouts; seed++)); do
    echo "ab: $side, link order $seed of $((layouts - 1))" >&2
    build_in "$src" "$AB/$side/L$seed" "$seed"
    if cmp -s "$AB/$side/sem" "$AB/$side/L$seed/sem"; then
      echo "ab: link order $seed gave the same binary as the linker's own; is the linker lld?" >&2
      exit 1
    fi
  done
  echo "$layouts" >"$AB/$side/LAYOUTS"
}

build() {
  local rev=main layouts=1 src
  while [ $# -gt 0 ]; do
    case $1 in
      --layouts)
        layouts=${2:-}
        [[ $layouts =~ ^[1-9][0-9]*$ ]] || { echo "ab: --layouts takes a count from 1" >&2; exit 2; }
        shift
        ;;
      -h | --help) usage 0 ;;
      --*) echo "ab: unknown option $1" >&2; usage ;;
      *) rev=$1 ;;
    esac
    shift
  done
  git -C "$ROOT" rev-parse --verify --quiet "$rev^{commit}" >/dev/null ||
    { echo "ab: no revision $rev" >&2; exit 1; }
  src=$(mktemp -d)
  trap 'rm -rf "$src"' RETURN
  echo "ab: building the benches of $rev (base)" >&2
  git -C "$ROOT" archive "$rev" | tar -x -C "$src"
  rm -rf "$AB/base" "$AB/new"
  build_side base "$src" "$layouts"
  echo "$rev $(git -C "$ROOT" rev-parse --short "$rev")" >"$AB/base/REV"
  echo "ab: building the benches of the working tree (new)" >&2
  build_side new "$ROOT" "$layouts"
  echo "working tree at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo ' (dirty)')" >"$AB/new/REV"
  echo "ab: done; scripts/ab.sh run [FILTER]" >&2
}

# ----- run (bash + coreutils) -----

# Where side $1's binaries of link order $2 are.
side_dir() { if [ "$2" = 0 ]; then echo "$AB/$1"; else echo "$AB/$1/L$2"; fi; }

run() {
  local rounds=6 quick=0 out="" filter="" r side b l tag
  while [ $# -gt 0 ]; do
    case $1 in
      --rounds) rounds=$2; shift ;;
      --quick) quick=1 ;;
      --out) out=$2; shift ;;
      -h | --help) usage 0 ;;
      --*) echo "ab: unknown option $1" >&2; usage ;;
      *) filter=$1 ;;
    esac
    shift
  done
  local layouts
  layouts=$(cat "$AB/base/LAYOUTS" 2>/dev/null || echo 1)
  [ "$layouts" = "$(cat "$AB/new/LAYOUTS" 2>/dev/null || echo 1)" ] ||
    { echo "ab: base and new were built with different --layouts; run scripts/ab.sh build" >&2; exit 1; }
  for side in base new; do
    for ((l = 0; l < layouts; l++)); do
      for b in "$(side_dir "$side" "$l")"/{msg,sem}; do
        [ -x "$b" ] || { echo "ab: no $b; run scripts/ab.sh build" >&2; exit 1; }
      done
    done
  done
  [ -n "$out" ] || out=$AB/out-$(date -u +%Y%m%dT%H%M%SZ)
  mkdir -p "$out"
  local -a args=(--bench --output-format bencher)
  if [ "$quick" = 1 ]; then args+=(--warm-up-time 1 --measurement-time 2); fi
  if [ -n "$filter" ]; then args+=("$filter"); fi
  {
    echo "base: $(cat "$AB/base/REV")"
    echo "new: $(cat "$AB/new/REV")"
    echo "rounds: $rounds; link orders: $layouts; filter: ${filter:-(every row)}; $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
  } | tee "$out/machine.txt" >&2
  : >"$out/raw.txt"
  local -a order
  for ((r = 1; r <= rounds; r++)); do
    # Base first in odd rounds, new first in even ones: a drift of the machine over the run
    # (a neighbour's load, the clock) weighs on both sides alike.
    if ((r % 2)); then order=(base new); else order=(new base); fi
    for ((l = 0; l < layouts; l++)); do
      # Several link orders: each line says which (the table pools them per side).
      tag=""
      if [ "$layouts" -gt 1 ]; then tag=" L$l"; fi
      for side in "${order[@]}"; do
        echo "ab: round $r of $rounds, $side${tag}" >&2
        for b in msg sem; do
          "$(side_dir "$side" "$l")/$b" "${args[@]}" 2>>"$out/stderr.txt" | while IFS= read -r line; do
            case $line in "test "*) echo "$side $r$tag $line" ;; esac
          done >>"$out/raw.txt" || { echo "ab: $side/$b failed; see $out/stderr.txt" >&2; exit 1; }
        done
      done
    done
  done
  table "$out" | tee "$out/table.md"
}

# ----- the table -----

# The median of integers (one per line on stdin), to one decimal: "153" or "152.5".
median() {
  local -a v
  mapfile -t v < <(sort -n)
  local n=${#v[@]}
  if [ "$n" = 0 ]; then echo "n/a"; return; fi
  if ((n % 2)); then echo "${v[n / 2]}"; return; fi
  local twice=$((v[n / 2 - 1] + v[n / 2]))
  if ((twice % 2)); then echo "$((twice / 2)).5"; else echo "$((twice / 2))"; fi
}

# "152.5" -> 1525 (tenths).
tenths() { if [[ $1 == *.* ]]; then echo "$((${1%.*} * 10 + ${1#*.}))"; else echo "$(($1 * 10))"; fi; }

# new / base to two decimals, from two medians.
quotient() {
  local n b r
  n=$(tenths "$1") b=$(tenths "$2")
  if [ "$b" = 0 ]; then echo "n/a"; return; fi
  r=$(((n * 200 / b + 1) / 2))
  printf '%d.%02d' $((r / 100)) $((r % 100))
}

range() { sort -n | sed -n '1p;$p' | paste -sd- | sed 's/^\([0-9]*\)-\1$/\1/'; }

# A side's cell: its median and, in brackets, the range of its rounds ($2, one per line).
cell() {
  if [ "$1" = n/a ]; then echo "n/a"; return; fi
  echo "$1 ($(printf '%s' "$2" | range))"
}

table() {
  local dir=$1 line id side med_b med_n q mark
  local re='^(base|new) ([0-9]+)( L[0-9]+)? test (.+) \.\.\. bench: +([0-9,]+) ns/iter'
  local -A vals
  local -a ids=()
  while IFS= read -r line; do
    [[ $line =~ $re ]] || continue
    side=${BASH_REMATCH[1]} id=${BASH_REMATCH[4]}
    if [ -z "${vals[base $id]+x}${vals[new $id]+x}" ]; then ids+=("$id"); fi
    vals[$side $id]+="${BASH_REMATCH[5]//,/}"$'\n'
  done <"$dir/raw.txt"
  if [ -f "$dir/machine.txt" ]; then sed 's/^/    /' "$dir/machine.txt"; fi
  echo
  echo "ns per iteration, median over the rounds and link orders (range); new / base above 1.05 marked"
  echo
  echo "| row | base | new | new / base |"
  echo "|---|---:|---:|---:|"
  for id in "${ids[@]}"; do
    med_b=$(printf '%s' "${vals[base $id]:-}" | median)
    med_n=$(printf '%s' "${vals[new $id]:-}" | median)
    if [ "$med_b" = n/a ] || [ "$med_n" = n/a ]; then q=n/a mark=""; else
      q=$(quotient "$med_n" "$med_b") mark=""
      if [ "$(tenths "$med_n")" -gt $(($(tenths "$med_b") * 105 / 100)) ]; then mark=" slower"; fi
    fi
    echo "| $id | $(cell "$med_b" "${vals[base $id]:-}") | $(cell "$med_n" "${vals[new $id]:-}") | $q$mark |"
  done
  return 0
}

# ----- selftest: the table from fixed input (CI runs it) -----

selftest() {
  local dir got want status=0
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  cat >"$dir/raw.txt" <<'RAW'
base 1 test sem/contended_t4/w2/svipc ... bench:         153 ns/iter (+/- 6)
base 1 test uncontended/svipc semop/current_thread ... bench:          27 ns/iter (+/- 1)
new 1 test sem/contended_t4/w2/svipc ... bench:         140 ns/iter (+/- 6)
new 1 test uncontended/svipc semop/current_thread ... bench:          29 ns/iter (+/- 1)
base 2 test sem/contended_t4/w2/svipc ... bench:         170 ns/iter (+/- 6)
base 2 test uncontended/svipc semop/current_thread ... bench:          28 ns/iter (+/- 1)
new 2 test sem/contended_t4/w2/svipc ... bench:         151 ns/iter (+/- 6)
new 2 test uncontended/svipc semop/current_thread ... bench:          30 ns/iter (+/- 1)
base 3 test sem/contended_t4/w2/svipc ... bench:       1,149 ns/iter (+/- 6)
new 3 test sem/contended_t4/w2/svipc ... bench:         135 ns/iter (+/- 6)
new 3 test msg/spsc/w2/svipc ... bench:         100 ns/iter (+/- 6)
base 1 L0 test sem/contended_t4/w8/svipc ... bench:         300 ns/iter (+/- 6)
base 1 L1 test sem/contended_t4/w8/svipc ... bench:         320 ns/iter (+/- 6)
base 1 L2 test sem/contended_t4/w8/svipc ... bench:         310 ns/iter (+/- 6)
new 1 L0 test sem/contended_t4/w8/svipc ... bench:         330 ns/iter (+/- 6)
new 1 L1 test sem/contended_t4/w8/svipc ... bench:         290 ns/iter (+/- 6)
new 1 L2 test sem/contended_t4/w8/svipc ... bench:         280 ns/iter (+/- 6)
RAW
  got=$(table "$dir")
  for want in \
    "| sem/contended_t4/w2/svipc | 170 (153-1149) | 140 (135-151) | 0.82 |" \
    "| uncontended/svipc semop/current_thread | 27.5 (27-28) | 29.5 (29-30) | 1.07 slower |" \
    "| msg/spsc/w2/svipc | n/a | 100 (100) | n/a |" \
    "| sem/contended_t4/w8/svipc | 310 (300-320) | 290 (280-330) | 0.94 |"; do
    if ! grep -qxF -- "$want" <<<"$got"; then
      echo "ab selftest: missing row: $want" >&2
      status=1
    fi
  done
  if [ "$status" = 0 ]; then echo "ab selftest: ok"; else echo "$got" >&2; fi
  return "$status"
}

case ${1:-} in
  build) shift; build "$@" ;;
  run) shift; run "$@" ;;
  table) [ $# -eq 2 ] || usage; table "$2" ;;
  selftest) selftest ;;
  -h | --help) usage 0 ;;
  *) usage ;;
esac
