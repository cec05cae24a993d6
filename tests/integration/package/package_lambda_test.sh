#!/usr/bin/env bash
# The Lambda zip (scripts/package-lambda): built twice from the same binary it is byte for byte
# the same; unzipped into a clean directory, `./bootstrap --version` runs with an empty
# environment, and the bundled loader finds every library inside the zip.
#   tests/integration/package/package_lambda_test.sh SOURCE_DIR BINARY
set -euo pipefail
src="$1"
binary="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$src/scripts/package-lambda" --binary "$binary" --out "$work/a/cdc-pipeline-lambda.zip"
sleep 1  # a clock-dependent field would differ now
"$src/scripts/package-lambda" --binary "$binary" --out "$work/b/cdc-pipeline-lambda.zip"
a="$(sha256sum < "$work/a/cdc-pipeline-lambda.zip")"
b="$(sha256sum < "$work/b/cdc-pipeline-lambda.zip")"
[ "$a" = "$b" ] || fail "two builds differ: $a vs $b"

mkdir "$work/task"
python3 - "$work/a/cdc-pipeline-lambda.zip" "$work/task" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    assert names == sorted(names), "entries are not sorted"
    for info in z.infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        path = z.extract(info, sys.argv[2])
        os.chmod(path, (info.external_attr >> 16) & 0o777)
PY
[ -x "$work/task/bootstrap" ] || fail "bootstrap is not executable"
cd "$work/task"
version="$(env -i ./bootstrap --version)" || fail "./bootstrap --version failed"
expected="$("$binary" --version)"
[ "$version" = "$expected" ] || fail "bootstrap said '$version', the binary '$expected'"
env -i /bin/sh -c 'cd / && '"$work"'/task/bootstrap --help' > /dev/null || fail "bootstrap from another directory"
# Every library the bundled loader resolves is in the zip (none from the host).
listing="$(env -i ./lib/ld-linux-x86-64.so.2 --library-path "$work/task/lib" --list ./bin/cdc-pipeline)"
outside="$(echo "$listing" | grep "=>" | grep -v "ld-linux-x86-64.so.2 =>" | grep -v "=> $work/task/lib/" || true)"
[ -z "$outside" ] || fail "libraries found outside the zip:\n$outside"
echo "$listing" | grep -q "libc.so.6 => $work/task/lib/libc.so.6" || fail "glibc is not the bundled one"
# The certificate authorities travel with the zip, and bootstrap hands them to libcurl.
[ -s "$work/task/certs/ca-certificates.crt" ] || fail "no certs/ca-certificates.crt in the zip"
grep -q 'CURL_CA_BUNDLE="${CURL_CA_BUNDLE:-$root/certs/ca-certificates.crt}"' "$work/task/bootstrap" ||
  fail "bootstrap does not point CURL_CA_BUNDLE at the shipped bundle"
# The runtime loop itself, from the unzipped directory with an empty environment but Lambda's
# variables: a Runtime API in python3 hands out one Kinesis batch and records the answer.
cat > "$work/config.yaml" <<'YAML'
pipeline:
  name: coredb
  data_dir: ${CDC_DATA_DIR}
tables:
  users:
    function: processUserChanges
    event_types: [INSERT, UPDATE, DELETE]
    primary_key: [id]
rules:
  all:
    event_pattern: {source: [cdc.coredb]}
    targets: [out]
targets:
  out:
    type: file
    path: ${CDC_DATA_DIR}/out.jsonl
YAML
cat > "$work/runtime_api.py" <<'PY'
import base64, http.server, json, sys, threading, time
work = sys.argv[1]
change = {"eventType": "INSERT", "tableName": "users", "timestamp": "2024-01-15T10:30:00Z",
          "after": {"id": "usr_1", "status": "active"}}
event = {"Records": [{"kinesis": {"partitionKey": "users|usr_1", "sequenceNumber": "4961",
          "data": base64.b64encode(json.dumps(change).encode()).decode(),
          "approximateArrivalTimestamp": 1705314600.1}, "eventSource": "aws:kinesis",
          "eventID": "shardId-000000000000:4961", "eventName": "aws:kinesis:record",
          "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cdc-changes-stream"}]}
served = threading.Event()
class Api(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.send_response(404); self.end_headers(); return
        if served.is_set():
            time.sleep(60); return
        served.set()
        body = json.dumps(event).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-zip-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(work + "/answer", "wb") as f: f.write(self.path.encode() + b"\n" + body)
        self.send_response(202); self.end_headers()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
with open(work + "/api.port", "w") as f: f.write(str(server.server_address[1]))
server.serve_forever()
PY
python3 "$work/runtime_api.py" "$work" &
api_pid=$!
trap 'kill $api_pid 2>/dev/null; [ -n "${loop_pid:-}" ] && kill $loop_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do [ -s "$work/api.port" ] && break; sleep 0.1; done
[ -s "$work/api.port" ] || fail "the Runtime API did not start"
mkdir "$work/data"
env -i AWS_LAMBDA_RUNTIME_API="127.0.0.1:$(cat "$work/api.port")" _HANDLER=processUserChanges \
  LAMBDA_TASK_ROOT="$work/task" CDC_CONFIG="$work/config.yaml" CDC_DATA_DIR="$work/data" \
  "$work/task/bootstrap" > "$work/loop.log" 2>&1 &
loop_pid=$!
for _ in $(seq 1 300); do [ -s "$work/answer" ] && break; sleep 0.1; done
[ -s "$work/answer" ] || fail "no answer from the runtime loop:\n$(cat "$work/loop.log")"
grep -q "^/2018-06-01/runtime/invocation/req-zip-1/response$" "$work/answer" ||
  fail "not a response: $(cat "$work/answer")"
grep -q '"batchItemFailures":\[\]' "$work/answer" || fail "failures: $(cat "$work/answer")"
grep -q '"detail-type":"users.INSERT"' "$work/data/out.jsonl" || fail "no event delivered"
kill -TERM "$loop_pid"
wait "$loop_pid" || fail "the loop did not stop cleanly on SIGTERM"
loop_pid=""
echo "ok: the zip's bootstrap ran the runtime loop (one batch answered, one event delivered)"
echo "ok: reproducible ($a), runs from a clean directory with the bundled libraries"
