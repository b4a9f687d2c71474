#!/usr/bin/env python3
"""The independent side of the schema agreement test (test_schema_agreement.sh).

It validates documents with python3-jsonschema's Draft202012Validator, with checkers for our
custom formats written here from the rules in schema/format.h (not from the C code), so that the
C validator and this one can be compared verdict by verdict.

  schema_agreement.py validate SCHEMA_DIR FILE...   prints "FILE<TAB>valid|invalid<TAB>why"
  schema_agreement.py candidates FORMAT             prints test strings for a format, one a line
  schema_agreement.py judge FORMAT                  reads lines, prints 1 or 0 for each
  schema_agreement.py mutants OUTDIR FILE...        writes 600 structural mutants of the files
  schema_agreement.py describe SCHEMA_DIR           fails unless every property has a description
"""
import copy
import json
import os
import random
import re
import sys

from jsonschema import Draft202012Validator, FormatChecker

MAX_DOC = 1 << 20

# ---- formats ----------------------------------------------------------------------------------


def leap(y):
    return (y % 4 == 0 and y % 100 != 0) or y % 400 == 0


def month_days(y, m):
    return 29 if m == 2 and leap(y) else [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]


DATE_RE = re.compile(r"(-?)([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?\Z")


def date_span(s, allow_season=True):
    """Returns (lo, hi) as yyyymmdd for a date or season, or None."""
    m = DATE_RE.match(s)
    if not m:
        return None
    sign, ys, ms, ds = m.groups()
    y = int(ys)
    if sign and y == 0:
        return None
    if sign:
        y = -y
    base = y * 10000
    if ms is None:
        return (base + 101, base + 1231)
    mo = int(ms)
    if ds is None:
        if 1 <= mo <= 12:
            return (base + mo * 100 + 1, base + mo * 100 + month_days(y, mo))
        if allow_season and 21 <= mo <= 24:
            return (base + 101, base + 10000 + 229)
        return None
    if not 1 <= mo <= 12:
        return None
    d = int(ds)
    if not 1 <= d <= month_days(y, mo):
        return None
    return (base + mo * 100 + d,) * 2


def qualified_span(s):
    if s and s[-1] in "?~%":
        s = s[:-1]
    return date_span(s)


TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(Z|[+-][0-9]{2}(?::[0-9]{2})?)?\Z")


def edtf_datetime(s):
    date, _, time = s.partition("T")
    span = date_span(date, allow_season=False)
    if span is None or span[0] != span[1]:
        return False
    m = TIME_RE.match(time)
    if not m:
        return False
    hh, mm, ss, zone = m.groups()
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 59:
        return False
    if zone is None or zone == "Z":
        return True
    zh = int(zone[1:3])
    zm = int(zone[4:6]) if len(zone) == 6 else None
    if zm is not None and zm > 59:
        return False
    return zh < 14 or (zh == 14 and (zm is None or zm == 0))


UNSPEC_RE = re.compile(r"(?:[0-9]{3}X|[0-9]{2}XX|[0-9]{4}-XX|[0-9]{4}-XX-XX"
                       r"|[0-9]{4}-(0[1-9]|1[0-2])-XX)\Z")
LONG_YEAR_RE = re.compile(r"Y-?[1-9][0-9]{4,}\Z")


def fmt_edtf(s):
    if not isinstance(s, str):
        return True
    if s == "" or not s.isascii():
        return False
    if "/" in s:
        a, _, b = s.partition("/")
        if "/" in b:
            return False
        ends = []
        for part in (a, b):
            if part in ("", ".."):
                ends.append(None)
                continue
            span = qualified_span(part)
            if span is None:
                return False
            ends.append(span)
        if ends[0] is None and ends[1] is None:
            return False
        if ends[0] is not None and ends[1] is not None:
            return ends[0][0] <= ends[1][1]
        return True
    if s[0] == "Y":
        return bool(LONG_YEAR_RE.match(s))
    if "T" in s:
        return edtf_datetime(s)
    if "X" in s:
        return bool(UNSPEC_RE.match(s))
    return qualified_span(s) is not None


ISO3166_1 = set("""AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY
MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split())
ISO3166_3 = set("""AIDJ ANHH BQAQ BUMM BYAA CSHH CSXX CTKI DDDE DYBJ FQHH FXFR GEHH HVBF JTUM MIUM
NHVU NQAQ NTHH PCHH PUUM PZPA RHZW SKIN SUHH TPTL VDVN WKUM YDYE YUCS ZRCD""".split())
assert len(ISO3166_1) == 249 and len(ISO3166_3) == 31


def fmt_country(s):
    if not isinstance(s, str):
        return True
    return s in ISO3166_1 or s in ISO3166_3


IRREGULAR = {t.lower() for t in """en-GB-oed i-ami i-bnn i-default i-enochian i-hak i-klingon
i-lux i-mingo i-navajo i-pwn i-tao i-tay i-tsu sgn-BE-FR sgn-BE-NL sgn-CH-DE""".split()}

# RFC 5646 section 2.1 langtag, as one expression; duplicates are checked afterwards.
ALNUM = "[A-Za-z0-9]"
LANGTAG_RE = re.compile(
    r"(?P<language>[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4,8})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    rf"(?P<variants>(?:-(?:{ALNUM}{{5,8}}|[0-9]{ALNUM}{{3}}))*)"
    rf"(?P<extensions>(?:-[0-9A-WYZa-wyz](?:-{ALNUM}{{2,8}})+)*)"
    rf"(?:-[xX](?:-{ALNUM}{{1,8}})+)?\Z")
PRIVATE_RE = re.compile(rf"[xX](?:-{ALNUM}{{1,8}})+\Z")


def fmt_bcp47(s):
    if not isinstance(s, str):
        return True
    if not s.isascii():
        return False
    if s.lower() in IRREGULAR:
        return True
    if s.count("-") + 1 > 64:
        return False
    if PRIVATE_RE.match(s):
        return True
    m = LANGTAG_RE.match(s)
    if not m:
        return False
    variants = [v.lower() for v in m.group("variants").split("-") if v]
    if len(set(variants)) != len(variants):
        return False
    singletons = [t.lower() for t in m.group("extensions").split("-") if len(t) == 1]
    return len(set(singletons)) == len(singletons)


def fmt_sha256(s):
    if not isinstance(s, str):
        return True
    return re.fullmatch(r"[0-9a-f]{64}", s) is not None and s.isascii()


def fmt_pubkey(s):
    import base64
    import binascii
    if not isinstance(s, str):
        return True
    if len(s) != 44 or not s.isascii() or re.fullmatch(r"[A-Za-z0-9+/]{43}=", s) is None:
        return False
    try:
        raw = base64.b64decode(s, validate=True)
    except binascii.Error:
        return False
    return len(raw) == 32 and base64.b64encode(raw).decode() == s


FORMATS = {"edtf": fmt_edtf, "country": fmt_country, "bcp47": fmt_bcp47, "sha256": fmt_sha256,
           "pubkey": fmt_pubkey}


def format_checker():
    fc = FormatChecker(formats=())
    for name, fn in FORMATS.items():
        fc.checks(name)(fn)
    return fc

# ---- strict JSON, as the C side parses it -------------------------------------------------------


class Reject(Exception):
    pass


def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Reject(f"duplicate key {k!r}")
        seen[k] = v
    return seen


def parse_int(text):
    v = int(text)
    if not -(1 << 63) <= v < (1 << 63):
        raise Reject("integer out of range")
    return v


def parse_float(text):
    v = float(text)
    if v in (float("inf"), float("-inf")):
        raise Reject("real out of range")
    return v


def parse_constant(text):
    raise Reject(f"{text} is not JSON")


def check_strings(v):
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            if "\x00" in x:
                raise Reject("NUL in a string")
            x.encode("utf-8")  # raises on a lone surrogate escape
        elif isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)


def load_strict(data):
    if len(data) > MAX_DOC:
        raise Reject("too large")
    text = data.decode("utf-8")
    doc = json.loads(text, object_pairs_hook=no_duplicates, parse_int=parse_int,
                     parse_float=parse_float, parse_constant=parse_constant)
    check_strings(doc)
    return doc

# ---- commands ---------------------------------------------------------------------------------


def kind_of(path):
    return os.path.basename(path).split("-", 1)[0]


def cmd_validate(schema_dir, files):
    validators = {}
    fc = format_checker()
    for path in files:
        kind = kind_of(path)
        if kind not in validators:
            with open(os.path.join(schema_dir, f"{kind}.schema.json"), "rb") as f:
                schema = json.load(f)
            Draft202012Validator.check_schema(schema)
            validators[kind] = Draft202012Validator(schema, format_checker=fc)
        with open(path, "rb") as f:
            data = f.read()
        try:
            doc = load_strict(data)
        except (Reject, ValueError, RecursionError, UnicodeError) as e:
            print(f"{path}\tinvalid\tjson: {str(e)[:80]}")
            continue
        errors = sorted(validators[kind].iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = "/" + "/".join(str(p) for p in e.path)
            print(f"{path}\tinvalid\t{where}: {e.message[:100]}")
        else:
            print(f"{path}\tvalid")
    return 0


def cmd_describe(schema_dir):
    bad = []

    def walk(node, where):
        if not isinstance(node, dict):
            return
        for name, sub in node.get("properties", {}).items():
            if not isinstance(sub, dict) or "description" not in sub:
                bad.append(f"{where}/properties/{name}")
            walk(sub, f"{where}/properties/{name}")
        for key in ("items", "additionalProperties", "propertyNames"):
            sub = node.get(key)
            if isinstance(sub, dict):
                if "description" not in sub and "$ref" not in sub:
                    bad.append(f"{where}/{key}")
                walk(sub, f"{where}/{key}")
        for name, sub in node.get("$defs", {}).items():
            walk(sub, f"{where}/$defs/{name}")

    for kind in ("testimony", "case", "retraction", "revocation"):
        with open(os.path.join(schema_dir, f"{kind}.schema.json"), "rb") as f:
            schema = json.load(f)
        Draft202012Validator.check_schema(schema)
        walk(schema, kind)
    for b in bad:
        print(f"no description: {b}")
    return 1 if bad else 0


def mutate(rng, s, alphabet):
    s = list(s)
    for _ in range(rng.randint(1, 3)):
        op = rng.randint(0, 3)
        i = rng.randint(0, len(s))
        if op == 0 or not s:
            s.insert(i, rng.choice(alphabet))
        elif op == 1:
            del s[min(i, len(s) - 1)]
        elif op == 2:
            s[min(i, len(s) - 1)] = rng.choice(alphabet)
        else:
            j = rng.randint(0, len(s))
            s = s[:min(i, j)] + s[max(i, j):] + s[min(i, j):max(i, j)]
    return "".join(s)


SEEDS = {
    "edtf": ["1985", "1985-04", "1985-04-12", "1985-04-12T23:20:30", "1985-04-12T23:20:30Z",
             "1985-04-12T23:20:30-04", "1985-04-12T23:20:30+04:30", "1985-04-12T23:20:30+14:00",
             "1985-04-12T23:20:30-00:30", "1964/2008", "2004-06/2006-08", "2004-02-01/2005-02-08",
             "2004-02-01/2005", "1984?", "2004-06~", "2004-06-11%", "201X", "20XX", "1985-04-XX",
             "1985-XX-XX", "1985-XX", "Y170000002", "Y-170000002", "2001-21", "2001-24~",
             "1985-04-12/..", "../1985-04-12", "/2006", "1985-04-12/", "1984~/2004-06",
             "2004-06~/2004-08", "1984?/2004%", "-1985", "-0001-02-29", "2000-02-29",
             "1900-02-29", "2024-02-29", "0000", "1990-13", "1989~", "1990-01/1990-03",
             "2001-21/2001-23", "1991/1988", "../..", "/", "1985-04-12T24:00:00"],
    "country": ["SU", "SUHH", "LT", "UA", "RU", "YUCS", "CSHH", "DDDE", "XK", "EU", "UK", "lt",
                "GB", "ZZ", "AN", "ANHH", "TPTL", "TL", "SKIN"],
    "bcp47": ["en", "en-GB", "ru", "uk-UA", "zh-Hant-TW", "sr-Latn-RS", "de-CH-1901",
              "sl-rozaj-biske", "zh-cmn-Hans-CN", "yue-HK", "es-419", "en-US-x-twain",
              "x-whatever", "i-klingon", "en-GB-oed", "zh-min-nan", "art-lojban",
              "en-a-myext-b-another", "en-a-bbb-a-ccc", "de-1901-1901", "qaa-Qaaa-QM-x-southern",
              "ab-x-abc-x-abc", "en-", "-en", "en--US", "a-DE", "tlh-a-b-foo", "12-AB",
              "abcdefghi", "en-123456789"],
    "sha256": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"],
    "pubkey": ["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
               "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",
               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
               "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
}
ALPHABETS = {
    "edtf": "0123456789-/.XYTZ:+?~%12",
    "country": "ABCDEHKLSTUXYZa",
    "bcp47": "abcxXz-0123ABZ-",
    "sha256": "0123456789abcdefABg",
    "pubkey": "ABCDoprw+/=_9",
}


def cmd_candidates(name):
    rng = random.Random(20260401)  # fixed: the list must be the same on every run
    out = list(SEEDS[name])
    if name == "country":
        out += sorted(ISO3166_1) + sorted(ISO3166_3)
        out += [a + b for a in "ABSUXYZ" for b in "ABCDEHKLMNOSUZ"]
    if name == "edtf":
        for y in ("1900", "2000", "2023", "2024", "-0004"):
            for m in range(0, 26):
                for d in (0, 1, 28, 29, 30, 31, 32):
                    out.append(f"{y}-{m:02d}-{d:02d}")
                out.append(f"{y}-{m:02d}")
        for h in ("00", "01", "13", "14", "15", "23"):
            for mm in ("00", "01", "30", "59", "60"):
                out.append(f"2020-01-01T12:00:00+{h}:{mm}")
                out.append(f"2020-01-01T12:00:00-{h}")
    for _ in range(6000):
        out.append(mutate(rng, rng.choice(SEEDS[name]), ALPHABETS[name]))
    for s in out:
        print(s)
    return 0


def random_value(rng):
    pool = [None, True, False, 0, 1, -1, 1.0, 1.5, 1e20, 2 ** 62, -(2 ** 63), "", "x", "ж" * 3,
            [], {}, ["x"], {"a": 1}, "a" * 501, "ж" * 201, " "]
    for seeds in SEEDS.values():
        pool += seeds[:8]
    pool += ["soldier", "public", "desertion", "coup", "commander", "exit", "audio"]
    return copy.deepcopy(rng.choice(pool))


def mutate_doc(rng, doc):
    """Applies one structural change at a random place in doc (a dict or list), in place."""
    spots = []

    def walk(node):
        if isinstance(node, dict):
            for k in node:
                spots.append((node, k))
                walk(node[k])
        elif isinstance(node, list):
            for i in range(len(node)):
                spots.append((node, i))
                walk(node[i])

    walk(doc)
    if not spots:
        return
    parent, key = rng.choice(spots)
    op = rng.randint(0, 5)
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, dict):
        parent[key + rng.choice(["x", "_", "s"])] = parent.pop(key)
    elif op == 2 and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif op == 3 and isinstance(parent, list):
        parent.clear()
    else:
        parent[key] = random_value(rng)


def cmd_mutants(outdir, sources):
    """Writes deterministic structural mutants of the source documents to outdir."""
    rng = random.Random(5646)
    docs = []
    for path in sorted(sources):
        with open(path, "rb") as f:
            docs.append((kind_of(path), json.loads(f.read())))
    for i in range(600):
        kind, doc = rng.choice(docs)
        doc = copy.deepcopy(doc)
        for _ in range(rng.randint(1, 2)):
            mutate_doc(rng, doc)
        with open(os.path.join(outdir, f"{kind}-mutant-{i:03d}.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
    return 0


def cmd_judge(name):
    fn = FORMATS[name]
    for line in sys.stdin:
        print(1 if fn(line.rstrip("\n")) else 0)
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "validate":
        return cmd_validate(sys.argv[2], sys.argv[3:])
    if cmd == "describe":
        return cmd_describe(sys.argv[2])
    if cmd == "candidates":
        return cmd_candidates(sys.argv[2])
    if cmd == "mutants":
        return cmd_mutants(sys.argv[2], sys.argv[3:])
    if cmd == "judge":
        return cmd_judge(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
