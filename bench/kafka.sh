#!/usr/bin/env bash
# The kafka target against librdkafka's mock cluster (3 brokers, bench/kafka_mock.cc), and kcat
# producing the same bytes, in one run. ROWS rows (10-row transactions) are drained from
# PostgreSQL per round by:
#   cdc-pipeline -> kafka (idempotent producer)
#   cdc-pipeline -> kafka (transactional: positions committed in the transaction)
#   kcat -P      the same records (the events as a file target wrote them, keyed as the kafka
#                target keys them: key TAB value lines read from a file; acks=all, idempotence
#                and linger.ms=5, as the target's producer)
# and, for reference, cdc-pipeline -> file target. (Records are counted by the target's acks, the
# admin server's cdc_target_delivered_total: the 2.0.2 mock's Fetch skips records, so reading
# the topics back with a consumer under-counts.)
# Prints events/s and CPU seconds per 1,000 events of the producing process and of the mock
# cluster (sampled from /proc around each path). The cdc-pipeline paths include everything from
# PostgreSQL on; kcat only produces.
# Usage: bench/kafka.sh [ROWS] [ROUNDS]   (defaults 200000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-200000}
rounds=${2:-3}
bin="${CDC_BIN:-$(pwd)/build/bin/cdc-pipeline}"
mock="$(pwd)/build-bench/bin/kafka_mock"
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
[ -x "$mock" ] || { echo "build the benchmarks first: cmake --preset bench && cmake --build build-bench" >&2; exit 1; }
command -v kcat >/dev/null || { echo "needs kcat (scripts/bootstrap installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/pg.sh
. bench/lib.sh
mock_pid=""
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; pg_stop; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
PG_EXTRA_OPTS="-c max_wal_size=4GB -c max_replication_slots=$((4 * rounds + 4)) -c max_wal_senders=$((4 * rounds + 4))" \
  pg_start "$work/postgres"
bench_schema bench
topics=()
for r in $(seq 1 "$rounds"); do
  pg_psql -d bench -Atc "SELECT 'slot' FROM pg_create_logical_replication_slot('idem_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('tx_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('file_$r', 'pgoutput');" >/dev/null
  topics+=("idem$r.bench:4" "tx$r.bench:4" "kcat$r.bench:4")
done
bench_load bench "$rows"

"$mock" 3 "${topics[@]}" > "$work/bootstrap" &
mock_pid=$!
while [ ! -s "$work/bootstrap" ]; do sleep 0.1; done
bootstrap=$(cat "$work/bootstrap")

now() { date +%s.%N; }
cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$1"; }
# CPU seconds (user + system) a process has used so far.
ticks() { local s; read -r -a s < "/proc/$1/stat"; echo "scale=2; (${s[13]} + ${s[14]}) / $(getconf CLK_TCK)" | bc; }

config() {  # name slot target-yaml
  cat <<YAML
pipeline: {name: $1, data_dir: "$work/$1", log_level: warn, shutdown_timeout_ms: 3600000}
admin: {listen: "127.0.0.1:0"}
source:
  type: postgres
  dsn: "host=127.0.0.1 port=$PG_PORT dbname=bench user=postgres"
  slot: $2
  publication: bench_pub
  snapshot: never
tables:
  bench: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: $3
YAML
}

# Runs cdc-pipeline until its target has delivered every row (the admin server's
# cdc_target_delivered_total, polled 5 times a second), then SIGTERM; prints the seconds. (Its
# slot confirming endpos is not enough: that is when the stream has the rows, and a stop does not
# wait for a queued target.)
run_cdc() {  # name slot
  local start pid delivered=0 addr=""
  mkdir -p "$work/$1"
  start=$(now)
  /usr/bin/time -v -o "$work/$1.time" "$bin" run --config "$work/$1.yaml" --adopt-slot \
    2> "$work/$1.log" &
  pid=$!
  while [ "$delivered" -lt "$rows" ]; do
    sleep 0.2
    kill -0 "$pid" 2>/dev/null || { echo "cdc-pipeline stopped: $(tail -5 "$work/$1.log")" >&2; exit 1; }
    [ -n "$addr" ] || addr=$(cat "$work/$1/admin.addr" 2>/dev/null || true)
    [ -n "$addr" ] || continue
    delivered=$(curl -s "http://$addr/metrics" |
      awk '/^cdc_target_delivered_total\{target="out"\}/ {printf "%d", $2}')
    delivered=${delivered:-0}
    [ -z "${KAFKA_BENCH_TRACE:-}" ] || echo "$(echo "$(now) - $start" | bc) s: $delivered" >&2
  done
  local seconds
  seconds=$(echo "$(now) - $start" | bc -l)
  kill -TERM "$(pgrep -P "$pid" cdc-pipeline || echo "$pid")" 2>/dev/null || true
  wait "$pid" || { echo "cdc-pipeline failed: $(tail -5 "$work/$1.log")" >&2; exit 1; }
  echo "$seconds"
}

row() {  # round path seconds cpu mock-cpu
  printf '| %d | %s | %.0f | %.3f | %.3f |\n' "$1" "$2" "$(echo "$rows / $3" | bc -l)" \
    "$(echo "$4 * 1000 / $rows" | bc -l)" "$(echo "$5 * 1000 / $rows" | bc -l)"
}

echo "| round | path | events/s | producer CPU s / 1k events | mock cluster CPU s / 1k events |"
echo "|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds" >&2
  config "file-$r" "file_$r" "{type: file, path: \"$work/file-$r/out.jsonl\", fsync: batch}" \
    > "$work/file-$r.yaml"
  s=$(run_cdc "file-$r" "file_$r")
  row "$r" "cdc-pipeline -> file (in process, for reference)" "$s" "$(cpu "$work/file-$r.time")" 0

  config "idem-$r" "idem_$r" "{type: kafka, brokers: \"$bootstrap\", topic: \"idem$r.{table}\"}" \
    > "$work/idem-$r.yaml"
  m0=$(ticks "$mock_pid")
  s=$(run_cdc "idem-$r" "idem_$r")
  m1=$(ticks "$mock_pid")
  row "$r" "cdc-pipeline -> kafka (idempotent)" "$s" "$(cpu "$work/idem-$r.time")" "$(echo "$m1 - $m0" | bc)"

  config "tx-$r" "tx_$r" "{type: kafka, brokers: \"$bootstrap\", topic: \"tx$r.{table}\", transactional_id: \"bench-tx-$r\"}" \
    > "$work/tx-$r.yaml"
  m0=$(ticks "$mock_pid")
  s=$(run_cdc "tx-$r" "tx_$r")
  m1=$(ticks "$mock_pid")
  row "$r" "cdc-pipeline -> kafka (transactional)" "$s" "$(cpu "$work/tx-$r.time")" "$(echo "$m1 - $m0" | bc)"

  # The same bytes through kcat: the events as the file target wrote them (the kafka target's
  # values), keyed as the kafka target keys them (table[primary key]).
  awk '{ if (match($0, /"after":\{"id":[0-9]+/)) print "bench[" substr($0, RSTART + 15, RLENGTH - 15) "]\t" $0 }' \
    "$work/file-$r/out.jsonl" > "$work/records-$r.tsv"
  n=$(wc -l < "$work/records-$r.tsv")
  [ "$n" -eq "$rows" ] || { echo "round $r: $n keyed records, expected $rows" >&2; exit 1; }
  m0=$(ticks "$mock_pid")
  start=$(now)
  /usr/bin/time -v -o "$work/kcat-$r.time" kcat -P -q -b "$bootstrap" -t "kcat$r.bench" -K $'\t' \
    -X acks=all -X enable.idempotence=true -X linger.ms=5 -l "$work/records-$r.tsv"
  s=$(echo "$(now) - $start" | bc -l)
  m1=$(ticks "$mock_pid")
  row "$r" "kcat -P (the same records)" "$s" "$(cpu "$work/kcat-$r.time")" "$(echo "$m1 - $m0" | bc)"
  rm -rf "$work/file-$r" "$work/idem-$r" "$work/tx-$r" "$work/records-$r.tsv"
done
