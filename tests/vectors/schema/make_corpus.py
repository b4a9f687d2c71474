#!/usr/bin/env python3
"""Writes the schema corpus: valid/<kind>-*.json and invalid/<kind>-*.json.

Each invalid document breaks exactly one rule of a valid one, so a verdict of "invalid" from a
validator means that rule was checked. The files are committed; this script documents how they
were made and remakes them (python3 make_corpus.py, from this folder). Every statement in them is
fictional."""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
H1 = "8f14e45fceea167a5a36dedd4bea2543b2a7c1d4e6c0a1f0e9d8c7b6a5f40312"
H2 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

TESTIMONY = {
    "title": "Fictional corpus testimony",
    "statement": {"text": "A fictional statement used only to test the validator.", "language": "en"},
    "witness": {"pseudonym": "W-1", "role": "soldier", "unit": "a fictional unit"},
    "consent": {"scope": "public"},
    "event": {"date": "1990", "place": {"name": "somewhere", "country": "SUHH"}},
    "recorded": {"date": "2024-05-01", "method": "audio", "by": "interviewer-1"},
    "act_types": ["desertion"],
    "cases": [H1],
    "attachments": [{"sha256": H2, "size": 1024, "media_type": "audio/ogg", "name": "a.ogg"}],
}
CASE = {
    "title": "Fictional corpus case",
    "summary": "A fictional case used only to test the validator.",
    "language": "en",
    "period": "1988/1991",
    "place": {"name": "somewhere", "country": "LT"},
    "event_type": "military-defection",
    "actors": [{"name": "officers", "role": "commander", "unit": "a unit"}],
    "defection_type": "exit",
    "pathways": ["coup"],
    "sources": [{"citation": "A fictional source.", "doi": "10.0000/fiction"}],
    "testimonies": [H1],
    "attributes": {"mobilisation": "high", "draft_reporting_1990_pct": 25.1},
}
RETRACTION = {"record": H1, "versions": [H1], "reason": "fictional"}
REVOCATION = {"key": KEY, "reason": "fictional"}
BASE = {"testimony": TESTIMONY, "case": CASE, "retraction": RETRACTION, "revocation": REVOCATION}


def edit(kind, *changes):
    doc = copy.deepcopy(BASE[kind])
    for path, value in changes:
        *parents, last = path.split("/")
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return doc


DELETE = object()

VALID = {
    "testimony-full": edit("testimony"),
    "testimony-minimal": edit("testimony", ("event", DELETE), ("recorded", DELETE),
                              ("cases", DELETE), ("attachments", DELETE), ("witness/pseudonym", DELETE),
                              ("witness/unit", DELETE)),
    "testimony-open-interval": edit("testimony", ("event/date", "1989-11/..")),
    "testimony-unknown-start": edit("testimony", ("event/date", "/1990-05")),
    "testimony-season": edit("testimony", ("event/date", "1990-23")),
    "testimony-qualified-interval": edit("testimony", ("event/date", "1989~/1990-06?")),
    "testimony-datetime": edit("testimony", ("recorded/date", "2024-01-02T10:00:00+03:00")),
    "testimony-leap-day": edit("testimony", ("event/date", "1988-02-29")),
    "testimony-country-yucs": edit("testimony", ("event/place/country", "YUCS")),
    "testimony-script-tag": edit("testimony", ("statement/language", "sr-Cyrl-RS"),
                                 ("statement/translations", [{"text": "prevod", "language": "sr-Latn"}])),
    "testimony-title-500-cyrillic": edit("testimony", ("title", "ж" * 500)),
    "testimony-size-as-real": edit("testimony", ("attachments/0/size", 1024.0)),
    "testimony-all-act-types": edit("testimony", ("act_types", [
        "desertion", "defection", "refusal", "draft-evasion", "mutiny", "self-mutilation",
        "surrender", "other"])),
    "testimony-emoji-escape": edit("testimony", ("title", "\U0001F54A dove")),
    "case-full": edit("case"),
    "case-minimal": {"title": "t"},
    "case-attribute-types": edit("case", ("attributes", {"a": "x", "b": 1, "c": 2.5, "d": True,
                                                        "e": None, "f": -3})),
    "case-empty-pathways": edit("case", ("pathways", []), ("actors", [])),
    "case-all-pathways": edit("case", ("pathways", ["resistance-repression", "coup",
                                                    "hazing-draft-noncompliance", "territorial-disintegration"])),
    "case-period-unspecified": edit("case", ("period", "198X")),
    "retraction-minimal": {"record": H1, "versions": [H1]},
    "retraction-redacts": edit("retraction", ("redacts_to", H2), ("versions", [H1, H2])),
    "revocation-minimal": edit("revocation"),
    "revocation-effective": edit("revocation", ("effective", "2026-03")),
}

INVALID = {
    "testimony-missing-title": edit("testimony", ("title", DELETE)),
    "testimony-missing-statement-text": edit("testimony", ("statement/text", DELETE)),
    "testimony-bad-role": edit("testimony", ("witness/role", "general")),
    "testimony-typo-top": edit("testimony", ("witnes", {"role": "soldier"})),
    "testimony-typo-nested": edit("testimony", ("witness/nmae", "x")),
    "testimony-empty-act-types": edit("testimony", ("act_types", [])),
    "testimony-duplicate-act-types": edit("testimony", ("act_types", ["mutiny", "mutiny"])),
    "testimony-bad-act-type": edit("testimony", ("act_types", ["looting"])),
    "testimony-edtf-month-13": edit("testimony", ("event/date", "1990-13")),
    "testimony-edtf-feb-30": edit("testimony", ("event/date", "1990-02-30")),
    "testimony-edtf-not-leap": edit("testimony", ("event/date", "1900-02-29")),
    "testimony-edtf-reversed": edit("testimony", ("event/date", "1991/1988")),
    "testimony-edtf-double-open": edit("testimony", ("event/date", "../..")),
    "testimony-edtf-level2": edit("testimony", ("event/date", "19XX-04")),
    "testimony-country-su": edit("testimony", ("event/place/country", "SU")),
    "testimony-country-lower": edit("testimony", ("event/place/country", "lt")),
    "testimony-language-underscore": edit("testimony", ("statement/language", "en_US")),
    "testimony-case-id-upper": edit("testimony", ("cases", [H1.upper()])),
    "testimony-size-negative": edit("testimony", ("attachments/0/size", -1)),
    "testimony-size-fraction": edit("testimony", ("attachments/0/size", 1.5)),
    "testimony-attachment-no-media-type": edit("testimony", ("attachments/0/media_type", DELETE)),
    "testimony-title-501-cyrillic": edit("testimony", ("title", "ж" * 501)),
    "testimony-title-empty": edit("testimony", ("title", "")),
    "testimony-title-number": edit("testimony", ("title", 5)),
    "testimony-consent-bad-scope": edit("testimony", ("consent/scope", "everyone")),
    "testimony-translation-no-language": edit("testimony", ("statement/translations", [{"text": "x"}])),
    "testimony-root-array": [],
    "case-bad-pathway": edit("case", ("pathways", ["revolution"])),
    "case-bad-defection-type": edit("case", ("defection_type", "escape")),
    "case-attribute-object": edit("case", ("attributes", {"a": {"b": 1}})),
    "case-attribute-empty-name": edit("case", ("attributes", {"": 1})),
    "case-actor-no-role": edit("case", ("actors", [{"name": "x"}])),
    "case-bad-period": edit("case", ("period", "1988-1991")),
    "case-duplicate-testimonies": edit("case", ("testimonies", [H1, H1])),
    "case-source-no-citation": edit("case", ("sources", [{"doi": "10.1/x"}])),
    "retraction-empty-versions": edit("retraction", ("versions", [])),
    "retraction-short-hash": edit("retraction", ("record", H1[:63])),
    "retraction-missing-record": edit("retraction", ("record", DELETE)),
    "revocation-noncanonical-key": edit("revocation", ("key", KEY[:42] + "p=")),
    "revocation-url-safe-key": edit("revocation", ("key", KEY.replace("/", "_"))),
    "revocation-missing-reason": edit("revocation", ("reason", DELETE)),
    "revocation-extra-field": edit("revocation", ("comment", "x")),
}

# Documents that are not even acceptable JSON for us, written byte for byte.
VALID_JSON = json.dumps(TESTIMONY, ensure_ascii=False).encode()
RAW_INVALID = {
    "testimony-duplicate-key": VALID_JSON[:-1] + b', "title": "again"}',
    "testimony-invalid-utf8": VALID_JSON.replace(b"Fictional corpus", b"Fictional \xff corpus"),
    "testimony-overlong-utf8": VALID_JSON.replace(b"Fictional corpus", b"Fictional \xc0\xaf corpus"),
    "testimony-surrogate-utf8": VALID_JSON.replace(b"Fictional corpus", b"Fictional \xed\xa0\x80 corpus"),
    "testimony-nul-escape": VALID_JSON.replace(b"Fictional corpus", b"Fictional \\u0000 corpus"),
    "testimony-lone-surrogate-escape": VALID_JSON.replace(b"Fictional corpus", b"Fictional \\ud800 corpus"),
    "testimony-nan": VALID_JSON.replace(b'"size": 1024', b'"size": NaN'),
    "testimony-huge-integer": VALID_JSON.replace(b'"size": 1024', b'"size": 99999999999999999999'),
    "testimony-real-overflow": VALID_JSON.replace(b'"size": 1024', b'"size": 1e400'),
    "testimony-trailing-garbage": VALID_JSON + b" {}",
    "testimony-bom": b"\xef\xbb\xbf" + VALID_JSON,
    "testimony-truncated": VALID_JSON[:-20],
    "case-empty-file": b"",
    "case-deep-nesting": b'{"title": "t", "attributes": {"a": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
}


def write(folder, name, data):
    path = os.path.join(HERE, folder, name + ".json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main():
    for name, doc in VALID.items():
        write("valid", name, json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n")
    for name, doc in INVALID.items():
        write("invalid", name, json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n")
    for name, data in RAW_INVALID.items():
        write("invalid", name, data)


if __name__ == "__main__":
    main()
