#!/usr/bin/env bash
# Oversight at province scale (issue 14): statistics, the ranking, the CSV export and the monthly
# bulletin over a generated province (1,000,000 cases), timed through HTTP against a release
# server. Prints one line per request: median and worst of N runs (or, for the export, rows/s
# and the server's peak RSS while it streamed).
#
#   bench/oversight.sh DATABASE_URL        # a database `firegrid-bench gen --scale province` filled
#
# Environment: RUNS (default 15), PORT (default 18190). Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?a database URL or SQLite file generated with firegrid-bench gen --scale province}
RUNS=${RUNS:-15}
PORT=${PORT:-18190}
BIN=target/release/firegrid
[ -x "$BIN" ] || cargo build --release --locked -q -p firegrid
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT

# A province-wide reader: the generated data has officials up to the county only, so a global
# administrator is added (once; later runs find it there).
FIREGRID_DATA_DIR="$DATA" FIREGRID_DATABASE_URL="$URL" FIREGRID_NEW_PASSWORD=firegrid-bench-2026 \
  "$BIN" user create --username bench.province --display-name 省级查看 --admin > /dev/null 2>&1 || true
FIREGRID_DATA_DIR="$DATA" FIREGRID_DATABASE_URL="$URL" FIREGRID_BIND="127.0.0.1:$PORT" \
  FIREGRID_SWEEP_INTERVAL_SECS=3600 FIREGRID_LOG=warn "$BIN" serve > "$DATA/server.log" 2>&1 &
SERVER=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do curl -fs "$BASE/readyz" > /dev/null && break; sleep 0.5; done

token() {
  curl -fs "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"firegrid-bench-2026\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
# The generated layout: the province is region 1, its first county region 10 (bench/src/lib.rs);
# c0-county-0 is that county's official; bench.province reads the whole province.
COUNTY=10
PROVINCE=1
COUNTY_TOKEN=$(token c0-county-0)
PROVINCE_TOKEN=$(token bench.province)

time_it() { # time_it LABEL TOKEN PATH
  local label=$1 tok=$2 path=$3
  python3 - "$label" "$tok" "$BASE$path" "$RUNS" << 'EOF'
import statistics, subprocess, sys, time
label, tok, url, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
times = []
for _ in range(runs):
    t = time.perf_counter()
    out = subprocess.run(["curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                          f"authorization: Bearer {tok}", url], capture_output=True, text=True)
    times.append((time.perf_counter() - t) * 1000)
    if out.stdout != "200":
        sys.exit(f"{label}: HTTP {out.stdout} {out.stderr}")
print(f"{label:<44} median {statistics.median(times):8.1f} ms   worst {max(times):8.1f} ms   ({runs} runs)")
EOF
}

YEAR=$(date -u +%Y)
LAST_MONTH=$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%Y-%m)
time_it "stats/summary, county, this year" "$COUNTY_TOKEN" "/api/v1/stats/summary?region_id=$COUNTY"
time_it "stats/summary, province, this year" "$PROVINCE_TOKEN" "/api/v1/stats/summary?region_id=$PROVINCE"
time_it "stats/ranking, province's children, $YEAR" "$PROVINCE_TOKEN" "/api/v1/stats/ranking?region_id=$PROVINCE&year=$YEAR"
time_it "stats/ranking, county's townships, $YEAR" "$COUNTY_TOKEN" "/api/v1/stats/ranking?region_id=$COUNTY&year=$YEAR"
time_it "bulletin, county, $LAST_MONTH (HTML)" "$COUNTY_TOKEN" "/api/v1/bulletins/$COUNTY/$LAST_MONTH"
time_it "bulletin, province, $LAST_MONTH (HTML)" "$PROVINCE_TOKEN" "/api/v1/bulletins/$PROVINCE/$LAST_MONTH"

# The whole province as CSV, with the server's resident memory sampled while it streams.
python3 - "$BASE" "$PROVINCE_TOKEN" "$SERVER" << 'EOF'
import subprocess, sys, threading, time
base, tok, pid = sys.argv[1], sys.argv[2], sys.argv[3]
peak = [0]
done = threading.Event()
def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
before = rss()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.02)
threading.Thread(target=watch, daemon=True).start()
t = time.perf_counter()
p = subprocess.Popen(["curl", "-fsS", "-H", f"authorization: Bearer {tok}",
                      f"{base}/api/v1/exports/hazards.csv"], stdout=subprocess.PIPE)
rows = size = 0
for line in p.stdout:
    rows += 1
    size += len(line)
p.wait()
secs = time.perf_counter() - t
done.set()
rows -= 1  # the header
print(f"{'exports/hazards.csv, province':<44} {rows:,} rows, {size / 1e6:.0f} MB in {secs:.1f} s = "
      f"{rows / secs:,.0f} rows/s; server RSS {before / 1024:.0f} MB before, peak {peak[0] / 1024:.0f} MB")
EOF
