#!/bin/bash
# Two builds of `doomlink serve` compared at the same moment: the saturation bench run twice at
# once, one service from each binary, both services on core 0 and both bot processes on core 1,
# ROOMS four-player rooms each. Each service's CPU per room-second is measured over the same
# seconds of the same machine, so the ratio B/A is free of what makes this machine's figures
# move by ±15% between runs (and of the order bias seen when two runs are made one after the
# other: in eight sequential pairs, the first run was the cheaper seven times, whichever build).
#
#   tests/benches/saturation-ab.sh BIN_A BIN_B [MODE] [ROOMS] [TRIALS]
#       MODE webrtc (default) or lan; ROOMS per service (default 25); TRIALS (default 3)
#
# BIN_A and BIN_B are `doomlink` executables (copy target/dist/doomlink, or release/, aside after
# building each version). Which one starts first alternates between trials. Prints each trial's figures
# and ratio, then the ratios' mean, min and max. The bench rows are kept in the temporary
# directory it names.
set -eu
a=${1:?BIN_A}
b=${2:?BIN_B}
mode=${3:-webrtc}
rooms=${4:-25}
trials=${5:-3}
for bin in "$a" "$b"; do
  [ -x "$bin" ] || { echo "saturation-ab: $bin is not an executable doomlink" >&2; exit 1; }
done
a=$(realpath "$a")
b=$(realpath "$b")
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
bench=$(cargo bench -p doomlink-e2e --bench saturation --no-run 2>&1 |
  sed -n 's/.*Executable .* (\(.*\))$/\1/p' | tail -1)
[ -x "$bench" ] || { echo "saturation-ab: could not build the saturation bench" >&2; exit 1; }
cpu() { sed -n "s/^ *$mode *| *$rooms *|[^|]*| *\([0-9.]*\) ms\/s.*/\1/p" "$1"; }
ratios=()
for t in $(seq 1 "$trials"); do
  # A tag follows its binary by position, not by path, so a build compared with itself (an
  # A/A run: how far apart the two places are) still writes an A and a B log.
  if [ $((t % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
  for tag in $order; do
    bin=$([ "$tag" = A ] && echo "$a" || echo "$b")
    (cd tests && SATURATION_MODES=$mode SATURATION_ROOMS=$rooms DOOMLINK_BENCH_BIN=$bin \
      "$bench" --bench >"$out/$tag-$t.log" 2>&1) &
  done
  wait
  ca=$(cpu "$out/A-$t.log")
  cb=$(cpu "$out/B-$t.log")
  if [ -z "$ca" ] || [ -z "$cb" ]; then
    echo "trial $t: a bench gave no row; see $out" >&2
    exit 1
  fi
  r=$(awk -v a="$ca" -v b="$cb" 'BEGIN { printf "%.3f", b / a }')
  ratios+=("$r")
  echo "trial $t: A $ca ms/room-s, B $cb ms/room-s, B/A $r"
done
printf '%s\n' "${ratios[@]}" | awk -v out="$out" '
  { s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1 }
  END { printf "B/A over %d trials: mean %.3f, min %.3f, max %.3f (logs: %s)\n", NR, s / NR, lo, hi, out }'
