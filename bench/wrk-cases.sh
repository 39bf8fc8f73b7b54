# Shared by the wrk benchmarks (sourced, not run): one wrk case per call, and the
# medians and per-round ratios of the results. The caller sets WORK, THREADS,
# CONNECTIONS and DURATION.

# One wrk run; appends "round rps p99" to $WORK/<name>.results.
# wrk prints "Requests/sec: X" and, with --latency, "99% Yms"; p99 is normalised to ms.
run_case() { # name, round, wrk args...
  local name=$1 round=$2; shift 2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" > "$WORK/$name.$round.txt"
  # A refused request is fast, so errors would pass for throughput: every one must be a 200.
  if grep -qE 'Non-2xx|Socket errors' "$WORK/$name.$round.txt"; then
    echo "round $round $name: requests failed:" >&2; cat "$WORK/$name.$round.txt" >&2; exit 1
  fi
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/$name.$round.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f", v}' "$WORK/$name.$round.txt")
  echo "round $round  $name: $rps req/s, p99 $p99 ms" >&2
  echo "$round $rps $p99" >> "$WORK/$name.results"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The median of column $2 (2 rps, 3 p99) of case $1.
col() { awk -v c="$2" '{print $c}' "$WORK/$1.results" | median; }
# Per-round ratio of case $1 to case $2, one per line.
ratios() { join "$WORK/$1.results" "$WORK/$2.results" | awk '{printf "%.2f\n", $2/$4}'; }
