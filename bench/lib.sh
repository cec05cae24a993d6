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
