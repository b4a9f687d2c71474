#!/usr/bin/env bash
# A node's default recipients of sealed records (config seal_to, issue 6) reach clients in
# STATUS_OK: `samizdat status` lists them, `submit --seal` seals to them (plus the author unless
# --no-self), `submit --seal-to` adds them, and `submit --seal` against a node that names none
# fails with one line and stores nothing.
set -u
# shellcheck source=node_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"

for k in alice bob eve archivist; do
    "$SAMIZDAT" keygen -o $k.key --no-passphrase >/dev/null 2>&1 || bad "keygen $k" "failed"
done
archivist=$(sed -n 2p archivist.key.pub)

echo "# a node whose config names the archivist as default recipient, and one that names none"
printf 'seal_to = %s\n' "$archivist" >n1.conf
if ! start_daemon "$work/n1" --config "$work/n1.conf"; then
    bad "samizdatd starts with seal_to" "see the log above"
    finish
fi
ok "samizdatd starts with seal_to"
if ! start_daemon "$work/n2"; then
    bad "samizdatd starts without seal_to" "see the log above"
    finish
fi
ok "samizdatd starts without seal_to"
n1=$(cat n1/invite)
n2=$(cat n2/invite)
export SAMIZDAT_KEY=$work/alice.key

marker="MARKER$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
python3 - "$EXAMPLES/testimony-minimal.json" "$marker" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["statement"]["text"] = "Testimony " + sys.argv[2]
open("t.json", "w").write(json.dumps(j, ensure_ascii=False))
PY

echo "# status shows the default recipients"
expect_ok "status --json (n1)" "$SAMIZDAT" --node "$n1" --json status
[ "$(json_get out 'j["seal_to"]')" = "[\"$archivist\"]" ] &&
    ok "status --json lists the archivist as the only default recipient" ||
    bad "status --json seal_to" "$(json_get out 'j.get("seal_to")')"
expect_ok "status (n1)" "$SAMIZDAT" --node "$n1" status
# Fixed-string match: a base64 key may hold '+' and '/'.
grep '^seal to ' out | grep -qF -- " $archivist" && ok "status names the default recipient" ||
    bad "status seal to line" "$(cat out)"
expect_ok "status --json (n2)" "$SAMIZDAT" --node "$n2" --json status
[ "$(json_get out 'j["seal_to"]')" = "[]" ] && ok "status --json of a node without seal_to: []" ||
    bad "status --json seal_to empty" "$(json_get out 'j.get("seal_to")')"

echo "# submit --seal"
expect_ok "submit --seal" "$SAMIZDAT" --node "$n1" --json submit testimony t.json --seal
sid=$(json_get out 'j["record_id"]')
[ "$(json_get out 'j["sealed"]')" = "true" ] && [ "$(json_get out 'j["recipients"]')" = "2" ] &&
    ok "submit --seal: sealed to 2 (the archivist and the author)" || bad "submit --seal" "$(cat out)"
expect_ok "get by the archivist" "$SAMIZDAT" --node "$n1" --key archivist.key --json get "$sid"
python3 -c 'import json,sys; j=json.load(open("out")); assert j["sealed"] and j["opened"] and sys.argv[1] in j["body_text"]' "$marker" &&
    ok "the archivist opens it and reads the marker" || bad "archivist opens" "$(head -c 400 out)"
expect_ok "get by the author" "$SAMIZDAT" --node "$n1" get "$sid"
grep -q "$marker" out && ok "the author reads it back" || bad "author reads back" "$(head -c 400 out)"
expect_ok "get by a stranger" "$SAMIZDAT" --node "$n1" --key eve.key --json get "$sid"
python3 -c 'import json; j=json.load(open("out")); assert j["sealed"] and not j["opened"] and j["body"] is None' &&
    ! grep -q "$marker" out && ok "a stranger sees only that it is sealed" ||
    bad "stranger get" "$(head -c 400 out)"
if grep -rqa "$marker" n1; then bad "no file of n1 holds the marker" "found"; else
    ok "no file of n1 holds the marker"; fi

echo "# --seal with --no-self, --seal-to adds the defaults, no key twice"
expect_ok "submit --seal --no-self" "$SAMIZDAT" --node "$n1" --json submit testimony t.json --seal --no-self
sid2=$(json_get out 'j["record_id"]')
[ "$(json_get out 'j["recipients"]')" = "1" ] && ok "--seal --no-self: 1 recipient" ||
    bad "--seal --no-self recipients" "$(cat out)"
expect_ok "get by the author after --no-self" "$SAMIZDAT" --node "$n1" --json get "$sid2"
python3 -c 'import json; j=json.load(open("out")); assert j["sealed"] and not j["opened"]' &&
    ok "the author cannot open it" || bad "author after --no-self" "$(head -c 400 out)"
expect_ok "get by the archivist after --no-self" "$SAMIZDAT" --node "$n1" --key archivist.key get "$sid2"
grep -q "$marker" out && ok "the archivist can" || bad "archivist after --no-self" "$(head -c 400 out)"
expect_ok "submit --seal-to bob" "$SAMIZDAT" --node "$n1" --json submit testimony t.json --seal-to bob.key.pub
sid3=$(json_get out 'j["record_id"]')
[ "$(json_get out 'j["recipients"]')" = "3" ] && ok "--seal-to bob: 3 recipients (bob, the default, the author)" ||
    bad "--seal-to recipients" "$(cat out)"
expect_ok "get by the archivist (default added to --seal-to)" "$SAMIZDAT" --node "$n1" --key archivist.key get "$sid3"
grep -q "$marker" out && ok "the default recipient reads a --seal-to record" || bad "default with --seal-to" "$(head -c 400 out)"
expect_ok "submit --seal --seal-to the default itself" \
    "$SAMIZDAT" --node "$n1" --json submit testimony t.json --seal --seal-to "$archivist"
[ "$(json_get out 'j["recipients"]')" = "2" ] && ok "a default named again is sealed to once" ||
    bad "dedupe" "$(cat out)"
expect_ok "submit --seal (people)" "$SAMIZDAT" --node "$n1" submit testimony t.json --seal
grep -q "1 of them from the node's default recipients" err && ok "submit says a recipient came from the node" ||
    bad "submit note" "$(cat err)"

echo "# a node that names no default recipients"
expect_fail "submit --seal to a node without seal_to fails with one line" "names no default recipients" \
    "$SAMIZDAT" --node "$n2" submit testimony t.json --seal
expect_ok "status --json (n2) after the refusal" "$SAMIZDAT" --node "$n2" --json status
[ "$(json_get out 'j["records"]')" = "0" ] && [ "$(json_get out 'j["versions"]')" = "0" ] &&
    ok "nothing was stored" || bad "n2 stores nothing" "$(cat out)"
expect_fail "--no-self alone is a usage error" "--no-self needs --seal-to or --seal" \
    "$SAMIZDAT" --node "$n2" submit testimony t.json --no-self
expect_ok "submit --seal-to to a node without defaults" "$SAMIZDAT" --node "$n2" --json submit testimony t.json --seal-to bob.key.pub
[ "$(json_get out 'j["recipients"]')" = "2" ] && ok "--seal-to without node defaults: 2 recipients" ||
    bad "--seal-to n2" "$(cat out)"

finish
