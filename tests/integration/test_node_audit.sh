#!/usr/bin/env bash
# samizdat audit PEER against two real daemons on loopback (proto/SYNC.md section 8): a peer
# that holds exactly our records audits OK; one missing records we hold is reported MISSING; one
# whose stored envelope bytes were altered on disk is reported ALTERED; one whose log was rebuilt
# from scratch under the same node key (another history, longer or shorter) is reported
# REWRITTEN, and the saved head is not replaced by a head that failed.
#
# The peer is made a copy of our node with `samizdatd --backup` (no replication involved), and
# neither node names the other as a peer, so nothing syncs behind the test's back.
set -u
# shellcheck source=node_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"


# body N: a minimal testimony whose title holds a unique marker.
body() {
    python3 - "$1" "$EXAMPLES/testimony-minimal.json" >"body$1.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[2]))
b["title"] = "Audit marker %s end" % sys.argv[1]
print(json.dumps(b, indent=2))
EOF
}
# submit_to INVITE FROM TO: submits bodies FROM..TO.
submit_to() {
    local i
    for i in $(seq "$2" "$3"); do
        body "$i"
        "$SAMIZDAT" --node "$1" submit testimony "body$i.json" >/dev/null 2>err ||
            bad "submit body $i" "$(cat err)"
    done
}
# stop_daemon PID: graceful stop, bounded wait.
stop_daemon() {
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 100); do daemon_alive "$1" || break; sleep 0.1; done
    wait "$1" 2>/dev/null
}
# audit ARGS...: runs samizdat --node A audit B ARGS --json, output in out.
audit() { run "$SAMIZDAT" --node "$A" audit "$B" --json "$@"; }
jq_() { json_get out "$1" 2>/dev/null; }

echo "# help and usage"
expect_ok "audit --help" "$SAMIZDAT" audit --help
grep -q "^usage: samizdat.* audit PEER" out && ok "audit --help prints usage" ||
    bad "audit --help prints usage" "$(head -2 out)"
run "$SAMIZDAT" --help
grep -q "^  audit " out && ok "audit is listed in samizdat --help" || bad "audit listed" "$(cat out)"

echo "# node A with 6 records; node B a copy of A's archive under its own key"
start_daemon "$work/A" || { bad "node A starts" "see log"; finish; }
A_PID=$DAEMON_PID
A=$(cat A/invite)
# Nodes serve audit requests to mirrors and admins: A's admin key is made an admin of B too.
export SAMIZDAT_KEY=$work/A/admin.key
# (key text: samizdatd --admin FILE.pub aborts in sodium_malloc before sodium_init, reported)
ADMIN=(--admin "$(sed -n 2p "$work/A/admin.key.pub")")
submit_to "$A" 1 6
"$SAMIZDATD" --backup A Abak >/dev/null 2>&1 && ok "backup of A" || bad "backup of A" "failed"
start_daemon "$work/B" "${ADMIN[@]}" || { bad "node B starts" "see log"; finish; }
stop_daemon "$DAEMON_PID"
cp Abak/data.mdb B/data.mdb && rm -f B/lock.mdb
start_daemon "$work/B" "${ADMIN[@]}" || { bad "node B restarts on the copy" "see log"; finish; }
B_PID=$DAEMON_PID
B=$(cat B/invite)
bkey=$(cut -d, -f3 B/invite)

expect_fail "audit needs a PEER" "needs the PEER" "$SAMIZDAT" --node "$A" audit
[ "$st" -eq 2 ] && ok "missing PEER is a usage error (exit 2)" || bad "usage exit" "exit $st"
expect_fail "--sample 0 is refused" "--sample must be" "$SAMIZDAT" --node "$A" audit "$B" --sample 0
expect_fail "--sample 5000 is refused" "--sample must be" "$SAMIZDAT" --node "$A" audit "$B" \
    --sample 5000
expect_fail "auditing our own node is refused" "our node itself" "$SAMIZDAT" --node "$A" audit "$A"

echo "# in sync: OK"
audit
if [ "$st" -eq 0 ] && [ "$(jq_ 'j["result"]')" = ok ] && [ "$(jq_ 'j["consistency"]')" = first ]; then
    ok "first audit of an identical peer is OK"
else
    bad "first audit" "exit $st: $(cat out err)"
fi
[ "$(jq_ 'j["challenged"]')" = 12 ] && [ "$(jq_ 'j["ok"]')" = 12 ] &&
    ok "12 challenges (6 from each log), 12 ok" || bad "counts" "$(cat out)"
[ "$(jq_ 'j["verified_locally"]')" = 12 ] &&
    ok "every reference digest recomputed from a checked envelope" || bad "local" "$(cat out)"
[ "$(jq_ 'j["peer"]')" = "$bkey" ] && ok "report names the peer's key" || bad "peer key" "$(cat out)"
hex=$(python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1]).hex())' "$bkey")
[ "$(stat -c %s "$XDG_CONFIG_HOME/samizdat/audit/$hex" 2>/dev/null)" = 144 ] &&
    ok "the verified head is saved (144 bytes)" || bad "saved head" "$(ls -R "$XDG_CONFIG_HOME")"
audit
[ "$st" -eq 0 ] && [ "$(jq_ 'j["consistency"]')" = ok ] &&
    ok "second audit: consistent with the saved head" || bad "second audit" "exit $st: $(cat out err)"
run "$SAMIZDAT" --node "$A" audit "$B" --sample 4
[ "$st" -eq 0 ] && grep -q "^audit .*4 challenged: 4 ok" out && grep -q "^result *OK" out &&
    ok "plain output with --sample 4" || bad "plain output" "$(cat out err)"

echo "# the peer misses records we hold: MISSING"
submit_to "$A" 7 10
audit --sample 64
if [ "$st" -eq 1 ] && [ "$(jq_ 'j["missing"]')" = 4 ] && [ "$(jq_ 'j["ok"]')" = 12 ]; then
    ok "4 records only on our node: 4 MISSING, exit 1"
else
    bad "missing" "exit $st: $(cat out err)"
fi
run "$SAMIZDAT" --node "$A" audit "$B" --sample 64
[ "$st" -eq 1 ] && [ "$(grep -c '^MISSING' out)" = 4 ] && grep -q "^result *FAILED" out &&
    ok "plain output lists 4 MISSING lines and FAILED" || bad "plain missing" "$(cat out err)"

echo "# the peer holds other bytes under a version hash: ALTERED"
stop_daemon "$B_PID"
python3 - B/data.mdb <<'EOF' && ok "flipped a byte of record 3's envelope in B's data.mdb" || bad "alter" "marker not found"
import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
old, new = b"Audit marker 3 end", b"Audit marker 3 enD"
n = d.count(old)
if n == 0:
    sys.exit(1)
d = d.replace(old, new)
open(p, "wb").write(bytes(d))
EOF
start_daemon "$work/B" "${ADMIN[@]}" || { bad "node B restarts" "see log"; finish; }
B_PID=$DAEMON_PID
B=$(cat B/invite)
audit --sample 64
# Every version of both logs is drawn: ours at leaf 2 comes back ALTERED; the peer's own leaf 2
# can no longer be named (its bytes do not hash to what was logged), so it is MISSING on top of
# the 4 above. A damaged envelope may also break the inclusion proofs of its neighbours in the
# peer's log (FORKED) when the peer's store derives leaf hashes from envelopes.
if [ "$st" -eq 1 ] && [ "$(jq_ 'j["altered"]')" = 1 ] && [ "$(jq_ 'j["missing"]')" = 5 ] &&
    [ "$(jq_ 'j["consistency"]')" = ok ]; then
    ok "altered envelope reported ALTERED (history still consistent)"
else
    bad "altered" "exit $st: $(cat out err)"
fi

echo "# the peer's log rebuilt from scratch under the same key: REWRITTEN"
stop_daemon "$B_PID"
rm -f B/data.mdb B/lock.mdb
start_daemon "$work/B" "${ADMIN[@]}" || { bad "node B starts empty" "see log"; finish; }
B_PID=$DAEMON_PID
B=$(cat B/invite)
submit_to "$B" 101 108
audit
if [ "$st" -eq 1 ] && [ "$(jq_ 'j["consistency"]')" = rewritten ] &&
    [ "$(jq_ 'j["peer_head"]["size"]')" = 8 ]; then
    ok "longer log with another history: REWRITTEN (consistency proof fails)"
else
    bad "rewritten longer" "exit $st: $(cat out err)"
fi
[ "$(jq_ 'j["previous_head"]["size"]')" = 6 ] && ok "the saved head was compared (size 6)" ||
    bad "previous head" "$(cat out)"
# The peer's 8 versions are not ours: each is checked against the peer's own envelope, fetched
# and hashed here; ours are all missing there.
[ "$(jq_ 'j["ok"]')" = 8 ] && [ "$(jq_ 'j["unchecked"]')" = 0 ] && [ "$(jq_ 'j["missing"]')" = 10 ] &&
    ok "peer-only versions checked against the peer's own envelopes; ours all MISSING" ||
    bad "peer-only versions" "$(cat out)"
run "$SAMIZDAT" --node "$A" audit "$B"
[ "$st" -eq 1 ] && grep -q "^REWRITTEN .*dropped or rewritten" out &&
    ok "plain output says REWRITTEN; the failed head did not replace the saved one" ||
    bad "plain rewritten" "$(cat out err)"

stop_daemon "$B_PID"
rm -f B/data.mdb B/lock.mdb
start_daemon "$work/B" "${ADMIN[@]}" || { bad "node B starts empty again" "see log"; finish; }
B_PID=$DAEMON_PID
B=$(cat B/invite)
submit_to "$B" 201 202
audit
if [ "$st" -eq 1 ] && [ "$(jq_ 'j["consistency"]')" = rewritten ] &&
    grep -q "shorter" out; then
    ok "shorter log: REWRITTEN (the peer refuses a proof from a size beyond its log)"
else
    bad "rewritten shorter" "exit $st: $(cat out err)"
fi

echo "# the saved head"
saved=$XDG_CONFIG_HOME/samizdat/audit/$hex
size=$(python3 -c 'import sys; print(int.from_bytes(open(sys.argv[1], "rb").read(8), "big"))' "$saved")
[ "$size" = 6 ] && ok "after the failures the saved head is still the one of size 6" ||
    bad "saved head kept" "size $size"
printf 'garbage' >"$saved"
expect_fail "a damaged saved head stops the audit" "saved head .* is damaged" \
    "$SAMIZDAT" --node "$A" audit "$B"
rm -f "$saved"
audit
[ "$(jq_ 'j["consistency"]')" = first ] && ok "with the saved head removed the audit starts over" ||
    bad "start over" "$(cat out err)"

daemon_alive "$A_PID" && daemon_alive "$B_PID" && ok "both daemons still run" ||
    bad "daemons" "one died"
finish
