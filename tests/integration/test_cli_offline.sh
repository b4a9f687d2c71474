#!/usr/bin/env bash
# Drives the real samizdat binary through the offline commands: keygen, sign, verify, show, and
# every kind of bad input. Each failure case must exit non-zero with exactly one line on stderr
# and write nothing.
set -u
SAMIZDAT=${SAMIZDAT:?set SAMIZDAT to the samizdat binary}
SRC=${SZ_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
EXAMPLES=$SRC/schema/examples

work=$(mktemp -d "${TMPDIR:-/tmp}/sz-cli-offline.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
export XDG_CONFIG_HOME=$work/config
export HOME=$work/home
unset SAMIZDAT_KEY
printf 'correct horse battery staple\n' >pass
printf 'wrong horse\n' >wrongpass
export SAMIZDAT_PASSPHRASE_FILE=$work/pass

passed=0
failed=0
ok() {
    passed=$((passed + 1))
    echo "ok   - $1"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL - $1: $2"
}

# run NAME CMD...: runs a command, keeping its status, stdout and stderr in $st, out, err.
run() {
    "$@" >out 2>err
    st=$?
}

# expect_ok NAME CMD...: the command must succeed.
expect_ok() {
    local name=$1
    shift
    run "$@"
    if [ "$st" -eq 0 ]; then ok "$name"; else bad "$name" "exit $st: $(head -c 300 err)"; fi
}

# expect_fail NAME STATUS PATTERN CMD...: the command must exit with STATUS (or any non-zero if
# STATUS is "x"), print exactly one line on stderr matching PATTERN (grep -E).
expect_fail() {
    local name=$1 want=$2 pattern=$3
    shift 3
    run "$@"
    local lines
    lines=$(wc -l <err)
    if [ "$st" -eq 0 ]; then
        bad "$name" "succeeded but should have failed"
    elif [ "$want" != x ] && [ "$st" -ne "$want" ]; then
        bad "$name" "exit $st, expected $want: $(head -c 300 err)"
    elif [ "$lines" -ne 1 ]; then
        bad "$name" "stderr has $lines lines, expected 1: $(head -c 600 err)"
    elif ! grep -Eq -- "$pattern" err; then
        bad "$name" "stderr does not match /$pattern/: $(cat err)"
    else
        ok "$name"
    fi
}

# expect_absent NAME FILE: nothing was written.
expect_absent() {
    if [ -e "$2" ]; then
        bad "$1" "$2 was written"
    elif ls "$2".tmp-* >/dev/null 2>&1; then
        bad "$1" "a temporary file was left behind"
    else
        ok "$1"
    fi
}

# json_field FILE FIELD: prints a top-level field of a JSON document.
json_field() {
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if not isinstance(v,list) else " ".join(v))' "$1" "$2"
}

# patch FILE OFFSET XOR|=VALUE OUT: copies FILE to OUT with one byte changed (negative offsets
# count from the end).
patch() {
    python3 - "$@" <<'EOF'
import sys
src, off, op, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
b = bytearray(open(src, 'rb').read())
if op.startswith('='):
    b[off] = int(op[1:], 0)
else:
    b[off] ^= int(op, 0)
open(dst, 'wb').write(bytes(b))
EOF
}

echo "# basics"
expect_ok "--version" "$SAMIZDAT" --version
grep -q '^samizdat [0-9]' out || bad "--version prints a version" "$(cat out)"
expect_ok "--help" "$SAMIZDAT" --help
cp out help.txt
for c in keygen sign verify show; do
    grep -q "^  $c " help.txt || bad "--help lists $c" "$(cat help.txt)"
    expect_ok "$c --help" "$SAMIZDAT" "$c" --help
    grep -q "^usage: samizdat.* $c" out || bad "$c --help prints usage" "$(head -2 out)"
done
expect_fail "no command is a usage error" 2 "missing command" "$SAMIZDAT"
expect_fail "unknown command" 2 "unknown command 'frobnicate'" "$SAMIZDAT" frobnicate
expect_fail "unknown option" 2 "unknown option --bogus" "$SAMIZDAT" verify --bogus x
expect_fail "unknown global option" 2 "unknown option --bogus" "$SAMIZDAT" --bogus verify x

echo "# keygen"
expect_ok "keygen with passphrase file (interactive KDF)" "$SAMIZDAT" keygen -o key --kdf interactive
[ -f key ] && [ -f key.pub ] || bad "keygen writes key and key.pub" "missing"
mode=$(stat -c %a key)
[ "$mode" = 600 ] && ok "secret key mode is 0600" || bad "secret key mode is 0600" "$mode"
pk=$(sed -n 2p key.pub)
grep -q "$pk" out && ok "keygen prints the public key" || bad "keygen prints the public key" "$(cat out)"
head -1 key.pub | grep -qx 'untrusted comment: samizdat public key' && ok ".pub comment line" ||
    bad ".pub comment line" "$(head -1 key.pub)"
head -1 key | grep -q "^untrusted comment: samizdat secret key $pk" && ok "secret key comment names the key" ||
    bad "secret key comment names the key" "$(head -1 key)"
sum_before=$(sha256sum key)
expect_fail "keygen refuses to overwrite" 1 "already exists" "$SAMIZDAT" keygen -o key --kdf interactive
[ "$(sha256sum key)" = "$sum_before" ] && ok "key unchanged after refusal" || bad "key unchanged after refusal" "changed"
expect_fail "keygen refuses an existing .pub" 1 "orphan.pub already exists" \
    sh -c "touch orphan.pub && exec \"\$0\" keygen -o orphan --kdf interactive" "$SAMIZDAT"
expect_absent "no secret key written beside an existing .pub" orphan
expect_ok "keygen --force replaces" "$SAMIZDAT" keygen -o key2 --kdf interactive
expect_ok "keygen --force replaces (2)" "$SAMIZDAT" keygen -o key2 --kdf interactive --force
: >emptypass
expect_fail "keygen refuses an empty passphrase" 1 "empty passphrase" \
    env SAMIZDAT_PASSPHRASE_FILE=$work/emptypass "$SAMIZDAT" keygen -o emptykey --kdf interactive
expect_absent "no key written for an empty passphrase" emptykey
expect_fail "keygen with an unreadable passphrase file" 1 "passphrase" \
    env SAMIZDAT_PASSPHRASE_FILE=$work/nonexistent "$SAMIZDAT" keygen -o nokey --kdf interactive
expect_absent "no key written without a passphrase" nokey
expect_fail "keygen --kdf min is not offered" 2 "--kdf" "$SAMIZDAT" keygen -o minkey --kdf min
run env -u SAMIZDAT_PASSPHRASE_FILE "$SAMIZDAT" keygen -o open.key --no-passphrase
if [ "$st" -eq 0 ] && grep -q "warning: .*not protected" err; then ok "keygen --no-passphrase warns"; else bad "keygen --no-passphrase warns" "exit $st $(cat err)"; fi
run "$SAMIZDAT" keygen --json -o jkey --kdf interactive
python3 -c 'import json,sys; d=json.load(open("out")); assert d["protected"] is True and len(d["public_key"])==44' &&
    ok "keygen --json" || bad "keygen --json" "$(cat out)"
# The default location, created with mode 0700, and the default (moderate) KDF.
expect_ok "keygen to the default path" "$SAMIZDAT" keygen
[ -f "$XDG_CONFIG_HOME/samizdat/secret.key" ] && [ "$(stat -c %a "$XDG_CONFIG_HOME/samizdat")" = 700 ] &&
    ok "default key dir is 0700" || bad "default key dir is 0700" "$(ls -la "$XDG_CONFIG_HOME" 2>&1)"
expect_ok "sign with the default key" "$SAMIZDAT" sign testimony "$EXAMPLES/testimony-minimal.json" -o default.szr
expect_ok "SAMIZDAT_KEY names the key" env SAMIZDAT_KEY=$work/key "$SAMIZDAT" sign testimony \
    "$EXAMPLES/testimony-minimal.json" -o envkey.szr
run "$SAMIZDAT" verify --json envkey.szr
[ "$(json_field out author)" = "$pk" ] && ok "SAMIZDAT_KEY was used" || bad "SAMIZDAT_KEY was used" "$(cat out)"
expect_ok "sign with an unprotected key needs no passphrase" env -u SAMIZDAT_PASSPHRASE_FILE \
    "$SAMIZDAT" --key open.key sign testimony "$EXAMPLES/testimony-minimal.json" -o open.szr

echo "# sign, verify, show every example"
n=0
for f in "$EXAMPLES"/testimony-*.json "$EXAMPLES"/case-*.json; do
    [ -e "$f" ] || continue
    base=$(basename "$f" .json)
    kind=${base%%-*}
    n=$((n + 1))
    expect_ok "sign $base" "$SAMIZDAT" --key key sign "$kind" "$f" -o "$base.szr"
    [ -f "$base.szr" ] || continue
    expect_ok "verify $base" "$SAMIZDAT" verify "$base.szr"
    want=$(sha256sum "$base.szr" | cut -d' ' -f1)
    grep -q "^version  *$want\$" out && ok "verify $base prints sha256sum" ||
        bad "verify $base prints sha256sum" "want $want: $(cat out)"
    expect_ok "verify --json $base" "$SAMIZDAT" verify --json "$base.szr"
    cp out v.json
    expect_ok "show --json $base" "$SAMIZDAT" show "$base.szr" --json
    # One python per example: the machine may be slow and python starts slowly.
    if python3 - "$f" "$want" "$kind" "$pk" <<'EOF'; then ok "verify/show --json $base: fields, body_text is the signed file, body parses"; else bad "verify/show --json $base" "$(head -c 300 v.json) $(head -c 300 out)"; fi
import json, sys
src_path, want, kind, pk = sys.argv[1:5]
v = json.load(open("v.json"))
assert v["version"] == want and v["record_id"] == want, "hashes"
assert v["kind"] == kind and v["author"] == pk and v["parents"] == [], "fields"
assert v["verified"] is True and v["sealed"] is False
d = json.load(open("out"))
src = open(src_path, "rb").read().decode("utf-8")
assert d["body_text"] == src, "body_text differs"
assert d["body"] == json.loads(src), "body differs"
assert d["version"] == want and d["verified"] is True
EOF
    expect_ok "show $base" "$SAMIZDAT" show "$base.szr"
done
[ "$n" -gt 0 ] && ok "found $n examples" || bad "found examples" "none in $EXAMPLES"
expect_ok "--json before the command" "$SAMIZDAT" --json verify testimony-minimal.szr
python3 -c 'import json; d=json.load(open("out")); assert d["kind"] == "testimony"' &&
    ok "--json before the command gives JSON" || bad "--json before the command gives JSON" "$(head -c 200 out)"
expect_ok "show for people" "$SAMIZDAT" show testimony-minimal.szr
grep -q '"title": "Minimal testimony' out && grep -q '^signature  ok' out && ok "show prints the body and the checks" ||
    bad "show prints the body and the checks" "$(head -c 400 out)"
expect_ok "help sign" "$SAMIZDAT" help sign
grep -q -- "--record ID" out && ok "help sign documents --record" || bad "help sign documents --record" "$(head -3 out)"
expect_fail "sign refuses kind retraction" 2 "kind must be testimony or case" \
    "$SAMIZDAT" --key key sign retraction "$EXAMPLES/testimony-minimal.json" -o r.szr
expect_absent "no output for a refused kind" r.szr

echo "# versions with parents"
v1=$(sha256sum testimony-minimal.szr | cut -d' ' -f1)
expect_ok "sign a second version" "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" \
    --parent "$v1" --record "$v1" -o v2.szr
run "$SAMIZDAT" verify --json v2.szr
[ "$(json_field out record_id)" = "$v1" ] && [ "$(json_field out parents)" = "$v1" ] &&
    [ "$(json_field out version)" = "$(sha256sum v2.szr | cut -d' ' -f1)" ] &&
    ok "second version names its record and parent" || bad "second version fields" "$(cat out)"
run "$SAMIZDAT" verify v2.szr
grep -q "^parents  *$v1" out && ok "verify prints parents" || bad "verify prints parents" "$(cat out)"
expect_fail "--parent without --record" 2 "--record" \
    "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" --parent "$v1" -o v3.szr
expect_fail "--record without --parent" 2 "--parent" \
    "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" --record "$v1" -o v3.szr
expect_fail "--parent not a full hash" 2 "64 hex" \
    "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" --parent abc --record "$v1" -o v3.szr
expect_fail "duplicate --parent" 1 "parent" \
    "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" --parent "$v1" --parent "$v1" \
    --record "$v1" -o v3.szr
expect_absent "no output for bad parents" v3.szr

echo "# bad records"
good=testimony-minimal.szr
size=$(stat -c %s $good)
head -c $((size - 1)) $good >trunc1.szr
expect_fail "truncated by one byte" 1 "trunc1.szr: record is truncated" "$SAMIZDAT" verify trunc1.szr
head -c 40 $good >trunc40.szr
expect_fail "truncated to 40 bytes" 1 "record is truncated" "$SAMIZDAT" verify trunc40.szr
: >empty.szr
expect_fail "empty file" 1 "truncated" "$SAMIZDAT" verify empty.szr
{ cat $good; printf 'x'; } >ext.szr
expect_fail "extended by one byte" 1 "unexpected bytes after the end" "$SAMIZDAT" verify ext.szr
cat $good $good >double.szr
expect_fail "two records joined" 1 "unexpected bytes after the end" "$SAMIZDAT" verify double.szr
for off in 6 13 20 47 60 $((size - 200)) $((size - 66)) $((size - 65)) $((size - 1)); do
    for mask in 0x01 0x80; do
        patch $good $off $mask flip.szr
        expect_fail "bit $mask flipped at byte $off" 1 "(signature does not verify \(the record was altered or forged\)|record id|parent)" \
            "$SAMIZDAT" verify flip.szr
    done
done
patch $good 100 0x04 flip.szr
expect_fail "show refuses a tampered record" 1 "signature does not verify.*not shown" "$SAMIZDAT" show flip.szr
[ -s out ] && bad "show prints nothing for a tampered record" "$(head -c 200 out)" || ok "show prints nothing for a tampered record"
expect_fail "show --unverified still fails" 1 "shown UNVERIFIED" "$SAMIZDAT" show --unverified flip.szr
grep -q '^UNVERIFIED: signature does not verify' out && ok "show --unverified marks the output" ||
    bad "show --unverified marks the output" "$(head -3 out)"
expect_fail "show --unverified --json" 1 "UNVERIFIED" "$SAMIZDAT" show --unverified --json flip.szr
python3 -c 'import json; d=json.load(open("out")); assert d["verified"] is False and "signature" in d["problem"]' &&
    ok "show --unverified --json says verified false" || bad "show --unverified --json" "$(head -c 300 out)"
patch $good 0 0x01 magic.szr
expect_fail "bad magic" 1 "not a samizdat record" "$SAMIZDAT" verify magic.szr
patch $good 3 =2 format.szr
expect_fail "unknown format version" 1 "unsupported record format version 2" "$SAMIZDAT" verify format.szr
patch $good 4 =9 kind.szr
expect_fail "unknown kind (a kind error, not a signature error)" 1 "kind.szr: unknown record kind 9" "$SAMIZDAT" verify kind.szr
patch $good 4 =0 kind0.szr
expect_fail "kind zero" 1 "unknown record kind 0" "$SAMIZDAT" verify kind0.szr
patch $good 5 =0x80 flags.szr
expect_fail "unknown flags" 1 "flags" "$SAMIZDAT" verify flags.szr
patch $good 4 =2 kindswap.szr
expect_fail "kind changed to case" 1 "signature does not verify" "$SAMIZDAT" verify kindswap.szr
expect_fail "missing file" 1 "cannot read nothere.szr" "$SAMIZDAT" verify nothere.szr
expect_fail "a directory" 1 "cannot read" "$SAMIZDAT" verify "$work"
expect_fail "a JSON file is not a record" 1 "not a samizdat record" "$SAMIZDAT" verify "$EXAMPLES/testimony-minimal.json"
expect_fail "verify with two files" 2 "one FILE" "$SAMIZDAT" verify a b

echo "# bad bodies"
python3 - "$EXAMPLES/testimony-minimal.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["witness"]["role"] = "general"
open("badrole.json", "w").write(json.dumps(d))
del d["witness"]
open("nowitness.json", "w").write(json.dumps(d))
EOF
expect_fail "schema: bad enum value" 1 "badrole.json: .*/witness/role" \
    "$SAMIZDAT" --key key sign testimony badrole.json -o badrole.szr
expect_absent "nothing written for a schema error" badrole.szr
expect_fail "schema: missing required property" 1 "nowitness.json: .*witness" \
    "$SAMIZDAT" --key key sign testimony nowitness.json -o nowitness.szr
expect_absent "nothing written for a missing property" nowitness.szr
expect_fail "testimony body signed as a case" 1 "testimony-minimal.json: " \
    "$SAMIZDAT" --key key sign case "$EXAMPLES/testimony-minimal.json" -o wrongkind.szr
expect_absent "nothing written for the wrong kind" wrongkind.szr
printf '{"title": "x",' >broken.json
expect_fail "invalid JSON" 1 "broken.json: " "$SAMIZDAT" --key key sign testimony broken.json -o broken.szr
expect_absent "nothing written for invalid JSON" broken.szr
printf '\xff\xfe{}' >notutf8.json
expect_fail "invalid UTF-8" 1 "notutf8.json: " "$SAMIZDAT" --key key sign testimony notutf8.json -o notutf8.szr
expect_absent "nothing written for invalid UTF-8" notutf8.szr
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >huge.json
expect_fail "body over 1 MiB" 1 "larger than" "$SAMIZDAT" --key key sign testimony huge.json -o huge.szr
expect_absent "nothing written for a huge body" huge.szr
expect_fail "missing body file" 1 "cannot read nobody.json" "$SAMIZDAT" --key key sign testimony nobody.json -o nobody.szr
expect_fail "missing -o" 2 "missing -o" "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json"
cp testimony-minimal.szr existing.szr
sum_before=$(sha256sum existing.szr)
expect_fail "sign refuses to replace OUT" 1 "already exists" \
    "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" -o existing.szr
[ "$(sha256sum existing.szr)" = "$sum_before" ] && ok "OUT unchanged after refusal" || bad "OUT unchanged" "changed"
expect_ok "sign --force replaces OUT" "$SAMIZDAT" --key key sign testimony "$EXAMPLES/testimony-minimal.json" \
    -o existing.szr --force
expect_ok "replaced OUT verifies" "$SAMIZDAT" verify existing.szr

echo "# bad keys"
sign_with() { # sign_with NAME PATTERN KEYFILE [env...]
    local name=$1 pattern=$2 k=$3
    shift 3
    expect_fail "$name" 1 "$pattern" env "$@" "$SAMIZDAT" --key "$k" sign testimony \
        "$EXAMPLES/testimony-minimal.json" -o keytest.szr
    expect_absent "nothing written: $name" keytest.szr
}
sign_with "wrong passphrase" "key: wrong passphrase" key SAMIZDAT_PASSPHRASE_FILE=$work/wrongpass
patch key 100 0x01 badkey1
sign_with "key file with a damaged header" "badkey1: key file is corrupted" badkey1
len=$(stat -c %s key)
patch key $((len - 20)) 0x01 badkey2
sign_with "key file with a damaged box (reads as wrong passphrase)" "badkey2: (wrong passphrase|key file is corrupted)" badkey2
head -c 150 key >badkey3
sign_with "truncated key file" "badkey3: key file is corrupted" badkey3
printf 'garbage\n' >badkey4
sign_with "garbage key file" "badkey4: key file is corrupted" badkey4
sign_with "public key given as secret key" "key.pub: key file is corrupted or not a samizdat secret key" key.pub
sign_with "missing key file" "cannot read key nokey.*keygen" nokey
patch open.key 100 0x01 badopen
sign_with "damaged unprotected key" "badopen: key file is corrupted" badopen -u SAMIZDAT_PASSPHRASE_FILE
head -c 5000 /dev/zero >bigkey
sign_with "huge key file" "bigkey: not a samizdat secret key" bigkey
# setsid: no controlling terminal, so there is nobody to ask.
expect_fail "protected key with no terminal and no passphrase file" 1 "no terminal to ask for the passphrase" \
    setsid -w env -u SAMIZDAT_PASSPHRASE_FILE "$SAMIZDAT" --key key sign testimony \
    "$EXAMPLES/testimony-minimal.json" -o keytest.szr
expect_absent "nothing written without a passphrase" keytest.szr

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
