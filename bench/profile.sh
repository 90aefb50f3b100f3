#!/usr/bin/env bash
# Profiles the server under one bench scenario with `perf` and writes the
# report (top symbols, self and with children) to docs/bench/profile-<name>.txt.
#
#   bench/profile.sh fanout-jam fanout --receivers 2000 --rate 40 --seconds 20 --mix jam
#   bench/profile.sh chat chat --seconds 20
#
# Needs perf (Debian: linux-perf) and kernel.perf_event_paranoid <= 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
name=$1; shift
out=docs/bench/profile-$name.txt
data=$(mktemp)
./target/release/switchboard-bench --out "$(mktemp -d)" "$@" >/dev/null &
bench=$!
# Let the set-up finish and the load start before sampling.
for _ in $(seq 1 100); do
  pid=$(pgrep -x switchboard -P "$bench" || true)
  [ -n "$pid" ] && break
  sleep 0.1
done
sleep "${PROFILE_DELAY:-6}"
pid=$(pgrep -x switchboard -P "$bench" | sed -n 1p)
perf record -e cpu-clock -F 999 -g -p "$pid" -o "$data" -- sleep "${PROFILE_SECONDS:-6}" 2>/dev/null
{
  echo "# perf profile of the server: switchboard-bench $*"
  echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "## By thread"
  perf report -i "$data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | sed -n 1,12p
  echo
  echo "## Self time, top 40 symbols"
  perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | sed -n 1,40p | cut -c1-150
  echo
  echo "## With children, top 40 symbols"
  perf report -i "$data" --children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | sed -n 1,40p | cut -c1-150
} > "$out"
wait "$bench" || true
rm -f "$data"
echo "wrote $out"
