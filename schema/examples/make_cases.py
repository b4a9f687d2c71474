#!/usr/bin/env python3
"""Writes one case body per row of shared/datasets/soviet-defection-1988-1991.csv (see ORIGIN.md).

Usage: python3 make_cases.py PATH/TO/soviet-defection-1988-1991.csv [OUTDIR]
The output is deterministic: running it again over the same CSV gives the same files."""
import csv
import json
import os
import sys

SSR = {
    "Lithuania": "Lithuanian SSR", "Latvia": "Latvian SSR", "Georgia": "Georgian SSR",
    "Estonia": "Estonian SSR", "Ukraine": "Ukrainian SSR", "Belarus": "Byelorussian SSR",
    "Moldova": "Moldavian SSR", "Azerbaijan": "Azerbaijan SSR", "Uzbekistan": "Uzbek SSR",
    "Kyrgyzstan": "Kirghiz SSR", "Tajikistan": "Tajik SSR", "Armenia": "Armenian SSR",
    "Turkmenistan": "Turkmen SSR", "Kazakhstan": "Kazakh SSR", "Russia": "Russian SFSR",
}
PATHWAY_WORDS = {
    "resistance-repression": "soldiers defecting before or after orders to repress civilians",
    "coup": "commanders breaking from the political leadership",
    "hazing-draft-noncompliance": "hazing and ethnic antagonism driving refusal and draft evasion",
    "territorial-disintegration": "service moving to a new national authority",
}
CITATION = ("Anisin, A. (2022). Military Defection During the Collapse of the Soviet Union. "
            "Central European Journal of International and Security Studies, 16(2), 26-53.")


def number(text):
    if text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def case_for(row):
    republic = row["republic"]
    pathways = [p for p in row["pathways"].split(";") if p]
    defectors = [d for d in row["defectors"].split(";") if d]
    if pathways:
        summary = (f"Defection from the Soviet armed forces in the {SSR[republic]} between 1988 and "
                   f"1991, coded in Anisin (2022). Pathways found: "
                   + "; ".join(PATHWAY_WORDS[p] for p in pathways) + ". Defectors: "
                   + " and ".join(defectors) + ".")
    else:
        summary = (f"Anisin (2022) found no military defection in the {SSR[republic]} between 1988 "
                   "and 1991.")
    summary += (" Draft reporting rates are those the study cites from Clark (2019); null means "
                "the study gives none.")
    body = {
        "title": f"Military defection in {republic} ({SSR[republic]}), 1988-1991",
        "summary": summary,
        "language": "en",
        "period": row["period"],
        "place": {"name": SSR[republic], "country": row["country_code"]},
        "event_type": "military-defection",
    }
    actors = []
    if "commanders" in defectors:
        actors.append({"name": f"Soviet officers commanding units in the {SSR[republic]}",
                       "role": "commander"})
    if "subordinates" in defectors:
        actors.append({"name": f"Conscripts and rank-and-file soldiers from {republic}",
                       "role": "subordinate"})
    if actors:
        body["actors"] = actors
    body["pathways"] = pathways
    body["sources"] = [{"citation": CITATION, "doi": "10.51870/UNYW3133",
                        "url": "https://doi.org/10.51870/UNYW3133", "locator": "Table 2"}]
    body["attributes"] = {
        "republic": republic,
        "defectors": row["defectors"] or None,
        "mobilisation": row["mobilisation"],
        "regime_fragility": row["regime_fragility"],
        "counterbalancing": row["counterbalancing"],
        "draft_reporting_1989_pct": number(row["draft_reporting_1989_pct"]),
        "draft_reporting_1990_pct": number(row["draft_reporting_1990_pct"]),
    }
    return body


def main():
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    with open(src, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = os.path.join(out, f"case-{row['republic'].lower()}.json")
            with open(name, "w", encoding="utf-8") as o:
                json.dump(case_for(row), o, ensure_ascii=False, indent=2)
                o.write("\n")


if __name__ == "__main__":
    main()
