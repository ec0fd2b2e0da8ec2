#!/usr/bin/env bash
# Deployment 2: the NASA log replayed over TCP → ship → Kafka → run: raw lines stored by day,
# and 60-second windows of methods and hosts.
#
#   replay --speed N --to ──▶ ship --tcp ──▶ topic nasa (3 partitions) ──▶ run --window 60s
#                                                                          ├─▶ console tables
#                                                                          └─▶ lake (requests by day, windows)
#
# Everything listens on 127.0.0.1, on free ports, and stops when the script ends.
# LIMIT (lines, default 200000) and SPEED (default 20000 × real time) size the run.
source "$(dirname "$0")/../lib.sh"
NASA="${NASA:-$DATA/nasa-http-1995/NASA_access_log_Jul95.first200000.gz}"
LIMIT=${LIMIT:-200000}
SPEED=${SPEED:-20000}

step "Kafka-protocol broker"
start_broker
echo "broker on $BROKER"

step "ship --tcp: newline-delimited lines on a TCP port → topic nasa (3 partitions)"
TCP_PORT=$(free_port)
hitstream ship --tcp "127.0.0.1:$TCP_PORT" --kafka "$BROKER" --topic nasa --create-topic \
    --partitions 3 --checkpoint-dir "$WORK/ship" --progress 2>"$WORK/ship.err" &
SHIP=$!
PIDS+=("$SHIP")
wait_port "$TCP_PORT" "ship --tcp"

step "replay: the first $LIMIT lines of $(basename "$NASA") at $SPEED× real time"
hitstream replay "$NASA" --speed "$SPEED" --limit "$LIMIT" --to "127.0.0.1:$TCP_PORT"
stop_ship_when_delivered "$SHIP" "$WORK/ship.err" "$LIMIT"

# The three partitions are read side by side but not at the same pace, and a group may hand
# them over one at a time, so across them event time can go back by as much as the whole
# replayed span: a replay of history needs a lateness that covers it (7d here), or lines of
# windows already closed would be counted late (the watermark is one per run, not one per
# partition).
step "run: the topic → the lake, with 60 s windows printed as they close (lateness 7d)"
hitstream run --kafka "$BROKER" --topic nasa --group replay --kafka-stop-at-end \
    --data "$WORK/lake" --window 60s --lateness 7d --top 5 --jsonl "$WORK/windows.jsonl" \
    --emit console >"$WORK/windows.txt" 2>"$WORK/run.err" || { cat "$WORK/run.err"; exit 1; }
tail -1 "$WORK/run.err"
echo "the first windows, as printed:"
head -40 "$WORK/windows.txt"

step "rows by day in the lake"
hitstream sql --data "$WORK/lake" "SELECT day, count(*) AS requests FROM requests GROUP BY day ORDER BY day"

step "checks (expected numbers counted from the file here, with python)"
python3 - "$NASA" "$LIMIT" "$WORK/windows.jsonl" "$HITSTREAM" "$WORK/lake" >"$WORK/checks.txt" <<'EOF'
import collections, datetime, gzip, json, re, subprocess, sys
path, limit, jsonl, bin, lake = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
# Common Log Format: host ident user [time] "request" status bytes
clf = re.compile(rb'^(\S+) \S+ \S+ \[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\] "(.*)" (\d{3}) (\S+)$')
months = {m: i for i, m in enumerate(b"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
days = collections.Counter()
methods = collections.defaultdict(collections.Counter)
hosts = collections.defaultdict(collections.Counter)
parsed = 0
with gzip.open(path) as f:
    for i, line in enumerate(f):
        if i >= limit:
            break
        m = clf.match(line.rstrip(b"\n"))
        if not m:
            continue
        parsed += 1
        host, d, mon, y, hh, mm, ss, off, req = m.groups()[:9]
        local = datetime.datetime(int(y), months[mon], int(d), int(hh), int(mm), int(ss))
        sign = 1 if off[:1] == b"+" else -1
        utc = local - sign * datetime.timedelta(hours=int(off[1:3]), minutes=int(off[3:5]))
        minute = int(utc.replace(tzinfo=datetime.timezone.utc).timestamp()) // 60 * 60
        days[local.date().isoformat()] += 1
        method = req.split(b" ")[0].decode("latin-1") if req else "-"
        methods[minute][method] += 1
        hosts[minute][host.decode("latin-1")] += 1

def sql(q):
    out = subprocess.run([bin, "sql", "--data", lake, "-o", "csv", q],
                         capture_output=True, text=True, check=True).stdout
    return [l.split(",") for l in out.strip().splitlines()[1:]]

got_days = {d: int(n) for d, n in sql("SELECT day, count(*) FROM requests GROUP BY day")}
print("days", "ok" if got_days == dict(days) else f"{sorted(got_days.items())} vs {sorted(days.items())}")
print("rows", sum(got_days.values()), "parsed", parsed)

last = {}
for line in open(jsonl):
    w = json.loads(line)
    if w["revision"] >= last.get(w["window_start"], {"revision": -1})["revision"]:
        last[w["window_start"]] = w
bad_m, bad_h, bad_u = [], [], []
for start in sorted(set(methods) | set(last)):
    w = last.get(start)
    if w is None:
        bad_m.append(f"{start}: no window")
        continue
    if {r["key"]: r["count"] for r in w["methods"]} != dict(methods[start]):
        bad_m.append(f"{w['window_start_rfc3339']}: {w['methods']} vs {dict(methods[start])}")
    want = sorted(hosts[start].items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    if [(r["client"], r["requests"]) for r in w["top_clients"]] != want:
        bad_h.append(f"{w['window_start_rfc3339']}: {w['top_clients']} vs {want}")
    n = len(hosts[start])
    if abs(w["unique_clients"] - n) > max(2, 0.03 * n):
        bad_u.append(f"{w['window_start_rfc3339']}: {w['unique_clients']} vs {n}")
print("windows", len(last), "minutes", len(methods))
print("methods", "ok" if not bad_m else "; ".join(bad_m[:5]) + f" ({len(bad_m)} windows differ)")
print("top_hosts", "ok" if not bad_h else "; ".join(bad_h[:5]) + f" ({len(bad_h)} windows differ)")
print("unique_hosts", "ok" if not bad_u else "; ".join(bad_u[:5]) + f" ({len(bad_u)} windows differ)")
EOF
cat "$WORK/checks.txt"
field() { grep "^$1 " "$WORK/checks.txt" | cut -d' ' -f2-; }
check "rows by day = lines by day in the file" ok "$(field days)"
check "rows = lines that parse" "$(field rows | awk '{print $3}')" "$(field rows | awk '{print $1}')"
check "a window for every minute of the file" "$(field windows | awk '{print $3}')" "$(field windows | awk '{print $1}')"
check "methods per minute = the file's" ok "$(field methods)"
check "top 5 hosts per minute = the file's" ok "$(field top_hosts)"
check "unique hosts per minute = the file's (within 3%)" ok "$(field unique_hosts)"
finish
