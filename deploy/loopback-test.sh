#!/usr/bin/env bash
# The deployment, run on loopback (issue 15): nginx (Debian's package) terminating TLS in front
# of two firegrid servers on one PostgreSQL, configured with deploy/nginx/firegrid.conf itself
# (ports and certificate paths rewritten). A client sends a steady stream of hazard reports,
# each with its own Idempotency-Key, retrying failures with the same key, while the servers are
# stopped with SIGTERM and restarted one after the other. It passes when:
#   - every report the client sent was answered (none failed that a retry could not complete),
#   - every report is recorded exactly once (one case per title, as many cases as reports),
#   - each server exited 0 on SIGTERM, after its sweep stopped,
#   - X-Forwarded-For from the client is ignored: the server sees the address nginx saw,
#   - a body above the limit is refused by nginx with 413.
# Needs PostgreSQL at FIREGRID_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# python3, openssl and curl; installs nginx from the distribution when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PG="${FIREGRID_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PHASE_SECS="${LOOPBACK_PHASE_SECS:-4}"

say() { echo "== loopback: $*"; }
fail() { echo "FAIL (loopback): $*" >&2; exit 1; }

if ! command -v nginx >/dev/null; then
  say "installing nginx from the distribution"
  apt-get update -qq
  # No init system in a container: keep the package from starting its own nginx on port 80.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null \
    || RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
for tool in nginx openssl curl python3 psql; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done

say "building the server"
cargo build -q --locked --bin firegrid
BIN="$ROOT/target/debug/firegrid"

TMP=$(mktemp -d /tmp/firegrid-loopback.XXXXXX)
chmod 0755 "$TMP"
DB="firegrid_loopback_$$"
URL="${PG%/*}/$DB"
PIDS=()
cleanup() {
  set +e
  [ -f "$TMP/nginx.pid" ] && nginx -p "$TMP" -c "$TMP/nginx.conf" -s stop 2>/dev/null
  for port in 18081 18082; do
    [ -f "$TMP/server-$port.pid" ] && kill -TERM "$(cat "$TMP/server-$port.pid")" 2>/dev/null
  done
  sleep 1
  psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
  if [ "${KEEP_LOOPBACK_TMP:-}" = "" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
export FIREGRID_DATABASE_URL="$URL" FIREGRID_DATA_DIR="$TMP/data"
export FIREGRID_JWT_SECRET="loopback-test-secret-$(openssl rand -hex 16)"
export FIREGRID_TRUSTED_PROXIES=127.0.0.1 FIREGRID_SWEEP_INTERVAL_SECS=1 FIREGRID_LOG=info
"$BIN" demo >"$TMP/demo.log" 2>&1 || { cat "$TMP/demo.log"; fail "firegrid demo"; }
GROUP=$(psql "$URL" -Atqc "SELECT g.id FROM regions g JOIN regions v ON v.id = g.parent_id
                            WHERE v.name = '李家山村' AND g.name = '一组'")
[ -n "$GROUP" ] || fail "the demo county has no 李家山村 一组"

say "a self-signed certificate for 127.0.0.1"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$TMP/privkey.pem" -out "$TMP/fullchain.pem" 2>/dev/null

say "nginx with deploy/nginx/firegrid.conf on 127.0.0.1:18443"
mkdir -p "$TMP/nginx-tmp" && chmod 0777 "$TMP/nginx-tmp"
sed -e 's/127\.0\.0\.1:8081/127.0.0.1:18081/; s/127\.0\.0\.1:8082/127.0.0.1:18082/' \
    -e 's/listen 80;/listen 127.0.0.1:18080;/; s/listen 443 ssl;/listen 127.0.0.1:18443 ssl;/' \
    -e '/listen \[::\]/d' \
    -e "s#/etc/firegrid/tls#$TMP#" \
    deploy/nginx/firegrid.conf >"$TMP/site.conf"
grep -q 18081 "$TMP/site.conf" && grep -q 18443 "$TMP/site.conf" && grep -q "$TMP/fullchain.pem" "$TMP/site.conf" \
  || fail "deploy/nginx/firegrid.conf no longer has the lines this script rewrites"
cat >"$TMP/nginx.conf" <<NGINX
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log $TMP/nginx-access.log;
  client_body_temp_path $TMP/nginx-tmp/body;
  proxy_temp_path $TMP/nginx-tmp/proxy;
  fastcgi_temp_path $TMP/nginx-tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx-tmp/uwsgi;
  scgi_temp_path $TMP/nginx-tmp/scgi;
  include $TMP/site.conf;
}
NGINX
nginx -t -q -p "$TMP" -c "$TMP/nginx.conf" 2>&1 | grep -v "the \"user\" directive" || true
nginx -p "$TMP" -c "$TMP/nginx.conf"

start_server() {
  local port=$1
  FIREGRID_BIND="127.0.0.1:$port" "$BIN" serve >>"$TMP/server-$port.log" 2>&1 &
  echo $! >"$TMP/server-$port.pid"
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && { say "server :$port ready"; return; }
    sleep 0.1
  done
  cat "$TMP/server-$port.log"; fail "server :$port did not become ready"
}

# SIGTERM, then wait for the exit: it must be 0 and the sweep must have stopped first.
stop_server() {
  local port=$1 pid
  pid=$(cat "$TMP/server-$port.pid")
  say "SIGTERM to server :$port (pid $pid)"
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  rm -f "$TMP/server-$port.pid"
  [ "$rc" = 0 ] || { tail -20 "$TMP/server-$port.log"; fail "server :$port exited $rc on SIGTERM"; }
  grep -q "deadline sweep stopped" "$TMP/server-$port.log" || fail "server :$port: the sweep did not stop"
  grep -q "firegrid stopped" "$TMP/server-$port.log" || fail "server :$port did not finish its shutdown"
  say "server :$port drained and exited 0"
}

start_server 18081
start_server 18082
HTTPS=https://127.0.0.1:18443
curl -fsS --cacert "$TMP/fullchain.pem" "$HTTPS/readyz" >/dev/null || fail "nginx does not reach the servers"

say "X-Forwarded-For from the client is not believed"
curl -sS -o /dev/null --cacert "$TMP/fullchain.pem" -H 'content-type: application/json' \
  -H 'X-Forwarded-For: 203.0.113.66' \
  -d '{"username":"nobody.xff","password":"wrong-password-123"}' "$HTTPS/api/v1/auth/login"
IP=$(psql "$URL" -Atqc "SELECT ip FROM login_failures WHERE username = 'nobody.xff'")
[ "$IP" = "127.0.0.1" ] || fail "the server counted the login failure against '$IP', not 127.0.0.1"

say "a body above the limit is 413 at nginx"
CODE=$(head -c 1300000 /dev/zero | tr '\0' 'a' | curl -sS -o /dev/null -w '%{http_code}' \
  --cacert "$TMP/fullchain.pem" -H 'content-type: application/json' --data-binary @- \
  "$HTTPS/api/v1/hazards")
[ "$CODE" = 413 ] || fail "a 1.3 MB report was answered $CODE, not 413"

RUN=$(date +%s)
STOP="$TMP/stop-client"
say "reports stream in (3 clients); the servers are stopped and restarted one at a time"
python3 deploy/loopback-client.py --url "$HTTPS" --cafile "$TMP/fullchain.pem" \
  --username demo.inspector --password Huangzhong-demo-2026 --group "$GROUP" \
  --run "$RUN" --stop-file "$STOP" >"$TMP/client.json" 2>"$TMP/client.err" &
CLIENT=$!
sleep "$PHASE_SECS"
stop_server 18081
sleep "$PHASE_SECS"
start_server 18081
sleep "$PHASE_SECS"
stop_server 18082
sleep "$PHASE_SECS"
start_server 18082
sleep "$PHASE_SECS"
touch "$STOP"
wait "$CLIENT" || { cat "$TMP/client.err"; fail "the client failed"; }

SUMMARY=$(cat "$TMP/client.json")
echo "client: $SUMMARY"
read -r REPORTS FAILED DISTINCT < <(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
print(s["reports"], s["failed"], s["distinct_case_ids"])' "$SUMMARY")
read -r CASES TITLES < <(psql "$URL" -Atqc "SELECT count(*), count(DISTINCT title) FROM hazards
                                            WHERE title LIKE 'loopback-$RUN-%'" | tr '|' ' ')
echo "reports sent: $REPORTS; cases recorded: $CASES ($TITLES distinct titles); distinct case ids answered: $DISTINCT"
[ "$REPORTS" -ge 50 ] || fail "only $REPORTS reports: the stream was not steady"
[ "$FAILED" = 0 ] || fail "$FAILED report(s) failed even after retrying with the same key"
[ "$CASES" = "$REPORTS" ] && [ "$TITLES" = "$REPORTS" ] && [ "$DISTINCT" = "$REPORTS" ] \
  || fail "reports and recorded cases differ: every report must be recorded exactly once"
psql "$URL" -Atqc "SELECT count(*) FROM hazard_events e JOIN hazards h ON h.id = e.hazard_id
                   WHERE h.title LIKE 'loopback-$RUN-%' AND e.seq = 1" | grep -qx "$REPORTS" \
  || fail "a case without exactly one opening event"
say "passed: $REPORTS reports through two SIGTERMs, each recorded once, none lost"
