#!/usr/bin/env bash
# A mirror restored from an old backup: its log is now shorter than what its peer once verified,
# so the peer's checkpoint disagrees (event=sync_fork) and it falls back to reconciliation; both
# end with the same version set, including the versions the backup had lost (the restored node
# gets them back from its peer) and those written after the restore.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node_lib.sh"
. "$here/sync_lib.sh"

stop_node() {
    local pid_var="PID_$1"
    kill -TERM "${!pid_var}" 2>/dev/null
    for _ in $(seq 100); do kill -0 "${!pid_var}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${!pid_var}" 2>/dev/null
    wait "${!pid_var}" 2>/dev/null
}

sync_setup || { bad "keygen" "failed"; finish; }
node_start A || { bad "A starts" "see log"; finish; }
node_start B --join "$(cat A/invite)" || { bad "B starts" "see log"; finish; }
sz A peer add "$(cat B/invite)" >/dev/null 2>err || bad "A adds B" "$(cat err)"
for f in "$EXAMPLES"/case-a*.json "$EXAMPLES"/case-b*.json; do submit A case "$f" >/dev/null; done
converge 20 A B >/dev/null && ok "A and B in sync" || bad "first sync" "timeout"

echo "# back A up, write more, then restore the old backup"
stop_node A
mkdir -p backup && cp A/data.mdb backup/ && ok "A backed up (stopped)"
node_restart A || bad "A restarts" "$(tail -3 A.log)"
for f in "$EXAMPLES"/case-k*.json "$EXAMPLES"/case-l*.json; do submit A case "$f" >/dev/null; done
if d=$(converge 20 A B); then ok "B has A's later versions ($d)"; else bad "second sync" "timeout"; fi
before=$(digest B | cut -d' ' -f1)
# Make B's checkpoint cover A's whole log (pushes alone do not move it).
sz B sync --wait 20 >/dev/null 2>err || bad "sync before the restore" "$(cat err)"
# B is away while A is restored and written to, so A's new log diverges from what B verified.
stop_node B
stop_node A
cp backup/data.mdb A/data.mdb && rm -f A/lock.mdb
node_restart A || bad "A restarts from the backup" "$(tail -3 A.log)"
for f in "$EXAMPLES"/testimony-*.json; do submit A testimony "$f" >/dev/null; done
node_restart B || bad "B restarts" "$(tail -3 B.log)"
if d=$(converge 40 A B); then ok "A and B converge after the restore ($d)"; else bad "restore convergence" "timeout"; fi
grep -q "event=sync_fork" B.log && ok "B saw A's log shrink (sync_fork logged)" || bad "fork detected" "no sync_fork in B.log"
grep -q "event=sync_reconciled" B.log && ok "B reconciled with A" || bad "reconciled" "no sync_reconciled in B.log"
n=$(digest A | cut -d' ' -f1)
ntest=$(ls "$EXAMPLES"/testimony-*.json | wc -l)
[ "$n" -eq $((before + ntest)) ] && ok "A got back the versions its backup had lost ($n)" ||
    bad "lost versions back" "$n, expected $((before + ntest))"
finish
