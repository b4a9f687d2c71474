#!/usr/bin/env bash
# Drives a real samizdatd on loopback with the real samizdat client: submit every schema example
# and get each back byte for byte, amend, get by prefix, ambiguous and unknown prefixes, history,
# list with --kind, --where, --limit and --cursor, search in Russian and Ukrainian, status, and
# verify by id.
set -u
# shellcheck source=node_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"

echo "# start a node"
if ! start_daemon "$work/n1"; then
    bad "samizdatd starts" "see the log above"
    finish
fi
ok "samizdatd starts and writes its invite"
SAMIZDAT_NODE=$(cat n1/invite)
export SAMIZDAT_NODE
nodekey=$(cut -d, -f3 n1/invite)
"$SAMIZDAT" keygen -o alice.key --no-passphrase >/dev/null 2>&1 || bad "keygen" "failed"
export SAMIZDAT_KEY=$work/alice.key
alice=$(sed -n 2p alice.key.pub)

echo "# help"
for c in submit amend get history list search status; do
    expect_ok "$c --help" "$SAMIZDAT" "$c" --help
    grep -q "^usage: samizdat.* $c" out || bad "$c --help prints usage" "$(head -2 out)"
    grep -q "does NOT pin" out || bad "$c --help says a bare HOST:PORT is not pinned" "$(cat out)"
done

echo "# submit every example and get it back"
: >submitted
for f in "$EXAMPLES"/testimony-*.json "$EXAMPLES"/case-*.json; do
    name=$(basename "$f" .json)
    kind=${name%%-*}
    run "$SAMIZDAT" --json submit "$kind" "$f"
    if [ "$st" -ne 0 ]; then
        bad "submit $name" "exit $st: $(cat err)"
        continue
    fi
    id=$(json_get out 'j["record_id"]')
    ver=$(json_get out 'j["version"]')
    seq=$(json_get out 'j["seq"]')
    if [ "$id" = "$ver" ] && [ ${#id} -eq 64 ] && [ "$seq" -ge 0 ]; then
        ok "submit $name (seq $seq)"
    else
        bad "submit $name" "$(cat out)"
    fi
    echo "$name $kind $id $ver" >>submitted
    run "$SAMIZDAT" --json get "$id" -o "$name.rec"
    if [ "$st" -ne 0 ]; then
        bad "get $name" "exit $st: $(cat err)"
        continue
    fi
    sha=$(sha256sum "$name.rec" | cut -c1-64)
    [ "$sha" = "$ver" ] && ok "get $name: sha256 of the envelope is the version hash" ||
        bad "get $name: envelope hash" "$sha != $ver"
    if python3 - "$f" "$id" "$ver" "$kind" "$alice" <<'EOF'; then
import json, sys
j = json.load(open("out"))
f, i, v, k, a = sys.argv[1:]
raw = open(f, "rb").read()
assert j["body_text"].encode() == raw, "body_text differs from the file"
assert j["body"] == json.loads(raw), "body differs"
assert (j["id"], j["version"], j["kind"], j["author"]) == (i, v, k, a), "fields"
assert j["parents"] == [] and j["conflicts"] == [] and j["versions"] == 1, "history fields"
assert j["signature"] == "ok" and j["schema"] == "ok"
EOF
        ok "get $name --json: body byte-identical, id, version, kind, author, parents"
    else
        bad "get $name --json" "$(head -c 600 out)"
    fi
    expect_ok "verify $name.rec (offline)" "$SAMIZDAT" verify "$name.rec"
done
nsub=$(wc -l <submitted)

echo "# a body near the 1 MiB limit travels in fragments both ways"
python3 - "$EXAMPLES/testimony-minimal.json" <<'EOF2'
import json, sys
j = json.load(open(sys.argv[1]))
j["statement"]["text"] = "Большой текст свидетельства. " * 16500
open("big.json", "w").write(json.dumps(j, ensure_ascii=False))
EOF2
expect_ok "submit a $(stat -c %s big.json)-byte body" "$SAMIZDAT" --json submit testimony big.json
bigver=$(json_get out 'j["version"]')
expect_ok "get it back" "$SAMIZDAT" --json get "$bigver" -o big.rec
[ "$(sha256sum big.rec | cut -c1-64)" = "$bigver" ] && ok "the big envelope is byte-identical" || bad "big envelope" "hash differs"
python3 -c 'import json; j=json.load(open("out")); assert j["body_text"].encode()==open("big.json","rb").read()' &&
    ok "the big body is byte-identical" || bad "big body" "differs"

echo "# submit: plain output, bad input"
expect_ok "submit prints the record id" "$SAMIZDAT" submit testimony "$EXAMPLES/testimony-minimal.json"
grep -Eqx '[0-9a-f]{64}' out && ok "submit output is one id" || bad "submit output is one id" "$(cat out)"
expect_fail "submit --attach is not yet supported" "not yet supported" \
    "$SAMIZDAT" submit testimony "$EXAMPLES/testimony-minimal.json" --attach x
expect_fail "submit --seal-to with a bad key fails locally" "is neither a public key" \
    "$SAMIZDAT" submit testimony "$EXAMPLES/testimony-minimal.json" --seal-to nonsense
printf '{"title": 5}' >badbody.json
expect_fail "submit an invalid body fails locally" "badbody.json" "$SAMIZDAT" submit testimony badbody.json
expect_fail "submit without a node" "no node given" env -u SAMIZDAT_NODE "$SAMIZDAT" submit testimony "$EXAMPLES/testimony-minimal.json"

echo "# get by prefix, ambiguous and unknown prefixes"
read -r _ _ tid tver < <(grep '^testimony-minimal ' submitted)
expect_ok "get by an 8-digit prefix" "$SAMIZDAT" --json get "${tid:0:8}"
[ "$(json_get out 'j["id"]')" = "$tid" ] && ok "prefix resolves to the record" || bad "prefix resolves" "$(head -c 300 out)"
expect_ok "get by an upper-case prefix" "$SAMIZDAT" get "$(echo "${tid:0:10}" | tr a-f A-F)"
amb=$(cut -d' ' -f3 submitted | cut -c1 | sort | uniq -d | head -1)
expect_fail "an ambiguous prefix is refused" "more than one" "$SAMIZDAT" get "$amb"
none=$(python3 -c '
import sys
ids=[l.split()[2] for l in open("submitted")]
for n in range(4096):
    p="%03x"%n
    if not any(i.startswith(p) for i in ids): print(p); break')
expect_fail "an unknown id" "no record" "$SAMIZDAT" get "$none"
expect_fail "a non-hex id is a usage error" "hex" "$SAMIZDAT" get xyz
[ "$st" -eq 2 ] && ok "non-hex id exits 2" || bad "non-hex id exits 2" "exit $st"

echo "# amend and history"
python3 - "$EXAMPLES/testimony-minimal.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["title"] = "Minimal testimony, amended (fictional example)"
open("amended.json", "w").write(json.dumps(j, ensure_ascii=False, indent=2))
EOF
expect_ok "amend by prefix" "$SAMIZDAT" --json amend "${tid:0:12}" amended.json
v2=$(json_get out 'j["version"]')
[ "$(json_get out 'j["record_id"]')" = "$tid" ] && ok "amend keeps the record id" || bad "amend keeps the record id" "$(cat out)"
expect_ok "get after amend" "$SAMIZDAT" --json get "$tid"
if python3 - "$tid" "$v2" "$tver" <<'EOF'; then
import json, sys
j = json.load(open("out"))
i, v2, v1 = sys.argv[1:]
assert j["id"] == i and j["version"] == v2 and j["parents"] == [v1], j
assert j["body"]["title"].endswith("amended (fictional example)")
assert j["versions"] == 2 and j["conflicts"] == []
EOF
    ok "the current version is the amendment, with the first as parent"
else
    bad "get after amend" "$(head -c 600 out)"
fi
expect_ok "get --version of the first version" "$SAMIZDAT" --json get "$tid" --version "${tver:0:10}"
[ "$(json_get out 'j["version"]')" = "$tver" ] && ok "--version fetches the old version" || bad "--version" "$(head -c 300 out)"
expect_ok "plain amend prints the new version" "$SAMIZDAT" amend "$tid" "$EXAMPLES/testimony-minimal.json"
v3=$(cat out)
grep -Eqx '[0-9a-f]{64}' out && ok "amend output is one version hash" || bad "amend output" "$(cat out)"
expect_ok "history --json" "$SAMIZDAT" --json history "${tid:0:9}"
if python3 - "$tver" "$v2" "$v3" <<'EOF'; then
import json, sys
h = json.load(open("out"))
v1, v2, v3 = sys.argv[1:]
assert [x["version"] for x in h] == [v1, v2, v3], h
assert h[0]["parents"] == [] and h[1]["parents"] == [v1] and h[2]["parents"] == [v2]
assert h[0]["seq"] < h[1]["seq"] < h[2]["seq"]
EOF
    ok "history lists the three versions in order with seq and parents"
else
    bad "history" "$(head -c 800 out)"
fi
expect_ok "history for people" "$SAMIZDAT" history "$tid"
[ "$(grep -c '^seq ' out)" -eq 3 ] && ok "history prints three versions" || bad "history text" "$(cat out)"
expect_fail "amend of an unknown record" "no record" "$SAMIZDAT" amend "$none" amended.json
SAMIZDAT_KEY=$work/nokey expect_fail "amend without a key" "cannot read key" "$SAMIZDAT" amend "$tid" amended.json

echo "# list"
ncase=$(grep -c ' case ' submitted)
ntest=$(($(grep -c ' testimony ' submitted) + 2))
expect_ok "list --kind case" "$SAMIZDAT" --json list --kind case --limit 1000
n=$(json_get out 'len(j["records"])')
[ "$n" -eq "$ncase" ] && ok "list --kind case gives the $ncase cases" || bad "list --kind case" "$n records"
[ "$(json_get out 'all(r["kind"]=="case" for r in j["records"])')" = true ] && ok "all of kind case" || bad "kinds" "$(head -c 300 out)"
expect_ok "list --kind testimony" "$SAMIZDAT" --json list --kind testimony
n=$(json_get out 'len(j["records"])')
[ "$n" -eq "$ntest" ] && ok "list --kind testimony gives $ntest" || bad "list --kind testimony" "$n records"
read -r _ _ uaid _ < <(grep '^case-ukraine ' submitted)
expect_ok "list --where country=UA" "$SAMIZDAT" --json list --where country=UA
[ "$(json_get out '[r["id"] for r in j["records"]]')" = "[\"$uaid\"]" ] && ok "--where country=UA finds the Ukraine case" ||
    bad "--where country=UA" "$(head -c 400 out)"
expect_ok "list --kind case --where country=UA --where pathway=..." "$SAMIZDAT" --json list --kind testimony --where country=UA
[ "$(json_get out 'len(j["records"])')" -eq 0 ] && ok "no testimony is filed under country UA" || bad "combined filters" "$(head -c 300 out)"
expect_ok "list --limit 4" "$SAMIZDAT" --json list --limit 4
cur=$(json_get out 'j["next_cursor"]')
p1=$(json_get out '[r["id"] for r in j["records"]]')
[ "$(json_get out 'len(j["records"])')" -eq 4 ] && [ "$cur" != None ] && ok "a page of 4 with a next cursor" || bad "list --limit 4" "$(head -c 300 out)"
expect_ok "list --cursor" "$SAMIZDAT" --json list --limit 4 --cursor "$cur"
p2=$(json_get out '[r["id"] for r in j["records"]]')
python3 -c "import sys,json; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(0 if len(b)==4 and not set(a)&set(b) else 1)" "$p1" "$p2" &&
    ok "the next page continues without repeats" || bad "cursor paging" "$p1 / $p2"
expect_ok "list --newest" "$SAMIZDAT" --json list --newest --limit 1000
[ "$(json_get out 'j["records"][0]["created_ms"] >= j["records"][-1]["created_ms"]')" = true ] && ok "--newest is newest first" || bad "--newest" "$(head -c 300 out)"
expect_ok "list for people" "$SAMIZDAT" list --kind case
[ "$(wc -l <out)" -eq "$ncase" ] && ok "one line per record" || bad "list text" "$(cat out)"
expect_fail "list --kind bogus" "unknown kind" "$SAMIZDAT" list --kind bogus
expect_fail "list --where without =" "FIELD=VALUE" "$SAMIZDAT" list --where country
expect_fail "list --limit 0" "limit" "$SAMIZDAT" list --limit 0
expect_fail "list --where unknown field" "." "$SAMIZDAT" list --where bogus=1

echo "# search (Russian and Ukrainian)"
read -r _ _ ruid _ < <(grep '^testimony-conscript-ru ' submitted)
read -r _ _ ukid _ < <(grep '^testimony-relative-uk ' submitted)
search_finds() { # NAME QUERY ID: retries for up to 10 s while the index catches up
    local name=$1 q=$2 want=$3
    for _ in $(seq 50); do
        run "$SAMIZDAT" --json search "$q"
        if [ "$st" -eq 0 ] && grep -q "$want" out; then
            ok "$name"
            return
        fi
        sleep 0.2
    done
    bad "$name" "exit $st: $(head -c 300 err) $(head -c 300 out)"
}
search_finds "search Russian: дедовщины" "дедовщины" "$ruid"
search_finds "search Ukrainian: повістку" "повістку" "$ukid"
search_finds "search Russian, another word: Каунасом" "Каунасом" "$ruid"
run "$SAMIZDAT" --json search "повістку"
[ "$(json_get out '[h["id"] for h in j]')" = "[\"$ukid\"]" ] && ok "the Ukrainian word finds only the Ukrainian testimony" || bad "search precision" "$(head -c 300 out)"
expect_ok "search for people" "$SAMIZDAT" search "дедовщины"
grep -q "$ruid" out && grep -q "вымышленный пример" out && ok "search prints ids and titles" || bad "search text" "$(cat out)"
expect_ok "search with no hits" "$SAMIZDAT" --json search "zzzqqqxxxnothing"
[ "$(json_get out 'len(j)')" -eq 0 ] && ok "no hits is an empty array" || bad "no hits" "$(cat out)"

echo "# status and verify by id"
expect_ok "status --json" "$SAMIZDAT" --json status
if python3 - "$nodekey" "$((nsub + 2))" "$((nsub + 4))" <<'EOF'; then
import json, sys
j = json.load(open("out"))
key, recs, vers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
assert j["node_key"] == key, j["node_key"]
assert j["records"] == recs and j["versions"] == vers, (j["records"], j["versions"])
assert j["tree_head"]["signature"] == "ok" and j["tree_head"]["size"] == vers, j["tree_head"]
assert j["protocol_version"] == 1 and isinstance(j["peers"], list)
EOF
    ok "status: node key from the invite, counts, verified tree head"
else
    bad "status --json" "$(head -c 800 out)"
fi
expect_ok "status for people" "$SAMIZDAT" status
grep -q "signature ok" out && ok "status says the tree head verified" || bad "status text" "$(cat out)"
expect_ok "verify ID fetches and verifies" "$SAMIZDAT" verify "${uaid:0:16}"
grep -q "signature  ok" out && ok "verify ID output" || bad "verify ID output" "$(cat out)"
expect_ok "verify ID --json" "$SAMIZDAT" --json verify "$uaid"
[ "$(json_get out 'j["verified"]')" = true ] && ok "verify ID --json says verified" || bad "verify --json" "$(cat out)"
expect_fail "verify of a missing file that is not hex" "no such file|cannot read" "$SAMIZDAT" verify no-such-file.rec

echo "# bare HOST:PORT with a network key file (node key not pinned)"
SAMIZDAT_NETWORK_KEY_FILE=$work/n1/network.key expect_ok "status over HOST:PORT" \
    "$SAMIZDAT" --node "127.0.0.1:$DAEMON_PORT" status
mkdir -p "$XDG_CONFIG_HOME/samizdat" && cp n1/network.key "$XDG_CONFIG_HOME/samizdat/network.key"
expect_ok "HOST:PORT with ~/.config/samizdat/network.key" "$SAMIZDAT" --node "127.0.0.1:$DAEMON_PORT" get "$tid"

daemon_alive "$DAEMON_PID" && ok "the daemon is still running" || bad "daemon alive" "it exited"
finish
