#!/usr/bin/env bash
# deploy/Dockerfile without Docker (not installed here): its runtime stage (the last FROM)
# installs the Debian package of every shared library `ldd` lists for the binary (dpkg -S), runs
# as a non-root USER, and installs no build tool or -dev package.
#   tests/integration/package/dockerfile_test.sh SOURCE_DIR BINARY
set -euo pipefail
dockerfile="$1/deploy/Dockerfile"
binary="$2"
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -f "$dockerfile" ] || fail "no $dockerfile"

runtime="$(awk '/^FROM /{stage=""} {stage = stage $0 "\n"} END {printf "%s", stage}' "$dockerfile")"
grep -q '^FROM debian:12-slim' <<<"$runtime" || fail "the runtime stage is not debian:12-slim"
installed=" $(tr '\\\n' '  ' <<<"$runtime" | grep -o 'apt-get install[^&]*' | tr -s ' ') "

missing=()
while read -r lib; do
  pkg=""
  for candidate in "$lib" "$(readlink -f "$lib")" "/usr$lib"; do
    pkg="$(dpkg -S "$candidate" 2>/dev/null | head -1 | cut -d: -f1)" && [ -n "$pkg" ] && break
  done
  [ -n "$pkg" ] || fail "no Debian package owns $lib"
  case "$installed" in
    *" $pkg "*) ;;
    *) missing+=("$pkg ($lib)") ;;
  esac
# (The sanitizer runtimes of an ASan+UBSan build are not the release image's.)
done < <(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' |
  grep -Ev '/lib(asan|ubsan|lsan|tsan)\.so')
[ ${#missing[@]} -eq 0 ] || fail "the runtime stage does not install: ${missing[*]}"

user="$(grep '^USER ' <<<"$runtime" | tail -1 | awk '{print $2}')"
[ -n "$user" ] || fail "no USER in the runtime stage"
case "${user%%:*}" in root|0) fail "the runtime stage runs as root ($user)" ;; esac

for tool in g++ gcc clang cmake ninja-build make pkg-config build-essential; do
  case "$installed" in *" $tool "*) fail "the runtime stage installs $tool" ;; esac
done
if grep -oE '[a-z0-9.+-]+-dev( |$)' <<<"$installed" | grep -q .; then
  fail "the runtime stage installs -dev packages: $(grep -oE '[a-z0-9.+-]+-dev( |$)' <<<"$installed" | tr '\n' ' ')"
fi
grep -q '^ENTRYPOINT \["cdc-pipeline"\]' <<<"$runtime" || fail "ENTRYPOINT is not [\"cdc-pipeline\"]"
grep -q '^CMD \["run"\]' <<<"$runtime" || fail "CMD is not [\"run\"]"
echo "ok: the runtime stage installs all $(ldd "$binary" | grep -c '=> /') libraries' packages, runs as $user"
