#!/usr/bin/env bash
# The node side of witness safety (issue 6) with a real samizdatd and the real client: an author's
# retraction purges (get says retracted, search forgets the text), an unrelated key's retraction is
# refused and purges nothing, an admin (editor) may retract, a revoked key's new records are
# refused, sealed plaintext never reaches the data folder, --check is clean after purge and after
# compaction, compaction is refused while the node runs, and after compaction no file of the data
# folder holds the retracted marker.
set -u
# shellcheck source=node_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"

for k in alice eve archivist; do
    "$SAMIZDAT" keygen -o $k.key --no-passphrase >/dev/null 2>&1 || bad "keygen $k" "failed"
done
archivist=$(sed -n 2p archivist.key.pub)

# Markers that exist nowhere but in the bodies this test writes.
rnd() { od -An -N10 -tx1 /dev/urandom | tr -d ' \n'; }
m1="QZRETRACTONE$(rnd)"
m2="QZRETRACTTWO$(rnd)"
ms="QZSEALED$(rnd)"
mk="QZKEPT$(rnd)"
python3 - "$EXAMPLES/testimony-minimal.json" "$m1" "$m2" "$ms" "$mk" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for name, m in (("t1", sys.argv[2]), ("t2", sys.argv[3]), ("ts", sys.argv[4]), ("tk", sys.argv[5])):
    j["statement"]["text"] = "The witness said " + m + " and more"
    open(name + ".json", "w").write(json.dumps(j))
EOF

# holds DIR MARKER: some file under DIR holds MARKER (raw bytes).
holds() { grep -rqa -- "$2" "$1"; }

stop_node() {
    kill -TERM "$DAEMON_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$DAEMON_PID" 2>/dev/null
}

echo "# start a node with an admin (editor) key"
if ! start_daemon "$work/n1" --admin "$archivist"; then
    bad "samizdatd starts" "see the log above"
    finish
fi
ok "samizdatd starts"
SAMIZDAT_NODE=$(cat n1/invite)
export SAMIZDAT_NODE
export SAMIZDAT_KEY=$work/alice.key

expect_ok "submit a testimony" "$SAMIZDAT" submit testimony t1.json
id1=$(cat out)
expect_ok "amend it" "$SAMIZDAT" amend "$id1" t2.json
expect_ok "submit a testimony that stays" "$SAMIZDAT" submit testimony tk.json
idk=$(cat out)
expect_ok "submit a sealed testimony" "$SAMIZDAT" submit testimony ts.json --seal-to "$archivist"
ids=$(cat out)
# Full text catches up after ingest: poll, bounded.
for _ in $(seq 100); do
    run "$SAMIZDAT" search "$m2"
    grep -q "$id1" out && break
    sleep 0.1
done
grep -q "$id1" out && ok "search finds the amendment's marker" || bad "search finds the marker" "$(cat out err)"
expect_ok "the archivist opens the sealed record" "$SAMIZDAT" --key archivist.key get "$ids"
grep -q "$ms" out && ok "sealed plaintext is readable by its recipient" || bad "recipient reads" "$(cat out)"
expect_ok "search for the sealed plaintext" "$SAMIZDAT" search "$ms"
grep -q "$ids" out && bad "the node never searches sealed plaintext" "found" ||
    ok "the node never searches sealed plaintext"

echo "# retraction"
run "$SAMIZDAT" --key eve.key retract "$id1" --reason "not mine"
[ "$st" -ne 0 ] && grep -Eqi "denied|not permitted|refused" err && grep -q "may retract it" err &&
    ok "retract by an unrelated key is refused" || bad "retract by eve refused" "exit $st: $(cat err)"
expect_ok "the record is still served after the refused retraction" "$SAMIZDAT" get "$id1"
grep -q "$m2" out && ok "its text is intact" || bad "intact after refused retraction" "$(cat out)"
expect_ok "retract by the author" "$SAMIZDAT" --json retract "$id1" --reason "the statement named a village"
rid=$(json_get out 'j["retraction"]')
run "$SAMIZDAT" get "$id1"
[ "$st" -ne 0 ] && grep -qi "retracted" err && ok "get of the retracted record says retracted" ||
    bad "get after retraction" "exit $st: $(cat out err)"
expect_ok "search after retraction" "$SAMIZDAT" search "$m2"
grep -q "$id1" out && bad "search forgets the retracted text" "still found" ||
    ok "search forgets the retracted text"
expect_ok "the retraction itself is served" "$SAMIZDAT" get "$rid"
expect_ok "the untouched record is served" "$SAMIZDAT" get "$idk"
expect_ok "an admin (editor) may retract another author's record" \
    "$SAMIZDAT" --key archivist.key retract "$idk" --reason "editorial: endangers a relative"
run "$SAMIZDAT" get "$idk"
[ "$st" -ne 0 ] && ok "the editor's retraction purged it" || bad "editor retraction" "$(cat out)"

echo "# revocation"
expect_ok "alice revokes her own key" "$SAMIZDAT" key revoke --reason "laptop stolen"
run "$SAMIZDAT" submit testimony t1.json
[ "$st" -ne 0 ] && grep -qi "revoked" err && ok "a revoked key's new record is refused" ||
    bad "revoked key refused" "exit $st: $(cat out err)"
run "$SAMIZDAT" --key eve.key key revoke --key-to-revoke "$archivist" --reason "hostile"
[ "$st" -ne 0 ] && ok "a key may not revoke someone else's key" || bad "eve revokes archivist" "$(cat out)"
expect_ok "other keys still submit" "$SAMIZDAT" --key eve.key submit testimony "$EXAMPLES/testimony-minimal.json"

echo "# offline: check, compaction"
run "$SAMIZDATD" --compact n1
[ "$st" -ne 0 ] && grep -q "stop it first" err && ok "compaction is refused while the node runs" ||
    bad "compact while running" "exit $st: $(cat out err)"
stop_node
holds n1 "$ms" && bad "no file of the data folder holds the sealed plaintext" "found" ||
    ok "no file of the data folder holds the sealed plaintext"
expect_ok "samizdatd --check is clean after purges" "$SAMIZDATD" --check n1
if holds n1 "$m1" || holds n1 "$m2" || holds n1 "$mk"; then
    echo "# note: before compaction the purged bytes are still in data.mdb (free or reused pages)"
fi
expect_ok "samizdatd --compact" "$SAMIZDATD" --compact n1
grep -q "^compact=ok" out && ok "compact prints compact=ok" || bad "compact output" "$(cat out)"
holds n1 "$m1" && bad "after compaction no file holds the first marker" "found" ||
    ok "after compaction no file holds the first marker"
holds n1 "$m2" && bad "after compaction no file holds the second marker" "found" ||
    ok "after compaction no file holds the second marker"
holds n1 "$mk" && bad "after compaction no file holds the editor-retracted marker" "found" ||
    ok "after compaction no file holds the editor-retracted marker"
ls n1 | grep -q "^compact\." && bad "compaction leaves no temporary folder" "$(ls n1)" ||
    ok "compaction leaves no temporary folder"
expect_ok "samizdatd --check is clean after compaction" "$SAMIZDATD" --check n1
expect_fail "compact of a folder without an archive" "no archive" "$SAMIZDATD" --compact "$work/nothing"

echo "# the compacted node serves what it kept"
if ! start_daemon "$work/n1" --admin "$archivist"; then
    bad "samizdatd restarts after compaction" "see the log above"
    finish
fi
SAMIZDAT_NODE=$(cat n1/invite)
expect_ok "the sealed record is still served" "$SAMIZDAT" --key archivist.key get "$ids"
grep -q "$ms" out && ok "and still opens for its recipient" || bad "sealed after compaction" "$(cat out)"
run "$SAMIZDAT" get "$id1"
[ "$st" -ne 0 ] && grep -qi "retracted" err && ok "the retracted record stays retracted" ||
    bad "retracted after compaction" "exit $st: $(cat out err)"
run "$SAMIZDAT" submit testimony t1.json
[ "$st" -ne 0 ] && grep -qi "revoked" err && ok "the revocation survives compaction" ||
    bad "revoked after compaction" "exit $st: $(cat out err)"
finish
