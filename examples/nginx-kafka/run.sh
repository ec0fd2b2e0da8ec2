#!/usr/bin/env bash
# Deployment 1: an nginx load balancer → Kafka → top pages every minute → tables, plus a daily
# batch report. Also nginx sending its access log straight to `hitstream run --syslog`.
#
#   gen --http ──▶ nginx LB ──▶ 2 nginx backends
#                     │ access.log                    (and syslog ──▶ run --syslog ──▶ lake-syslog)
#                     ▼
#                   ship ──▶ topic RAWLOG (3 partitions)
#                              ├─▶ group raw:  run ──▶ lake-raw (requests) ──▶ report daily
#                              └─▶ group top:  run --window 1m --top 3 ──▶ lake-top (windows)
#
# Everything listens on 127.0.0.1, on free ports, and stops when the script ends.
# COUNT (requests, default 20000) and RATE (requests/s, default 2000) size the run.
source "$(dirname "$0")/../lib.sh"
HERE="$EXAMPLES/nginx-kafka"
COUNT=${COUNT:-20000}
RATE=${RATE:-2000}
WEIGHTS='/product1=50,/product2=25,/product3=15,/product4=8,/product5=2'

step "nginx: two backends and a load balancer (prefixes under $WORK)"
B1=$(free_port)
B2=$(free_port)
LB=$(free_port)
SYSLOG_PORT=$(free_port)
start_nginx backend1 "$HERE/nginx/backend.conf" PORT="$B1" NAME=backend1
start_nginx backend2 "$HERE/nginx/backend.conf" PORT="$B2" NAME=backend2
start_nginx lb "$HERE/nginx/lb.conf" PORT="$LB" B1="$B1" B2="$B2" \
    SYSLOG="access_log syslog:server=127.0.0.1:$SYSLOG_PORT,tag=nginx combined;"
wait_port "$B1" "backend1"
wait_port "$B2" "backend2"
wait_port "$LB" "the load balancer"
LOG="$WORK/lb/logs/access.log"
echo "load balancer on 127.0.0.1:$LB, backends on :$B1 and :$B2, access log $LOG"

step "Kafka-protocol broker"
start_broker
echo "broker on $BROKER"

step "run --syslog: nginx's syslog copy of the same log, straight into lake-syslog"
hitstream run --syslog "127.0.0.1:$SYSLOG_PORT" --data "$WORK/lake-syslog" --emit none \
    --checkpoint-interval 1s 2>"$WORK/run-syslog.err" &
SYSLOG_RUN=$!
PIDS+=("$SYSLOG_RUN")
# The UDP socket is bound before the run prints its first line.
for _ in $(seq 100); do
    grep -q "syslog" "$WORK/run-syslog.err" 2>/dev/null && break
    sleep 0.1
done

step "ship: the balancer's access log → topic RAWLOG (3 partitions)"
hitstream ship --tail "$LOG" --kafka "$BROKER" --topic RAWLOG --create-topic --partitions 3 \
    --checkpoint-dir "$WORK/ship" --progress 2>"$WORK/ship.err" &
SHIP=$!
PIDS+=("$SHIP")

step "gen --http: $COUNT requests at $RATE/s with the weights $WEIGHTS"
hitstream gen --http "http://127.0.0.1:$LB" --paths "$WEIGHTS" --scanners 0 \
    --count "$COUNT" --rate "$RATE" --concurrency 8 | tee "$WORK/gen.txt"

LINES=$(wc -l <"$LOG")
echo "the balancer logged $LINES lines"
stop_ship_when_delivered "$SHIP" "$WORK/ship.err" "$LINES"

step "two consumer groups on RAWLOG (fan-out): raw rows, and top 3 pages every minute"
hitstream run --kafka "$BROKER" --topic RAWLOG --group raw --kafka-stop-at-end \
    --data "$WORK/lake-raw" --emit none 2>"$WORK/run-raw.err" &
RAW=$!
hitstream run --kafka "$BROKER" --topic RAWLOG --group top --kafka-stop-at-end \
    --window 1m --top 3 --data "$WORK/lake-top" --jsonl "$WORK/top.jsonl" \
    --emit console >"$WORK/top.txt" 2>"$WORK/run-top.err" &
TOP=$!
wait "$RAW" || { cat "$WORK/run-raw.err"; exit 1; }
wait "$TOP" || { cat "$WORK/run-top.err"; exit 1; }
tail -1 "$WORK/run-raw.err"
tail -1 "$WORK/run-top.err"
cat "$WORK/top.txt"

step "the top pages as a table: sql over lake-top's windows"
hitstream sql --data "$WORK/lake-top" \
    "SELECT window_start, key AS page, value AS requests FROM windows WHERE metric = 'top_page' ORDER BY window_start, value DESC"

step "the daily batch report over lake-raw (in production: [report] daily_at, or cron)"
DAY=$(python3 -c 'import datetime, re, sys
t = re.search(r"\[([^\]]+)\]", open(sys.argv[1]).readline()).group(1)
print(datetime.datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z").astimezone(datetime.timezone.utc).date())' "$LOG")
hitstream report daily --data "$WORK/lake-raw" --date "$DAY" --tz UTC --top 5
hitstream report daily --data "$WORK/lake-raw" --date "$DAY" --tz UTC --top 5 -o json \
    --no-save >"$WORK/daily.json"
hitstream analyze "$LOG" --tz UTC --top 5 -o json >"$WORK/analyze.json"

step "checks (expected numbers from nginx's own log, counted here with awk and python)"
sleep 1.5 # one more checkpoint of run --syslog
kill -TERM "$SYSLOG_RUN"
wait "$SYSLOG_RUN" || true
tail -1 "$WORK/run-syslog.err"
check "requests sent = lines logged by nginx" "$COUNT" "$LINES"
check "raw rows (group raw) = lines logged" "$LINES" \
    "$(hitstream sql --data "$WORK/lake-raw" -o csv 'SELECT count(*) AS n FROM requests' | tail -1)"
check "raw rows = the log's lines, one for one (client, time, method, path, status)" ok \
    "$(python3 - "$LOG" "$WORK/lake-raw" <<'EOF'
import collections, csv, datetime, io, re, subprocess, sys
log, lake = sys.argv[1], sys.argv[2]
pat = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) ([^ ?"]*)\S* [^"]*" (\d{3}) ')
want = collections.Counter()
for line in open(log):
    c, t, m, p, st = pat.match(line).groups()
    ts = datetime.datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z").astimezone(datetime.timezone.utc)
    want[(c, ts.strftime("%Y-%m-%dT%H:%M:%SZ"), m, p, st)] += 1
out = subprocess.run(["hitstream", "sql", "--data", lake, "-o", "csv",
    "SELECT client, time, method, path, status FROM requests"], capture_output=True, text=True, check=True).stdout
got = collections.Counter(tuple(r) for r in list(csv.reader(io.StringIO(out)))[1:])
missing, extra = want - got, got - want
print("ok" if not missing and not extra else f"{sum(missing.values())} missing, {sum(extra.values())} extra, e.g. {list((missing or extra).items())[:2]}")
EOF
)"
check "rows via syslog = lines logged" "$LINES" \
    "$(hitstream sql --data "$WORK/lake-syslog" -o csv 'SELECT count(*) AS n FROM requests' | tail -1)"
check "window requests (group top) = lines logged" "$LINES" "$(python3 - "$WORK/top.jsonl" <<'EOF'
import json, sys
last = {}
for line in open(sys.argv[1]):
    w = json.loads(line)
    if w["revision"] >= last.get(w["window_start"], {"revision": -1})["revision"]:
        last[w["window_start"]] = w
print(sum(w["requests"] for w in last.values()))
EOF
)"
check "top 3 pages per minute = nginx log per minute" "ok" "$(python3 - "$WORK/top.jsonl" "$LOG" <<'EOF'
import collections, datetime, json, re, sys
last = {}
for line in open(sys.argv[1]):
    w = json.loads(line)
    if w["revision"] >= last.get(w["window_start"], {"revision": -1})["revision"]:
        last[w["window_start"]] = w
per_minute = collections.defaultdict(collections.Counter)
pat = re.compile(r'\[([^\]]+)\] "\S+ (\S+)')
for line in open(sys.argv[2]):
    t, target = pat.search(line).groups()
    ts = datetime.datetime.strptime(t, "%d/%b/%Y:%H:%M:%S %z").timestamp()
    per_minute[int(ts) // 60 * 60][target.split("?")[0]] += 1
bad = []
for start, w in sorted(last.items()):
    want = per_minute[start]
    for row in w["top_pages"]:
        if want[row["key"]] != row["count"]:
            bad.append(f"{w['window_start_rfc3339']} {row['key']}: {row['count']} vs {want[row['key']]}")
    ranked = [k for k, _ in sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
    if [r["key"] for r in w["top_pages"]] != ranked:
        bad.append(f"{w['window_start_rfc3339']}: {[r['key'] for r in w['top_pages']]} vs {ranked}")
print("ok" if not bad else "; ".join(bad))
EOF
)"
check "shares of the top pages = the weights (within 4 standard deviations)" "ok" "$(python3 - "$WORK/lake-raw" "$HITSTREAM" "$LINES" <<'EOF'
import subprocess, sys
lake, bin, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = subprocess.run([bin, "sql", "--data", lake, "-o", "csv",
    "SELECT path, count(*) AS n FROM requests GROUP BY path"], capture_output=True, text=True, check=True).stdout
got = {l.split(",")[0]: int(l.split(",")[1]) for l in out.strip().splitlines()[1:]}
weights = {"/product1": .50, "/product2": .25, "/product3": .15, "/product4": .08, "/product5": .02}
bad = [f"{p}: {got.get(p, 0) / n:.4f} vs {w}" for p, w in weights.items()
       if abs(got.get(p, 0) / n - w) > 4 * (w * (1 - w) / n) ** 0.5]
print("ok" if not bad and sum(got.values()) == n else "; ".join(bad) or f"{sum(got.values())} rows")
EOF
)"
check "daily report = analyze of the nginx log" "ok" "$(python3 - "$WORK/daily.json" "$WORK/analyze.json" <<'EOF'
import json, sys
d, a = (json.load(open(p)) for p in sys.argv[1:3])
d = d.get("report", d)
diff = []
for section, keys in [("totals", ["requests", "bytes", "first", "last", "days"]),
                      ("content_size", None), ("status", None), ("methods", None),
                      ("unique_hosts", None), ("top_hosts", None), ("top_endpoints", None),
                      ("top_error_endpoints", None), ("daily", None), ("hourly", None),
                      ("not_found", None), ("top_user_agents", None), ("static_dynamic", None)]:
    x, y = d.get(section), a.get(section)
    if keys:
        x, y = ({k: (v or {}).get(k) for k in keys} for v in (x, y))
    if x != y:
        diff.append(f"{section}: {json.dumps(x)[:200]} vs {json.dumps(y)[:200]}")
print("ok" if not diff else "; ".join(diff))
EOF
)"
finish
