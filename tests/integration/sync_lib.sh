# Shared by tests/integration/test_sync_*.sh (sourced after node_lib.sh): archives of several
# real samizdatd nodes on loopback, mutual peering, and convergence checks. Every wait is bounded.

# node_start NAME [ARGS...]: starts node NAME (data folder $work/NAME) and records its pid in
# PID_NAME and its port in PORT_NAME. The first node creates the archive; pass --join INVITE for
# the others.
node_start() {
    local name=$1
    shift
    start_daemon "$work/$name" --admin "$work/admin.key.pub" "$@" || return 1
    printf -v "PID_$name" %s "$DAEMON_PID"
    printf -v "PORT_$name" %s "$DAEMON_PORT"
}

# node_restart NAME: starts NAME again on its old port (after a kill).
node_restart() {
    local name=$1 port_var="PORT_$1"
    local port=${!port_var}
    local seen
    seen=$(grep -c 'event=listen' "$work/$name.log")
    "$SAMIZDATD" --data "$work/$name" --listen "127.0.0.1:$port" --admin "$work/admin.key.pub" \
        >>"$work/$name.log" 2>&1 &
    DAEMON_PID=$!
    DAEMON_PIDS+=("$DAEMON_PID")
    printf -v "PID_$name" %s "$DAEMON_PID"
    for _ in $(seq 300); do
        [ "$(grep -c 'event=listen' "$work/$name.log")" -gt "$seen" ] && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# sz NAME ARGS...: the client against node NAME with the admin key.
sz() {
    local name=$1
    shift
    "$SAMIZDAT" --node "$(cat "$work/$name/invite")" --key "$work/admin.key" "$@"
}

# peer_both A B: each of A and B adds the other as a peer (mirroring is mutual).
peer_both() {
    sz "$1" peer add "$(cat "$work/$2/invite")" >/dev/null 2>"$work/peer.err" || {
        echo "# peer add $2 on $1: $(cat "$work/peer.err")"
        return 1
    }
    sz "$2" peer add "$(cat "$work/$1/invite")" >/dev/null 2>"$work/peer.err" || {
        echo "# peer add $1 on $2: $(cat "$work/peer.err")"
        return 1
    }
}

# digest NAME: "count digest" of the node's whole version set.
digest() {
    sz "$1" --json status >"$work/st.json" 2>/dev/null || {
        echo "down"
        return
    }
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["set_count"], j["set_digest"])' \
        "$work/st.json"
}

# converge TIMEOUT_S NAME...: waits until every node reports the same version set digest.
# Prints the digest; returns non-zero on timeout (and prints each node's digest).
converge() {
    local timeout=$1
    shift
    local t first same d
    for t in $(seq $((timeout * 5))); do
        first=""
        same=1
        for n in "$@"; do
            d=$(digest "$n")
            [ -z "$first" ] && first=$d
            [ "$d" != "$first" ] && same=0 && break
        done
        if [ "$same" -eq 1 ] && [ "$first" != "down" ]; then
            echo "$first"
            return 0
        fi
        sleep 0.2
    done
    for n in "$@"; do echo "# $n: $(digest "$n")"; done
    return 1
}

# current NAME ID: the current version hash of record ID on node NAME.
current() {
    sz "$1" --json get "$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'
}

# submit NAME KIND FILE: submits with the contributor key; prints the record id.
submit() {
    "$SAMIZDAT" --node "$(cat "$work/$1/invite")" --key "$work/alice.key" submit "$2" "$3"
}

# amend NAME ID FILE: prints the new version's output.
amend() {
    "$SAMIZDAT" --node "$(cat "$work/$1/invite")" --key "$work/alice.key" amend "$2" "$3"
}

sync_setup() {
    "$SAMIZDAT" keygen -o "$work/admin.key" --no-passphrase >/dev/null 2>&1 || return 1
    "$SAMIZDAT" keygen -o "$work/alice.key" --no-passphrase >/dev/null 2>&1 || return 1
}
