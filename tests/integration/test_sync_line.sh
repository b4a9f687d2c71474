#!/usr/bin/env bash
# Replication on a 3-node line A - B - C (real daemons on loopback): submissions on every node
# reach every node through B (live push and relay); concurrent amendments of one record on A and
# C end with the same version set and the same current version everywhere; C killed with SIGKILL
# in the middle of a sync, then restarted, converges; peer list, status lag and sync.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node_lib.sh"
. "$here/sync_lib.sh"

sync_setup || { bad "keygen" "failed"; finish; }
node_start A || { bad "A starts" "see log"; finish; }
node_start B --join "$(cat A/invite)" || { bad "B starts" "see log"; finish; }
node_start C --join "$(cat B/invite)" || { bad "C starts" "see log"; finish; }
ok "three nodes start"
# B joined through A and C through B: each inviting node adds the joiner, B adds C.
sz A peer add "$(cat B/invite)" >out 2>err && ok "A adds B" || bad "A adds B" "$(cat err)"
# By file: the invite (and its network key) never appears in the process list.
sz B peer add C/invite >out 2>err && ok "B adds C from its invite file" || bad "B adds C" "$(cat err)"
echo "not an invite" >notinvite
expect_fail "peer add refuses a file that holds no invite" "not a valid invite" sz A peer add notinvite
expect_fail "peer add needs an admin key" "not an admin|admin" \
    "$SAMIZDAT" --node "$(cat A/invite)" --key alice.key peer add "$(cat C/invite)"
expect_fail "peer add refuses a non-invite" "invite" sz A peer add "not-an-invite"

echo "# submissions on every node"
submit A case "$EXAMPLES/case-ukraine.json" >/dev/null || bad "submit on A" "failed"
submit B case "$EXAMPLES/case-georgia.json" >/dev/null || bad "submit on B" "failed"
submit C testimony "$EXAMPLES/testimony-minimal.json" >/dev/null || bad "submit on C" "failed"
for f in "$EXAMPLES"/case-*.json; do submit A case "$f" >/dev/null; done
for f in "$EXAMPLES"/testimony-*.json; do submit C testimony "$f" >/dev/null; done
if d=$(converge 20 A B C); then ok "A, B and C converge ($d)"; else bad "A, B and C converge" "timeout"; fi
[ "$(digest A | cut -d' ' -f1)" -ge 20 ] && ok "the set holds every submission" || bad "set size" "$(digest A)"

echo "# live push reaches the far end quickly"
t0=$(date +%s%N)
id=$(submit A testimony "$EXAMPLES/testimony-officer-uncertain.json")
for _ in $(seq 100); do current C "$id" >/dev/null 2>&1 && break; sleep 0.05; done
t1=$(date +%s%N)
if current C "$id" >/dev/null 2>&1; then ok "a submission on A reaches C in $(((t1 - t0) / 1000000)) ms"; else bad "push A -> C" "not there after 5 s"; fi

echo "# concurrent amendments on A and C converge to one current version"
rid=$(submit B testimony "$EXAMPLES/testimony-relative-uk.json")
converge 20 A B C >/dev/null || bad "record reaches all" "timeout"
python3 - "$EXAMPLES/testimony-relative-uk.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
for tag in ("a", "c"):
    b2 = dict(b); b2["title"] = b.get("title", "t") + " (amended on " + tag + ")"
    json.dump(b2, open("amend_%s.json" % tag, "w"))
PY
# Cut C off from B for the amendments, so both are made without seeing the other.
kill -STOP "$PID_B"
amend A "$rid" amend_a.json >/dev/null 2>err || bad "amend on A" "$(cat err)"
amend C "$rid" amend_c.json >/dev/null 2>err || bad "amend on C" "$(cat err)"
kill -CONT "$PID_B"
if converge 30 A B C >/dev/null; then ok "after concurrent amendments the sets converge"; else bad "amendment convergence" "timeout"; fi
ca=$(current A "$rid"); cb=$(current B "$rid"); cc=$(current C "$rid")
if [ -n "$ca" ] && [ "$ca" = "$cb" ] && [ "$cb" = "$cc" ]; then ok "same current version everywhere"; else bad "same current version" "$ca $cb $cc"; fi
sz A --json get "$rid" >g.json 2>/dev/null
[ "$(json_get g.json 'len(j["conflicts"])')" -ge 1 ] && ok "the conflict is shown, not hidden" || bad "conflict shown" "$(cat g.json | head -c 300)"

echo "# peer list and status"
sz B --json peer list >out 2>err && ok "peer list" || bad "peer list" "$(cat err)"
[ "$(json_get out 'len(j)')" = 2 ] && ok "B has two peers" || bad "B peers" "$(cat out)"
[ "$(json_get out 'sorted(p["state"] for p in j)')" != "" ] && ok "peer states listed"
sz B --json status >st.json 2>err
[ "$(json_get st.json 'len(j["peers"])')" = 2 ] && ok "status lists the peers" || bad "status peers" "$(cat st.json)"
json_get st.json 'j["peers"][0]["lag"]' | grep -Eq '^[0-9]+$' && ok "status shows each peer's lag" || bad "status lag" "$(cat st.json)"
sz B sync --wait 20 >out 2>err && ok "sync (all peers)" || bad "sync" "$(cat err)"
grep -q "received" out && ok "sync reports counts" || bad "sync output" "$(cat out)"

echo "# C killed in the middle of a sync, restarted, converges"
kill -STOP "$PID_B"
for i in $(seq 30); do
    sed "s/\"title\": \"/\"title\": \"bulk $i /" "$EXAMPLES/case-russia.json" >bulk.json
    submit A case bulk.json >/dev/null
done
kill -CONT "$PID_B"
sleep 0.05
kill -KILL "$PID_C"
wait "$PID_C" 2>/dev/null
for i in $(seq 30); do
    sed "s/\"title\": \"/\"title\": \"late $i /" "$EXAMPLES/case-russia.json" >bulk.json
    submit A case bulk.json >/dev/null
done
node_restart C || bad "C restarts" "$(tail -5 C.log)"
if d=$(converge 30 A B C); then ok "after SIGKILL and restart all converge ($d)"; else bad "convergence after kill" "timeout"; fi

echo "# peer remove"
ckey=$(cut -d, -f3 C/invite)
sz B peer remove "$ckey" >out 2>err && ok "peer remove" || bad "peer remove" "$(cat err)"
sz B --json peer list >out 2>err
[ "$(json_get out 'len(j)')" = 1 ] && ok "one peer left" || bad "after remove" "$(cat out)"
grep -q "$ckey" B/peers && bad "peers file" "C still listed" || ok "the peers file no longer lists C"
submit A case "$EXAMPLES/case-moldova.json" >/dev/null

echo "# peer add again, by a DNS name (localhost)"
sz B peer add "$(sed 's/127\.0\.0\.1/localhost/' C/invite)" >out 2>err && ok "B adds C as localhost" ||
    bad "add by name" "$(cat err)"
if d=$(converge 30 A B C); then ok "C catches up through the name ($d)"; else bad "re-added peer" "timeout"; fi
finish
