"""Keyword highlighting for the screening page, done on the server with safe escaping.

The review's include and exclude lists are one term per line; a trailing ``*`` makes a
stem (``randomi*`` matches randomised, randomized, randomisation); matching is
case-insensitive and on word boundaries; a phrase matches across any whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_TERMS = 200
MAX_TERM_LENGTH = 100


def parse_terms(text: str) -> tuple[str, ...]:
    """Terms of a keyword list: one per line (commas also separate), blanks dropped."""
    terms = []
    for line in (text or "").replace(",", "\n").splitlines():
        term = " ".join(line.split())
        if term and term.strip("*"):
            terms.append(term[:MAX_TERM_LENGTH])
    return tuple(dict.fromkeys(terms))[:MAX_TERMS]


def _term_pattern(term: str) -> str:
    stem = term.endswith("*")
    words = term.rstrip("*").split()
    body = r"\s+".join(re.escape(w) for w in words)
    # \b only where the term starts/ends with a word character, so "c++" still matches.
    start = r"\b" if re.match(r"\w", words[0]) else ""
    word_end = r"\b" if re.search(r"\w$", words[-1]) else ""
    end = r"\w*" if stem else word_end
    return f"{start}{body}{end}"


@dataclass(frozen=True)
class Highlighter:
    pattern: re.Pattern | None

    def __call__(self, text: str) -> SafeString:
        """HTML of ``text`` with matches wrapped in ``<mark class="kw-include|kw-exclude">``."""
        text = text or ""
        if self.pattern is None:
            return escape(text)
        out, pos = [], 0
        for match in self.pattern.finditer(text):
            if match.start() == match.end():
                continue
            kind = "include" if match.lastgroup == "inc" else "exclude"
            out.append(escape(text[pos : match.start()]))
            out.append(f'<mark class="kw-{kind}">{escape(match.group())}</mark>')
            pos = match.end()
        out.append(escape(text[pos:]))
        return mark_safe("".join(out))  # every piece above went through escape()


@lru_cache(maxsize=64)
def highlighter(include: str, exclude: str) -> Highlighter:
    """A highlighter for the two keyword lists (cached: the lists rarely change)."""
    groups = []
    for name, text in (("inc", include), ("exc", exclude)):
        terms = sorted(parse_terms(text), key=len, reverse=True)  # longest match wins
        if terms:
            groups.append(f"(?P<{name}>{'|'.join(_term_pattern(t) for t in terms)})")
    if not groups:
        return Highlighter(None)
    return Highlighter(re.compile("|".join(groups), re.IGNORECASE))
