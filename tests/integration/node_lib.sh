# Shared by tests/integration/test_node_*.sh (sourced, not run): start real samizdatd processes
# on loopback with free ports and temporary data folders, always stop them on exit, and the
# ok/bad/expect helpers. Every wait is bounded.
SAMIZDAT=${SAMIZDAT:?set SAMIZDAT to the samizdat binary}
SAMIZDATD=${SAMIZDATD:?set SAMIZDATD to the samizdatd binary}
SRC=${SZ_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
EXAMPLES=$SRC/schema/examples

work=$(mktemp -d "${TMPDIR:-/tmp}/sz-node.XXXXXX")
DAEMON_PIDS=()
cleanup() {
    local pid
    for pid in "${DAEMON_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${DAEMON_PIDS[@]}"; do
        # Bounded: a daemon that ignores SIGTERM for 10 s is killed.
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    [ -n "${KEEP_WORK:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$work" || exit 1
export XDG_CONFIG_HOME=$work/config
export HOME=$work/home
export SAMIZDAT_TIMEOUT_MS=10000
unset SAMIZDAT_KEY SAMIZDAT_NODE SAMIZDAT_NETWORK_KEY_FILE SAMIZDAT_PASSPHRASE_FILE

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "ok   - $1"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL - $1: $2"
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

run() {
    "$@" >out 2>err
    st=$?
}
expect_ok() {
    local name=$1
    shift
    run "$@"
    if [ "$st" -eq 0 ]; then ok "$name"; else bad "$name" "exit $st: $(head -c 400 err)"; fi
}
# expect_fail NAME PATTERN CMD...: non-zero exit, exactly one line on stderr matching PATTERN.
expect_fail() {
    local name=$1 pattern=$2
    shift 2
    run "$@"
    local lines
    lines=$(wc -l <err)
    if [ "$st" -eq 0 ]; then
        bad "$name" "succeeded but should have failed: $(head -c 300 out)"
    elif [ "$lines" -ne 1 ]; then
        bad "$name" "stderr has $lines lines, expected 1: $(head -c 600 err)"
    elif ! grep -Eq -- "$pattern" err; then
        bad "$name" "stderr does not match /$pattern/: $(cat err)"
    else
        ok "$name"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_daemon DIR [ARGS...]: starts samizdatd on a free loopback port with data folder DIR and
# waits (at most 30 s) until DIR/invite exists and the log says it listens. Sets DAEMON_PID and
# DAEMON_PORT; the log is DIR.log. Returns non-zero if the daemon did not come up.
start_daemon() {
    local dir=$1
    shift
    DAEMON_PORT=$(free_port)
    "$SAMIZDATD" --data "$dir" --listen "127.0.0.1:$DAEMON_PORT" "$@" >"$dir.log" 2>&1 &
    DAEMON_PID=$!
    DAEMON_PIDS+=("$DAEMON_PID")
    for _ in $(seq 300); do
        if [ -s "$dir/invite" ] && grep -q 'event=listen' "$dir.log"; then
            return 0
        fi
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "# samizdatd did not start; its log:" >&2
    sed 's/^/#   /' "$dir.log" >&2
    return 1
}

# daemon_alive PID: the process still runs.
daemon_alive() { kill -0 "$1" 2>/dev/null; }

# json_get FILE EXPR: prints a Python expression over the JSON document j in FILE.
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(v if not isinstance(v,(list,dict,bool)) else json.dumps(v))' "$1" "$2"
}
