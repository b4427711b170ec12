#!/bin/bash
# Where `doomlink serve`'s CPU goes, per thread, mid-game: runs the capacity bench for one room
# count and one mode, and while every player is in game reads each of the service's threads'
# CPU time and context switches from /proc/PID/task/*/{schedstat,status} over 10 s: "waits" are
# voluntary switches (the thread slept and was woken), "preempted" involuntary ones.
#
#   tests/benches/service-threads.sh lan|webrtc [ROOMS]     (default 8 rooms)
#
# Prints CPU ms and switches per second by thread name (summed over rooms), the total per
# room-second, how busy the machine was, and the bench's own row. Players are local, so compare
# runs made one after the other, not across days.
set -eu
mode=${1:?lan or webrtc}
rooms=${2:-8}
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
out=$(mktemp -d)
CAPACITY_ROOMS=$rooms CAPACITY_MODES=$mode cargo bench -p doomlink-e2e --bench capacity >"$out/bench.log" 2>&1 &
bench=$!
# Wait until every player runs, then let the games settle.
for _ in $(seq 1 1200); do
  n=$(pgrep -fc "release/doomlink join" || true)
  [ "$n" -ge $((rooms * 4)) ] && break
  sleep 0.5
done
sleep 10
pid=$(pgrep -f "release/doomlink serve" | head -1)
snap() {
  for t in /proc/"$pid"/task/*; do
    echo "$(basename "$t") $(tr ' ' '_' <"$t"/comm) $(cut -d' ' -f1 "$t"/schedstat) \
$(awk '/^voluntary_ctxt_switches/ {v = $2} /^nonvoluntary_ctxt_switches/ {n = $2} END {print v, n}' "$t"/status)"
  done | sort -n
}
cpu() { head -1 /proc/stat; }
snap >"$out/t1"; cpu >"$out/c1"
sleep 10
snap >"$out/t2"; cpu >"$out/c2"
join "$out/t1" "$out/t2" | awk '{name = $2; sub(/-[0-9]+$/, "", name); if (name ~ /^room-/) name = "room-*";
  c[name] += ($7 - $3) / 1e7; v[name] += ($8 - $4) / 10; p[name] += ($9 - $5) / 10; total += ($7 - $3) / 1e7}
  END {for (k in c) printf "%-16s %8.2f ms/s %7.0f switches/s (%.0f waits, %.0f preempted)\n", k, c[k], v[k] + p[k], v[k], p[k] | "sort -k2 -nr";
       close("sort -k2 -nr"); printf "total %.2f ms per room-second\n", total / '"$rooms"'}'
paste "$out/c1" "$out/c2" | awk '{u = ($13 + $14 + $15) - ($2 + $3 + $4); i = $16 - $5; printf "machine busy %.0f%%\n", 100 * u / (u + i)}'
wait $bench
grep -E "^ +$rooms \|" "$out/bench.log" || tail -5 "$out/bench.log"
rm -rf "$out"
