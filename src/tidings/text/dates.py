"""Dates as publishers write them → aware UTC datetimes.

:func:`parse_date` reads, trying each in turn:

1. **ISO 8601 / RFC 3339** (``2024-03-05T23:30:00-05:00``, ``...Z``, fractions of any
   length, the basic form ``20240305T233000``, week dates, a date alone);
2. **RFC 822 / 2822** as feeds and HTTP write it, with the variants met in real feeds:
   no weekday or no comma, two-digit years, month and day swapped (``Tue, Jun 10 2003``),
   RFC 850 (``Sunday, 06-Nov-94``) and asctime (``Sun Nov  6 08:49:37 1994``), dots in
   the time, offsets with a colon (``+01:00``) or after a zone name (``GMT+1``), zone
   names beyond RFC 822's few (``CEST``, ``BST``, ``JST``...), and month and weekday names
   in the common European languages (``mer, 16 nov 2022``);
3. **numeric dates**: compact ``20160729`` (with a time ``20160729164234``), year first
   ``2019-04-28 06:01 EDT`` or ``2020/09/21``, day first with dots ``21.09.2020`` (as in
   German, Russian and most of Europe). Slashed dates that do not start with the year are
   refused: ``03/05/2021`` is March in the US and May elsewhere;
4. **written dates**: ``March 11, 2015``, ``11 March 2015``, ``3rd March 2021``,
   ``11. März 2015``, each optionally with a time (``3:46 PM``) and a zone.

Time zones: a numeric offset, ``Z``, or a zone name from :data:`ZONE_OFFSETS`; the US
generic names (``ET``, ``CT``, ``MT``, ``PT``) follow daylight saving time through the IANA
database. A time with **no zone** is taken as UTC (feeds and pages that omit it are, in
practice, mostly UTC, and a guess of the reader's zone would differ per machine); an
unknown zone name counts as none.

Pure: no clock reads, no plausibility bounds (a caller that knows dates before 1991 are
misreadings, as page metadata does, filters them itself).
"""

from __future__ import annotations

import email.utils
import functools
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["ZONE_OFFSETS", "parse_date"]

#: Zone abbreviations beyond RFC 822's (UT, GMT, Z and the US ones, which the standard
#: library knows) that news feeds and pages write, as hours east of UTC. Ambiguous names take
#: the meaning most common in English-language news: IST is India (Ireland and Israel
#: write it less), BST British Summer Time, AST/ADT Atlantic (as RFC 822 readers do).
ZONE_OFFSETS: dict[str, float] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5, "AKST": -9, "AKDT": -8, "HST": -10,
    "BRT": -3, "ART": -3,
    "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "MEZ": 1, "MESZ": 2,
    "WEST": 1, "WAT": 1,
    "EET": 2, "EEST": 3, "CAT": 2, "SAST": 2, "EAT": 3, "MSK": 3, "PKT": 5, "ICT": 7,
    "WIB": 7, "HKT": 8, "SGT": 8, "PHT": 8, "AWST": 8, "CCT": 8, "JST": 9, "KST": 9,
    "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip

#: US generic zone names, which switch between standard and daylight time.
_GENERIC_ZONES = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}

# --- month and weekday names -------------------------------------------------------------

#: Month names in English, French, German, Spanish, Italian, Portuguese and Dutch, accents
#: folded. Any unambiguous prefix of three letters or more names the month ("Sept", "févr",
#: "Dez"); the few abbreviations that are not prefixes are listed too.
_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("january", "janvier", "januar", "enero", "gennaio", "janeiro", "januari"),
    2: ("february", "fevrier", "februar", "febrero", "febbraio", "fevereiro", "februari"),
    3: ("march", "mars", "marz", "maerz", "mrz", "marzo", "marco", "maart", "mrt"),
    4: ("april", "avril", "abril", "aprile"),
    5: ("may", "mai", "mayo", "maggio", "maio", "mei"),
    6: ("june", "juin", "juni", "junio", "giugno", "junho"),
    7: ("july", "juillet", "juli", "julio", "luglio", "julho"),
    8: ("august", "aout", "agosto", "augustus"),
    9: ("september", "septembre", "septiembre", "settembre", "setembro"),
    10: ("october", "octobre", "oktober", "octubre", "ottobre", "outubro"),
    11: ("november", "novembre", "noviembre", "novembro"),
    12: ("december", "decembre", "dezember", "diciembre", "dicembre", "dezembro"),
}
_ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip


def _fold(word: str) -> str:
    folded = unicodedata.normalize("NFKD", word.casefold().rstrip("."))
    return "".join(c for c in folded if not unicodedata.combining(c))


@functools.cache
def _month_prefixes() -> dict[str, int]:
    """Every prefix of three letters or more of a month name → its month, ambiguous
    prefixes ("jui": juin or juillet) left out."""
    seen: dict[str, set[int]] = {}
    for number, names in _MONTH_NAMES.items():
        for name in names:
            for end in range(3, len(name) + 1):
                seen.setdefault(name[:end], set()).add(number)
    return {prefix: next(iter(months)) for prefix, months in seen.items() if len(months) == 1}


def month_number(word: str) -> int | None:
    """1 to 12 for a month's name or abbreviation in a language listed above, else None."""
    folded = _fold(word)
    return _month_prefixes().get(folded) if len(folded) >= 3 else None


# --- the entry point ---------------------------------------------------------------------


def parse_date(value: str | None) -> datetime | None:
    """``value`` as an aware UTC datetime, or ``None`` when it is not a date this module
    reads (see the module's docstring). Never raises."""
    if not value:
        return None
    text = " ".join(value.split())
    if not text:
        return None
    for reader in (_iso, _rfc822, _numeric, _written):
        try:
            parsed = reader(text)
        except (ValueError, OverflowError):
            parsed = None
        if parsed is not None:
            return _as_utc(parsed)
    return None


def _as_utc(moment: datetime) -> datetime | None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --- 1. ISO 8601 -------------------------------------------------------------------------

_ISO_START = re.compile(r"^[+-]?\d{4}-?(?:\d{2}|W\d{2})")
_LONG_FRACTION = re.compile(r"([.,]\d{6})\d+")


def _iso(text: str) -> datetime | None:
    if not _ISO_START.match(text):
        return None
    candidate = text.upper() if ("t" in text or "z" in text) else text
    if candidate.endswith(" Z") or candidate.endswith(" UTC"):
        candidate = candidate.rsplit(" ", 1)[0] + "+00:00"
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    try:  # Python 3.11 reads six fraction digits at most; publishers write seven or nine.
        return datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", candidate))
    except ValueError:
        return None


# --- 2. RFC 822 --------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+\.?")
_LEADING_WORD = re.compile(r"^([^\W\d_]+)\.?(,?)\s+")
_COLON_OFFSET = re.compile(r"(?<=[\d\s])([+-])(\d{2}):(\d{2})$")
_NAMED_OFFSET = re.compile(r"\b(?:GMT|UTC|UT)\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_TRAILING_ZONE = re.compile(r"\s([A-Za-z]{1,5})$")
#: What the standard library's reader is given (after the weekday is dropped): RFC 822 and
#: RFC 850 ("10 Jun 2003 04:00", "06-Nov-94 08:49"), month first ("Jun 10 2003 04:00") and
#: asctime ("Nov  6 08:49:37 1994"), each with a time and no am/pm, which it would ignore.
#: Anything else goes to the stricter readers below.
_RFC822_SHAPE = re.compile(
    r"^(?:\d{1,2}[\s-]+[^\W\d_]{3,}\.?[\s-]+\d{2,4}|[^\W\d_]{3,}\.?\s+\d{1,2},?\s+\d{4}"
    r"|[^\W\d_]{3,}\.?\s+\d{1,2}(?=\s+\d{1,2}:\d{2}(?::\d{2})?\s+\d{4}))"
    r"\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?!\s*[AaPp]\.?[Mm]\b)"
)


def _rfc822(text: str) -> datetime | None:
    weekday = _LEADING_WORD.match(text)
    # A leading weekday in any language goes ("mer, 16 nov", "Tue 10 Jun"); a leading
    # month stays ("Mar 15 2022 10:00"), unless a comma says it is a weekday ("mar, 15").
    if weekday and (weekday.group(2) or month_number(weekday.group(1)) is None):
        text = text[weekday.end() :]
    if not _RFC822_SHAPE.match(text):
        return None
    text = _WORD.sub(_english_word, text)
    generic = None
    text = _COLON_OFFSET.sub(r"\1\2\3", text)
    text = _NAMED_OFFSET.sub(_offset_digits, text)
    zone = _TRAILING_ZONE.search(text)
    if zone:
        name = zone.group(1).upper()
        if name in _GENERIC_ZONES:
            generic = name
            text = text[: zone.start()]
        elif name in ZONE_OFFSETS:
            text = f"{text[: zone.start()]} {_offset_text(ZONE_OFFSETS[name])}"
    fields = email.utils.parsedate_tz(text)
    if fields is None:
        return None
    year, month, day, hour, minute, second = fields[:6]
    moment = datetime(year, month, day, hour, minute, second)
    offset = fields[9]
    if generic is not None:
        return _localise(moment, generic)
    if offset is None:
        return moment
    return moment.replace(tzinfo=timezone(timedelta(seconds=offset)))


def _english_word(match: re.Match[str]) -> str:
    word = match.group(0)
    number = month_number(word) if len(word) > 2 else None
    return _ENGLISH_MONTHS[number - 1] if number else word


def _offset_digits(match: re.Match[str]) -> str:
    sign, hours, minutes = match.group(1), int(match.group(2)), match.group(3) or "00"
    return f"{sign}{hours:02d}{minutes}"


def _offset_text(hours: float) -> str:
    minutes = round(abs(hours) * 60)
    return f"{'-' if hours < 0 else '+'}{minutes // 60:02d}{minutes % 60:02d}"


def _localise(moment: datetime, generic: str) -> datetime:
    try:
        return moment.replace(tzinfo=_zone(_GENERIC_ZONES[generic]))
    except ZoneInfoNotFoundError:  # no IANA database on this machine: standard time
        standard = {"ET": -5, "CT": -6, "MT": -7, "PT": -8}[generic]
        return moment.replace(tzinfo=timezone(timedelta(hours=standard)))


@functools.cache
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


# --- 3. numeric dates --------------------------------------------------------------------

_TIME = (
    r"(?:[T ]\s*(\d{1,2})[:.](\d{2})(?:[:.](\d{2})(?:[.,]\d+)?)?\s*([AaPp]\.?[Mm]\.?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|(?:GMT|UTC|UT)(?:[+-]\d{1,2}(?::?\d{2})?)?|[A-Za-z]{1,5}\b)?)?"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?$")
_YEAR_FIRST = re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b" + _TIME)
_DOTTED_DAY_FIRST = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b" + _TIME)


def _numeric(text: str) -> datetime | None:
    compact = _COMPACT_DATE.match(text)
    if compact:
        numbers = [int(g or 0) for g in compact.groups()]
        return datetime(numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])
    found = _YEAR_FIRST.search(text)
    if found:
        day = date(int(found[1]), int(found[2]), int(found[3]))
        return _at_time(day, found, 4)
    found = _DOTTED_DAY_FIRST.search(text)
    if found:
        day = date(int(found[3]), int(found[2]), int(found[1]))
        return _at_time(day, found, 4)
    return None


def _at_time(day: date, found: re.Match[str], first: int) -> datetime:
    """``day`` at the time (groups ``first`` to ``first + 4``: hour, minute, second,
    am/pm, zone) that :data:`_TIME` matched, midnight when there is none."""
    hour_text, minute_text, second_text, meridiem, zone = found.groups()[first - 1 : first + 4]
    if hour_text is None:
        return datetime(day.year, day.month, day.day)
    hour = int(hour_text)
    if meridiem:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for am/pm")
        hour = hour % 12 + (12 if meridiem[0] in "Pp" else 0)
    moment = datetime(day.year, day.month, day.day, hour, int(minute_text), int(second_text or 0))
    return _with_zone(moment, zone)


def _with_zone(moment: datetime, zone: str | None) -> datetime:
    if not zone:
        return moment
    name = zone.upper()
    if name in _GENERIC_ZONES:
        return _localise(moment, name)
    if name in ZONE_OFFSETS:
        return moment.replace(tzinfo=timezone(timedelta(hours=ZONE_OFFSETS[name])))
    offset = re.fullmatch(r"(?:GMT|UTC|UT)?([+-])(\d{1,2}):?(\d{2})?", name)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
        return moment.replace(tzinfo=timezone(sign * delta))
    return moment  # an unknown name: as if there were none


# --- 4. written dates --------------------------------------------------------------------

_ORDINAL = r"(?:st|nd|rd|th|er|e|º|°)?\.?"
_MONTH_WORD = r"([^\W\d_]{3,12})\.?"
_WRITTEN_TIME = (
    r"(?:,?\s*(?:at\s+|um\s+|à\s+|a\s+las\s+)?(\d{1,2})[:.h](\d{2})(?:[:.](\d{2}))?"
    r"\s*([AaPp]\.?[Mm]\.?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|(?:GMT|UTC|UT)(?:[+-]\d{1,2}(?::?\d{2})?)?|[A-Za-z]{1,5}\b)?)?"
)
_MONTH_FIRST = re.compile(
    rf"\b{_MONTH_WORD}\s+(\d{{1,2}}){_ORDINAL},?\s+(\d{{4}})\b{_WRITTEN_TIME}", re.IGNORECASE
)
_DAY_FIRST = re.compile(
    rf"\b(\d{{1,2}}){_ORDINAL}\s+(?:de\s+)?{_MONTH_WORD},?\s+(?:de\s+)?(\d{{4}})\b{_WRITTEN_TIME}",
    re.IGNORECASE,
)


def _written(text: str) -> datetime | None:
    for pattern, month_group, day_group in ((_MONTH_FIRST, 1, 2), (_DAY_FIRST, 2, 1)):
        for found in pattern.finditer(text):
            month = month_number(found.group(month_group))
            if month is None:
                continue
            try:
                day = date(int(found.group(3)), month, int(found.group(day_group)))
                return _at_time(day, found, 4)
            except ValueError:
                continue
    return None
