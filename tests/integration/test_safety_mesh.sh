#!/usr/bin/env bash
# Witness safety across mirrors (issue 6), with real daemons on loopback in a line A - B - C and a
# late mirror D: an unauthorised retraction is refused on every node, the author's retraction
# replicates and every node purges (get says retracted, search forgets it), a revoked key's new
# records are refused on every node, a mirror that joins after the retraction never receives the
# purged bodies, and after stopping and compacting no node's data folder holds the markers.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node_lib.sh"
. "$here/sync_lib.sh"

sync_setup || { bad "keygen" "failed"; finish; }
"$SAMIZDAT" keygen -o eve.key --no-passphrase >/dev/null 2>&1 || bad "keygen eve" "failed"

rnd() { od -An -N10 -tx1 /dev/urandom | tr -d ' \n'; }
m1="QZMESHONE$(rnd)"
m2="QZMESHTWO$(rnd)"
python3 - "$EXAMPLES/testimony-minimal.json" "$m1" "$m2" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for name, m in (("t1", sys.argv[2]), ("t2", sys.argv[3])):
    j["statement"]["text"] = "The witness said " + m + " and more"
    open(name + ".json", "w").write(json.dumps(j))
EOF

# as KEY NODE ARGS...: the client as KEY (alice, eve, admin) against NODE.
as() {
    local key=$1 node=$2
    shift 2
    "$SAMIZDAT" --node "$(cat "$work/$node/invite")" --key "$work/$key.key" "$@"
}
# retracted_on NODE ID: get on NODE says the record is retracted.
retracted_on() {
    as alice "$1" get "$2" >/dev/null 2>"$work/get.err" && return 1
    grep -qi "retracted" "$work/get.err"
}
# wait_for SECONDS CMD...: polls CMD until it succeeds (bounded).
wait_for() {
    local s=$1
    shift
    for _ in $(seq $((s * 10))); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
holds() { grep -rqa -- "$2" "$1"; }
stop_node() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" 2>/dev/null
}

node_start A || { bad "A starts" "see log"; finish; }
node_start B --join "$(cat A/invite)" || { bad "B starts" "see log"; finish; }
node_start C --join "$(cat B/invite)" || { bad "C starts" "see log"; finish; }
sz A peer add "$(cat B/invite)" >out 2>err || bad "A adds B" "$(cat err)"
sz B peer add "$(cat C/invite)" >out 2>err || bad "B adds C" "$(cat err)"
ok "three mirrors in a line"

echo "# a testimony and its amendment reach every node"
id=$(as alice A submit testimony t1.json) || bad "submit on A" "failed"
as alice A amend "$id" t2.json >/dev/null || bad "amend on A" "failed"
if converge 20 A B C >/dev/null; then ok "A, B and C converge"; else bad "converge" "timeout"; fi
for n in A B C; do
    as alice "$n" get "$id" >out 2>err && grep -q "$m2" out && ok "$n serves the testimony" ||
        bad "$n serves the testimony" "$(cat out err)"
done

echo "# an unauthorised retraction is refused everywhere"
for n in A B C; do
    if as eve "$n" retract "$id" --reason "not mine" >out 2>err; then
        bad "$n refuses eve's retraction" "accepted: $(cat out)"
    else
        grep -Eqi "denied|not permitted|refused" err && ok "$n refuses eve's retraction" ||
            bad "$n refuses eve's retraction" "$(cat err)"
    fi
done
for n in A B C; do
    as alice "$n" get "$id" >out 2>err && grep -q "$m2" out && ok "$n still serves it after eve's attempt" ||
        bad "$n still serves it" "$(cat out err)"
done

echo "# the author's retraction travels and every node purges"
as alice A --json retract "$id" --reason "it names a village" >out 2>err && ok "alice retracts on A" ||
    bad "alice retracts on A" "$(cat err)"
rid=$(json_get out 'j["retraction"]')
for n in A B C; do
    wait_for 20 retracted_on "$n" "$id" && ok "$n says the record is retracted" ||
        bad "$n purges" "$(cat get.err)"
done
for n in A B C; do
    as alice "$n" search "$m2" >out 2>err
    grep -q "$id" out && bad "$n forgets the text" "still found by search" || ok "$n's search forgets the text"
done
if converge 20 A B C >/dev/null; then ok "the sets converge after the retraction"; else bad "converge after retraction" "timeout"; fi

echo "# a revoked key's new records are refused everywhere"
as alice A key revoke --reason "laptop stolen" >out 2>err && ok "alice revokes her key on A" ||
    bad "key revoke on A" "$(cat err)"
if converge 20 A B C >/dev/null; then ok "the revocation reaches every node"; else bad "revocation converge" "timeout"; fi
for n in A B C; do
    if as alice "$n" submit testimony "$EXAMPLES/testimony-minimal.json" >out 2>err; then
        bad "$n refuses the revoked key" "accepted"
    else
        grep -qi "revoked" err && ok "$n refuses the revoked key's new record" || bad "$n refuses revoked" "$(cat err)"
    fi
done

echo "# a mirror that joins after the retraction never receives the purged bodies"
node_start D --join "$(cat A/invite)" || { bad "D starts" "see log"; finish; }
sz A peer add "$(cat D/invite)" >out 2>err || bad "A adds D" "$(cat err)"
have_retraction() { as alice D get "$rid" >/dev/null 2>&1; }
wait_for 30 have_retraction && ok "D receives the retraction" || bad "D receives the retraction" "not after 30 s"
sz D sync --wait 20 >out 2>err && ok "D syncs with A" || bad "D syncs with A" "$(cat err)"
as alice D get "$id" >out 2>err && bad "D does not serve the retracted record" "$(cat out)" ||
    ok "D does not serve the retracted record ($(head -c 80 err))"
holds D "$m1" && bad "D's data folder holds no retracted marker" "found $m1" || ok "D's data folder holds no first marker"
holds D "$m2" && bad "D's data folder holds no retracted marker" "found $m2" || ok "D's data folder holds no second marker"

echo "# stop, check, compact: no node's data folder holds the markers"
for n in A B C D; do
    pv="PID_$n"
    stop_node "${!pv}"
done
for n in A B C D; do
    "$SAMIZDATD" --check "$n" >out 2>err && ok "--check $n is clean after the purge" || bad "--check $n" "$(cat out err)"
    "$SAMIZDATD" --compact "$n" >out 2>err && ok "--compact $n" || bad "--compact $n" "$(cat err)"
    if holds "$n" "$m1" || holds "$n" "$m2"; then
        bad "no file of $n's data folder holds a marker" "found"
    else
        ok "no file of $n's data folder holds a marker"
    fi
    "$SAMIZDATD" --check "$n" >out 2>err && ok "--check $n is clean after compaction" || bad "--check $n after compaction" "$(cat out err)"
done
finish
