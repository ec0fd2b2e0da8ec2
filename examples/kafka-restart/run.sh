#!/usr/bin/env bash
# Deployment 3: Kafka → streaming status counts and top clients → stored rows, console tables
# and checkpoints, with `run` killed (SIGKILL) mid-way and restarted, several times.
#
#   NASA log ──▶ ship ──▶ topic weblogs (3 partitions) ──▶ run (killed with -9, restarted)
#                                                          ├─▶ console: status and top clients per minute
#                                                          └─▶ lake: requests, windows (epoch state = Kafka offsets)
#
# The exactly-once rule: partition offsets are part of each epoch the lake commits, so a
# restarted run seeks to where the last committed epoch ended; what a killed run had read
# past that is read again and stored once.
# LIMIT (lines, default 200000) and KILLS (default 3) size the run.
source "$(dirname "$0")/../lib.sh"
NASA="${NASA:-$DATA/nasa-http-1995/NASA_access_log_Jul95.first200000.gz}"
LIMIT=${LIMIT:-200000}
KILLS=${KILLS:-3}

step "the first $LIMIT lines of $(basename "$NASA")"
# head closes the pipe early; gzip then dies of SIGPIPE, which is expected here.
(gzip -dc "$NASA" || true) | head -n "$LIMIT" >"$WORK/access.log"
LINES=$(wc -l <"$WORK/access.log")
echo "$LINES lines"

step "Kafka-protocol broker, and ship → topic weblogs (3 partitions)"
start_broker
hitstream ship --file "$WORK/access.log" --kafka "$BROKER" --topic weblogs --create-topic \
    --partitions 3 --checkpoint-dir "$WORK/ship" 2>"$WORK/ship.err"
tail -1 "$WORK/ship.err"

# Where `run` goes on after a restart comes from its checkpoint (the partition offsets in
# the epoch state), not from the group's committed offsets, so each restart may join a
# group of its own. That is what this example does, because the test broker, tansu 0.6, does
# not recover a group from a member killed with SIGKILL: it drops the dead member without
# making the others rejoin, and then keeps expelling the new member every session timeout, so
# a run restarted into the same group could hold part of the partitions, or none, for good.
# With a Kafka broker one group serves (the killed member's partitions come back after its
# session, 6 s here). After a restart the partitions can also be handed back one at a time,
# so one partition can run ahead of the others by as much as the whole log: this replay of
# history needs a lateness that covers its span (7d), or lines of windows already closed are
# counted late (the watermark is one per run, not one per partition).
starts=0
RUN=(run --kafka "$BROKER" --topic weblogs --kafka-stop-at-end
    --kafka-option session.timeout.ms=6000 --data "$WORK/lake" --window 60s --lateness 7d
    --top 5 --checkpoint-interval 500ms --emit console)

step "run, killed with SIGKILL $KILLS times, each time while it is storing rows"
stored() { hitstream sql --data "$WORK/lake" -o csv 'SELECT count(*) FROM requests' 2>/dev/null | tail -1 || true; }
# Kill number k comes once k/(KILLS+1) of the lines are stored, or after 5 to 12 looks at
# the lake (a few seconds) once anything is stored, whichever is first, then a random moment
# after that: the kills spread over the run, and come before its end even when the lake
# commits in large epochs.
kills=0
while [ "$kills" -lt "$KILLS" ]; do
    starts=$((starts + 1))
    hitstream "${RUN[@]}" --group "status-$starts" >>"$WORK/console.txt" 2>>"$WORK/run.err" &
    pid=$!
    mark=$((LINES * (kills + 1) / (KILLS + 1)))
    ticks=$(python3 -c "import random; print(random.randint(5, 12))")
    for t in $(seq 600); do
        now=$(stored)
        [ "${now:-0}" -ge "$mark" ] && break
        [ "$t" -ge "$ticks" ] && [ "${now:-0}" -gt 0 ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    sleep "$(python3 -c "import random; print(round(random.uniform(0.0, 0.3), 2))")"
    if ! kill -0 "$pid" 2>/dev/null; then
        break # it finished before this kill
    fi
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
    echo "kill -9 number $kills; rows stored so far: $(stored)"
done

step "run to the end of the topic"
starts=$((starts + 1))
hitstream "${RUN[@]}" --group "status-$starts" >>"$WORK/console.txt" 2>>"$WORK/run.err" || { tail -20 "$WORK/run.err"; exit 1; }
tail -1 "$WORK/run.err"
echo "the last windows printed:"
tail -30 "$WORK/console.txt"

step "status counts in the lake"
hitstream sql --data "$WORK/lake" "SELECT status, count(*) AS requests FROM requests GROUP BY status ORDER BY status"
hitstream analyze "$WORK/access.log" -o json >"$WORK/analyze.json"

step "checks (against analyze of the same file, and the file itself)"
q() { hitstream sql --data "$WORK/lake" -o csv "$1" | tail -n +2; }
PARSED=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["requests"])' "$WORK/analyze.json")
# A run can end before its kill when it is fast (a release build, a small LIMIT): two kills
# at least make the test.
check "run killed with SIGKILL while storing, at least twice" yes "$([ "$kills" -ge 2 ] && echo yes || echo "no: $kills of $KILLS")"
echo "(killed $kills times of $KILLS)"
check "rows = requests in the file (nothing lost)" "$PARSED" "$(q 'SELECT count(*) FROM requests')"
check "rows = the file's lines, one for one (client, time, status: nothing twice)" ok "$(python3 "$EXAMPLES/kafka-restart/same_rows.py" "$WORK/access.log" "$WORK/lake")"
check "status counts = analyze" "$(python3 -c '
import json, sys
st = sorted(json.load(open(sys.argv[1]))["status"], key=lambda s: s["status"])
print(" ".join("%s:%s" % (s["status"], s["count"]) for s in st))' "$WORK/analyze.json")" \
    "$(q 'SELECT status, count(*) FROM requests GROUP BY status ORDER BY status' | tr ',' ':' | tr '\n' ' ' | sed 's/ $//')"
check "window requests (highest revision of each) = requests" "$PARSED" \
    "$(q "SELECT sum(value) FROM (SELECT value, row_number() OVER (PARTITION BY window_start ORDER BY revision DESC) AS r FROM windows WHERE metric = 'requests') WHERE r = 1")"
finish
