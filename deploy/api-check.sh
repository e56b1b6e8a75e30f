#!/usr/bin/env bash
# Checks a live gateway against deploy/openapi.yaml with schemathesis (from PyPI, a tool we
# did not write): every operation with generated valid and invalid bodies and undeclared
# methods; the run fails on any server error or any answer outside the schema. Twice: on an
# open loopback gateway, and on one that needs API keys (sent as a header). The cluster is
# topology/minimal.yaml plus a store (no data needed), in a private run directory that is
# stopped and removed on exit. Needs `agentic` built (`swift build`); `--examples N` sets
# how many bodies per operation and phase (default 500).
set -euo pipefail
cd "$(dirname "$0")/.."
examples=500
[ "${1:-}" = "--examples" ] && examples="$2"
venv=.build/schemathesis-venv
if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
agentic="$(swift build --show-bin-path)/agentic"
work="$(mktemp -d /tmp/agentic-api.XXXXXX)"
up_pid=""
cleanup() {
    if [ -n "$up_pid" ] && kill -0 "$up_pid" 2>/dev/null; then
        "$agentic" down --run-dir "$work/r" >/dev/null 2>&1 || kill "$up_pid" 2>/dev/null || true
        wait "$up_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
sed 's/^edges:$/  - { name: store, kind: store }\n\nedges:/' topology/minimal.yaml >"$work/api.yaml"

# Starts the cluster with extra environment ($@); sets $url.
start() {
    env "$@" "$agentic" up "$work/api.yaml" --run-dir "$work/r" --no-dashboard >"$work/up.out" 2>"$work/up.err" &
    up_pid=$!
    for _ in $(seq 1 600); do
        grep -q '^up ' "$work/up.out" 2>/dev/null && break
        kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.err" >&2; echo "api-check: agentic up exited" >&2; exit 1; }
        sleep 0.1
    done
    url="$(sed -n 's/^gateway //p' "$work/up.out")"
    [ -n "$url" ] || { echo "api-check: no gateway line from agentic up" >&2; exit 1; }
}
stop() {
    "$agentic" down --run-dir "$work/r" >/dev/null
    wait "$up_pid" 2>/dev/null || true
    up_pid=""
}
check() {
    "$venv/bin/st" --config-file deploy/schemathesis.toml run deploy/openapi.yaml --url "$url" --checks all \
        --max-examples "$examples" --no-color "$@"
}

start
check
stop
key="api-check-$RANDOM$RANDOM"
start AGENTIC_API_KEYS="$key" AGENTIC_API_KEYS_FOR_READS=1
check --header "Authorization: Bearer $key"
stop
echo "api-check: schemathesis found nothing against deploy/openapi.yaml"
