#!/usr/bin/env bash
# shellcheck disable=SC2015,SC2016  # A && B || die is meant; $(cat ...) is printed, not run
# A local multi-node samizdat devnet on loopback, for trying replication by hand and for tests.
#
#   deploy/devnet.sh [start] [-n N] [-p BASE_PORT] [-t mesh|line] [DIR]
#   deploy/devnet.sh stop [DIR]
#   deploy/devnet.sh status [DIR]
#
# start: N nodes (default 3, at most 9) in DIR (default ./devnet), node K in DIR/nK listening on
# 127.0.0.1:BASE_PORT+K-1 and logging to DIR/nK/log. Node 1 creates the archive; the others join
# it (--join), then every pair of neighbours peers mutually with `samizdat peer add`, each side
# with its own DIR/nK/admin.key: every pair (mesh) or n1-n2-...-nN (line). Starting an existing
# devnet again restarts it with its data and its saved settings (DIR/devnet.env).
# stop: SIGTERM to each node named in DIR/nK/pid (checked to be that node's samizdatd), bounded.
# status: each node's state, address and, when running, its counts and peers.
# Binaries: $SAMIZDATD and $SAMIZDAT, else build/daemon/samizdatd and build/client/samizdat,
# built with cmake (Release) when missing. Every wait is bounded; every error is one line.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START_TIMEOUT_S=${DEVNET_START_TIMEOUT:-30}
STOP_TIMEOUT_S=${DEVNET_STOP_TIMEOUT:-30}

die() {
    echo "devnet: $*" >&2
    exit 1
}
usage_error() {
    echo "devnet: $* (see deploy/devnet.sh --help)" >&2
    exit 2
}
usage() {
    cat <<'EOF'
usage: deploy/devnet.sh [start] [-n N] [-p BASE_PORT] [-t mesh|line] [DIR]
       deploy/devnet.sh stop [DIR]
       deploy/devnet.sh status [DIR]

Runs N samizdatd nodes of one archive on 127.0.0.1, in DIR (default ./devnet).
  -n, --nodes N          number of nodes, 1 to 9 (default 3)
  -p, --base-port PORT   node K listens on PORT+K-1 (default 7501); the ports must be free
  -t, --topology T       mesh: every node peers with every other (default);
                         line: n1 - n2 - ... - nN, records travel through the middle
Node K keeps its data in DIR/nK, its log in DIR/nK/log, its invite in DIR/nK/invite and
its admin key in DIR/nK/admin.key. Starting an existing DIR restarts it with its data.
Binaries: $SAMIZDATD and $SAMIZDAT, else build/ (built with cmake when missing).
EOF
}

# abspath PATH: PATH made absolute without requiring it to exist.
abspath() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "${1#./}" ;;
    esac
}

find_binaries() {
    if [ -n "${SAMIZDATD:-}" ] || [ -n "${SAMIZDAT:-}" ]; then
        [ -n "${SAMIZDATD:-}" ] && [ -n "${SAMIZDAT:-}" ] ||
            die "set both SAMIZDATD and SAMIZDAT, or neither (then build/ is used)"
    else
        SAMIZDATD=$root/build/daemon/samizdatd
        SAMIZDAT=$root/build/client/samizdat
        if [ ! -x "$SAMIZDATD" ] || [ ! -x "$SAMIZDAT" ]; then
            command -v cmake >/dev/null || die "cmake is missing: run deploy/install-deps.sh, or set SAMIZDATD and SAMIZDAT"
            echo "devnet: building samizdatd and samizdat in $root/build (Release, once)" >&2
            local blog=$root/build/devnet-build.log
            mkdir -p "$root/build" || die "cannot create $root/build"
            cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >"$blog" 2>&1 &&
                cmake --build "$root/build" -j"$(nproc 2>/dev/null || echo 2)" --target samizdatd samizdat \
                    >>"$blog" 2>&1 ||
                die "the build failed; see $blog"
        fi
    fi
    [ -x "$SAMIZDATD" ] || die "samizdatd not found or not executable: $SAMIZDATD"
    [ -x "$SAMIZDAT" ] || die "samizdat not found or not executable: $SAMIZDAT"
}

# port_free PORT: nothing listens on 127.0.0.1:PORT (tested by binding it as the daemon will).
port_free() {
    if command -v python3 >/dev/null; then
        python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
    else
        # Without python3: a port that accepts a connection is in use.
        ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
    fi
}

# cmdline PID: the process's command line with spaces between the arguments ("" if gone).
cmdline() {
    if [ -r "/proc/$1/cmdline" ]; then
        tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null
    else
        ps -o args= -p "$1" 2>/dev/null
    fi
}

# node_pid K: prints node K's pid and succeeds when its pid file names a live samizdatd of
# DIR/nK; a stale pid file (the process is gone, or the pid was reused) is removed.
node_pid() {
    local d=$abs/n$1 pid
    [ -s "$d/pid" ] || return 1
    pid=$(cat "$d/pid")
    case $pid in '' | *[!0-9]*) rm -f "$d/pid"; return 1 ;; esac
    case " $(cmdline "$pid")" in
    *samizdatd*" --data $d "*)
        echo "$pid"
        return 0
        ;;
    esac
    rm -f "$d/pid"
    return 1
}

# nodes_in_dir: the K of every DIR/nK folder, in order.
nodes_in_dir() {
    local k
    for k in 1 2 3 4 5 6 7 8 9; do
        [ -d "$abs/n$k" ] && echo "$k"
    done
}

# sz K ARGS...: the client against node K with its admin key; the invite (which holds the
# network key) goes through the environment, not the command line.
sz() {
    local k=$1
    shift
    SAMIZDAT_NODE=$(cat "$abs/n$k/invite") "$SAMIZDAT" --key "$abs/n$k/admin.key" "$@"
}

# last_error FILE: the log's last line that reads as a failure, else its last line.
last_error() {
    local line
    line=$(grep -E '^samizdatd: |level=error' "$1" 2>/dev/null | tail -n 1)
    [ -n "$line" ] || line=$(tail -n 1 "$1" 2>/dev/null)
    printf '%s\n' "$line"
}

# start_node K JOIN_K: starts node K (JOIN_K: the node whose invite it joins on first start,
# 0 for none) and waits until it listens. Dies with one line if it does not.
start_node() {
    local k=$1 join=$2 d=$abs/n$1 port=$((base + $1 - 1)) seen pid i
    mkdir -p "$d" && chmod 700 "$d" || die "cannot create $d"
    local args=(--data "$d" --listen "127.0.0.1:$port")
    if [ ! -e "$d/node.key" ] && [ "$join" -gt 0 ]; then
        args+=(--join "$abs/n$join/invite")
    fi
    seen=$(grep -c 'event=listen' "$d/log" 2>/dev/null)
    seen=${seen:-0}
    # setsid: the node outlives this script and the terminal (it has no SIGHUP handler).
    if command -v setsid >/dev/null; then
        setsid "$SAMIZDATD" "${args[@]}" </dev/null >>"$d/log" 2>&1 &
    else
        nohup "$SAMIZDATD" "${args[@]}" </dev/null >>"$d/log" 2>&1 &
    fi
    pid=$!
    echo "$pid" >"$d/pid"
    started+=("$k")
    for ((i = 0; i < START_TIMEOUT_S * 10; i++)); do
        if [ -s "$d/invite" ] && [ "$(grep -c 'event=listen' "$d/log")" -gt "$seen" ]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    local why
    why=$(last_error "$d/log")
    abort_start
    if kill -0 "$pid" 2>/dev/null; then
        die "n$k did not start within ${START_TIMEOUT_S} s (see $shown/n$k/log): $why"
    fi
    die "n$k exited at startup (see $shown/n$k/log): $why"
}

# abort_start: stops the nodes this run started, after a failure.
abort_start() {
    local k
    for k in "${started[@]}"; do
        stop_nodes_quiet "$k"
    done
}

# stop_nodes_quiet K...: SIGTERM to each running node K, waits (bounded), SIGKILL as a last
# resort. Prints the names of the nodes that needed SIGKILL.
stop_nodes_quiet() {
    local k pid pids=() names=() i alive
    for k in "$@"; do
        if pid=$(node_pid "$k"); then
            kill -TERM "$pid" 2>/dev/null
            pids+=("$pid")
            names+=("n$k")
        fi
    done
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
        alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            kill -KILL "${pids[$i]}" 2>/dev/null
            echo "${names[$i]}"
        fi
    done
    for k in "$@"; do
        rm -f "$abs/n$k/pid"
    done
}

# peer_pair A B: A adds B and B adds A (mirroring is mutual and explicit).
peer_pair() {
    local a=$1 b=$2 err
    err=$(sz "$a" peer add "$(cat "$abs/n$b/invite")" 2>&1 >/dev/null) ||
        { abort_start; die "peer add n$b on n$a failed: $err"; }
    err=$(sz "$b" peer add "$(cat "$abs/n$a/invite")" 2>&1 >/dev/null) ||
        { abort_start; die "peer add n$a on n$b failed: $err"; }
}

cmd_start() {
    local opt_n="" opt_p="" opt_t="" dir=""
    while [ $# -gt 0 ]; do
        case $1 in
        -n | --nodes) [ $# -ge 2 ] || usage_error "$1 needs a value"; opt_n=$2; shift 2 ;;
        -p | --base-port) [ $# -ge 2 ] || usage_error "$1 needs a value"; opt_p=$2; shift 2 ;;
        -t | --topology) [ $# -ge 2 ] || usage_error "$1 needs a value"; opt_t=$2; shift 2 ;;
        --nodes=*) opt_n=${1#*=}; shift ;;
        --base-port=*) opt_p=${1#*=}; shift ;;
        --topology=*) opt_t=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *) [ -z "$dir" ] || usage_error "only one DIR"; dir=$1; shift ;;
        esac
    done
    case $opt_n in '' | [1-9]) ;; *) usage_error "--nodes must be 1 to 9, not '$opt_n'" ;; esac
    case $opt_p in
    '') ;;
    *[!0-9]* | 0*) usage_error "--base-port must be a port number, not '$opt_p'" ;;
    esac
    case $opt_t in '' | mesh | line) ;; *) usage_error "--topology must be mesh or line, not '$opt_t'" ;; esac
    set_dir "${dir:-./devnet}"

    # An existing devnet keeps its settings: its peers files and invites name its ports.
    nodes=3 base=7501 topology=mesh
    local saved=0
    if [ -f "$abs/devnet.env" ]; then
        saved=1
        local s_nodes s_base s_topology
        s_nodes=$(sed -n 's/^nodes=\([1-9]\)$/\1/p' "$abs/devnet.env")
        s_base=$(sed -n 's/^base_port=\([0-9]*\)$/\1/p' "$abs/devnet.env")
        s_topology=$(sed -n 's/^topology=\(mesh\|line\)$/\1/p' "$abs/devnet.env")
        [ -n "$s_nodes" ] && [ -n "$s_base" ] && [ -n "$s_topology" ] ||
            die "$shown/devnet.env is damaged; remove $shown to start afresh"
        nodes=$s_nodes base=$s_base topology=$s_topology
        for pair in "nodes:$opt_n" "base:$opt_p" "topology:$opt_t"; do
            local name=${pair%%:*} want=${pair#*:}
            if [ -n "$want" ] && [ "$want" != "${!name}" ]; then
                die "$shown holds a devnet with nodes=$nodes base port=$base topology=$topology; start it with those, or remove $shown"
            fi
        done
    else
        [ -n "$opt_n" ] && nodes=$opt_n
        [ -n "$opt_p" ] && base=$opt_p
        [ -n "$opt_t" ] && topology=$opt_t
        if [ -e "$abs" ] && [ -n "$(ls -A "$abs" 2>/dev/null)" ]; then
            die "$shown exists and is not a devnet (no devnet.env); use another DIR"
        fi
    fi
    [ $((base + nodes - 1)) -le 65535 ] && [ "$base" -ge 1 ] ||
        usage_error "ports $base to $((base + nodes - 1)) are out of range"

    local k pid
    for k in $(nodes_in_dir); do
        if pid=$(node_pid "$k"); then
            die "a devnet is already running in $shown (n$k, pid $pid); stop it first: deploy/devnet.sh stop $shown"
        fi
    done
    for ((k = 1; k <= nodes; k++)); do
        port_free $((base + k - 1)) ||
            die "port $((base + k - 1)) on 127.0.0.1 (for n$k) is in use; choose another with --base-port"
    done
    find_binaries

    mkdir -p "$abs" || die "cannot create $shown"
    if [ "$saved" -eq 0 ]; then
        printf 'nodes=%s\nbase_port=%s\ntopology=%s\n' "$nodes" "$base" "$topology" >"$abs/devnet.env" ||
            die "cannot write $shown/devnet.env"
    fi

    started=()
    for ((k = 1; k <= nodes; k++)); do
        if [ "$k" -eq 1 ]; then
            start_node 1 0
        elif [ "$topology" = line ]; then
            start_node "$k" $((k - 1))
        else
            start_node "$k" 1
        fi
    done
    local a b
    if [ "$topology" = line ]; then
        for ((a = 1; a < nodes; a++)); do peer_pair "$a" $((a + 1)); done
    else
        for ((a = 1; a <= nodes; a++)); do
            for ((b = a + 1; b <= nodes; b++)); do peer_pair "$a" "$b"; done
        done
    fi

    local client=$SAMIZDAT
    [ "$(command -v samizdat 2>/dev/null)" = "$SAMIZDAT" ] && client=samizdat
    echo "devnet: $nodes node(s) of one archive running in $shown ($topology), logs in $shown/nK/log"
    for ((k = 1; k <= nodes; k++)); do
        printf '  n%s  127.0.0.1:%s  pid %s  invite %s  admin key %s\n' "$k" $((base + k - 1)) \
            "$(cat "$abs/n$k/pid")" "$shown/n$k/invite" "$shown/n$k/admin.key"
        printf '      SAMIZDAT_NODE=$(cat %s) %s status\n' "$shown/n$k/invite" "$client"
    done
    echo "  peers: SAMIZDAT_NODE=\$(cat $shown/n1/invite) $client --key $shown/n1/admin.key peer list"
    echo "  stop:  deploy/devnet.sh stop $shown"
}

set_dir() {
    shown=${1%/}
    [ -n "$shown" ] || shown=/
    abs=$(abspath "$shown")
}

cmd_stop() {
    [ $# -le 1 ] || usage_error "stop takes at most one DIR"
    case ${1:-} in -*) usage_error "stop takes no option" ;; esac
    set_dir "${1:-./devnet}"
    [ -d "$abs" ] || die "no devnet in $shown"
    local k pid running=() killed
    for k in $(nodes_in_dir); do
        pid=$(node_pid "$k") && running+=("$k")
    done
    if [ ${#running[@]} -eq 0 ]; then
        echo "devnet: nothing running in $shown"
        return 0
    fi
    killed=$(stop_nodes_quiet "${running[@]}")
    if [ -n "$killed" ]; then
        die "$(echo "$killed" | tr '\n' ' ')did not stop within ${STOP_TIMEOUT_S} s and were killed (SIGKILL)"
    fi
    echo "devnet: stopped$(printf ' n%s' "${running[@]}") in $shown"
}

cmd_status() {
    [ $# -le 1 ] || usage_error "status takes at most one DIR"
    case ${1:-} in -*) usage_error "status takes no option" ;; esac
    set_dir "${1:-./devnet}"
    [ -f "$abs/devnet.env" ] || die "no devnet in $shown"
    find_binaries
    local k pid addr down=0 st
    for k in $(nodes_in_dir); do
        addr=$(cut -d, -f2 "$abs/n$k/invite" 2>/dev/null)
        if ! pid=$(node_pid "$k"); then
            printf 'n%s  %-21s stopped\n' "$k" "${addr:-?}"
            down=1
            continue
        fi
        if st=$(sz "$k" --json status 2>&1); then
            if command -v python3 >/dev/null; then
                st=$(printf '%s' "$st" | python3 -c '
import json, sys
j = json.load(sys.stdin)
p = j.get("peers", [])
print("records %d, versions %d, peers %d (%d connected)" % (j["records"], j["versions"], len(p),
      sum(1 for x in p if x.get("connected"))))' 2>/dev/null) || st="status answered"
            else
                st="status answered"
            fi
            printf 'n%s  %-21s running, pid %s, %s\n' "$k" "$addr" "$pid" "$st"
        else
            printf 'n%s  %-21s running, pid %s, not answering: %s\n' "$k" "$addr" "$pid" "$(echo "$st" | tail -n 1)"
            down=1
        fi
    done
    return "$down"
}

case ${1:-start} in
start) [ $# -gt 0 ] && shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
status) shift; cmd_status "$@" ;;
-h | --help | help) usage ;;
*) cmd_start "$@" ;;
esac
