#!/usr/bin/env bash
# firegrid next to the Node.js peer (Fastify 5 + better-sqlite3 / node-postgres), in one command
# (issue 16, item 5). For each backend it serves the peer and then firegrid (release build) on
# fresh databases holding the same data — 湟中区 > one township > one village > one group with
# 20,000 cases and its grid inspector — and drives both with the shared wrk script
# (../shared/bench/side_by_side.sh: report a hazard, list 20, get one, 32 connections, 15 s each;
# login with 8). Then it prints the table of BENCHMARKS.md: requests/s, p99, the ratio, and the
# CPU time each server spent per request.
#
#   bench/side_by_side.sh                    # both backends
#   bench/side_by_side.sh sqlite             # one
#
# Environment: PEER_DIR (default ../shared/peers/fastify), SIDE_BY_SIDE_DIR (../shared/bench),
# FIREGRID_TEST_POSTGRES_URL (server for the PostgreSQL databases, default the local one),
# OUT (results as JSON lines; default bench-results/side-by-side-<time>.jsonl), and what the
# shared script takes (DURATION, CONNS, LOGIN_DURATION, SCENARIOS…). Needs wrk, node and npm.
# Measure on an otherwise idle machine (check `uptime`): only ratios from one run mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PEER_DIR=$(cd "${PEER_DIR:-../shared/peers/fastify}" && pwd)
SHARED=$(cd "${SIDE_BY_SIDE_DIR:-../shared/bench}" && pwd)
PG_URL="${FIREGRID_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
BACKENDS="${*:-sqlite postgres}"
mkdir -p bench-results
OUT="${OUT:-$ROOT/bench-results/side-by-side-$(date -u +%Y%m%dT%H%M%SZ).jsonl}"
export OUT

for tool in wrk node npm curl python3; do
  command -v "$tool" > /dev/null || { echo "$tool not found (wrk: apt-get install -y wrk)" >&2; exit 1; }
done

echo "== building firegrid and firegrid-bench (release)"
cargo build --release --locked -q -p firegrid -p firegrid-bench
if [ ! -d "$PEER_DIR/node_modules" ]; then
  echo "== installing the peer's packages"
  (cd "$PEER_DIR" && npm ci --no-audit --no-fund > /dev/null)
fi

WORK=$(mktemp -d)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2> /dev/null || true
    wait "$SERVER_PID" 2> /dev/null || true
    SERVER_PID=
  fi
}
trap 'stop_server; rm -rf "$WORK"' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # wait_for URL: until anything answers there
  for _ in $(seq 1 120); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" != 000 ] && return 0
    sleep 0.5
  done
  echo "nothing answered at $1" >&2
  return 1
}
pg_db() { # pg_db NAME: a fresh database, its URL on stdout
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" > /dev/null
  echo "${PG_URL%/*}/$1"
}

# get one case while 8 clients log in as fast as they can (issue 16: get p99 < 50 ms while
# logins saturate): two wrk processes at once, the shared scripts, one JSON line in OUT.
get_under_logins() { # LABEL BASE_URL USER PASSWORD
  local label=$1 base=$2 token id
  LOGIN_BODY=$(python3 -c 'import json,sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' "$3" "$4")
  export LOGIN_BODY
  token=$(curl -sf -X POST -H 'Content-Type: application/json' --data "$LOGIN_BODY" \
    "$base/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  id=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/hazards?limit=1" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  sleep 2
  BENCH_DIR="$SHARED" WRK_RESULT="$WORK/storm-login.json" wrk -t1 -c8 -d17s --timeout 10s \
    -s "$SHARED/login.lua" "$base/api/v1/auth/login" > /dev/null 2>&1 &
  local storm=$!
  sleep 1
  BENCH_DIR="$SHARED" TOKEN="$token" WRK_RESULT="$WORK/storm-get.json" wrk -t1 -c32 -d15s \
    --latency --timeout 10s -s "$SHARED/bearer.lua" "$base/api/v1/hazards/$id" > /dev/null 2>&1
  wait "$storm"
  python3 - "$label" "$WORK/storm-get.json" "$WORK/storm-login.json" >> "$OUT" << 'EOF'
import json, sys
label, g, l = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(json.dumps({"label": label, "scenario": "get_under_logins",
                  "rps": round(g["requests"] / (g["duration_us"] / 1e6), 1),
                  "p99_ms": round(g["p99_us"] / 1000, 1), "non_2xx": g["status_errors"],
                  "login_rps": round(l["requests"] / (l["duration_us"] / 1e6), 1),
                  "watch_cpu_cores": {}}))
EOF
}

# The machine's argon2 ceiling at firegrid's parameters (password verifications per second, one
# thread per core, no server work), as one JSON line labelled $1 in OUT.
argon2_ceiling() {
  echo "== argon2 ceiling for $1"
  sleep 2
  target/release/firegrid-bench hash-ceiling --seconds 10 | python3 -c '
import json, sys
c = json.load(sys.stdin)
print(json.dumps({"label": sys.argv[1], "scenario": "argon2_ceiling", "rps": c["verifications_per_s"],
                  "p99_ms": 0, "non_2xx": 0, "watch_cpu_cores": {}}))' "$1" >> "$OUT"
}

run_peer() {
  local backend=$1 url port
  case "$backend" in
    sqlite) url="sqlite:///$WORK/peer.db" ;;
    postgres) url=$(pg_db firegrid_side_peer) ;;
  esac
  echo "== the peer on $backend: 20,000 cases"
  (cd "$PEER_DIR" && node src/cli.js setup --database-url "$url" --hazards 20000 > /dev/null)
  port=$(free_port)
  (cd "$PEER_DIR" && PEER_DATABASE_URL="$url" exec node src/cli.js serve --workers 2 \
    --host 127.0.0.1 --port "$port" > "$WORK/peer.log" 2>&1) &
  SERVER_PID=$!
  wait_for "http://127.0.0.1:$port/api/v1/hazards"
  BASE_URL="http://127.0.0.1:$port" LABEL="peer-$backend" WATCH="server=$SERVER_PID" \
    bash "$SHARED/side_by_side.sh"
  get_under_logins "peer-$backend" "http://127.0.0.1:$port" inspector 'Qinghai-grid-2026!'
  stop_server
}

run_firegrid() {
  local backend=$1 url port data="$WORK/firegrid-$1"
  mkdir -p "$data"
  case "$backend" in
    sqlite) url="$data/firegrid.sqlite3" ;;
    postgres) url=$(pg_db firegrid_side_firegrid) ;;
  esac
  echo "== firegrid on $backend: 20,000 cases"
  FIREGRID_DATA_DIR="$data" FIREGRID_DATABASE_URL="$url" \
    target/release/firegrid-bench gen --scale peer > /dev/null
  port=$(free_port)
  # The default log level (info: one access line per request) — what a deployment runs. The
  # sweep interval is raised so that no background sweep runs mid-measurement.
  FIREGRID_DATA_DIR="$data" FIREGRID_DATABASE_URL="$url" FIREGRID_BIND="127.0.0.1:$port" \
    FIREGRID_SWEEP_INTERVAL_SECS=3600 target/release/firegrid serve > "$data/server.log" 2>&1 &
  SERVER_PID=$!
  wait_for "http://127.0.0.1:$port/readyz"
  BASE_URL="http://127.0.0.1:$port" LABEL="firegrid-$backend" WATCH="server=$SERVER_PID" \
    BENCH_USER=c0-g0-inspector BENCH_PASSWORD=firegrid-bench-2026 bash "$SHARED/side_by_side.sh"
  # The ceiling right after the login scenario (the server idle): this VM's speed drifts by a
  # quarter within minutes, so a ceiling taken at another moment says little about the logins.
  argon2_ceiling "machine-$backend"
  get_under_logins "firegrid-$backend" "http://127.0.0.1:$port" c0-g0-inspector firegrid-bench-2026
  stop_server
}

echo "# $(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the start"
for b in $BACKENDS; do
  run_peer "$b"
  run_firegrid "$b"
done


python3 - "$OUT" << 'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
last = {(r["label"], r["scenario"]): r for r in rows}  # the latest run of each pair in OUT
def cell(r):
    cpu = r["watch_cpu_cores"].get("server")
    per = f", {1000 * cpu / r['rps']:.2f} ms CPU/req" if cpu and r["rps"] else ""
    bad = f", **{r['non_2xx']} non-2xx**" if r["non_2xx"] else ""
    return f"{r['rps']:,.0f}/s, p99 {r['p99_ms']:g} ms{per}{bad}"
print()
print("| backend | scenario | peer | firegrid | ratio |")
print("|---|---|---|---|---|")
for backend in ("sqlite", "postgres"):
    for s in ("post_hazard", "list_hazards", "get_hazard", "login"):
        p, f = last.get((f"peer-{backend}", s)), last.get((f"firegrid-{backend}", s))
        if p and f:
            print(f"| {backend} | {s} | {cell(p)} | {cell(f)} | {f['rps'] / p['rps']:.2f}× |")
for backend in ("sqlite", "postgres"):
    p, f = last.get((f"peer-{backend}", "get_under_logins")), last.get((f"firegrid-{backend}", "get_under_logins"))
    if p and f:
        print(f"| {backend} | get one while 8 clients log in | {cell(p)}, logins {p['login_rps']:.0f}/s "
              f"| {cell(f)}, logins {f['login_rps']:.0f}/s | {f['rps'] / p['rps']:.2f}× |")
print()
for backend in ("sqlite", "postgres"):
    ceiling = last.get((f"machine-{backend}", "argon2_ceiling"))
    f = last.get((f"firegrid-{backend}", "login"))
    if ceiling and f:
        print(f"firegrid {backend} login: {f['rps']:.1f}/s = {100 * f['rps'] / ceiling['rps']:.0f} % "
              f"of the argon2 ceiling at firegrid's parameters measured right after it "
              f"({ceiling['rps']:.1f} verifications/s)")
print(f"\n(results: {sys.argv[1]})")
EOF
