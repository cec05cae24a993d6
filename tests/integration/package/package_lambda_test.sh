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
echo "ok: reproducible ($a), runs from a clean directory with the bundled libraries"
