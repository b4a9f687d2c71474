#!/usr/bin/env bash
# Witness safety across two real nodes, driven by the client: a mirror that is not a recipient
# receives, verifies and serves a sealed testimony without any of its plaintext reaching its data
# folder, and a recipient reads it through the mirror; the author's retraction travels and the
# mirror then refuses to serve the retracted versions; a retraction by an unrelated key is refused
# by both nodes; a revocation travels, and the mirror then refuses the revoked key's new records.
# Every wait is bounded (replication is asynchronous; only the outcome is judged, never the time).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=node_lib.sh
source "$here/node_lib.sh"
# shellcheck source=sync_lib.sh
source "$here/sync_lib.sh"

for k in admin alice eve archivist stolen; do
    "$SAMIZDAT" keygen -o $k.key --no-passphrase >/dev/null 2>&1 || bad "keygen $k" "failed"
done
archivist=$(sed -n 2p archivist.key.pub)

marker="QZMIRROR$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')"
plainmarker="QZPLAIN$(od -An -N10 -tx1 /dev/urandom | tr -d ' \n')"
python3 - "$EXAMPLES/testimony-minimal.json" "$marker" "$plainmarker" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["statement"]["text"] = "The deserter said " + sys.argv[2]
open("sealed.json", "w").write(json.dumps(j))
j["statement"]["text"] = "In the clear: " + sys.argv[3]
open("plain.json", "w").write(json.dumps(j))
EOF

echo "# two nodes: n2 joins n1, and each mirrors the other"
if ! node_start n1; then
    bad "n1 starts" "see the log above"
    finish
fi
if ! node_start n2 --join "$work/n1/invite"; then
    bad "n2 starts with --join" "see the log above"
    finish
fi
n1=$(cat n1/invite)
n2=$(cat n2/invite)
if peer_both n1 n2; then
    ok "two nodes start and peer with each other"
else
    bad "peering" "see above"
    finish
fi
export SAMIZDAT_KEY=$work/alice.key

# wait_for SECONDS CMD...: runs CMD until it succeeds, at most SECONDS (bounded).
wait_for() {
    local limit=$1
    shift
    local i
    for i in $(seq $((limit * 5))); do
        run "$@"
        [ "$st" -eq 0 ] && return 0
        sleep 0.2
    done
    return 1
}
# wait_retracted SECONDS NODE ID: until get of ID on NODE fails saying it was retracted.
wait_retracted() {
    local limit=$1 node=$2 id=$3 i
    for i in $(seq $((limit * 5))); do
        run "$SAMIZDAT" --node "$node" get "$id"
        [ "$st" -ne 0 ] && grep -q "has been retracted" err && return 0
        sleep 0.2
    done
    return 1
}

echo "# a sealed testimony submitted to n1 reaches the mirror n2"
expect_ok "submit sealed to n1" "$SAMIZDAT" --node "$n1" submit testimony sealed.json --seal-to "$archivist"
sid=$(cat out)
if wait_for 60 "$SAMIZDAT" --node "$n2" --key eve.key get "$sid" -o mirror.rec; then
    ok "the mirror n2 serves the sealed testimony"
else
    bad "the sealed testimony reaches n2" "not there after 60 s: $(cat err)"
    finish
fi
grep -q "$marker" out && bad "n2 to a non-recipient: no plaintext" "marker shown" ||
    ok "through n2 a non-recipient sees no plaintext"
grep -q "your key is not a recipient" out && ok "and is told that it is sealed" || bad "told sealed" "$(cat out)"
[ "$(sha256sum mirror.rec | cut -c1-64)" = "$sid" ] && ok "n2 passes on the envelope byte for byte (sha256 = id)" ||
    bad "mirror envelope" "hash differs"
expect_ok "the envelope from n2 verifies" "$SAMIZDAT" verify mirror.rec
expect_ok "a recipient reads it through n2" "$SAMIZDAT" --node "$n2" --key archivist.key get "$sid"
grep -q "$marker" out && ok "the recipient sees the marker through the mirror" || bad "recipient via n2" "$(cat out)"
if grep -rqa -- "$marker" n1 n2 n1.log n2.log; then
    bad "no node holds the plaintext" "$(grep -rla -- "$marker" n1 n2 n1.log n2.log)"
else
    ok "no file of either node's data folder or log holds the marker"
fi

echo "# retraction by an unrelated key is refused everywhere"
expect_fail "eve's retraction is refused by n1" "refused" \
    "$SAMIZDAT" --node "$n1" --key eve.key retract "$sid" --reason "not mine"
expect_fail "eve's retraction is refused by n2" "refused" \
    "$SAMIZDAT" --node "$n2" --key eve.key retract "$sid" --reason "not mine"

echo "# the author's retraction, submitted to n2, travels to n1"
expect_ok "retract on n2" "$SAMIZDAT" --node "$n2" retract "$sid" --reason "endangers the witness"
rid=$(cat out)
wait_retracted 60 "$n1" "$sid" && ok "n1 refuses to serve the retracted testimony" ||
    bad "retraction reaches n1" "get on n1: exit $st: $(cat out err | head -c 300)"
wait_retracted 5 "$n2" "$sid" && ok "n2 refuses to serve it too" || bad "n2 retracted" "exit $st: $(cat err)"
expect_ok "n1 serves the retraction record" "$SAMIZDAT" --node "$n1" --json get "$rid"
[ "$(json_get out 'j["body"]["record"]')" = "$sid" ] && ok "the retraction on n1 names the testimony" ||
    bad "retraction on n1" "$(head -c 400 out)"

echo "# a revocation travels; the mirror then refuses the revoked key's new records"
expect_ok "the stolen key revokes itself on n1" "$SAMIZDAT" --node "$n1" --key stolen.key key revoke --reason "laptop stolen"
rev=$(cat out)
if wait_for 60 "$SAMIZDAT" --node "$n2" get "$rev"; then
    ok "the revocation reaches n2"
else
    bad "revocation reaches n2" "$(cat err)"
fi
expect_fail "n2 refuses a new record by the revoked key" "revoked" \
    "$SAMIZDAT" --node "$n2" --key stolen.key submit testimony "$EXAMPLES/testimony-minimal.json"
expect_fail "n1 refuses it too" "revoked" \
    "$SAMIZDAT" --node "$n1" --key stolen.key submit testimony "$EXAMPLES/testimony-minimal.json"

echo "# an unsealed testimony: after retraction, sync and compaction no node's files hold it"
expect_ok "submit an unsealed testimony to n1" "$SAMIZDAT" --node "$n1" submit testimony plain.json
pid=$(cat out)
wait_for 60 "$SAMIZDAT" --node "$n2" get "$pid" && ok "it reaches n2" || bad "plain reaches n2" "$(cat err)"
grep -rqa -- "$plainmarker" n2 && ok "n2's files hold the unsealed text (as expected before retraction)" ||
    bad "n2 holds the unsealed text before retraction" "not found"
expect_ok "the author retracts it on n1" "$SAMIZDAT" --node "$n1" retract "$pid" --reason "endangers the witness"
wait_retracted 60 "$n2" "$pid" && ok "the retraction reaches n2" || bad "retraction reaches n2" "$(cat err)"
for name in n1 n2; do
    pid_var="PID_$name"
    kill -TERM "${!pid_var}" 2>/dev/null
    for _ in $(seq 100); do kill -0 "${!pid_var}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${!pid_var}" 2>/dev/null && bad "$name stops" "still running" || ok "$name stops"
    expect_ok "samizdatd --compact $name" "$SAMIZDATD" --compact "$name"
done
if grep -rqa -- "$plainmarker" n1 n2; then
    bad "after retraction, sync and compaction no node holds the text" "$(grep -rla -- "$plainmarker" n1 n2)"
else
    ok "after retraction, sync and compaction no file of either node holds the unsealed marker"
fi
grep -rqa -- "$marker" n1 n2 && bad "no node holds the sealed plaintext" "found" ||
    ok "nor the sealed testimony's plaintext"

finish
