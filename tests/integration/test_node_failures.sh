#!/usr/bin/env bash
# The failure cases of a networked client against real samizdatd processes: a wrong network key,
# a pinned node key that does not match, an unknown contributor under an allow-list, a replayed
# handshake and tampered frames. Each must fail cleanly (one line, non-zero exit) and the daemon
# must survive and keep serving others.
set -u
# shellcheck source=node_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"
PROXY=$SRC/tests/integration/wire_proxy.py

if ! start_daemon "$work/n1"; then
    bad "samizdatd starts" "see the log above"
    finish
fi
N1_PID=$DAEMON_PID
N1_PORT=$DAEMON_PORT
invite=$(cat n1/invite)
export SAMIZDAT_NODE=$invite
nodekey=$(cut -d, -f3 n1/invite)
"$SAMIZDAT" keygen -o alice.key --no-passphrase >/dev/null 2>&1
"$SAMIZDAT" keygen -o bob.key --no-passphrase >/dev/null 2>&1
alice=$(sed -n 2p alice.key.pub)
bob=$(sed -n 2p bob.key.pub)
T=$EXAMPLES/testimony-minimal.json

# logged NAME PATTERN LOG: the daemon's log says why it closed or refused.
logged() {
    grep -Eq -- "$2" "$3" && ok "$1: the daemon logs why" || bad "$1: logged" "no /$2/ in $3"
}

# still_serving NAME: the first daemon is alive and answers another client.
still_serving() {
    if ! daemon_alive "$N1_PID"; then
        bad "$1: the daemon survives" "it exited"
        return
    fi
    run "$SAMIZDAT" --node "$invite" status
    if [ "$st" -eq 0 ]; then ok "$1: the daemon survives and serves others"; else bad "$1: daemon serves others" "$(cat err)"; fi
}

echo "# wrong network key"
otherkey=$(head -c 32 /dev/urandom | base64)
expect_fail "an invite with another network key" "wrong network key" \
    "$SAMIZDAT" --node "sz1,127.0.0.1:$N1_PORT,$nodekey,$otherkey" status
expect_fail "submit with another network key" "wrong network key" \
    "$SAMIZDAT" --key alice.key --node "sz1,127.0.0.1:$N1_PORT,$nodekey,$otherkey" submit testimony "$T"
echo "$otherkey" >other.netkey
SAMIZDAT_NETWORK_KEY_FILE=$work/other.netkey expect_fail "HOST:PORT with another network key file" \
    "wrong network key" "$SAMIZDAT" --node "127.0.0.1:$N1_PORT" status
still_serving "wrong network key"
logged "wrong network key" "event=conn_close .*reason=handshake_msg3 err=HANDSHAKE" n1.log

echo "# pinned node key that does not match"
netkey=$(cut -d, -f4 n1/invite)
expect_fail "an invite naming another node key" \
    "node key mismatch: expected .*, got .* \(wrong invite, or someone is intercepting\)" \
    "$SAMIZDAT" --node "sz1,127.0.0.1:$N1_PORT,$bob,$netkey" status
grep -Fq "node key mismatch: expected $bob, got $nodekey (wrong invite" err &&
    ok "the mismatch names both keys" || bad "the mismatch names both keys" "$(cat err)"
expect_fail "submit to a mismatching node key sends nothing" "node key mismatch" \
    "$SAMIZDAT" --key alice.key --node "sz1,127.0.0.1:$N1_PORT,$bob,$netkey" submit testimony "$T"
run "$SAMIZDAT" --json status
[ "$(json_get out 'j["records"]')" = 0 ] && ok "nothing was submitted" || bad "nothing submitted" "$(cat out)"
still_serving "node key mismatch"

echo "# malformed --node"
expect_fail "an invite of a newer format" "." "$SAMIZDAT" --node "sz9,127.0.0.1:$N1_PORT,$nodekey,$netkey" status
expect_fail "a damaged invite" "." "$SAMIZDAT" --node "sz1,127.0.0.1:$N1_PORT,$nodekey" status
expect_fail "not HOST:PORT" "HOST:PORT" "$SAMIZDAT" --node "nonsense" status
expect_fail "nobody listening" "cannot connect" "$SAMIZDAT" --node "sz1,127.0.0.1:1,$nodekey,$netkey" status

echo "# allow-list"
printf 'submission = allowlist\ncontributor = %s\n' "$alice" >allow.conf
if start_daemon "$work/n2" --config "$work/allow.conf"; then
    ok "a node with submission = allowlist starts"
    inv2=$(cat n2/invite)
    expect_fail "an unknown contributor is refused" "refused by the node's policy" \
        "$SAMIZDAT" --node "$inv2" --key bob.key submit testimony "$T"
    expect_ok "a listed contributor may submit" "$SAMIZDAT" --node "$inv2" --key alice.key submit testimony "$T"
    aid=$(cat out)
    expect_ok "anyone may read" "$SAMIZDAT" --node "$inv2" get "$aid"
    expect_fail "bob may not amend alice's record" "refused|policy|denied|not permitted" \
        "$SAMIZDAT" --node "$inv2" --key bob.key amend "$aid" "$T"
    logged "unknown contributor" "event=submit_denied .*key=${bob//+/\\+} .*allow-list" n2.log
    daemon_alive "$DAEMON_PID" && ok "the allow-list node survives" || bad "allow-list node alive" "exited"
else
    bad "a node with submission = allowlist starts" "see the log above"
fi

echo "# replayed handshake"
rm -f pport
python3 "$PROXY" record pport "$N1_PORT" capture.bin &
ppid=$!
for _ in $(seq 100); do [ -s pport ] && break; sleep 0.1; done
expect_ok "a client through a recording proxy" "$SAMIZDAT" --node "sz1,127.0.0.1:$(cat pport),$nodekey,$netkey" status
wait "$ppid"
[ -s capture.bin ] && ok "captured the client's bytes" || bad "capture" "empty"
run timeout 30 python3 "$PROXY" replay "$N1_PORT" capture.bin
if [ "$st" -eq 0 ]; then ok "a replayed session is closed by the node after message 2 ($(cat out))"; else bad "replay" "$(cat out) $(cat err)"; fi
still_serving "replayed handshake"

echo "# tampered frames"
tamper() { # NAME FRAME PATTERN
    rm -f pport
    python3 "$PROXY" tamper pport "$N1_PORT" "$2" &
    local ppid=$!
    for _ in $(seq 100); do [ -s pport ] && break; sleep 0.1; done
    expect_fail "$1" "$3" "$SAMIZDAT" --node "sz1,127.0.0.1:$(cat pport),$nodekey,$netkey" status
    timeout 30 tail --pid="$ppid" -f /dev/null
    still_serving "$1"
}
tamper "tampered handshake message 3" 2 "end of the handshake"
tamper "tampered HELLO" 3 "end of the handshake"
tamper "tampered request frame" 4 "closed the connection"
logged "tampered request frame" "reason=decrypt_failed err=DECRYPT" n1.log

echo "# garbage"
run timeout 20 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
s.sendall(b"\xff\xff\xff\xff" + b"x" * 100)
while s.recv(4096): pass
print("closed")' "$N1_PORT"
[ "$st" -eq 0 ] && grep -q closed out && ok "an oversized frame header is closed" || bad "oversized frame" "$(cat out err)"
still_serving "oversized frame"
logged "oversized frame" "reason=frame_too_large err=TOO_LARGE" n1.log

finish
