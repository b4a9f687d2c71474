#!/usr/bin/env bash
# Replication in a 5-node full mesh (real daemons on loopback): every node peers with every
# other; submissions on every node, concurrently, converge to one version set; concurrent
# amendments of one record on all five nodes end with the same current version everywhere; a node
# that was down (SIGKILL) while others wrote catches up when it comes back.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node_lib.sh"
. "$here/sync_lib.sh"

NODES="N1 N2 N3 N4 N5"
sync_setup || { bad "keygen" "failed"; finish; }
node_start N1 || { bad "N1 starts" "see log"; finish; }
for n in N2 N3 N4 N5; do
    node_start "$n" --join "$(cat N1/invite)" || { bad "$n starts" "see log"; finish; }
done
ok "five nodes start"
# N2..N5 joined through N1 (their first peer); complete the mesh, each side explicitly.
all=1
sz N1 peer add "$(cat N2/invite)" >/dev/null 2>&1 || all=0
for a in N2 N3 N4 N5; do
    for b in N2 N3 N4 N5; do
        [ "$a" = "$b" ] && continue
        sz "$a" peer add "$(cat "$b/invite")" >/dev/null 2>err || { all=0; echo "# $a+$b: $(cat err)"; }
    done
    [ "$a" != N2 ] && { sz N1 peer add "$(cat "$a/invite")" >/dev/null 2>&1 || all=0; }
done
[ "$all" = 1 ] && ok "full mesh peered" || bad "full mesh" "a peer add failed"
sz N3 --json peer list >out 2>/dev/null
[ "$(json_get out 'len(j)')" = 4 ] && ok "each node has four peers" || bad "peer count" "$(cat out)"

echo "# concurrent submissions on every node"
i=0
for n in $NODES; do
    (
        for f in "$EXAMPLES"/case-*.json; do
            sed "s/\"title\": \"/\"title\": \"$n /" "$f" >"$work/sub_$n.json"
            submit "$n" case "$work/sub_$n.json" >/dev/null 2>&1
        done
    ) &
    i=$((i + 1))
done
wait_subs() {
    local p
    for p in $(jobs -p); do
        case " ${DAEMON_PIDS[*]} " in *" $p "*) ;; *) wait "$p" ;; esac
    done
}
wait_subs
if d=$(converge 40 $NODES); then ok "five nodes converge ($d)"; else bad "mesh convergence" "timeout"; fi
[ "$(digest N1 | cut -d' ' -f1)" = 75 ] && ok "75 versions everywhere" || bad "version count" "$(digest N1)"

echo "# concurrent amendments of one record on all five nodes"
rid=$(submit N1 testimony "$EXAMPLES/testimony-minimal.json")
converge 20 $NODES >/dev/null || bad "record reaches all" "timeout"
for n in $NODES; do
    python3 - "$EXAMPLES/testimony-minimal.json" "$n" >"amend_$n.json" <<'PY'
import json, sys
b = json.load(open(sys.argv[1])); b["title"] = b["title"] + " (amended on " + sys.argv[2] + ")"
print(json.dumps(b))
PY
done
for n in $NODES; do amend "$n" "$rid" "amend_$n.json" >/dev/null 2>&1 & done
wait_subs
if converge 30 $NODES >/dev/null; then ok "after concurrent amendments the sets converge"; else bad "amendment convergence" "timeout"; fi
first=""
same=1
for n in $NODES; do
    c=$(current "$n" "$rid")
    [ -z "$first" ] && first=$c
    [ "$c" != "$first" ] && same=0
done
[ "$same" = 1 ] && [ -n "$first" ] && ok "same current version on all five ($first)" || bad "current version" "differs"

echo "# a node down while others write catches up"
kill -KILL "$PID_N4"
wait "$PID_N4" 2>/dev/null
for n in N1 N2 N5; do
    for f in "$EXAMPLES"/testimony-*.json; do
        sed "s/\"title\": \"/\"title\": \"while N4 was down $n /" "$f" >"sub.json"
        submit "$n" testimony sub.json >/dev/null 2>&1
    done
done
node_restart N4 || bad "N4 restarts" "$(tail -3 N4.log)"
if d=$(converge 40 $NODES); then ok "N4 catches up ($d)"; else bad "N4 catches up" "timeout"; fi
for n in $NODES; do
    if grep -q "sync_violation\|ERROR: AddressSanitizer\|runtime error" "$n.log"; then
        bad "$n log" "$(grep -m2 'sync_violation\|AddressSanitizer\|runtime error' "$n.log")"
    fi
done
ok "no violations or sanitizer reports in the logs"
finish
