#!/usr/bin/env bash
# Runs every schema corpus document (tests/vectors/schema) and every schema/examples file through
# the C validator (szschema-check) and through python3-jsonschema's Draft202012Validator with our
# formats written independently in schema_agreement.py, and fails if any verdict differs, if a
# document in valid/ or examples/ is rejected, or if one in invalid/ is accepted. It also compares
# verdicts on 600 generated structural mutants of the valid documents and the two implementations
# of every format on thousands of generated strings, and checks that every property in the schema
# files has a description. Everything generated comes from fixed seeds: the run is deterministic.
set -euo pipefail

SRC=${SZ_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${SZ_BIN_DIR:-$SRC/build}
TOOL=$BIN/schema/szschema-check
PY=$SRC/tests/integration/schema_agreement.py
CORPUS=$SRC/tests/vectors/schema

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

[ -x "$TOOL" ] || fail "$TOOL is not built (cmake --build ... --target szschema-check)"
python3 -c 'import jsonschema; jsonschema.Draft202012Validator' ||
    fail "python3-jsonschema with draft 2020-12 support is needed"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$PY" describe "$SRC/schema" || fail "a schema property has no description"

mapfile -t files < <(ls "$SRC"/schema/examples/*.json "$CORPUS"/valid/*.json "$CORPUS"/invalid/*.json)
ndocs=$(ls "$CORPUS"/valid/*.json "$CORPUS"/invalid/*.json | wc -l)
[ "$ndocs" -ge 40 ] || fail "the corpus has only $ndocs documents"

: >"$work/c.txt"
for kind in testimony case retraction revocation; do
    mapfile -t group < <(printf '%s\n' "${files[@]}" | grep "/$kind-[^/]*\.json\$" || true)
    [ "${#group[@]}" -gt 0 ] || fail "no documents of kind $kind"
    "$TOOL" --kind "$kind" "${group[@]}" >>"$work/c.txt"
done
python3 "$PY" validate "$SRC/schema" "${files[@]}" >"$work/py.txt"

cut -f1,2 "$work/c.txt" | sort >"$work/c.verdicts"
cut -f1,2 "$work/py.txt" | sort >"$work/py.verdicts"
[ "$(wc -l <"$work/c.verdicts")" -eq "${#files[@]}" ] || fail "the C side skipped documents"
if ! diff "$work/c.verdicts" "$work/py.verdicts" >"$work/diff"; then
    cat "$work/diff" >&2
    echo "C said:" >&2
    grep -F -f <(grep '^[<>]' "$work/diff" | cut -c3- | cut -f1) "$work/c.txt" >&2 || true
    echo "Python said:" >&2
    grep -F -f <(grep '^[<>]' "$work/diff" | cut -c3- | cut -f1) "$work/py.txt" >&2 || true
    fail "the C and Python validators disagree"
fi

bad=$(awk -F'\t' '($1 ~ /\/invalid\// && $2 != "invalid") || ($1 !~ /\/invalid\// && $2 != "valid")' \
    "$work/c.verdicts")
[ -z "$bad" ] || fail "unexpected verdicts:"$'\n'"$bad"

# Structural mutants of every valid document: no expected verdict, but both sides must agree.
mkdir "$work/mutants"
python3 "$PY" mutants "$work/mutants" "$SRC"/schema/examples/*.json "$CORPUS"/valid/*.json
: >"$work/mc.txt"
for kind in testimony case retraction revocation; do
    mapfile -t group < <(ls "$work/mutants/$kind"-*.json 2>/dev/null || true)
    [ "${#group[@]}" -eq 0 ] || "$TOOL" --kind "$kind" "${group[@]}" >>"$work/mc.txt"
done
python3 "$PY" validate "$SRC/schema" "$work"/mutants/*.json >"$work/mpy.txt"
cut -f1,2 "$work/mc.txt" | sort >"$work/mc.verdicts"
cut -f1,2 "$work/mpy.txt" | sort >"$work/mpy.verdicts"
nmutants=$(wc -l <"$work/mc.verdicts")
[ "$nmutants" -eq 600 ] || fail "the C side judged $nmutants of 600 mutants"
if ! diff "$work/mc.verdicts" "$work/mpy.verdicts" >&2; then
    for f in $(diff "$work/mc.verdicts" "$work/mpy.verdicts" | grep '^<' | cut -c3- | cut -f1); do
        echo "== $f" >&2
        cat "$f" >&2
        echo >&2
        grep -F "$f" "$work/mc.txt" "$work/mpy.txt" >&2 || true
    done
    fail "the C and Python validators disagree on mutants"
fi

total=0
for format in edtf country bcp47 sha256 pubkey; do
    python3 "$PY" candidates "$format" >"$work/cand"
    "$TOOL" --format "$format" <"$work/cand" >"$work/c.fmt"
    python3 "$PY" judge "$format" <"$work/cand" >"$work/py.fmt"
    n=$(wc -l <"$work/cand")
    [ "$(wc -l <"$work/c.fmt")" -eq "$n" ] || fail "format $format: C answered $(wc -l <"$work/c.fmt") of $n"
    differ=$(paste "$work/cand" "$work/c.fmt" "$work/py.fmt" | awk -F'\t' '$2 != $3')
    [ -z "$differ" ] || fail "format $format: C and Python disagree (string, C, Python):"$'\n'"$differ"
    total=$((total + n))
done

echo "ok: ${#files[@]} documents ($ndocs corpus), $nmutants mutants, $total format strings: C and Python agree"
