# Shared by scripts/local-aws, scripts/demo --aws and scripts/bench: kinesalite and dynalite
# (npm, installed by scripts/bootstrap) on 127.0.0.1, like the original's docker-compose.
#   aws_start DIR   starts both, keeping their data in DIR; sets KINESIS_PORT, DYNAMODB_PORT and
#                   exports the endpoint and dummy-credential variables the binary and the AWS
#                   CLI read (emulators check no signature)
#   aws_stop        stops them
KINESALITE_PID=""
DYNALITE_PID=""

aws_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

aws_wait_port() {  # port pid name log
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "$3 exited; see $4" >&2; return 1; }
    sleep 0.1
  done
  echo "$3 did not listen on 127.0.0.1:$1; see $4" >&2
  return 1
}

aws_start() {
  local dir="$1" root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  mkdir -p "$dir/kinesis" "$dir/dynamodb"
  KINESIS_PORT=${KINESIS_PORT:-$(aws_free_port)}
  DYNAMODB_PORT=${DYNAMODB_PORT:-$(aws_free_port)}
  "$root/node_modules/.bin/kinesalite" --port "$KINESIS_PORT" --path "$dir/kinesis" \
    --createStreamMs 0 --shardLimit 100 >"$dir/kinesalite.log" 2>&1 &
  KINESALITE_PID=$!
  "$root/node_modules/.bin/dynalite" --port "$DYNAMODB_PORT" --path "$dir/dynamodb" \
    --createTableMs 0 >"$dir/dynalite.log" 2>&1 &
  DYNALITE_PID=$!
  aws_wait_port "$KINESIS_PORT" "$KINESALITE_PID" kinesalite "$dir/kinesalite.log"
  aws_wait_port "$DYNAMODB_PORT" "$DYNALITE_PID" dynalite "$dir/dynalite.log"
  export AWS_ENDPOINT_URL_KINESIS="http://127.0.0.1:$KINESIS_PORT"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
  export DYNAMODB_ENDPOINT="$AWS_ENDPOINT_URL_DYNAMODB"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local-secret}"
  export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
  export AWS_EC2_METADATA_DISABLED=true
}

aws_stop() {
  local pid
  for pid in "$KINESALITE_PID" "$DYNALITE_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  KINESALITE_PID=""
  DYNALITE_PID=""
}
