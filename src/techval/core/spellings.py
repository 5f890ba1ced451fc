"""The other spellings of a value that must not leak, as regular expressions.

A secret echoed by a server may come back URL-encoded, JSON- or XML-escaped, or in base64
(alone, or inside `Basic <base64(id:secret)>`); a test patient's name in another case, a birth
date or phone number in one of its US spellings, each also URL-encoded. Each value gives one or
a few `Spelling`s: a pattern and a literal every match contains (`needle`). `Spellings` searches
a text only with the patterns whose needle it holds (most texts hold none), and a long text only
around them: one alternation of all the patterns went through a 39 MB text ~25x slower than the
plain alternation of the values it replaced. The places of a needle are walked, never kept: a
birth year may be in every timestamp of a 40 MB answer.
"""

from __future__ import annotations

import base64
import html
import json
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Characters no URL, JSON or XML encoder rewrites: a secret's run of them is its needle.
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._")
ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)
BASE64_CHAR = "[A-Za-z0-9+/_-]"
SHORTEST_BASE64 = 8  # characters: shorter base64 fragments would match innocent text
SHORTEST_NAME_NEEDLE = 3  # letters or digits in a row: shorter needles are in most texts
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
US_PHONE = re.compile(r"\+1(\d{3})(\d{3})(\d{4})")
MONTHS: tuple[str, ...] = ("january", "february", "march", "april", "may", "june", "july")
MONTHS += ("august", "september", "october", "november", "december")
# A patient's value is a whole word (or number): what touches it is no letter or digit, or is
# the end of a percent-escape (the 0 of "%20" in "Timothy%20Bixby" ends no word). One nested
# lookbehind: an alternative of two searches each place ~25% slower.
NOT_AFTER_DIGIT = "(?<!(?<!%[0-9A-Fa-f])[0-9])"
NOT_AFTER_ALNUM = "(?<![G-Zg-z]|(?<!%[0-9A-Fa-f])[0-9A-Fa-f])"
# Separators in dates and phone numbers, raw or percent-encoded, a space also as "+"
SPACE = "(?:\\s|\\+|%20)"
COMMA = "(?:,|%2[Cc])"
DOT = "(?:\\.|%2[Ee])"
DASH = "(?:-|%2[Dd])"
# a date's separator, the same twice: "2008 01/06" is no date
DATE_SEPARATORS = ("-", "/", ".", " ", "+", "%20", "%2D", "%2E", "%2F")
DATE_WIDTH = 30  # the longest spelling: "September%2E%2006th%2C%202008"
SHORT_DATE_SEPARATORS = ("/", "-", "%2F")  # a two-digit year needs one of these
PHONE_SEPARATOR = "(?:[-. /+]|%2[0DEFdef])?"
PHONE_WIDTH = 29  # the longest spelling: "%2B1%2D%28808%29%2D867%2D5301"
LOOKAHEAD = 4  # characters a pattern looks at after its match: "/6" in "1/6/08/6"
# Characters: a shorter text is searched whole once it holds a needle; a longer one only around
# its needles. A pattern run over a whole text tries every place (its lookbehind comes first):
# an exchange's attachment (~5,000 characters) holding a frequent needle ("techval" of a
# test patient's ID) cost 0.3-0.5 ms searched whole, 0.1 ms around its needles.
WHOLE_TEXT = 256
FOLDED_CHUNK = 1 << 20  # characters of a long text case-folded at a time


@dataclass(frozen=True)
class Spelling:
    pattern: str  # regular expression source
    needle: str  # a literal in every match (in any case when the pattern ignores case)
    width: int  # the most characters a match spans
    after: int | None = None  # the most characters after the needle (None: width - needle)


class _Group:
    """The spellings that share a needle, and how far a match reaches around it. The pattern
    is compiled the first time the needle is found: most needles never are in a run, and
    compiling them all cost a short run a tenth of a second."""

    __slots__ = ("_compiled", "_source", "after", "before", "needle")

    def __init__(self, needle: str, source: str, before: int, after: int) -> None:
        self.needle = needle  # case-folded when the search is
        self.before = before  # the most characters of a match before its needle
        self.after = after  # the most characters of a match after its needle
        self._source = source
        self._compiled: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._compiled is None:  # two threads compiling at once both get the same pattern
            self._compiled = re.compile(self._source)
        return self._compiled


def secret_spellings(value: str, *, in_base64: bool = True) -> list[Spelling]:
    """`value` raw, URL-encoded (`+` or `%20` for a space, either case of hex), JSON- or
    XML-escaped, each character in any of these forms; and, for a one-line value unless
    `in_base64` is false, in base64 (standard or URL-safe) wherever it starts in the encoded
    bytes."""
    chars = [_char(c) for c in value]
    pattern = "".join(f"(?:{'|'.join(map(re.escape, forms))})" for forms in chars)
    needle = max(_runs(value, UNRESERVED), key=len)
    spellings = [Spelling(pattern, needle, sum(len(forms[0]) for forms in chars))]
    if in_base64 and "\n" not in value:
        spellings.extend(_base64(value.encode()))
    return spellings


def patient_spellings(value: str) -> list[Spelling]:
    """A test patient's value as a whole word: a birth date (YYYY-MM-DD) and a US phone number
    (+1 and ten digits) in their US spellings, anything else in any case; each also
    URL-encoded."""
    date = ISO_DATE.fullmatch(value)
    if date:
        return _date(*date.groups())
    phone = US_PHONE.fullmatch(value)
    if phone:
        return [_phone(*phone.groups())]
    return [_word(value)]


def _whole(pattern: str, before: str, inside: str) -> str:
    """`pattern` where the lookbehind `before` holds, not followed by an `inside` character."""
    return f"{before}(?:{pattern})(?!{inside})"


def _word(value: str) -> Spelling:
    """A name, street or identifier in any case, each other character also percent-encoded
    and a space also as "+"."""
    forms = [[c] if c in ALPHANUMERIC else _escaped(c) for c in value]
    pattern = "".join(f"(?:{'|'.join(f)})" if len(f) > 1 else re.escape(f[0]) for f in forms)
    needle = max(_runs(value, ALPHANUMERIC), key=len)
    if len(needle) < SHORTEST_NAME_NEEDLE:
        needle = value  # only the raw spelling is found (its encoded ones are rare)
    width = sum(max(map(len, f)) for f in forms)
    return Spelling(_whole(f"(?i:{pattern})", NOT_AFTER_ALNUM, "[A-Za-z0-9]"), needle, width)


def _escaped(c: str) -> list[str]:
    """A character of a word raw or percent-encoded (UTF-8, hex in any case), as patterns."""
    escape = "".join(f"%{b:02x}" for b in c.encode())
    forms = [re.escape(c), escape]  # the word's pattern ignores case
    if c == " ":
        forms = [r"\s", r"\+", escape]
    return forms


def _phone(area: str, exchange: str, line: str) -> Spelling:
    sep = PHONE_SEPARATOR
    pattern = (
        rf"(?:(?:\+|%2[Bb])?1{sep})?(?:(?:\(|%28){area}(?:\)|%29){sep}|{area}{sep})"
        rf"{exchange}{sep}{line}"
    )
    return Spelling(_whole(pattern, NOT_AFTER_DIGIT, "[0-9]"), line, PHONE_WIDTH, after=0)


def _char(c: str) -> list[str]:
    """The forms of one character of a secret, longest first."""
    if c in UNRESERVED:
        return [c]
    utf8 = c.encode()
    forms = {
        c,
        "".join(f"%{b:02X}" for b in utf8),
        "".join(f"%{b:02x}" for b in utf8),
        json.dumps(c)[1:-1],
        html.escape(c),
        f"&#{ord(c)};",
        f"&#x{ord(c):x};",
        f"&#x{ord(c):X};",
    }
    if ord(c) < 0x10000:  # any character may be a \u escape in JSON (Go writes & as \u0026)
        forms |= {f"\\u{ord(c):04x}", f"\\u{ord(c):04X}"}
    if c == " ":
        forms.add("+")
    elif c == "/":
        forms.add("\\/")
    elif c == "'":
        forms.add("&apos;")
    return sorted(forms, key=len, reverse=True)


def _base64(value: bytes) -> list[Spelling]:
    """In base64, a value starting at byte 3k+1 or 3k+2 of the encoded data shares no
    characters with its own base64: for each start, the characters that encode its bytes
    only, plus the mixed characters around them (those around the secret are masked too)."""
    spellings = []
    for skipped, mixed_before in ((0, 0), (1, 2), (2, 3)):
        part = value[skipped:]
        whole = len(part) // 3 * 3
        encoded = base64.b64encode(part[:whole]).decode()
        if len(encoded) < SHORTEST_BASE64:
            continue
        core = "".join({"+": "[+-]", "/": "[/_]"}.get(c, c) for c in encoded)
        left = len(part) - whole  # bytes sharing a group with what follows
        before = f"{BASE64_CHAR}{{0,{mixed_before}}}" if mixed_before else ""
        after = f"{BASE64_CHAR}{{0,{left + 1}}}={{0,{3 - left}}}" if left else ""
        needle = max(_runs(encoded, ALPHANUMERIC), key=len)
        width = mixed_before + len(encoded) + (4 if left else 0)
        spellings.append(Spelling(before + core + after, needle, width))
    return spellings


def _date(year: str, month: str, day: str) -> list[Spelling]:
    """The date's spellings with the year in full; and as month/day/two-digit year with the same
    separator twice, not after or before one more separated number (a path, a version)."""
    m = f"0?{month[1]}" if month.startswith("0") else month
    d = f"0?{day[1]}" if day.startswith("0") else day
    name = MONTHS[int(month) - 1] if 1 <= int(month) <= 12 else ""
    separators = [_separator(raw) for raw in DATE_SEPARATORS]
    forms = [
        f"{year}(?:{'|'.join(f'{s}{m}{s}' for s in separators)}){d}",
        f"{year}{month}{day}",
        f"{m}(?:{'|'.join(f'{s}{d}{s}' for s in separators)}){year}",
        f"{month}{day}{year}",
    ]
    if name:
        mon = f"(?i:{name[:3]}(?:{name[3:]})?){DOT}?"
        nth = "(?:st|nd|rd|th)?"
        forms += [
            f"{mon}{SPACE}{d}{nth}{COMMA}?{SPACE}{year}",
            f"{d}{nth}(?:{SPACE}|{DASH}){mon}(?:{SPACE}|{COMMA}|{DASH}){{1,2}}{year}",
        ]
    whole = _whole("|".join(forms), NOT_AFTER_DIGIT, "[0-9]")
    spellings = [Spelling(whole, year, DATE_WIDTH, after=len("%2F01%2F06"))]
    before = rf"(?<![/.-]){NOT_AFTER_DIGIT}(?<!%2[DdEeFf])"
    after = "(?![0-9]|[/.-][0-9]|%2[DdEeFf][0-9])"
    for raw in SHORT_DATE_SEPARATORS:
        between = _separator(raw)
        pattern = f"{before}{m}{between}{d}{between}{year[2:]}{after}"
        needle = f"{day[1]}{raw}{year[2:]}"  # "6/08" is in "01/06/08" and in "1/6/08"
        spellings.append(Spelling(pattern, needle, len(f"{month}{raw}{day}{raw}00"), after=0))
    return spellings


def _separator(raw: str) -> str:
    """A separator as a pattern: a percent-escape with its hex in either case."""
    return re.escape(raw) if len(raw) == 1 else f"%{raw[1]}[{raw[2]}{raw[2].lower()}]"


def _runs(text: str, allowed: frozenset[str]) -> list[str]:
    """The stretches of `text` made of `allowed` characters only."""
    runs, current = [], ""
    for c in text:
        if c in allowed:
            current += c
        else:
            runs.append(current)
            current = ""
    return [*runs, current]


class Spellings:
    """The spellings of many values, grouped by needle; matches that overlap are masked as
    one."""

    def __init__(self, spellings: Iterable[Spelling], *, folded: bool = False) -> None:
        self._folded = folded  # needles are looked for case-folded
        groups: dict[str, list[Spelling]] = {}
        for spelling in spellings:
            groups.setdefault(self._fold(spelling.needle), []).append(spelling)
        self._groups = [
            _Group(
                needle,
                "|".join(s.pattern for s in group),
                max(s.width - len(s.needle) for s in group),
                max(s.width - len(s.needle) if s.after is None else s.after for s in group),
            )
            for needle, group in groups.items()
        ]
        # the longest needle but one: how far a folded chunk reaches into the next
        self._overlap = max((len(group.needle) for group in self._groups), default=1) - 1

    def found_in(self, text: str) -> bool:
        return next(iter(self._spans(text)), None) is not None  # stops at the first match

    def sub(self, replacement: str, text: str) -> str:
        spans = sorted(self._spans(text))
        if not spans:
            return text
        parts, last = [], 0
        for start, end in spans:
            if start >= last:
                parts += [text[last:start], replacement]
            last = max(last, end)
        return "".join([*parts, text[last:]])

    def _fold(self, text: str) -> str:
        return text.casefold() if self._folded else text

    def _spans(self, text: str) -> Iterable[tuple[int, int]]:
        """Where the patterns match in `text`, in no particular order (a long text's matches
        are found window by window, as they are walked)."""
        if not self._groups:
            return ()
        if len(text) <= WHOLE_TEXT:
            probe = self._fold(text)
            if not _holds_any(probe, self._groups):  # most texts: one quick pass, nothing found
                return ()
            return [
                match.span()
                for group in self._groups
                if group.needle in probe
                for match in group.pattern.finditer(text)
            ]
        return (
            match.span()
            for pattern, start, end in self._windows(text)
            for match in pattern.finditer(text, start, end)
        )

    def _windows(self, text: str) -> Iterator[tuple[re.Pattern[str], int, int]]:
        """Where each group's pattern may match in a long text: around each place of its needle,
        overlapping windows as one. Places are walked, never listed: a needle may be in a long
        text every few dozen characters (a birth year in timestamps)."""
        size = len(text)
        # per group, the window not yielded yet: (start, end), or (0, -1) for none
        windows = [(0, -1)] * len(self._groups)
        overlap = self._overlap
        step = FOLDED_CHUNK if self._folded else size
        for start in range(0, size, step):
            chunk = text[start : start + step + overlap] if self._folded else text
            probe = self._fold(chunk)
            for index, group in enumerate(self._groups):
                needle, before, after = group.needle, group.before, group.after
                at = probe.find(needle)
                if at == -1:
                    continue
                # the pattern looks behind a match itself, but ahead only inside the window
                reach = len(needle) + after + LOOKAHEAD
                anywhere = not needle or len(probe) != len(chunk)  # positions differ once folded
                if anywhere:  # one place: the whole chunk
                    at, reach = 0, len(chunk) + after + LOOKAHEAD
                low, high = windows[index]
                while at != -1:
                    place = start + at
                    if place - before <= high:
                        high = max(high, place + reach)
                    else:
                        if high > 0:
                            yield group.pattern, max(low, 0), min(high, size)
                        low, high = place - before, place + reach
                    at = -1 if anywhere else probe.find(needle, at + 1)
                windows[index] = low, high
        for group, (low, high) in zip(self._groups, windows, strict=True):
            if high > 0:
                yield group.pattern, max(low, 0), min(high, size)


def _holds_any(text: str, groups: list[_Group]) -> bool:
    """Whether `text` holds a needle (a plain loop: twice as fast as any() or a regex)."""
    for group in groups:  # noqa: SIM110
        if group.needle in text:
            return True
    return False
