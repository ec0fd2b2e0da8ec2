#!/usr/bin/env bash
# Deployment 4: Kafka → the full NASA analysis set → results stored as tables, with charts.
#
#   NASA log ──▶ ship ──▶ topic nasa (3 partitions) ──▶ run ──▶ lake: requests
#                                                                  │
#                         report range --tables --output html ◀────┘
#                         ├─▶ lake: analysis_content_size, analysis_status, analysis_hosts,
#                         │         analysis_endpoints, analysis_error_endpoints, analysis_daily,
#                         │         analysis_404_endpoints, analysis_404_hosts, ... (SQL)
#                         └─▶ report.html (the page of `analyze --output html`)
#
# The checks count the analysis set from the log here, with python (check.py), and compare it
# with the stored tables and with the numbers the HTML page shows; the tables are also
# compared with `analyze` of the same file.
# LIMIT (lines, default 200000) and TOP (default 10) size the run.
source "$(dirname "$0")/../lib.sh"
NASA="${NASA:-$DATA/nasa-http-1995/NASA_access_log_Jul95.first200000.gz}"
LIMIT=${LIMIT:-200000}
TOP=${TOP:-10}

step "the first $LIMIT lines of $(basename "$NASA")"
# head closes the pipe early; gzip then dies of SIGPIPE, which is expected here.
(gzip -dc "$NASA" || true) | head -n "$LIMIT" >"$WORK/access.log"
LINES=$(wc -l <"$WORK/access.log")
echo "$LINES lines"

step "Kafka-protocol broker, and ship → topic nasa (3 partitions)"
start_broker
hitstream ship --file "$WORK/access.log" --kafka "$BROKER" --topic nasa --create-topic \
    --partitions 3 --checkpoint-dir "$WORK/ship" 2>"$WORK/ship.err" || { cat "$WORK/ship.err"; exit 1; }
tail -1 "$WORK/ship.err"

# The three partitions are read side by side, so event time goes back and forth across them:
# the lateness covers the span of the replayed history (see examples 2 and 3). The rows are
# stored whatever the windows make of them; the report reads the rows.
step "run: the topic → the lake's requests table, to the end of the topic"
hitstream run --kafka "$BROKER" --topic nasa --group analysis --kafka-stop-at-end \
    --data "$WORK/lake" --lateness 7d --emit none 2>"$WORK/run.err" || { tail -20 "$WORK/run.err"; exit 1; }
tail -1 "$WORK/run.err"

step "report range --tables: the analysis set of every day in the lake, stored as tables"
hitstream report range --data "$WORK/lake" --top "$TOP" --tables --output html \
    --out "$WORK/report.html" 2>"$WORK/report.err" || { cat "$WORK/report.err"; exit 1; }
cat "$WORK/report.err"
REPORT=$(sed -n 's/^stored report `\([^`]*\)`.*/\1/p' "$WORK/report.err")
echo "the report's name (column report): $REPORT; the page: $WORK/report.html ($(wc -c <"$WORK/report.html") bytes)"
hitstream report range --data "$WORK/lake" --top "$TOP" --output json --out "$WORK/report.json"

sql() { hitstream sql --data "$WORK/lake" "$@"; }
step "the stored tables, with hitstream sql"
sql "SELECT report, requests, unique_hosts, not_found, days, first, last FROM analysis_reports"
sql "SELECT count, absent, min, max, round(mean, 2) AS mean, p50, p90, p99 FROM analysis_content_size WHERE report = '$REPORT'"
sql "SELECT status, count FROM analysis_status WHERE report = '$REPORT' ORDER BY status"
sql "SELECT rank, host, requests FROM analysis_hosts WHERE report = '$REPORT' ORDER BY rank LIMIT 5"
sql "SELECT rank, endpoint, requests FROM analysis_endpoints WHERE report = '$REPORT' ORDER BY rank LIMIT 5"
sql "SELECT rank, endpoint, errors FROM analysis_error_endpoints WHERE report = '$REPORT' ORDER BY rank LIMIT 5"
sql "SELECT day, requests, unique_hosts, round(avg_requests_per_host, 2) AS avg_requests_per_host, not_found FROM analysis_daily WHERE report = '$REPORT' ORDER BY day"
sql "SELECT rank, endpoint, count FROM analysis_404_endpoints WHERE report = '$REPORT' ORDER BY rank LIMIT 5"
sql "SELECT rank, host, count FROM analysis_404_hosts WHERE report = '$REPORT' ORDER BY rank LIMIT 5"

step "checks (expected numbers counted from the log here, with python)"
python3 "$EXAMPLES/nasa-analysis-kafka/check.py" "$WORK/access.log" "$HITSTREAM" "$WORK/lake" \
    "$REPORT" "$WORK/report.html" "$TOP" >"$WORK/checks.txt"
grep '\.value ' "$WORK/checks.txt" | sed 's/\.value / = /' | sed 's/^/  /'
field() { grep "^$1 " "$WORK/checks.txt" | cut -d' ' -f2-; }
check "rows = lines that parse" "$(field rows.value)" "$(sql -o csv 'SELECT count(*) FROM requests' | tail -1)"
check "content size min/avg/max = the file's" ok "$(field content_size)"
check "status distribution = the file's" ok "$(field status)"
check "top $TOP hosts = the file's" ok "$(field top_hosts)"
check "top $TOP endpoints = the file's" ok "$(field top_endpoints)"
check "top $TOP error endpoints = the file's" ok "$(field top_error_endpoints)"
check "unique hosts = the file's" ok "$(field unique_hosts)"
check "daily unique hosts = the file's" ok "$(field daily_hosts)"
check "average daily requests per host = the file's" ok "$(field avg_daily_requests)"
check "404s: count, top endpoints, top hosts = the file's" ok "$(field not_found)"
check "the HTML report shows these numbers" ok "$(field html)"

# The same tables against analyze of the same file: every section the lake can know (not the
# line outcomes: rejected lines have no day, and the lake's rows are the parsed ones).
hitstream analyze "$WORK/access.log" --top "$TOP" -q -o json >"$WORK/analyze.json" 2>"$WORK/analyze.err"
check "report and its tables = analyze of the same file" ok "$(python3 - "$WORK/analyze.json" "$WORK/report.json" "$HITSTREAM" "$WORK/lake" "$REPORT" <<'EOF'
import json, subprocess, sys
ana, rep = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bin, lake, name = sys.argv[3:6]
def sql(q):
    return json.loads(subprocess.run([bin, "sql", "--data", lake, "-o", "json", q % name],
                                     capture_output=True, text=True, check=True).stdout)
bad = [k for k in ("content_size", "status", "status_classes", "methods", "unique_hosts",
                   "top_hosts", "top_endpoints", "top_error_endpoints", "top_non_200_endpoints", "daily", "hourly",
                   "not_found") if ana[k] != rep[k]]
stored = json.loads(sql("SELECT analysis FROM analysis_reports WHERE report = '%s'")[0]["analysis"])
bad += ["stored " + k for k in ("content_size", "status", "top_hosts", "daily", "not_found") if ana[k] != stored[k]]
def same(q, want):
    got = sql(q)
    return len(got) == len(want) and all(
        all(abs(g[k] - w[k]) < 1e-9 if isinstance(w[k], float) else g[k] == w[k] for k in w)
        for g, w in zip(got, want))
for table, q, want in (
    ("analysis_content_size", "SELECT * FROM analysis_content_size WHERE report = '%s'", [ana["content_size"]]),
    ("analysis_status", "SELECT status, count FROM analysis_status WHERE report = '%s' ORDER BY status", ana["status"]),
    ("analysis_hosts", "SELECT host, requests, bytes FROM analysis_hosts WHERE report = '%s' ORDER BY rank", ana["top_hosts"]),
    ("analysis_endpoints", "SELECT endpoint, requests, bytes FROM analysis_endpoints WHERE report = '%s' ORDER BY rank", ana["top_endpoints"]),
    ("analysis_error_endpoints", "SELECT endpoint, errors FROM analysis_error_endpoints WHERE report = '%s' ORDER BY rank", ana["top_error_endpoints"]),
    ("analysis_non_200_endpoints", "SELECT endpoint, non_200 FROM analysis_non_200_endpoints WHERE report = '%s' ORDER BY rank", ana["top_non_200_endpoints"]),
    ("analysis_daily", "SELECT * FROM analysis_daily WHERE report = '%s' ORDER BY day", ana["daily"]),
    ("analysis_hourly", "SELECT * FROM analysis_hourly WHERE report = '%s' ORDER BY hour", ana["hourly"]),
    ("analysis_404_endpoints", "SELECT endpoint AS name, count FROM analysis_404_endpoints WHERE report = '%s' ORDER BY rank", ana["not_found"]["top_endpoints"]),
    ("analysis_404_hosts", "SELECT host AS name, count FROM analysis_404_hosts WHERE report = '%s' ORDER BY rank", ana["not_found"]["top_hosts"]),
):
    if not same(q, want):
        bad.append(table)
print("ok" if not bad else "differ: " + ", ".join(bad))
EOF
)"
finish
