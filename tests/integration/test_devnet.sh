#!/usr/bin/env bash
# deploy/devnet.sh end to end, with the real binaries ($SAMIZDATD, $SAMIZDAT) on loopback: a
# 3-node mesh starts on free ports, a testimony submitted on n1 reaches n3 (bounded wait), status
# answers on every node, one-line refusals (running twice, ports in use, bad options), stop
# leaves no samizdatd of the devnet behind, a restart keeps the data, a line topology relays
# through the middle node. Then each deploy/examples/*.conf is proven to parse by a real start
# and graceful stop of samizdatd with --config.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/node_lib.sh"
DEVNET=$SRC/deploy/devnet.sh
export DEVNET_START_TIMEOUT=30 DEVNET_STOP_TIMEOUT=20

nets=()
devnet_cleanup() {
    local d
    for d in "${nets[@]}"; do
        "$DEVNET" stop "$d" >/dev/null 2>&1
    done
    cleanup
}
trap devnet_cleanup EXIT

# free_base N: a port P such that P .. P+N-1 are free on 127.0.0.1 now.
free_base() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
def free(p):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    b = random.randint(20000, 60000)
    if all(free(b + i) for i in range(n)):
        print(b)
        sys.exit(0)
sys.exit(1)
PY
}

# start_net DIR N TOPOLOGY: starts a devnet on free ports; retries when another process took a
# port between the check and the start. Sets BASE. Output in out/err, status in st.
start_net() {
    local dir=$1 n=$2 topo=$3
    nets+=("$dir")
    for _ in 1 2 3; do
        BASE=$(free_base "$n") || { st=1; echo "no free ports" >err; return 1; }
        run "$DEVNET" start -n "$n" -p "$BASE" -t "$topo" "$dir"
        [ "$st" -eq 0 ] && return 0
        grep -q 'is in use' err || return 1
        rm -rf "$dir"
    done
    return 1
}

# node NET K ARGS...: the client against node K of devnet NET, with that node's admin key.
node() {
    local net=$1 k=$2
    shift 2
    SAMIZDAT_NODE=$(cat "$net/n$k/invite") "$SAMIZDAT" --key "$net/n$k/admin.key" "$@"
}

# wait_get NET K ID: waits (at most 30 s) until node K of NET serves record ID.
wait_get() {
    local _
    for _ in $(seq 150); do
        node "$1" "$2" --json get "$3" >got.json 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}

# devnet_procs NET: pids of samizdatd processes whose data folder is in NET.
devnet_procs() { pgrep -f -- "samizdatd --data $1/n" || true; }

"$SAMIZDAT" keygen -o alice.key --no-passphrase >/dev/null 2>&1 || { bad "keygen" "failed"; finish; }
mesh=$work/mesh

echo "# a 3-node mesh"
if start_net "$mesh" 3 mesh; then ok "devnet.sh start: 3 nodes, mesh"; else bad "devnet start" "exit $st: $(cat err)"; finish; fi
shown=1
for k in 1 2 3; do
    grep -Fq "invite $mesh/n$k/invite" out && grep -Fq "SAMIZDAT_NODE=\$(cat $mesh/n$k/invite)" out ||
        { shown=0; bad "output names n$k" "$(cat out)"; }
done
[ "$shown" -eq 1 ] && ok "the output gives each node's invite path and an example command"
files_ok=1
for k in 1 2 3; do
    for f in invite admin.key pid log network.key; do
        [ -s "$mesh/n$k/$f" ] || { files_ok=0; bad "n$k/$f" "missing"; }
    done
    grep -q "127.0.0.1:$((BASE + k - 1))," "$mesh/n$k/invite" || { files_ok=0; bad "n$k port" "$(cut -d, -f2 "$mesh/n$k/invite")"; }
    [ "$(stat -c %a "$mesh/n$k")" = 700 ] || { files_ok=0; bad "n$k mode" "$(stat -c %a "$mesh/n$k")"; }
done
[ "$files_ok" -eq 1 ] && ok "each node: own folder (0700), port, invite, admin key, pid file and log"
cmp -s "$mesh/n1/network.key" "$mesh/n3/network.key" && ok "the nodes share one archive (network key)" ||
    bad "one archive" "network keys differ"
[ "$(devnet_procs "$mesh" | wc -l)" -eq 3 ] && ok "three samizdatd processes run" || bad "processes" "$(devnet_procs "$mesh")"

run "$DEVNET" status "$mesh"
if [ "$st" -eq 0 ] && [ "$(grep -c ' running, pid ' out)" -eq 3 ]; then ok "devnet.sh status: 3 running"; else bad "devnet status" "exit $st: $(cat out err)"; fi
for k in 1 2 3; do
    if node "$mesh" "$k" --json status >st.json 2>err && [ "$(json_get st.json 'len(j["peers"])')" = 2 ]; then
        ok "samizdat status on n$k answers, 2 peers (mesh)"
    else
        bad "status n$k" "$(cat err st.json | head -c 400)"
    fi
done

echo "# a testimony submitted on n1 reaches n3"
id=$(SAMIZDAT_NODE=$(cat "$mesh/n1/invite") "$SAMIZDAT" --key alice.key submit testimony \
    "$EXAMPLES/testimony-minimal.json" 2>err)
if [[ $id =~ ^[0-9a-f]{64}$ ]]; then ok "submit on n1"; else bad "submit on n1" "$id $(cat err)"; fi
t0=$(date +%s%N)
if wait_get "$mesh" 3 "$id"; then
    ok "n3 has it after $((($(date +%s%N) - t0) / 1000000)) ms"
    [ "$(json_get got.json 'j["id"]')" = "$id" ] && ok "n3 serves the same record id" || bad "n3 record" "$(head -c 300 got.json)"
else
    bad "n3 has the testimony" "not within 30 s"
fi

echo "# refusals"
expect_fail "a second start of a running devnet is refused" "already running" "$DEVNET" start "$mesh"
expect_fail "busy ports are refused" "port $BASE .* is in use" "$DEVNET" start -n 3 -p "$BASE" "$work/other"
expect_fail "more than 9 nodes is a usage error" "--nodes must be 1 to 9" "$DEVNET" start -n 10 "$work/x"
[ "$st" -eq 2 ] && ok "usage errors exit 2" || bad "usage exit" "$st"
expect_fail "an unknown topology is refused" "mesh or line" "$DEVNET" -t ring "$work/x"
expect_fail "other settings for an existing devnet are refused" "holds a devnet" "$DEVNET" start -n 2 "$mesh"
[ ! -e "$work/other" ] && [ ! -e "$work/x" ] && ok "refused starts leave nothing behind" || bad "leftovers" "$(ls "$work")"

echo "# stop"
run "$DEVNET" stop "$mesh"
[ "$st" -eq 0 ] && grep -q "stopped n1 n2 n3" out && ok "devnet.sh stop" || bad "stop" "exit $st: $(cat out err)"
left=$(devnet_procs "$mesh")
[ -z "$left" ] && ok "no samizdatd of the devnet remains" || bad "processes left" "$left"
ls "$mesh"/n*/pid >/dev/null 2>&1 && bad "pid files" "still there" || ok "pid files removed"
[ "$(grep -l 'event=shutdown msg="graceful shutdown"' "$mesh"/n*/log | wc -l)" -eq 3 ] &&
    ok "every node shut down gracefully" || bad "graceful" "$(tail -n 2 "$mesh"/n*/log)"
run "$DEVNET" stop "$mesh"
[ "$st" -eq 0 ] && grep -q "nothing running" out && ok "stop again is harmless" || bad "stop twice" "exit $st: $(cat out err)"
run "$DEVNET" status "$mesh"
[ "$st" -ne 0 ] && [ "$(grep -c ' stopped' out)" -eq 3 ] && ok "status of a stopped devnet: 3 stopped, non-zero exit" ||
    bad "status stopped" "exit $st: $(cat out)"

echo "# restart keeps the data"
run "$DEVNET" start "$mesh"
[ "$st" -eq 0 ] && ok "restart with the saved settings" || bad "restart" "exit $st: $(cat err)"
if node "$mesh" 3 get "$id" >/dev/null 2>err; then ok "n3 still has the testimony"; else bad "after restart" "$(cat err)"; fi
run "$DEVNET" stop "$mesh"
[ "$st" -eq 0 ] && [ -z "$(devnet_procs "$mesh")" ] && ok "stopped again" || bad "second stop" "$(cat out err)"

echo "# a 3-node line relays through n2"
line=$work/line
if start_net "$line" 3 line; then
    ok "devnet.sh start: 3 nodes, line"
    node "$line" 1 --json status >st.json 2>/dev/null
    p1=$(json_get st.json 'len(j["peers"])')
    node "$line" 2 --json status >st.json 2>/dev/null
    p2=$(json_get st.json 'len(j["peers"])')
    [ "$p1" = 1 ] && [ "$p2" = 2 ] && ok "line peers: n1 has 1, n2 has 2" || bad "line peers" "n1 $p1, n2 $p2"
    lid=$(SAMIZDAT_NODE=$(cat "$line/n1/invite") "$SAMIZDAT" --key alice.key submit case \
        "$EXAMPLES/case-ukraine.json" 2>err)
    if wait_get "$line" 3 "$lid"; then ok "a case submitted on n1 reaches n3 through n2"; else bad "line relay" "not within 30 s"; fi
    run "$DEVNET" stop "$line"
    [ "$st" -eq 0 ] && [ -z "$(devnet_procs "$line")" ] && ok "line stopped, nothing left" || bad "line stop" "$(cat out err)"
else
    bad "line devnet" "exit $st: $(cat err)"
fi

echo "# every example config parses (real start and graceful stop)"
for conf in "$SRC"/deploy/examples/*.conf; do
    name=$(basename "$conf" .conf)
    if ! start_daemon "$work/cfg-$name" --config "$conf"; then
        bad "$name.conf" "samizdatd did not start: $(tail -n 1 "$work/cfg-$name.log")"
        continue
    fi
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID"
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q 'event=exit status=0' "$work/cfg-$name.log"; then
        ok "$name.conf: starts and stops (exit 0)"
    else
        bad "$name.conf" "exit $rc: $(tail -n 2 "$work/cfg-$name.log")"
    fi
    pol=$(grep 'event=policy' "$work/cfg-$name.log")
    case $name in
    open) want="submission=open admins=1 editors=0 contributors=0 peers=0" ;;
    allowlist) want="submission=allowlist admins=2 editors=1 contributors=2 peers=0" ;;
    mirror) want="submission=allowlist admins=1 editors=1 contributors=0 peers=2" ;;
    *) want="" ;;
    esac
    if [ -z "$want" ] || [[ $pol == *"$want"* ]]; then ok "$name.conf: policy as written"; else bad "$name.conf policy" "$pol"; fi
done
[ "$(grep -c 'event=peer_skipped source=config' "$work/cfg-mirror.log")" -eq 2 ] &&
    ok "mirror.conf: the placeholder peers (another archive) are skipped, never contacted" ||
    bad "mirror placeholders" "$(grep peer "$work/cfg-mirror.log")"
# The check above is meaningful only if a wrong key is refused: a typo fails with file and line.
{ cat "$SRC/deploy/examples/open.conf"; echo "max_conections = 5"; } >typo.conf
expect_fail "a config with an unknown key is refused, naming file and line" "typo.conf:[0-9]+: unknown key" \
    "$SAMIZDATD" --data "$work/cfg-typo" --config typo.conf --listen "127.0.0.1:$(free_port)"
finish
