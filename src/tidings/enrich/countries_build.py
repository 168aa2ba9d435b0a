"""Build ``tidings/data/countries.json``, the country table of :mod:`tidings.enrich.relations`.

Run with ``python -m tidings.enrich.countries_build`` after ``pip install
'countryinfo>=1.0.1,<2'`` (MIT). The package is only needed here, not at run time: it loads
256 JSON files with provinces and borders, where the relation finder needs one small table.

What comes from countryinfo: each country's ISO 3166 alpha-2 code, English name, alternative
spellings, capital, demonym and population. What this script adds by hand, because news
writes it and the package has not got it (each list below says why):

- short forms and common names ("U.S.", "America", "Britain", "Türkiye", "Czechia");
- press demonyms ("Saudi", "Argentine", "Philippine"; "U.S." and "US" used as adjectives);
- seats of government and institutions that stand for a state ("the Kremlin", "the White
  House", "Downing Street"), and capitals the package has out of date ("Astana");
- names that news would read as something else, which are left out ("Georgia" is usually
  the US state in English news; "Kingston" and "Victoria" are many places).

A name claimed by two countries goes to the one with more people ("Chinese" is China, not
Hong Kong or Macau; "Dominican" the Dominican Republic, not Dominica); the script prints
every such choice so a rebuild can be reviewed.
"""

from __future__ import annotations

import importlib
import json
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where the table goes, beside the other shipped data.
OUTPUT = Path(__file__).resolve().parents[1] / "data" / "countries.json"

#: Codes of states that no longer exist (Netherlands Antilles, Serbia and Montenegro); the
#: package keeps them, and their names would steal "Serbian" or "Willemstad".
DISSOLVED = frozenset({"AN", "CS"})

#: The name a relation label uses, where the package's differs from what the press and
#: Wikipedia's "X–Y relations" articles use.
LABELS = {
    "MM": "Myanmar",
    "MK": "North Macedonia",
    "SZ": "Eswatini",
    "BS": "Bahamas",
    "GM": "Gambia",
    "PS": "Palestine",
    "VA": "Vatican City",
    "CZ": "Czech Republic",
    "CI": "Ivory Coast",
    "TL": "East Timor",
    "FM": "Micronesia",
}

#: Names the package lacks. Short forms are written with and without dots on purpose: the
#: matcher drops dots, so "U.S." and "US" meet anyway, and listing both keeps the table
#: readable.
EXTRA_NAMES = {
    "US": ["US", "U.S.", "USA", "U.S.A.", "America", "United States of America"],
    "GB": ["UK", "U.K.", "Britain", "Great Britain"],
    "AE": ["UAE", "U.A.E.", "Emirates"],
    "CD": ["DRC", "DR Congo", "Congo-Kinshasa"],
    "CN": ["PRC", "Mainland China"],
    "KP": ["DPRK"],
    "KR": ["ROK", "Korea"],
    "TR": ["Türkiye", "Turkiye"],
    "CZ": ["Czechia"],
    "MK": ["North Macedonia", "Macedonia"],
    "SZ": ["Eswatini"],
    "MM": ["Myanmar", "Burma"],
    "VA": ["Vatican", "Vatican City", "Holy See"],
    "NL": ["Holland"],
    "PS": ["Palestine", "Palestinian territories"],
    "TW": ["Republic of China"],
}

#: Demonyms the press uses beside (or instead of) the package's.
EXTRA_DEMONYMS = {
    "US": ["US", "U.S.", "American"],
    "GB": ["UK", "U.K.", "British"],
    "AE": ["Emirati", "UAE"],
    "SA": ["Saudi"],
    "AR": ["Argentine"],
    "PH": ["Philippine"],
    "KZ": ["Kazakh"],
    "KG": ["Kyrgyz"],
    "TJ": ["Tajik"],
    "UZ": ["Uzbek"],
    "SI": ["Slovenian"],
    "BA": ["Bosnian"],
    "EC": ["Ecuadorian"],
    "IS": ["Icelandic"],
    "LU": ["Luxembourgish"],
    "MV": ["Maldivian"],
    "CV": ["Cape Verdean"],
    "TR": ["Turkish"],
    "KP": ["North Korean"],
    "KR": ["South Korean"],
    "PS": ["Palestinian"],
    "VA": ["Vatican"],
    "CD": ["Congolese"],
}

#: Capitals the package lacks or has out of date, and second seats of government.
EXTRA_CAPITALS = {
    "US": ["Washington", "Washington, D.C.", "Washington DC"],
    "KZ": ["Astana"],
    "UA": ["Kiev"],
    "NL": ["The Hague"],
    "BO": ["La Paz"],
    "CI": ["Abidjan"],
    "MM": ["Naypyitaw", "Nay Pyi Taw"],
    "IN": ["Delhi"],
}

#: Buildings, streets and bodies whose name stands for a state's government in news
#: ("the Kremlin said"). Only ones that mean a single country wherever they appear.
SEATS = {
    "RU": ["Kremlin", "State Duma", "Duma"],
    "US": [
        "White House", "Pentagon", "Capitol Hill", "State Department", "Oval Office",
        "Foggy Bottom",
    ],
    "GB": ["Downing Street", "Number 10", "No 10", "Whitehall", "Foreign Office"],
    "FR": ["Élysée", "Élysée Palace", "Quai d'Orsay"],
    "CN": ["Zhongnanhai", "Great Hall of the People"],
    "DE": ["Bundestag"],
    "IL": ["Knesset"],
    "KR": ["Blue House"],
    "JP": ["Kantei"],
    "IN": ["South Block"],
    "VA": ["Vatican"],
}  # fmt: skip

#: Package names that would mislead in English news; dropped whichever country has them.
#: "Georgia" is the US state at least as often as the country; Wales (filed under GB by the
#: package) plays Wales, not the United Kingdom; the capitals are also names
#: of many other towns or of people; the rest are common words or spellings of other things.
DROP = frozenset({
    "georgia", "kingston", "victoria", "city of victoria", "hamilton", "douglas", "plymouth",
    "stanley", "jamestown", "georgetown", "saint john's", "valley", "west island",
    "island", "mann", "mannin", "thai", "togolese", "montenegrin", "prathet", "guiana",
    "lao", "channel islander", "wales", "welsh",
})  # fmt: skip


def key(name: str) -> str:
    """The form names are compared in: accents and dots dropped, case folded, one space,
    no leading "the" (the same function is in :mod:`tidings.enrich.relations`)."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = plain.replace(".", "").replace("\u2019", "'").casefold().split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _latin(name: str) -> bool:
    """Whether a name is written in Latin letters (native-script spellings never match an
    English text, so they are left out of the table)."""
    return all(
        ord(c) < 0x250 or unicodedata.combining(c) for c in unicodedata.normalize("NFKD", name)
    )


def _is_code(name: str) -> bool:
    # ISO codes ("IN", "IT", "NO", "CHN") are ordinary words or noise in running text; the
    # few that news writes as names ("US", "UK", "UAE") are in EXTRA_NAMES.
    return len(name) <= 3 and name.isupper()


@dataclass
class _Country:
    code: str
    name: str
    population: int
    names: list[str] = field(default_factory=list)
    demonyms: list[str] = field(default_factory=list)
    capitals: list[str] = field(default_factory=list)
    seats: list[str] = field(default_factory=list)


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def collect() -> dict[str, _Country]:
    """Countries by alpha-2 code, package data merged with the hand-written lists."""
    countryinfo = importlib.import_module("countryinfo")
    countries: dict[str, _Country] = {}
    for info in countryinfo.all_countries():
        iso = info.iso() or {}
        code, alpha3 = iso.get("alpha2"), iso.get("alpha3")
        if not code or not alpha3 or code in DISSOLVED:
            continue
        population = int(info.population() or 0)
        entry = countries.get(code)
        if entry is None:
            entry = countries[code] = _Country(code, info.name(), population)
        elif population > entry.population:
            # Two records of one code ("Burma" and "Myanmar"): the fuller one names it.
            entry.name, entry.population = info.name(), population
        entry.names += [info.name(), *_as_list(info.alt_spellings())]
        for demonym in _as_list(info.demonym()):
            entry.demonyms += [d.strip() for d in demonym.replace("/", ",").split(",")]
        entry.capitals += _as_list(info.capital())
    for table, attr in (
        (EXTRA_NAMES, "names"),
        (EXTRA_DEMONYMS, "demonyms"),
        (EXTRA_CAPITALS, "capitals"),
        (SEATS, "seats"),
    ):
        for code, names in table.items():
            getattr(countries[code], attr).extend(names)
    for code, label in LABELS.items():
        countries[code].name = label
    return countries


def build(countries: dict[str, _Country]) -> dict[str, Any]:
    """The JSON table: each name given to exactly one country."""
    claims: dict[str, dict[str, str]] = {}  # key -> code -> which list
    for c in countries.values():
        for attr in ("names", "demonyms", "capitals", "seats"):
            for name in getattr(c, attr):
                k = key(name)
                if not k or not _latin(name) or (_is_code(name) and attr != "demonyms"):
                    continue
                claims.setdefault(k, {}).setdefault(c.code, attr)
    owner: dict[str, str] = {}
    for k, codes in sorted(claims.items()):
        if k in DROP:
            continue
        if len(codes) > 1:
            winner = max(codes, key=lambda code: countries[code].population)
            others = ", ".join(sorted(set(codes) - {winner}))
            print(f"{k!r}: {winner} (also claimed by {others})", file=sys.stderr)
            owner[k] = winner
        else:
            owner[k] = next(iter(codes))
    out: list[dict[str, Any]] = []
    for c in sorted(countries.values(), key=lambda c: c.code):
        entry: dict[str, Any] = {"code": c.code, "name": c.name}
        for attr in ("names", "demonyms", "capitals", "seats"):
            kept: list[str] = []
            for name in getattr(c, attr):
                k = key(name)
                if owner.get(k) == c.code and claims[k][c.code] == attr and k not in kept:
                    kept.append(k)
            entry[attr] = kept
        out.append(entry)
    return {
        "source": "countryinfo 1.0.1 (MIT) plus the hand-written lists in "
        "tidings.enrich.countries_build; names are stored in comparison form",
        "countries": out,
    }


def main() -> None:
    table = build(collect())
    text = json.dumps(table, ensure_ascii=False, separators=(",", ":"))
    # One country a line: small, and a rebuild's diff shows which countries changed.
    text = text.replace('},{"code"', '},\n{"code"')
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(table['countries'])} countries to {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
