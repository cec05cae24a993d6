#!/usr/bin/env bash
# Drains a backlog of ROWS rows (10-row transactions, 8 mixed columns) from logical replication
# slots, side by side in one run:
#   cdc-pipeline run         pgoutput -> typed events -> durable stream -> bus -> file target
#   cdc-pipeline run, stream.enabled: false (the same without the stream: the cost of durability)
#   cdc-pipeline run under scrapes (the first path while bench/scrape_load.cc scrapes the admin
#     server's /metrics 100 times a second, a connection each: the cost of being watched; a 2M-row
#     backlog drains in about 10 s, so about 1,000 scrapes)
#   pg_recvlogical wal2json  format-version 2 -> file
#   pg_recvlogical pgoutput  -> /dev/null (the protocol alone, no decoding)
# Prints rows/s, the client's CPU seconds (user + system), the CPU seconds of the walsender that
# decoded the slot (PostgreSQL's side of the same path) and peak RSS for each.
# Every path has a slot per round, all created before the load, so ROUNDS rounds drain the same
# backlog one path after another; a round's ratios compare runs seconds apart, and the medians
# of the rounds are printed last (a busy host shows as a spread between rounds).
# With CDC_BIN_BEFORE set to another build's binary, each round also drains with it (the first
# path's config), for before/after comparisons in one run.
# Usage: bench/pg_drain.sh [ROWS] [ROUNDS]   (defaults 1000000 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
rounds=${2:-3}
bin="${CDC_BIN:-$(pwd)/build/bin/cdc-pipeline}"  # CDC_BIN: another build, for before/after runs
[ -x "$bin" ] || { echo "build first: scripts/build" >&2; exit 1; }
before_bin="${CDC_BIN_BEFORE:-}"
[ -z "$before_bin" ] || [ -x "$before_bin" ] || { echo "CDC_BIN_BEFORE: no such binary" >&2; exit 1; }
scrape_bin="$(pwd)/build-bench/bin/scrape_load"
[ -x "$scrape_bin" ] || { echo "build the benchmarks first: cmake --preset bench && cmake --build build-bench" >&2; exit 1; }
# The slots are made here, before the load: a build that checks whose slot it runs on is told to
# adopt them.
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (scripts/bootstrap installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/pg.sh
. bench/lib.sh
trap 'pg_stop; rm -rf "$work"' EXIT
PG_EXTRA_OPTS="-c max_wal_size=4GB -c shared_buffers=256MB -c max_replication_slots=$((6 * rounds + 4)) -c max_wal_senders=$((6 * rounds + 4))" pg_start "$work/postgres"
bench_schema bench
for r in $(seq 1 "$rounds"); do
  pg_psql -d bench -v ON_ERROR_STOP=1 -Atc "
    SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_pipeline_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_nostream_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_scraped_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('cdc_before_$r', 'pgoutput');
    SELECT 'slot' FROM pg_create_logical_replication_slot('bench_wal2json_$r', 'wal2json');
    SELECT 'slot' FROM pg_create_logical_replication_slot('bench_pgoutput_$r', 'pgoutput');" >/dev/null
done
bench_load bench "$rows"
endpos=$(pg_psql -d bench -Atc "SELECT pg_current_wal_insert_lsn()")
dsn="host=127.0.0.1 port=$PG_PORT dbname=bench user=postgres"

cat > "$work/bench.yaml" <<YAML
pipeline: {name: bench, data_dir: "$work/DATA", log_level: warn, shutdown_timeout_ms: 3600000}
admin: {listen: "127.0.0.1:0"}
source:
  type: postgres
  dsn: "$dsn"
  slot: SLOT
  publication: bench_pub
  snapshot: never
tables:
  bench: {event_types: [INSERT, UPDATE, DELETE]}
rules:
  all: {event_pattern: {source: [cdc.coredb]}, targets: [out]}
targets:
  out: {type: file, path: "$work/DATA/out.jsonl", fsync: batch}
YAML

report() {  # round name rows seconds timefile walsender-cpu-file
  local cpu rss
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$5")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$5")
  printf '| %5s | %-28s | %10.0f | %8.2f | %8s | %11s | %7s |\n' "$1" "$2" "$(echo "$3 / $4" | bc -l)" \
    "$4" "$cpu" "$(cat "$6")" "$rss"
}

bench_nap_init


table="$work/table"
: > "$table"
: > "$work/ratios"
: > "$work/scrapes"
for r in $(seq 1 "$rounds"); do
  echo "round $r of $rounds" >&2
  sed -e "s/SLOT/cdc_pipeline_$r/" -e "s|$work/DATA|$work/data-$r|g" "$work/bench.yaml" > "$work/cdc-$r.yaml"
  sed -e "s/SLOT/cdc_nostream_$r/" -e "s|$work/DATA|$work/data-nostream-$r|g" "$work/bench.yaml" \
    > "$work/nostream-$r.yaml"
  echo "stream: {enabled: false}" >> "$work/nostream-$r.yaml"
  sed -e "s/SLOT/cdc_scraped_$r/" -e "s|$work/DATA|$work/data-scraped-$r|g" "$work/bench.yaml" \
    > "$work/scraped-$r.yaml"

  cdc_seconds=$(run_cdc "$work/cdc-$r.yaml" "cdc_pipeline_$r" "$work/cdc-$r.time")
  events=$(wc -l < "$work/data-$r/out.jsonl")
  nostream_seconds=$(run_cdc "$work/nostream-$r.yaml" "cdc_nostream_$r" "$work/nostream-$r.time")
  nostream_events=$(wc -l < "$work/data-nostream-$r/out.jsonl")
  mkdir -p "$work/data-scraped-$r"
  scraped_seconds=$(run_cdc "$work/scraped-$r.yaml" "cdc_scraped_$r" "$work/scraped-$r.time" \
    "$work/data-scraped-$r")
  scraped_events=$(wc -l < "$work/data-scraped-$r/out.jsonl")
  if [ "$events" -ne "$rows" ] || [ "$nostream_events" -ne "$rows" ] || [ "$scraped_events" -ne "$rows" ]; then
    echo "round $r: cdc-pipeline wrote $events events ($nostream_events without the stream," \
      "$scraped_events under scrapes), expected $rows" >&2
    exit 1
  fi
  echo "round $r, under scrapes: $(cat "$work/scraped-$r.time.scrapes")" >> "$work/scrapes"
  before_seconds=""
  if [ -n "$before_bin" ]; then
    sed -e "s/SLOT/cdc_before_$r/" -e "s|$work/DATA|$work/data-before-$r|g" "$work/bench.yaml" \
      > "$work/before-$r.yaml"
    before_seconds=$(RUN_BIN="$before_bin" run_cdc "$work/before-$r.yaml" "cdc_before_$r" "$work/before-$r.time")
    before_events=$(wc -l < "$work/data-before-$r/out.jsonl")
    [ "$before_events" -eq "$rows" ] || { echo "round $r: the before build wrote $before_events events" >&2; exit 1; }
  fi

  start=$(now)
  /usr/bin/time -v -o "$work/w2j-$r.time" pg_recvlogical -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench \
    --slot "bench_wal2json_$r" --start --endpos "$endpos" --no-loop -o format-version=2 \
    -f "$work/wal2json.out" &
  watch_walsender "bench_wal2json_$r" $! "$work/w2j-$r.time.walsender"
  wait
  w2j_seconds=$(echo "$(now) - $start" | bc -l)

  start=$(now)
  /usr/bin/time -v -o "$work/pgo-$r.time" pg_recvlogical -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench \
    --slot "bench_pgoutput_$r" --start --endpos "$endpos" --no-loop -o proto_version=1 \
    -o publication_names=bench_pub -f /dev/null &
  watch_walsender "bench_pgoutput_$r" $! "$work/pgo-$r.time.walsender"
  wait
  pgo_seconds=$(echo "$(now) - $start" | bc -l)

  # Each round's outputs are removed once counted: the disk need not hold every round's files.
  rm -rf "$work/data-$r" "$work/data-nostream-$r" "$work/data-scraped-$r" "$work/data-before-$r" \
    "$work/wal2json.out"
  {
    report "$r" "cdc-pipeline -> file" "$rows" "$cdc_seconds" "$work/cdc-$r.time" "$work/cdc-$r.time.walsender"
    report "$r" "cdc-pipeline, no stream" "$rows" "$nostream_seconds" "$work/nostream-$r.time" \
      "$work/nostream-$r.time.walsender"
    report "$r" "cdc-pipeline under scrapes" "$rows" "$scraped_seconds" "$work/scraped-$r.time" \
      "$work/scraped-$r.time.walsender"
    if [ -n "$before_seconds" ]; then
      report "$r" "cdc-pipeline BEFORE -> file" "$rows" "$before_seconds" "$work/before-$r.time" \
        "$work/before-$r.time.walsender"
    fi
    report "$r" "pg_recvlogical wal2json file" "$rows" "$w2j_seconds" "$work/w2j-$r.time" \
      "$work/w2j-$r.time.walsender"
    report "$r" "pg_recvlogical pgoutput null" "$rows" "$pgo_seconds" "$work/pgo-$r.time" \
      "$work/pgo-$r.time.walsender"
  } >> "$table"
    echo "$(echo "$w2j_seconds / $cdc_seconds" | bc -l) $(echo "$pgo_seconds / $cdc_seconds" | bc -l)" \
    "$(echo "$nostream_seconds / $cdc_seconds" | bc -l) $(echo "$cdc_seconds / $scraped_seconds" | bc -l)" \
    "$([ -n "$before_seconds" ] && echo "$w2j_seconds / $before_seconds" | bc -l || echo 0)" \
    >> "$work/ratios"
done

echo
echo "drained $rows rows per path and round, $rounds rounds (every cdc-pipeline run wrote $rows events)"
echo "| round | path                         |     rows/s |   wall s |    CPU s | walsender s | RSS MiB |"
echo "|-------|------------------------------|------------|----------|----------|-------------|---------|"
cat "$table"
echo
echo "| round | cdc-pipeline / wal2json | cdc-pipeline / pgoutput | with / without the stream | under scrapes / not |"
echo "|-------|-------------------------|-------------------------|---------------------------|---------------------|"
awk '{printf "| %5d | %23.2f | %23.2f | %25.2f | %19.3f |\n", NR, $1, $2, $3, $4}' "$work/ratios"
printf '| median | %22.2f | %23.2f | %25.2f | %19.3f |\n' "$(cut -d' ' -f1 "$work/ratios" | median)" \
  "$(cut -d' ' -f2 "$work/ratios" | median)" "$(cut -d' ' -f3 "$work/ratios" | median)" \
  "$(cut -d' ' -f4 "$work/ratios" | median)"
echo "(rows/s ratios; under scrapes / not below 0.95 means the scrapes slowed the drain by more than 5%)"
if [ -n "$before_bin" ]; then
  echo
  echo "before ($before_bin) / wal2json, per round: $(cut -d' ' -f5 "$work/ratios" | awk '{printf "%.2f ", $1}')," \
    "median $(cut -d' ' -f5 "$work/ratios" | median)"
fi
echo
cat "$work/scrapes"
