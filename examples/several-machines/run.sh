#!/usr/bin/env bash
# Beyond one machine, simulated on loopback: a shipper on each of three web servers, one
# Kafka broker, two `run` processes in one consumer group, and the lake in an S3 bucket.
#
#   web1.log ─▶ ship ─┐                                   ┌─▶ run (member 1) ─┐
#   web2.log ─▶ ship ─┼─▶ topic weblogs (3 partitions) ───┤                   ├─▶ s3://BUCKET/lake
#   web3.log ─▶ ship ─┘                                   └─▶ run (member 2) ─┘
#
# The two members share the partitions and one lake: each stores the rows of the partitions
# it holds, with their positions, in the same Delta commit; `windows_merged` and `report
# daily` give the group's answer. The checks compare it with one process over the same lines
# (a local lake), and the rows with the logs themselves.
# LIMIT (lines of the NASA log, split across the three servers; default 150000).
# The S3 server: $HITSTREAM_S3_ENDPOINT (scripts/test starts one), or moto_server from
# scripts/test's virtualenv, started here.
source "$(dirname "$0")/../lib.sh"
NASA="${NASA:-$DATA/nasa-http-1995/NASA_access_log_Jul95.first200000.gz}"
LIMIT=${LIMIT:-150000}
VENV="${HITSTREAM_VENV:-$HOME/.cache/hitstream-venv}"
PY="${HITSTREAM_PYTHON:-$VENV/bin/python3}"

step "three web servers' logs: the first $LIMIT lines of $(basename "$NASA"), dealt out in turn"
(gzip -dc "$NASA" || true) | head -n "$LIMIT" >"$WORK/all.log"
awk -v dir="$WORK" '{ print > (dir "/web" (NR % 3 + 1) ".log") }' "$WORK/all.log"
LINES=$(wc -l <"$WORK/all.log")
wc -l "$WORK"/web?.log

step "the S3 bucket"
if [ -z "${HITSTREAM_S3_ENDPOINT:-}" ]; then
    [ -x "$VENV/bin/moto_server" ] || { echo "error: no S3 server: set HITSTREAM_S3_ENDPOINT or run scripts/test once (it installs moto)" >&2; exit 1; }
    S3_PORT=$(free_port)
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$WORK/s3.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$S3_PORT" "the S3 server"
    HITSTREAM_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
fi
export AWS_ENDPOINT_URL="$HITSTREAM_S3_ENDPOINT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true
BUCKET="hitstream-group-$$"
"$PY" -c "import boto3; boto3.client('s3', endpoint_url='$HITSTREAM_S3_ENDPOINT').create_bucket(Bucket='$BUCKET')"
LAKE="s3://$BUCKET/lake"
echo "$LAKE at $HITSTREAM_S3_ENDPOINT"

step "broker, and a shipper per web server → topic weblogs (3 partitions)"
start_broker
hitstream ship --file /dev/null --kafka "$BROKER" --topic weblogs --create-topic --partitions 3 \
    --checkpoint-dir "$WORK/create" 2>/dev/null
ship_pids=()
for i in 1 2 3; do
    hitstream ship --file "$WORK/web$i.log" --kafka "$BROKER" --topic weblogs \
        --checkpoint-dir "$WORK/ship$i" 2>"$WORK/ship$i.err" &
    ship_pids+=("$!")
done

step "two run processes in consumer group analytics, one lake in S3"
# Each member has its own checkpoint directory (on its own machine); the lake is shared.
for m in 1 2; do
    hitstream run --kafka "$BROKER" --topic weblogs --group analytics --format common \
        --kafka-option session.timeout.ms=6000 --window 60s --lateness 7d --top 5 \
        --checkpoint-interval 1s --emit none --no-alerts \
        --data "$LAKE" --checkpoint-dir "$WORK/member$m" >"$WORK/member$m.log" 2>&1 &
    PIDS+=("$!")
    eval "MEMBER$m=$!"
done
for p in "${ship_pids[@]}"; do wait "$p"; done
for i in 1 2 3; do tail -1 "$WORK/ship$i.err"; done
stored() { hitstream sql --data "$LAKE" -o csv 'SELECT count(*) FROM requests' 2>/dev/null | tail -1 || true; }
for _ in $(seq 900); do
    [ "$(stored)" = "$LINES" ] && break
    sleep 0.5
done
# Rows stored twice would come after the last ones: give them time to.
sleep 3
kill -TERM "$MEMBER1" "$MEMBER2"
wait "$MEMBER1" "$MEMBER2" || { tail -20 "$WORK"/member?.log; exit 1; }
for m in 1 2; do tail -1 "$WORK/member$m.log"; done

step "one process over the same lines, for comparison (a local lake)"
hitstream run --file "$WORK/all.log" --format common --window 60s --lateness 7d --top 5 \
    --emit none --no-alerts --data "$WORK/single" 2>"$WORK/single.err"
tail -1 "$WORK/single.err"

step "checks"
q() { hitstream sql --data "$1" -o csv "$2" | tail -n +2; }
check "rows in the S3 lake = the web servers' lines" "$LINES" "$(q "$LAKE" 'SELECT count(*) FROM requests')"
check "rows = the logs' lines one for one (client, time, status: none lost, none twice)" ok \
    "$(python3 "$EXAMPLES/kafka-restart/same_rows.py" "$WORK/all.log" "$LAKE")"
# Which member gets which partitions is the broker's choice (tansu 0.6 now and then gives one
# member all of them), so how the lines were shared is shown, not checked.
for m in 1 2; do
    echo "member $m read $(grep -ao '"lines":[0-9]*' "$WORK/member$m/checkpoint.bin" | head -1 | cut -d: -f2) lines"
done
WQ="SELECT CAST(window_start AS BIGINT) AS s, metric, coalesce(key, '') AS key, value FROM %s WHERE metric IN ('requests', 'bytes', 'not_found', 'status', 'method', 'top_page', 'top_client') ORDER BY s, metric, key, value"
merged=$(q "$LAKE" "$(printf "$WQ" windows_merged)" | md5sum | cut -c1-32)
single=$(q "$WORK/single" "$(printf "$WQ" "(SELECT w.* FROM windows w JOIN (SELECT window_start AS ws, max(revision) AS r FROM windows GROUP BY window_start) m ON w.window_start = m.ws AND w.revision = m.r)")" | md5sum | cut -c1-32)
check "the group's merged windows = one process's windows (requests, bytes, 404s, statuses, methods, top 5 pages and clients per minute)" "$single" "$merged"
check "windows in the merged view = minutes in the logs" \
    "$(cut -d'[' -f2 "$WORK/all.log" | cut -c1-17 | sort -u | wc -l | tr -d ' ')" \
    "$(q "$LAKE" "SELECT count(DISTINCT window_start) FROM windows_merged")"
report() { hitstream report daily --date 1995-07-01 --no-save -o json --data "$1" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); r["report"].pop("meta"); print(json.dumps(r, sort_keys=True))' | md5sum | cut -c1-32; }
check "the daily report of the group's lake = one process's" "$(report "$WORK/single")" "$(report "$LAKE")"
finish
