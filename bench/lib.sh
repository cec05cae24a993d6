# Shared by the PostgreSQL benchmarks (source it after scripts/lib/pg.sh has started a server).

# Creates database $1 with the table `bench` (8 mixed columns) and the publication `bench_pub`.
bench_schema() {  # database
  pg_psql -d postgres -c "CREATE DATABASE $1" >/dev/null
  pg_psql -d "$1" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE bench (id bigint PRIMARY KEY, qty integer, name text, price numeric(12,2),
                    at timestamptz, active boolean, attrs jsonb, score double precision);
CREATE PUBLICATION bench_pub FOR TABLE bench;
SQL
}

# Inserts rows 1..$2 into bench in database $1, 10 rows per transaction.
bench_load() {  # database rows
  echo "loading $2 rows in 10-row transactions" >&2
  pg_psql -d "$1" -v ON_ERROR_STOP=1 -c "
DO \$\$ BEGIN
  FOR i IN 0..($2 / 10 - 1) LOOP
    INSERT INTO bench SELECT g, g % 1000, 'item-' || g, (g % 10000) / 100.0, now(), g % 2 = 0,
                             jsonb_build_object('k', g % 7, 'tag', 'x'), g * 0.5
      FROM generate_series(i * 10 + 1, i * 10 + 10) g;
    COMMIT;
  END LOOP;
END \$\$;" >/dev/null
}

# ---- draining a slot with cdc-pipeline and measuring it (database `bench`) ----
# Globals: work (a temp dir), bin (the cdc-pipeline binary), endpos (the LSN a drain must reach),
# scrape_bin (bench/scrape_load, only for run_cdc's fourth argument).

now() { date +%s.%N; }

# The harness must not take CPU from the paths it measures (2 cores run the client and the
# walsender): it waits without forking a process per check. `nap` sleeps by reading a FIFO that
# never gets data; a psql or sleep per check would cost more CPU than some paths' own threads.
bench_nap_init() {  # needs $work
  mkfifo "$work/never"
  exec {never_fd}<>"$work/never"
}
nap() { read -r -t "$1" -u "$never_fd" _ || true; }

# The CPU seconds (user + system) of the walsender serving `slot`, as last seen in /proc while
# it ran: sampled until `pid` (the client) exits, written to `file`.
watch_walsender() {  # slot pid file
  local wpid="" ticks=0 stat
  while kill -0 "$2" 2>/dev/null; do
    [ -n "$wpid" ] || wpid=$(pg_psql -d bench -Atc "SELECT active_pid FROM pg_replication_slots WHERE slot_name = '$1'")
    # Fields 14 and 15 of /proc/PID/stat (utime, stime); the process name (field 2) is
    # "postgres", without spaces.
    if [ -n "$wpid" ] && read -r -a stat 2>/dev/null < "/proc/$wpid/stat"; then
      ticks=$((stat[13] + stat[14]))
    fi
    nap 0.1
  done
  printf '%.2f' "$(echo "$ticks / $(getconf CLK_TCK)" | bc -l)" > "$3"
}

# cdc-pipeline: run until the slot has confirmed everything up to endpos, then SIGTERM: it exits
# once everything in the stream is delivered, so the time covers delivery to the file. One psql
# session waits for the slot inside the server (pg_replication_slots is read from shared memory,
# so one transaction sees it move).
# With a fourth argument (the data dir), scrape_load (bench/scrape_load.cc) scrapes the admin
# server while it runs and writes its summary to timefile.scrapes.
# RUN_BIN: the binary (default $bin).
run_cdc() {  # config slot timefile [data_dir] -> seconds
  local start pid waiter loader="" run_bin="${RUN_BIN:-$bin}" run_adopt=()
  "$run_bin" run --help 2>&1 | grep -q -- --adopt-slot && run_adopt=(--adopt-slot)
  start=$(now)
  /usr/bin/time -v -o "$3" "$run_bin" run --config "$1" "${run_adopt[@]}" 2>"$3.log" &
  pid=$!
  if [ -n "${4:-}" ]; then
    "$scrape_bin" "$4/admin.addr" 100 1000 > "$3.scrapes" &
    loader=$!
  fi
  watch_walsender "$2" "$pid" "$3.walsender" >/dev/null &
  pg_psql -d bench -c "DO \$\$ BEGIN
      WHILE NOT coalesce((SELECT confirmed_flush_lsn >= '$endpos' FROM pg_replication_slots
                          WHERE slot_name = '$2'), false) LOOP
        PERFORM pg_sleep(0.02);
      END LOOP;
    END \$\$;" >/dev/null &
  waiter=$!
  wait -n "$waiter" "$pid" || true
  kill -TERM "$(pgrep -P "$pid" cdc-pipeline || echo "$pid")" 2>/dev/null || true
  kill "$waiter" 2>/dev/null || true
  wait "$pid" || true
  local seconds
  seconds=$(echo "$(now) - $start" | bc -l)
  if [ -n "$loader" ]; then kill -TERM "$loader" 2>/dev/null || true; fi
  echo "$seconds"
  wait
}

# The median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
