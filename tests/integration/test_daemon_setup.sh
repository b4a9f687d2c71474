#!/usr/bin/env bash
# samizdatd's setup: first start creates every file with the right modes, later starts reuse the
# keys, --join takes an archive's network key and records its first peer, bad input fails with
# one clear line, the node listens on loopback by default, and SIGTERM shuts it down gracefully.
# Real daemons on 127.0.0.1 only; every wait is bounded.
SAMIZDATD=${SAMIZDATD:?set SAMIZDATD to the samizdatd binary}
SAMIZDAT=${SAMIZDAT:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/sz-setup.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$work" || exit 1
export HOME=$work/home XDG_CONFIG_HOME=$work/config SAMIZDAT_TIMEOUT_MS=10000
unset SAMIZDAT_KEY SAMIZDAT_NODE SAMIZDAT_NETWORK_KEY_FILE SAMIZDAT_PASSPHRASE_FILE

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
bad() { failed=$((failed + 1)); echo "FAIL - $1: $2"; }
check() { # check NAME CONDITION-COMMAND...
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name" "failed: $*"; fi
}
run() { "$@" >out 2>err; st=$?; }
# expect_fail NAME STATUS PATTERN CMD...: exits with STATUS, exactly one stderr line matching.
expect_fail() {
    local name=$1 want=$2 pattern=$3
    shift 3
    run "$@"
    local lines
    lines=$(wc -l <err)
    if [ "$st" -ne "$want" ]; then
        bad "$name" "exit $st, expected $want: $(head -c 400 err)"
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
mode() { stat -c %a "$1"; }
# start DIR LOG [ARGS...]: starts samizdatd in the background; waits for event=listen (30 s).
start() {
    local dir=$1 log=$2
    shift 2
    "$SAMIZDATD" --data "$dir" "$@" >"$log.out" 2>"$log" &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq 300); do
        grep -q 'event=listen' "$log" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# stop PID: SIGTERM, wait at most 10 s; sets STOP_STATUS (124 if it did not exit).
stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        STOP_STATUS=124
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
    else
        wait "$pid"
        STOP_STATUS=$?
    fi
}
keytext() { sed -n 2p "$1"; } # the key line of a .pub file

# ---- command line ----
run "$SAMIZDATD" --help
check "--help exits 0 and shows the usage" test "$st" -eq 0 -a -n "$(grep -- '--data DIR' out)"
run "$SAMIZDATD" --version
check "--version prints the version" grep -Eq '^samizdatd [0-9]+\.[0-9]+\.[0-9]+$' out
run "$SAMIZDATD"
check "no arguments: usage on stderr, exit 2" test "$st" -eq 2 -a -s err
expect_fail "unknown option" 2 "unknown option '--frobnicate'" "$SAMIZDATD" --data d --frobnicate
expect_fail "--data is required" 2 "--data DIR is required" "$SAMIZDATD" --listen 127.0.0.1:1
expect_fail "option without its value" 2 "--listen needs a value" "$SAMIZDATD" --data d --listen
expect_fail "bad --admin key" 2 "--admin nonsense is not a public key" \
    "$SAMIZDATD" --data d --admin nonsense
expect_fail "bad --listen" 2 "--listen: listen = 127.0.0.1:99999 is not HOST:PORT.*port" \
    "$SAMIZDATD" --data d --listen 127.0.0.1:99999
# Regression: reading --admin from a .pub file used sodium_malloc before sodium_init (SIGABRT).
printf 'untrusted comment: samizdat public key\n%s=\n' "$(printf 'A%.0s' $(seq 43))" >adm.pub
expect_fail "--admin FILE.pub is read before a later bad option" 2 "--listen" \
    "$SAMIZDATD" --data d --admin adm.pub --listen 127.0.0.1:99999
expect_fail "a DNS name to listen on" 1 "listen = localhost:7000: the listen address must be numeric" \
    "$SAMIZDATD" --data d --listen localhost:7000
expect_fail "--compact on a folder with no archive" 1 "d holds no archive" "$SAMIZDATD" --compact d
check "no folder was made by refused command lines" test ! -e d

# ---- first start ----
P1=$(free_port)
if start n1 n1.log --listen "127.0.0.1:$P1"; then ok "first start listens"; else
    bad "first start listens" "$(cat n1.log)"
fi
N1=$PID
check "data folder is 0700" test "$(mode n1)" = 700
for f in node.key network.key samizdatd.conf invite admin.key; do
    check "$f exists with mode 600" test -f "n1/$f" -a "$(mode "n1/$f")" = 600
done
for f in node.key.pub admin.key.pub; do
    check "$f exists with mode 644" test -f "n1/$f" -a "$(mode "n1/$f")" = 644
done
check "no peers file without --join" test ! -e n1/peers
check "node.key is an unprotected samizdat key file" \
    grep -q '^untrusted comment: samizdat secret key' n1/node.key
check "network.key is 44 characters of base64" \
    grep -Eqx '[A-Za-z0-9+/]{43}=' n1/network.key
INV1=$(cat n1/invite)
NK1=$(keytext n1/node.key.pub)
NET1=$(cat n1/network.key)
check "invite is one line: sz1,127.0.0.1:PORT,NODEKEY,NETKEY" \
    test "$INV1" = "sz1,127.0.0.1:$P1,$NK1,$NET1" -a "$(wc -l <n1/invite)" -eq 1
check "log lines are all key=value with ts, level and event" \
    bash -c "! grep -Ev '^ts=[0-9-]{10}T[0-9:.]{12}Z level=(error|warn|info|debug) event=[a-z_]+( [a-z_]+=([^ \"]+|\"([^\"\\\\]|\\\\.)*\"))*$' n1.log"
check "startup lines: start, invite path, admin key, policy" \
    bash -c "grep -q 'event=start .*node_key=$NK1 first_start=yes' n1.log &&
             grep -q 'event=invite path=n1/invite' n1.log &&
             grep -q 'event=admin_key path=n1/admin.key key=$(keytext n1/admin.key.pub)' n1.log &&
             grep -q 'event=policy submission=open admins=1' n1.log"
check "no secret in the log" bash -c "! grep -qF -- '$NET1' n1.log && ! grep -q 'sz1,' n1.log"
if command -v ss >/dev/null; then
    check "listens on 127.0.0.1:$P1 (ss)" bash -c "ss -ltn | grep -q ' 127.0.0.1:$P1 '"
fi
check "accepts a TCP connection on loopback" python3 -c "
import socket; s=socket.create_connection(('127.0.0.1',$P1),5); s.close()"

# The admin key written on first start works with the real client.
if [ -n "$SAMIZDAT" ] && [ -x "$SAMIZDAT" ]; then
    run "$SAMIZDAT" --node "$INV1" --key n1/admin.key --json status
    if [ "$st" -eq 0 ] && grep -qF "$NK1" out; then ok "client status with DIR/admin.key and the invite"
    else bad "client status with DIR/admin.key and the invite" "exit $st: $(head -c 300 err)"; fi
fi

# A second daemon on the same port fails and says why in its last line.
"$SAMIZDATD" --data n1b --listen "127.0.0.1:$P1" >/dev/null 2>n1b.log
st=$?
check "port in use: exit 1 with a clear last line" \
    bash -c "[ $st -eq 1 ] && tail -n 1 n1b.log | grep -q '^samizdatd: cannot serve on 127.0.0.1:$P1: .*in use'"

expect_fail "a second daemon on the same folder is refused" 1 \
    "another samizdatd is already running with the data folder n1" \
    "$SAMIZDATD" --data n1 --listen "127.0.0.1:$(free_port)"
stop "$N1"
check "SIGTERM: exit 0" test "$STOP_STATUS" -eq 0
check "SIGTERM: graceful shutdown logged" grep -q 'graceful shutdown' n1.log

# ---- later start: same keys ----
cp n1/admin.key admin.key.before
P1B=$(free_port)
if start n1 n1-2.log --listen "127.0.0.1:$P1B"; then ok "second start"; else
    bad "second start" "$(cat n1-2.log)"
fi
N1=$PID
check "second start reuses the node key" grep -q "node_key=$NK1 first_start=no" n1-2.log
check "second start keeps the network key" test -n "$NET1" -a "$(cat n1/network.key)" = "$NET1"
check "second start keeps the admin key" cmp -s admin.key.before n1/admin.key
check "invite follows the new port, same keys" \
    test "$(cat n1/invite)" = "sz1,127.0.0.1:$P1B,$NK1,$NET1"
check "invite keeps mode 600 when rewritten" test "$(mode n1/invite)" = 600
INV1=$(cat n1/invite)
stop "$N1"
check "second stop: exit 0" test "$STOP_STATUS" -eq 0

# ---- the default config parses back, and config errors ----
check "default config names every key, bounds and defaults" \
    bash -c "grep -q '^listen = 127.0.0.1:7433$' n1/samizdatd.conf &&
             grep -q '^max_connections = 1024$' n1/samizdatd.conf &&
             grep -q 'integer from 1 to 1000000; default: 1024' n1/samizdatd.conf &&
             grep -q '^#admin = KEY$' n1/samizdatd.conf"
cp n1/samizdatd.conf bad.conf
echo "max_conections = 5" >>bad.conf
L=$(wc -l <bad.conf)
expect_fail "unknown config key: one line with file, line and key" 1 \
    "^samizdatd: bad.conf:$L: unknown key 'max_conections'" \
    "$SAMIZDATD" --data n1 --config bad.conf
cp n1/samizdatd.conf bounds.conf
sed -i 's/^max_connections = 1024$/max_connections = 0/' bounds.conf
expect_fail "out-of-bounds value names the bound" 1 \
    "bounds.conf:[0-9]+: max_connections = 0 is below the minimum 1" \
    "$SAMIZDATD" --data n1 --config bounds.conf
printf 'listen = 127.0.0.1:1\nlisten = 127.0.0.1:2\n' >dup.conf
expect_fail "a scalar key given twice" 1 "dup.conf:2: listen is set twice" \
    "$SAMIZDATD" --data n1 --config dup.conf
expect_fail "missing --config file" 1 "cannot read config nope.conf" \
    "$SAMIZDATD" --data n1 --config nope.conf

# ---- --join ----
expect_fail "--join with a bad invite: one clear line" 1 \
    "^samizdatd: --join: the invite is not valid: .*port" \
    "$SAMIZDATD" --data n2 --join "sz1,127.0.0.1:0,$NK1,$NET1"
expect_fail "--join with garbage" 1 "^samizdatd: --join: the invite is not valid: not an invite" \
    "$SAMIZDATD" --data n2 --join "hello"
check "a refused --join creates nothing" test ! -e n2
ADMIN2=$(keytext n1/admin.key.pub)
P2=$(free_port)
if start n2 n2.log --listen "127.0.0.1:$P2" --join n1/invite --admin "$ADMIN2"; then
    ok "--join (invite file) starts"
else bad "--join (invite file) starts" "$(cat n2.log)"; fi
N2=$PID
check "--join takes the network key" test -n "$NET1" -a "$(cat n2/network.key)" = "$NET1"
check "--join records the inviting node as first peer (0600)" \
    test "$(cat n2/peers)" = "$INV1" -a "$(mode n2/peers)" = 600
check "--admin given: no admin.key written" test -f n2/node.key -a ! -e n2/admin.key
check "joined node has its own node key" test -n "$(keytext n2/node.key.pub)" -a "$(keytext n2/node.key.pub)" != "$NK1"
check "joined node's invite names the same archive" grep -q ",$NET1\$" n2/invite
stop "$N2"
check "joined node stops cleanly" test "$STOP_STATUS" -eq 0
# Joining again with the same invite is harmless; another archive's invite is refused.
P2B=$(free_port)
if start n2 n2-2.log --listen "127.0.0.1:$P2B" --join "$INV1" --admin "$ADMIN2"; then
    ok "repeating --join with the same archive is accepted"
else bad "repeating --join with the same archive is accepted" "$(cat n2-2.log)"; fi
check "an invite given as text is wiped from the command line (/proc/PID/cmdline)" \
    bash -c "[ -r /proc/$PID/cmdline ] && ! tr '\\0' ' ' </proc/$PID/cmdline | grep -qF -- '$NET1'"
stop "$PID"
check "peers are not duplicated" test "$(wc -l <n2/peers)" -eq 1
OTHER=$(python3 -c 'import base64,os; print(base64.b64encode(os.urandom(32)).decode())')
expect_fail "--join of another archive into an existing node" 1 \
    "already a node of another archive" \
    "$SAMIZDATD" --data n2 --join "sz1,127.0.0.1:9,$NK1,$OTHER"
expect_fail "--join with the node's own invite" 1 "this node's own" \
    "$SAMIZDATD" --data n1 --join "$INV1"

# ---- damaged or exposed files ----
chmod 644 n1/node.key
expect_fail "node.key readable by others is refused" 1 "n1/node.key is readable .*chmod 600" \
    "$SAMIZDATD" --data n1
chmod 600 n1/node.key
cp n1/network.key net.bak
echo "garbage" >n1/network.key
chmod 600 n1/network.key
expect_fail "damaged network.key is refused" 1 "n1/network.key is damaged" \
    "$SAMIZDATD" --data n1
rm n1/network.key
expect_fail "missing network.key on an existing node is refused" 1 \
    "n1/network.key is missing although node.key exists" "$SAMIZDATD" --data n1
cp net.bak n1/network.key
chmod 600 n1/network.key
cp n2/node.key.pub n1/node.key.pub
expect_fail "node.key.pub not matching node.key is refused" 1 \
    "n1/node.key.pub does not hold the public half" "$SAMIZDATD" --data n1

# ---- loopback by default ----
# Without --listen and without a config, the node binds 127.0.0.1:7433. Another test may hold
# that port; then the error must still name 127.0.0.1:7433.
"$SAMIZDATD" --data n3 >n3.out 2>n3.log &
PID=$!
PIDS+=("$PID")
for _ in $(seq 300); do
    grep -Eq 'event=listen|cannot serve' n3.log && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if grep -q 'event=listen host=127.0.0.1 port=7433' n3.log; then
    ok "default listen address is 127.0.0.1:7433"
    check "default invite names 127.0.0.1:7433" grep -q '^sz1,127.0.0.1:7433,' n3/invite
    stop "$PID"
    check "default node stops cleanly" test "$STOP_STATUS" -eq 0
elif grep -q 'cannot serve on 127.0.0.1:7433' n3.log; then
    ok "default listen address is 127.0.0.1:7433 (port busy here)"
else
    bad "default listen address is 127.0.0.1:7433" "$(cat n3.log)"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
