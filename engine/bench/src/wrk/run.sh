#!/bin/sh
# HTTP load against a real `lianban serve` on a fresh SQLite file, with wrk and 64
# connections: start cases (POST /api/v1/cases), list the inbox (GET /api/v1/inbox) and
# complete 受理 tasks (POST /api/v1/tasks/{id}/complete), as an API key of 社保 (county
# `bench`). Usage, from the repository root:
#
#   engine/bench/src/wrk/run.sh [path/to/lianban] [seconds per phase] [sqlite synchronous]
#
# Figures and the machine they came from: docs/performance.md.
set -eu
BIN=${1:-target/release/lianban}
SECS=${2:-20}
export LIANBAN_SQLITE_SYNCHRONOUS=${3:-full}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
mkdir -p "$DIR/processes" "$DIR/templates"
cp "$HERE/../standard.yaml" "$DIR/processes/standard.yaml"
DB="sqlite://$DIR/lianban.db?mode=rwc"
"$BIN" migrate --db "$DB" >/dev/null
KEY=$("$BIN" apikey create --db "$DB" --department shebao --county bench \
  --processes "$DIR/processes" --templates "$DIR/templates" 2>/dev/null)
export KEY
PORT=${PORT:-18080}
URL=http://127.0.0.1:$PORT
LIANBAN_LOG=warn "$BIN" serve --db "$DB" --bind 127.0.0.1:$PORT \
  --processes "$DIR/processes" --templates "$DIR/templates" &
PID=$!
until curl -sf "$URL/readyz" >/dev/null; do sleep 0.2; done

echo "== start cases: POST /api/v1/cases (synchronous=$LIANBAN_SQLITE_SYNCHRONOUS)"
wrk -t2 -c64 -d"${SECS}s" --latency -s "$HERE/start.lua" "$URL"

echo "== inbox: GET /api/v1/inbox?limit=50"
wrk -t2 -c64 -d"${SECS}s" --latency -H "Authorization: Bearer $KEY" "$URL/api/v1/inbox?limit=50"

# Every open 受理 task, for the completions.
: > "$DIR/tasks.txt"
offset=0
while :; do
  n=$(curl -sf -H "Authorization: Bearer $KEY" "$URL/api/v1/inbox?limit=500&offset=$offset" |
    jq -r '.[].id' | tee -a "$DIR/tasks.txt" | wc -l)
  [ "$n" -eq 0 ] && break
  offset=$((offset + n))
done
echo "== complete tasks: POST /api/v1/tasks/{id}/complete ($(wc -l < "$DIR/tasks.txt") open tasks)"
TASKS="$DIR/tasks.txt" THREADS=2 wrk -t2 -c64 -d"${SECS}s" --latency -s "$HERE/complete.lua" "$URL"
