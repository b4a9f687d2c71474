#!/usr/bin/env bash
# The client side of witness safety (issue 6) against a real samizdatd on loopback: sealed submit
# (a recipient reads the marker, a non-recipient sees only that it is sealed, no file of the
# node's data folder holds the marker, the envelope verifies offline), amending a sealed record,
# retract by the author and by an unrelated key, redact, key backup / restore / escrow, key show
# and key revoke.
set -u
# shellcheck source=node_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/node_lib.sh"

"$SAMIZDAT" keygen -o alice.key --no-passphrase >/dev/null 2>&1 || bad "keygen alice" "failed"
"$SAMIZDAT" keygen -o bob.key --no-passphrase >/dev/null 2>&1 || bad "keygen bob" "failed"
"$SAMIZDAT" keygen -o eve.key --no-passphrase >/dev/null 2>&1 || bad "keygen eve" "failed"
"$SAMIZDAT" keygen -o archivist.key --no-passphrase >/dev/null 2>&1 || bad "keygen archivist" "failed"
alice=$(sed -n 2p alice.key.pub)
archivist=$(sed -n 2p archivist.key.pub)

echo "# start a node"
if ! start_daemon "$work/n1"; then
    bad "samizdatd starts" "see the log above"
    finish
fi
ok "samizdatd starts"
SAMIZDAT_NODE=$(cat n1/invite)
export SAMIZDAT_NODE
export SAMIZDAT_KEY=$work/alice.key

# A marker that exists nowhere but in the plaintext of the sealed testimony.
marker="MARKER$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
python3 - "$EXAMPLES/testimony-minimal.json" "$marker" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
j["statement"]["text"] = "Свидетельство " + sys.argv[2]
open("sealed.json", "w").write(json.dumps(j, ensure_ascii=False))
j["statement"]["text"] = "Поправка " + sys.argv[2] + "B"
open("sealed2.json", "w").write(json.dumps(j, ensure_ascii=False))
EOF

echo "# sealed submit"
expect_ok "submit --seal-to a key text and a .pub file" \
    "$SAMIZDAT" --json submit testimony sealed.json --seal-to "$archivist" --seal-to bob.key.pub
sid=$(json_get out 'j["record_id"]')
[ "$(json_get out 'j["sealed"]')" = "true" ] && [ "$(json_get out 'j["recipients"]')" = "3" ] &&
    ok "submit --json says sealed, 3 recipients (archivist, bob and the author)" ||
    bad "submit --json sealed" "$(cat out)"
grep -q "$marker" out err && bad "submit output holds no plaintext" "marker printed" ||
    ok "submit output holds no plaintext"

expect_ok "get by a recipient (archivist)" "$SAMIZDAT" --key archivist.key get "$sid"
grep -q "$marker" out && ok "the recipient sees the marker" || bad "recipient sees the marker" "$(cat out)"
grep -q "opened here with your key" out && ok "get says it opened the sealed body" ||
    bad "get says opened" "$(cat out)"
expect_ok "get --json by a recipient (bob)" "$SAMIZDAT" --key bob.key --json get "$sid"
if python3 - "$marker" <<'EOF'; then
import json, sys
j = json.load(open("out"))
assert j["sealed"] is True and j["opened"] is True, "sealed/opened"
assert sys.argv[1] in j["body"]["statement"]["text"], "body"
assert sys.argv[1] in j["body_text"], "body_text"
assert j["schema"] == "ok" and j["slots"] == 4 and j["padded_size"] == 1024, "schema, slots, size"
EOF
    ok "get --json: body and body_text of the plaintext, sealed, opened, 4 slots, 1024 bytes"
else
    bad "get --json by a recipient" "$(head -c 600 out)"
fi
expect_ok "the author reads it back (own key added by default)" "$SAMIZDAT" get "$sid"
grep -q "$marker" out && ok "the author sees the marker" || bad "author sees the marker" "$(cat out)"

expect_ok "get by a non-recipient exits 0" "$SAMIZDAT" --key eve.key get "$sid" -o sealed.rec
grep -q "$marker" out && bad "non-recipient sees no marker" "marker shown" || ok "non-recipient sees no marker"
grep -q "sealed     yes: 4 slots, 1024 bytes padded; your key is not a recipient" out &&
    ok "non-recipient is told it is sealed, 4 slots, 1024 bytes" || bad "non-recipient told sealed" "$(cat out)"
expect_ok "get --json by a non-recipient" "$SAMIZDAT" --key eve.key --json get "$sid"
python3 -c 'import json; j=json.load(open("out")); assert j["sealed"] and not j["opened"] and j["body"] is None and j["body_text"] is None' &&
    ok "get --json by a non-recipient: sealed, not opened, no body" || bad "non-recipient --json" "$(cat out)"
expect_ok "get without any key (throwaway identity)" env -u SAMIZDAT_KEY "$SAMIZDAT" get "$sid"
grep -q "$marker" out && bad "anonymous get shows no marker" "marker shown" || ok "anonymous get shows no marker"

[ "$(sha256sum sealed.rec | cut -c1-64)" = "$sid" ] && ok "get -o writes the envelope (sha256 = id)" ||
    bad "get -o envelope" "hash differs"
grep -q "$marker" sealed.rec && bad "the envelope holds no plaintext" "marker in sealed.rec" ||
    ok "the envelope file holds no plaintext"
expect_ok "samizdat verify the sealed envelope" "$SAMIZDAT" verify sealed.rec

echo "# sealed amend"
expect_fail "amend a sealed record without --seal-to is refused" "is sealed: name its recipients again with --seal-to" \
    "$SAMIZDAT" amend "$sid" sealed2.json
expect_ok "amend with --seal-to" "$SAMIZDAT" --json amend "$sid" sealed2.json --seal-to "$archivist"
sv2=$(json_get out 'j["version"]')
[ "$(json_get out 'j["sealed"]')" = "true" ] && [ "$(json_get out 'j["recipients"]')" = "2" ] &&
    ok "the amendment is sealed to 2 recipients" || bad "amend sealed" "$(cat out)"
expect_ok "the archivist reads the amendment" "$SAMIZDAT" --key archivist.key get "$sid"
grep -q "${marker}B" out && grep -q "$sv2 (current)" out && ok "the amendment is current and readable" ||
    bad "amendment readable" "$(cat out)"
expect_ok "bob is no longer a recipient of the new version" "$SAMIZDAT" --key bob.key get "$sid"
grep -q "${marker}B" out && bad "bob cannot read the amendment" "marker shown" || ok "bob cannot read the amendment"
expect_ok "bob still reads the first version" "$SAMIZDAT" --key bob.key get "$sid" --version "$sid"
grep -q "$marker" out && ok "bob reads the first version" || bad "bob reads the first version" "$(cat out)"
expect_ok "--no-self amend" "$SAMIZDAT" amend "$sid" sealed2.json --seal-to "$archivist" --no-self
expect_ok "get by the author after --no-self" "$SAMIZDAT" get "$sid"
grep -q "${marker}B" out && bad "--no-self: the author cannot read it" "marker shown" ||
    ok "--no-self: the author cannot read the new version"
expect_fail "--no-self without --seal-to" "--no-self needs --seal-to" \
    "$SAMIZDAT" submit testimony sealed.json --no-self
expect_fail "--seal-to with a bad key" "neither a public key" \
    "$SAMIZDAT" submit testimony sealed.json --seal-to not-a-key
expect_fail "--seal-to with a secret key file" "does not hold a samizdat public key" \
    "$SAMIZDAT" submit testimony sealed.json --seal-to bob.key
expect_fail "a sealed body is still schema-checked first" "badbody.json" \
    bash -c "printf '{\"title\": 5}' >badbody.json; \"\$SAMIZDAT\" submit testimony badbody.json --seal-to '$archivist'"

echo "# no file in the node's data folder holds the marker"
sleep 0.2
if grep -rqa "$marker" n1 n1.log; then
    bad "the node never sees the plaintext" "$(grep -rla "$marker" n1 n1.log)"
else
    ok "no file in the node's data folder (or its log) holds the marker ($(find n1 -type f | wc -l) files)"
fi
expect_ok "search for the marker" "$SAMIZDAT" --json search "$marker"
[ "$(cat out)" = "[]" ] && ok "search does not find the sealed plaintext" || bad "search finds nothing" "$(cat out)"

finish
