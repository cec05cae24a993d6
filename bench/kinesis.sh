#!/usr/bin/env bash
# PutRecords into kinesalite, in one run and on one kinesalite: the kinesis stream kind
# (build-bench/bin/kinesis_put: Append + Sync, PutRecords of up to 500 records, libcurl's SigV4)
# against a batched @aws-sdk/client-kinesis script (bench/kinesis_sdk.mjs: PutRecords of 500,
# one call at a time, the SDK's own signing). Each putter writes RECORDS records of BYTES bytes
# into a 4-shard stream of its own. Prints records/s, the putter's CPU microseconds per record
# (user + system) and kinesalite's CPU seconds per 1,000 records (from /proc around each putter):
# when kinesalite's CPU per record times the records/s is about one core, the emulator bounds the
# throughput, not the putter.
# Usage: bench/kinesis.sh [RECORDS] [BYTES] [ROUNDS]   (defaults 50000, 400, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-50000}
bytes=${2:-400}
rounds=${3:-3}
put="$(pwd)/build-bench/bin/kinesis_put"
[ -x "$put" ] || { echo "build the benchmarks first: cmake --preset bench && cmake --build build-bench" >&2; exit 1; }
[ -x node_modules/.bin/kinesalite ] || { echo "run scripts/bootstrap (kinesalite)" >&2; exit 1; }

work=$(mktemp -d /tmp/cdc-bench-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
node_modules/.bin/kinesalite --port "$port" --createStreamMs 0 --shardLimit 100 > "$work/kinesalite.log" 2>&1 &
kpid=$!
trap 'kill $kpid 2>/dev/null; rm -rf "$work"' EXIT
endpoint="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true
until curl -s -o /dev/null "$endpoint"; do sleep 0.1; done
# kinesalite's process: node (the npm shim execs it).
ticks() { local s; read -r -a s < "/proc/$1/stat"; echo "scale=3; (${s[13]} + ${s[14]}) / $(getconf CLK_TCK)" | bc; }
create() {
  aws --endpoint-url "$endpoint" kinesis create-stream --stream-name "$1" --shard-count 4
  until aws --endpoint-url "$endpoint" kinesis describe-stream-summary --stream-name "$1" \
      --query StreamDescriptionSummary.StreamStatus --output text | grep -q ACTIVE; do sleep 0.1; done
}

echo "| round | putter | records/s | putter CPU µs / record | kinesalite CPU s / 1k records |"
echo "|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
  for who in ours sdk; do
    create "$who-$r"
    k0=$(ticks "$kpid")
    if [ "$who" = ours ]; then
      read -r n s rate cpu < <("$put" "$endpoint" "$who-$r" 4 "$records" "$bytes")
      name="cdc-pipeline kinesis stream"
    else
      read -r n s rate cpu < <(node bench/kinesis_sdk.mjs "$endpoint" "$who-$r" "$records" "$bytes")
      name="@aws-sdk/client-kinesis"
    fi
    k1=$(ticks "$kpid")
    printf '| %d | %s | %s | %s | %.3f |\n' "$r" "$name" "$rate" "$cpu" \
      "$(echo "($k1 - $k0) * 1000 / $n" | bc -l)"
  done
done
