# Shared by the example deployments: the binary, free loopback ports, a Kafka-protocol broker
# and nginx servers started for the example and stopped when it ends, and the checks.
# Sourced by each example's run.sh; not run on its own.

set -euo pipefail

EXAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$EXAMPLES/.." && pwd)"
DATA="${HITSTREAM_DATA:-$REPO/../shared/data}"

# The binary: $HITSTREAM, or the release build (built when missing).
if [ -z "${HITSTREAM:-}" ]; then
    HITSTREAM="${CARGO_TARGET_DIR:-$REPO/target}/release/hitstream"
    if [ ! -x "$HITSTREAM" ]; then
        echo "== building hitstream (cargo build --release)"
        (cd "$REPO" && cargo build --release --quiet)
    fi
fi

# Everything an example makes goes under $WORK (kept with KEEP=1, or given as $WORK).
if [ -z "${WORK:-}" ]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/hitstream-example.XXXXXX")"
    [ "${KEEP:-0}" = 1 ] || CLEAN_WORK=1
fi
mkdir -p "$WORK/bin"
# `hitstream` as a command (not a shell function), so `hitstream ... &` gives the process's
# own PID to signal.
ln -sf "$(cd "$(dirname "$HITSTREAM")" && pwd)/$(basename "$HITSTREAM")" "$WORK/bin/hitstream"
export PATH="$WORK/bin:$PATH"
PIDS=()
cleanup() {
    local status=$? pid
    [ "$status" = 0 ] || FAILED=1
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${CLEAN_WORK:-0}" = 1 ] && [ "${FAILED:-0}" = 0 ]; then
        rm -rf "$WORK"
    else
        echo "(files kept in $WORK)"
    fi
}
trap cleanup EXIT

step() { echo; echo "== $*"; }

FAILED=0
# check NAME EXPECTED GOT: prints PASS or FAIL; the example exits non-zero at the end if any
# check failed.
check() {
    if [ "$2" = "$3" ]; then
        echo "PASS $1: $3"
    else
        echo "FAIL $1: expected $2, got $3"
        FAILED=1
    fi
}
finish() {
    if [ "$FAILED" = 0 ]; then
        echo; echo "all checks passed"
    else
        echo; echo "some checks FAILED" >&2
        exit 1
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 what=$2
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: $what did not listen on 127.0.0.1:$port" >&2
    exit 1
}

# start_broker: a tansu broker (memory storage) on a free port; sets BROKER=127.0.0.1:PORT.
# Restartable with restart_broker (messages kept in memory are lost with the process: the
# examples that restart it say so).
TANSU="${HITSTREAM_TANSU:-$(command -v tansu || echo "$HOME/.cargo/bin/tansu")}"
start_broker() {
    if [ ! -x "$TANSU" ]; then
        echo "error: the Kafka-protocol broker is not installed: cargo install tansu --version 0.6.0 --locked --features dynostore,libsql" >&2
        exit 1
    fi
    BROKER_PORT=${BROKER_PORT:-$(free_port)}
    BROKER="127.0.0.1:$BROKER_PORT"
    "$TANSU" broker --listener-url "tcp://$BROKER" --advertised-listener-url "tcp://$BROKER" \
        --storage-engine memory://tansu/ >>"$WORK/broker.log" 2>&1 &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    wait_port "$BROKER_PORT" "the broker"
}

NGINX="${HITSTREAM_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
# start_nginx NAME TEMPLATE KEY=VALUE...: nginx with its own prefix $WORK/NAME, from a config
# template whose @KEY@ are replaced; in the foreground of a background job, so it stops with
# the example.
start_nginx() {
    local name=$1 template=$2 prefix="$WORK/$1"
    shift 2
    mkdir -p "$prefix/logs" "$prefix/tmp"
    local sed_args=(-e "s|@PREFIX@|$prefix|g")
    local kv
    for kv in "$@"; do
        sed_args+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
    done
    sed "${sed_args[@]}" "$template" >"$prefix/nginx.conf"
    "$NGINX" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/logs/error.log" -g 'daemon off;' \
        >>"$prefix/logs/stderr.log" 2>&1 &
    PIDS+=("$!")
}

# stop_ship_when_delivered PID ERRFILE LINES: waits until `ship --progress` (PID, its stderr
# in ERRFILE) says LINES are delivered (a minute at most), then stops it with SIGTERM.
stop_ship_when_delivered() {
    local pid=$1 err=$2 lines=$3 delivered
    for _ in $(seq 600); do
        delivered=$(grep -Eo '[0-9]+ delivered' "$err" | tail -1 | cut -d' ' -f1)
        [ "${delivered:-0}" -ge "$lines" ] && break
        sleep 0.1
    done
    kill -TERM "$pid"
    wait "$pid" || true
    tail -1 "$err"
}
