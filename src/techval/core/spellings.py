"""The other spellings of a value that must not leak, as regular expressions.

A secret echoed by a server may come back URL-encoded, JSON- or XML-escaped, or in base64
(alone, or inside `Basic <base64(id:secret)>`); a test patient's name in another case, a birth
date or phone number in one of its US spellings. Each value gives one or a few `Spelling`s: a
pattern and a literal every match contains (`needle`). `Spellings` searches a text only with
the patterns whose needle it holds (most texts hold none), and a long text only around them:
one alternation of all the patterns went through a 39 MB text ~25x slower than the plain
alternation of the values it replaced.
"""

from __future__ import annotations

import base64
import html
import json
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

# Characters no URL, JSON or XML encoder rewrites: a secret's run of them is its needle.
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._")
ALPHANUMERIC = frozenset(string.ascii_letters + string.digits)
BASE64_CHAR = "[A-Za-z0-9+/_-]"
SHORTEST_BASE64 = 8  # characters: shorter base64 fragments would match innocent text
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
US_PHONE = re.compile(r"\+1(\d{3})(\d{3})(\d{4})")
MONTHS: tuple[str, ...] = ("january", "february", "march", "april", "may", "june", "july")
MONTHS += ("august", "september", "october", "november", "december")
DATE_SEPARATOR = "[-/.]"
DATE_WIDTH = 21  # the longest spelling: "September. 06th, 2008"
PHONE_SEPARATOR = "[-. /]?"
PHONE_WIDTH = 17  # the longest spelling: "+1-(808)-867-5301"
WHOLE_TEXT = 4096  # characters: a shorter text is searched whole once it holds a needle
FOLDED_CHUNK = 1 << 20  # characters of a long text case-folded at a time


@dataclass(frozen=True)
class Spelling:
    pattern: str  # regular expression source
    needle: str  # a literal in every match (in any case when the pattern ignores case)
    width: int  # the most characters a match spans


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


def patient_spelling(value: str) -> Spelling:
    """A test patient's value as a whole word: a birth date (YYYY-MM-DD) and a US phone number
    (+1 and ten digits) in their US spellings, anything else in any case."""
    date = ISO_DATE.fullmatch(value)
    if date:
        return _date(*date.groups())
    phone = US_PHONE.fullmatch(value)
    if phone:
        area, exchange, line = phone.groups()
        return Spelling(
            rf"(?<!\d)(?:\+?1[-. ]?)?(?:\({area}\)[-. ]?|{area}{PHONE_SEPARATOR})"
            rf"{exchange}{PHONE_SEPARATOR}{line}(?!\d)",
            line,
            PHONE_WIDTH,
        )
    word = rf"(?<![A-Za-z0-9])(?i:{re.escape(value)})(?![A-Za-z0-9])"
    return Spelling(word, value, len(value))


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


def _date(year: str, month: str, day: str) -> Spelling:
    m = f"0?{month[1]}" if month.startswith("0") else month
    d = f"0?{day[1]}" if day.startswith("0") else day
    name = MONTHS[int(month) - 1] if 1 <= int(month) <= 12 else ""
    sep = DATE_SEPARATOR
    forms = [
        f"{year}{sep}{m}{sep}{d}",
        f"{year}{month}{day}",
        f"{m}{sep}{d}{sep}{year}",
        f"{month}{day}{year}",
    ]
    if name:
        mon = rf"(?i:{name[:3]}(?:{name[3:]})?)\.?"
        forms += [
            rf"{mon}\s{d}(?:st|nd|rd|th)?,?\s{year}",
            rf"{d}(?:st|nd|rd|th)?[\s-]{mon}[\s,-]{{1,2}}{year}",
        ]
    return Spelling(rf"(?<!\d)(?:{'|'.join(forms)})(?!\d)", year, DATE_WIDTH)


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
            (needle, re.compile("|".join(s.pattern for s in group)), max(s.width for s in group))
            for needle, group in groups.items()
        ]

    def found_in(self, text: str) -> bool:
        return bool(self._spans(text))

    def sub(self, replacement: str, text: str) -> str:
        spans = self._spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for start, end in sorted(spans):
            if start >= last:
                parts += [text[last:start], replacement]
            last = max(last, end)
        return "".join([*parts, text[last:]])

    def _fold(self, text: str) -> str:
        return text.casefold() if self._folded else text

    def _spans(self, text: str) -> list[tuple[int, int]]:
        if not self._groups:
            return []
        if len(text) <= WHOLE_TEXT:
            probe = self._fold(text)
            if not _holds_any(probe, self._groups):  # most texts: one quick pass, nothing found
                return []
            return [
                match.span()
                for needle, pattern, _ in self._groups
                if needle in probe
                for match in pattern.finditer(text)
            ]
        found = self._needles_in(text)
        spans = []
        for needle, pattern, width in self._groups:
            margin = width + 1  # a match around a needle, and the character on either side
            windows = [(start - margin, end + margin) for start, end in found[needle]]
            for start, end in _merged(windows, len(text)):
                spans += [match.span() for match in pattern.finditer(text, start, end)]
        return spans

    def _needles_in(self, text: str) -> dict[str, list[tuple[int, int]]]:
        """Where each needle is in `text`: (start, end) of each occurrence; the whole text for
        an empty needle, a whole chunk where case folding changed the chunk's length."""
        found: dict[str, list[tuple[int, int]]] = {needle: [] for needle, _, _ in self._groups}
        overlap = max(map(len, found)) - 1
        step = FOLDED_CHUNK if self._folded else len(text)
        for start in range(0, len(text), step):
            chunk = text[start : start + step + overlap] if self._folded else text
            probe = self._fold(chunk)
            for needle, places in found.items():
                at = probe.find(needle)
                if at != -1 and (not needle or len(probe) != len(chunk)):
                    places.append((start, start + len(chunk)))
                    continue
                while at != -1:
                    places.append((start + at, start + at + len(needle)))
                    at = probe.find(needle, at + 1)
        return found


def _holds_any(text: str, groups: list[tuple[str, re.Pattern[str], int]]) -> bool:
    """Whether `text` holds a needle (a plain loop: twice as fast as any() or a regex)."""
    for needle, _, _ in groups:  # noqa: SIM110
        if needle in text:
            return True
    return False


def _merged(windows: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """Overlapping (start, end) windows as one, within 0..size."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        start, end = max(start, 0), min(end, size)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
