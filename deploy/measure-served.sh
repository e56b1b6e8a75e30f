#!/usr/bin/env bash
# Quality as served: starts a live cluster from a topology file (fitted on P1 train + valid,
# as `agentic up` serves by default), asks its gateway over HTTP for every P1 test user with
# ../shared/eval/served.py, scores the lists with ../shared/eval/score.py, then stops the
# cluster. Prints score.py's table; with --compare, also whether the served lists equal
# `agentic eval FILE --out` item for item.
#
#   deploy/measure-served.sh [topology/movielens.yaml] [--compare]
set -euo pipefail
cd "$(dirname "$0")/.."
file="topology/movielens.yaml"
compare=0
for argument in "$@"; do
    case "$argument" in
        --compare) compare=1 ;;
        *) file="$argument" ;;
    esac
done
shared="$(cd .. && pwd)/shared/eval"
[[ -f "$shared/served.py" ]] || { echo "measure-served: $shared/served.py not found" >&2; exit 1; }
agentic=.build/release/agentic
[[ -x "$agentic" ]] || swift build -c release >&2
work="$(mktemp -d /tmp/agentic-served.XXXXXX)"
run="$work/run"
cleanup() {
    "$agentic" down --run-dir "$run" >/dev/null 2>&1 || true
    [[ -n "${up:-}" ]] && kill "$up" 2>/dev/null && wait "$up" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
AGENTIC_LOG_LEVEL=warning "$agentic" up "$file" --run-dir "$run" >"$work/up.out" 2>"$work/up.err" &
up=$!
for _ in $(seq 1 300); do
    grep -q '^up ' "$work/up.out" 2>/dev/null && break
    kill -0 "$up" 2>/dev/null || { cat "$work/up.err" >&2; exit 1; }
    sleep 1
done
url="$(awk '/^gateway /{print $2}' "$work/up.out")"
[[ -n "$url" ]] || { echo "measure-served: the cluster did not start" >&2; exit 1; }
python3 "$shared/served.py" --url "$url" --test "$shared/p1_test.tsv" --out "$work/served.tsv" >&2
python3 "$shared/score.py" --test "$shared/p1_test.tsv" --train "$shared/p1_train.tsv" "$shared/p1_valid.tsv" \
    --recs "$work/served.tsv" --item-file data/ml-100k/ml-100k.item
if ((compare)); then
    "$agentic" eval "$file" --out "$work/eval.tsv" >/dev/null
    python3 - "$work/served.tsv" "$work/eval.tsv" <<'EOF'
import sys
def lists(path):
    out = {}
    for n, line in enumerate(open(path)):
        f = line.split()
        if n == 0 and not f[0].isdigit():
            continue
        out.setdefault(f[0], []).append(f[1])
    return out
served, evaluated = lists(sys.argv[1]), lists(sys.argv[2])
same = sum(1 for u in served if [i for i in served[u][:10]] == evaluated.get(u, [])[:10])
print(f"top-10 lists identical to eval --out: {same} of {len(served)} users ({100 * same / max(len(served), 1):.1f} %)")
EOF
fi
