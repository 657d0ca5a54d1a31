"""De-duplication of bibliographic records (pure Python, no Django).

Two stages:

1. exact identifiers: records sharing a DOI or a PMID are duplicates (unless their titles
   disagree completely, which happens with supplement-issue DOIs shared by many abstracts);
2. fuzzy matching: normalised title (rapidfuzz) + year +/- 1 + first author's surname, on
   candidate pairs produced by blocking (title prefix, title suffix, author + year), so the
   cost grows near-linearly with the number of records, never with all pairs.

A pair lands in the automatic tier only when nothing argues against it (no conflicting
DOI/PMID, no differing numbers such as "Part 1" vs "Part 2", no substantive word that
differs between the titles, a title long enough to be specific); otherwise a similar pair
goes to the human-review tier. Automatic pairs are grouped transitively and every duplicate
points at the group's kept (lowest id) record.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Levenshtein

__all__ = [
    "DedupKey",
    "DuplicatePair",
    "build_key",
    "find_duplicates",
    "first_author_key",
    "normalise_doi",
    "normalise_pmid",
    "normalise_title",
]

# --- normalisation ----------------------------------------------------------------------

_DOI_PREFIX = re.compile(
    r"^(?:(?:https?://)?(?:dx\.)?doi\.org/|doi\s*[:=]?\s*|info:doi/|urn:doi:)+", re.IGNORECASE
)
_DOI_IN_TEXT = re.compile(r"10\.\d{4,9}/\S+", re.IGNORECASE)


def normalise_doi(value: str | None) -> str:
    """Return a DOI lower-cased, without URL/``doi:`` prefix, whitespace or a trailing ``[doi]``.

    A value holding no ``10.xxxx/`` DOI at all gives "".
    """
    if not value:
        return ""
    text = value.strip()
    if "%" in text:  # URL-encoded, as in publisher links (10.1007%2Fs11262-017-1464-9)
        text = text.replace("%2F", "/").replace("%2f", "/")
    # PubMed's LID/AID write "10.1/x [doi]"; several DOIs in one field: keep the first.
    text = _DOI_PREFIX.sub("", text)
    match = _DOI_IN_TEXT.search(text)
    if not match:
        return ""
    return match.group(0).rstrip(".,;)]}>\"'").lower()


_PMID_DIGITS = re.compile(r"\d{1,9}")


def normalise_pmid(value: str | None) -> str:
    """Return a PMID as digits only ("PMID: 123" -> "123"); "" when there are none."""
    if not value:
        return ""
    match = _PMID_DIGITS.search(value)
    return match.group(0).lstrip("0") if match else ""


_TAG = re.compile(r"<[^<>]{0,200}>")
_ENTITY = re.compile(r"&(?:AMP|LT|GT|QUOT|APOS|NBSP);", re.IGNORECASE)
# Characters NFKD does not decompose into ASCII + combining marks.
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "α": " alpha ",
        "β": " beta ",
        "γ": " gamma ",
        "δ": " delta ",
        "ε": " epsilon ",
        "κ": " kappa ",
        "λ": " lambda ",
        "μ": " mu ",
        "π": " pi ",
        "σ": " sigma ",
        "τ": " tau ",
        "ω": " omega ",
    }
)
# ASCII punctuation: hyphens and apostrophes join ("post-traumatic" == "posttraumatic",
# "Crohn's" == "Crohns"), everything else separates words.
_PUNCT = str.maketrans(
    {
        **dict.fromkeys('!"#$%&()*+,./:;<=>?@[\\]^_`{|}~', " "),
        "-": "",
        "'": "",
    }
)
_PUNCT_ASCII = bytes.maketrans(b'!"#$%&()*+,./:;<=>?@[\\]^_`{|}~', b" " * 30)
_NON_WORD = re.compile(r"[^\w\s]+")
_LEADING_ARTICLES = frozenset({"the", "a", "an"})


def normalise_title(title: str | None) -> str:
    """Normalise a title for matching.

    HTML entities and tags are removed, diacritics folded (é -> e, ß -> ss, α -> alpha),
    case folded, punctuation dropped, a leading "The"/"A"/"An" removed and whitespace
    collapsed.
    """
    if not title:
        return ""
    text = title
    if "&" in text:
        # Entities survive upper-casing by some databases ("&AMP;"); unescape them too.
        text = html.unescape(_ENTITY.sub(lambda m: m.group(0).lower(), text))
    if "<" in text:
        text = _TAG.sub(" ", text)
    text = text.casefold()
    if "&" in text:
        text = text.replace("&", " and ")  # "A & B" in one database, "A and B" in another
    if "--" in text:
        text = text.replace("--", " ")  # a dash separates words; a hyphen joins them
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
        text = text.translate(_SPECIAL)
        # Typographic dashes/quotes are not in the ASCII table; map the common ones first.
        text = text.replace("\u2010", "-").replace("\u2011", "-").replace("\u2019", "'")
        text = text.replace("\u2013", " ").replace("\u2014", " ")
        text = text.translate(_PUNCT)
        text = _NON_WORD.sub(" ", text)
    else:
        # bytes.translate is a table lookup in C; str.translate looks each character up
        # in a dict (a tenth of an import's preview time on 100,000 titles).
        text = text.encode("ascii").translate(_PUNCT_ASCII, b"-'").decode("ascii")
    tokens = text.split()
    # Leading articles go ("The A-Z of ..." too), but never the last word, so that
    # normalising twice changes nothing.
    start = 0
    while start < len(tokens) - 1 and tokens[start] in _LEADING_ARTICLES:
        start += 1
    if start:
        tokens = tokens[start:]
    return " ".join(tokens)


_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "2nd", "3rd", "etal", "et", "al"})


def _fold(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
        text = text.translate(_SPECIAL)
    return text


def first_author_key(name: str | None) -> str:
    """Return the surname of an author name as a matching key.

    "Smith, J.", "Smith, John", "Smith J", "Smith JA", "John Smith" and "J. Smith" all
    give "smith"; diacritics and case are folded. Particles are dropped by keeping the
    last word of the surname ("van der Berg, A" and "A. van der Berg" give "berg").
    """
    if not name:
        return ""
    text = _fold(name.strip())
    if "," in text:
        surname_part = text.split(",", 1)[0]
        bare = surname_part.strip()
        if bare.isalnum():  # "Smith, J.": one plain word, the key itself
            return "" if bare.lower() in _SUFFIXES else bare.casefold()
        words = surname_part.replace(".", " ").split()
    else:
        words = text.replace(".", " ").split()
        words = [w for w in words if w.lower().strip("()") not in _SUFFIXES]
        # MEDLINE style "Smith JA": trailing initials written in capitals.
        if len(words) >= 2 and len(words[-1]) <= 3 and words[-1].isupper() and words[-1].isalpha():
            words = words[:-1]
            while len(words) >= 2 and len(words[-1]) <= 1:
                words = words[:-1]
    words = [w for w in words if w.lower() not in _SUFFIXES]
    if not words:
        return ""
    last = words[-1].casefold()
    return last if last.isalnum() else "".join(c for c in last if c.isalnum())


# --- keys and pairs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DedupKey:
    """What de-duplication needs to know about one record."""

    id: int
    doi: str
    pmid: str
    title_norm: str
    year: int | None
    first_author: str


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """``duplicate_id`` duplicates ``kept_id`` (the earliest record of its group)."""

    kept_id: int
    duplicate_id: int
    score: float
    tier: Literal["auto", "review"]
    reason: str


def build_key(
    id: int,  # noqa: A002 - mirrors the dataclass field
    *,
    title: str = "",
    doi: str = "",
    pmid: str = "",
    year: int | None = None,
    authors: Sequence[str] = (),
) -> DedupKey:
    """Build a DedupKey from raw record fields (normalising each one)."""
    return DedupKey(
        id=id,
        doi=normalise_doi(doi),
        pmid=normalise_pmid(pmid),
        title_norm=normalise_title(title),
        year=year,
        first_author=first_author_key(authors[0]) if authors else "",
    )


# --- matching rules ---------------------------------------------------------------------

AUTO_TITLE = 0.95  # normalised-title similarity for an automatic merge
AUTO_TITLE_NO_AUTHOR = 0.98  # ... when one record has no author
REVIEW_TITLE = 0.85  # lowest similarity that is worth a human look
REVIEW_TITLE_OTHER_AUTHOR = 0.93  # ... when the first authors differ
SAME_ID_MIN_TITLE = 0.50  # same DOI/PMID but titles below this: review, not auto
MIN_SPECIFIC_TOKENS = 4  # shorter titles ("Editorial", "Reply") are never auto-merged
MIN_SPECIFIC_CHARS = 25
TRUNCATED_MIN_CHARS = 40  # a title prefix this long may be a database-truncated title
BLOCK_CAP = 400  # blocks larger than this use a sorted neighbourhood instead of all pairs
WINDOW = 25

_DIGITS = re.compile(r"\d+")
_ROMAN = frozenset({"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"})


def _numbers(tokens: list[str]) -> set[str]:
    """Numbers and roman numerals: "Part 1"/"Part 2", "12-month"/"24-month" differ."""
    # Digit runs never span a space, so one search of the joined words finds each word's.
    found = set(_DIGITS.findall(" ".join(tokens)))
    return found | _ROMAN.intersection(tokens) if found else _ROMAN.intersection(tokens)


def _substantive_difference(tokens_a: list[str], tokens_b: list[str]) -> bool:
    """True when a word of one title has no close spelling variant in the other.

    "randomised"/"randomized" or a typo have a close variant; "children"/"adults" do not,
    and a title differing only by such a word describes another study.
    """
    set_a, set_b = set(tokens_a), set(tokens_b)
    only_a, only_b = set_a - set_b, set_b - set_a
    if not only_a and not only_b:
        return False
    if "".join(tokens_a) == "".join(tokens_b):
        return False  # a misplaced space: "stimulant sin" / "stimulants in"
    for lonely, other in ((only_a, set_b), (only_b, set_a)):
        for word in lonely:
            if len(word) <= 2:
                continue  # "of"/"in" swaps and initials are noise, not meaning
            if not any(_spelling_variant(word, w) for w in other):
                return True
    return False


def _spelling_variant(a: str, b: str) -> bool:
    """Typo or spelling variant: swapped letters ("teh"), one edit in a long word
    ("ulcre", "paediatric"), or mostly the same letters ("randomised"/"randomized")."""
    if abs(len(a) - len(b)) > max(2, len(a) // 4):
        return False
    distance = OSA.distance(a, b)
    if distance == 1 and (min(len(a), len(b)) >= 6 or sorted(a) == sorted(b)):
        return True
    return Levenshtein.normalized_similarity(a, b) >= 0.8


class _Matcher:
    # Titles are split into words per compared pair rather than once for all records:
    # 100,000 token lists take ~100 MB, and only the few similar pairs need the words.
    def __init__(self, keys: Sequence[DedupKey]) -> None:
        self.keys = keys

    def compare(self, i: int, j: int) -> tuple[str, float, str] | None:
        """Return (tier, score, reason) for a candidate pair, or None if not similar."""
        a, b = self.keys[i], self.keys[j]
        ta, tb = a.title_norm, b.title_norm
        if not ta or not tb:
            return None
        if a.year is not None and b.year is not None and abs(a.year - b.year) > 1:
            return None
        sim = fuzz.ratio(ta, tb, score_cutoff=REVIEW_TITLE * 100) / 100
        truncated = cut_at_word = False
        if sim < AUTO_TITLE:
            short, long_ = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
            if len(short) >= TRUNCATED_MIN_CHARS and len(short) < len(long_):
                # Below AUTO_TITLE the prefix is not used: rapidfuzz may stop early.
                prefix_sim = fuzz.ratio(short, long_[: len(short)], score_cutoff=AUTO_TITLE * 100)
                prefix_sim /= 100
                if prefix_sim >= AUTO_TITLE:
                    truncated, sim = True, max(sim, prefix_sim * 0.99)
                    # A database truncates at a character limit, often inside a word; a
                    # shorter title ending where a word of the longer one ends may be
                    # another paper ("X" vs "X: 5-year follow-up"), so a human decides.
                    cut_at_word = long_[len(short) : len(short) + 1] in (" ", "")
        if sim < REVIEW_TITLE:
            return None
        tok_a, tok_b = ta.split(), tb.split()

        author_same = bool(a.first_author) and a.first_author == b.first_author
        if not author_same and a.first_author and b.first_author:
            # Transliteration/typo in a surname: "Mueller"/"Muller", "Smyth"/"Smith".
            author_same = (
                Levenshtein.normalized_similarity(a.first_author, b.first_author) >= 0.8
                and a.first_author[0] == b.first_author[0]
            )
        author_missing = not a.first_author or not b.first_author
        if not author_same and not author_missing and sim < REVIEW_TITLE_OTHER_AUTHOR:
            return None

        blockers = []
        if a.doi and b.doi and a.doi != b.doi:
            blockers.append("different DOIs")
        if a.pmid and b.pmid and a.pmid != b.pmid:
            blockers.append("different PMIDs")
        if truncated and cut_at_word:
            blockers.append("shorter title ends at a word boundary")
        if truncated:
            short_tok, long_tok = (tok_a, tok_b) if len(ta) <= len(tb) else (tok_b, tok_a)
            n = len(short_tok)
            # The last word of a truncated title may be cut in the middle.
            head_long = long_tok[: n - 1]
            if not _numbers(short_tok[:-1]) <= _numbers(long_tok):
                blockers.append("different numbers")
            elif _substantive_difference(short_tok[:-1], head_long):
                blockers.append("different words")
        else:
            if _numbers(tok_a) != _numbers(tok_b):
                blockers.append("different numbers")
            elif _substantive_difference(tok_a, tok_b):
                blockers.append("different words")
        if (
            min(len(tok_a), len(tok_b)) < MIN_SPECIFIC_TOKENS
            or min(len(ta), len(tb)) < MIN_SPECIFIC_CHARS
        ):
            blockers.append("short title")
        if not author_same and not author_missing:
            blockers.append("different first authors")
        year_differs = a.year is not None and b.year is not None and a.year != b.year

        reason = f"title {sim:.2f}" + (" (truncated)" if truncated else "")
        reason += ", same first author" if author_same else ""
        reason += ", year ±1" if year_differs else ""
        if not blockers:
            if author_same and sim >= AUTO_TITLE:
                return "auto", sim, reason
            if author_missing and sim >= AUTO_TITLE_NO_AUTHOR and not year_differs:
                return "auto", sim, reason + ", author missing"
        if blockers:
            reason += "; " + ", ".join(blockers)
        elif author_missing:
            reason += ", author missing"
        return "review", sim * 0.99 if blockers else sim, reason


class _Groups:
    """Union-find whose root is the lowest id; refuses unions joining conflicting DOIs/PMIDs."""

    def __init__(self, keys: Sequence[DedupKey]) -> None:
        self.parent = list(range(len(keys)))
        self.keys = keys
        self.dois: dict[int, set[str]] = {}
        self.pmids: dict[int, set[str]] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def _ids(self, store: dict[int, set[str]], root: int, value: str) -> set[str]:
        ids = store.get(root)
        if ids is None:
            ids = {value} if value else set()
        return ids

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        keys = self.keys
        dois_i = self._ids(self.dois, ri, keys[ri].doi)
        dois_j = self._ids(self.dois, rj, keys[rj].doi)
        pmids_i = self._ids(self.pmids, ri, keys[ri].pmid)
        pmids_j = self._ids(self.pmids, rj, keys[rj].pmid)
        # A group may hold one DOI and one PMID at most: two different ones mean two studies.
        if (dois_i and dois_j and dois_i != dois_j) or (pmids_i and pmids_j and pmids_i != pmids_j):
            return False
        if keys[rj].id < keys[ri].id:
            ri, rj = rj, ri
        self.parent[rj] = ri
        self.dois[ri] = dois_i | dois_j
        self.pmids[ri] = pmids_i | pmids_j
        self.dois.pop(rj, None)
        self.pmids.pop(rj, None)
        return True


def _title_blocks(title: str) -> tuple[str, str]:
    """A normalised title's block keys: its first three words, its last three ("" when it
    has fewer than four words; both "" for an empty title)."""
    # The first and last three words, without splitting the whole title.
    head = title.split(None, 3)
    if not head:
        return "", ""
    if len(head) < 4:
        return " ".join(head), ""
    return " ".join(head[:3]), " ".join(title.rsplit(None, 3)[1:])


def _blocks(keys: Sequence[DedupKey]) -> Iterable[list[int]]:
    """Candidate blocks: title prefix, title suffix, and first author + year (+/- 1)."""
    prefix: dict[str, list[int]] = defaultdict(list)
    suffix: dict[str, list[int]] = defaultdict(list)
    author_year: dict[tuple[str, int], list[int]] = defaultdict(list)
    for idx, key in enumerate(keys):
        head, tail = _title_blocks(key.title_norm)
        if not head:
            continue
        prefix[head].append(idx)
        if tail:
            suffix[tail].append(idx)
        if key.first_author and key.year is not None:
            author_year[(key.first_author, key.year)].append(idx)
    # Most blocks hold one record: filter them here rather than yield them one by one.
    yield from (m for m in prefix.values() if len(m) > 1)
    yield from (m for m in suffix.values() if len(m) > 1)
    for (author, year), members in author_year.items():
        # Year +/- 1: pair each (author, year) block with the next year's block once.
        following = author_year.get((author, year + 1))
        if following:
            yield members + following
        elif len(members) > 1:
            yield members


def _related(keys: Sequence[DedupKey], new_ids: set[int]) -> list[DedupKey]:
    """The keys that share a block or an identifier with a new one, the new ones included,
    in their order.

    Pairs are only looked for where a new record is (``new_ids``), so the others change
    nothing: every block or DOI/PMID group holding a new record keeps all its members, and
    the pairs found are the same. De-duplicating 20,000 added records against a review of
    200,000 then works on the few tens of thousands that matter.
    """
    prefixes: set[str] = set()
    suffixes: set[str] = set()
    author_years: set[tuple[str, int]] = set()
    dois: set[str] = set()
    pmids: set[str] = set()
    for key in keys:
        if key.id not in new_ids:
            continue
        dois.add(key.doi)
        pmids.add(key.pmid)
        head, tail = _title_blocks(key.title_norm)
        if not head:
            continue  # no title: in no block (_blocks)
        prefixes.add(head)
        suffixes.add(tail)
        if key.first_author and key.year is not None:
            # Its block joins the next year's, and the year before's block joins its own.
            for year in (key.year - 1, key.year, key.year + 1):
                author_years.add((key.first_author, year))
    dois.discard("")
    pmids.discard("")
    suffixes.discard("")
    related = []
    for key in keys:
        if (
            key.id in new_ids
            or key.doi in dois
            or key.pmid in pmids
            or (key.first_author, key.year) in author_years
        ):
            related.append(key)
            continue
        head, tail = _title_blocks(key.title_norm)
        if head in prefixes or tail in suffixes:
            related.append(key)
    return related


def _candidate_pairs(keys: Sequence[DedupKey], new: list[bool] | None) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    add = pairs.add
    for block in _blocks(keys):
        if len(block) < 2:
            continue
        if new is not None and not any(new[i] for i in block):
            continue
        if len(block) <= BLOCK_CAP:
            members = sorted(set(block))
            for x, i in enumerate(members):
                new_i = new is None or new[i]
                for j in members[x + 1 :]:
                    if new_i or new[j]:
                        add((i, j))
        else:
            # Sorted neighbourhood keeps a huge generic block ("effect of the ...") linear.
            members = sorted(set(block), key=lambda i: keys[i].title_norm)
            for x, i in enumerate(members):
                for j in members[x + 1 : x + 1 + WINDOW]:
                    if new is None or new[i] or new[j]:
                        add((i, j) if i < j else (j, i))
    return pairs


def find_duplicates(
    keys: Sequence[DedupKey], *, new_ids: set[int] | None = None
) -> list[DuplicatePair]:
    """Find duplicate records.

    Parameters
    ----------
    keys
        One key per record of the review (earlier imports included).
    new_ids
        When given, only pairs involving at least one of these records are reported
        (new records are checked against the whole review).

    Returns
    -------
    list of DuplicatePair
        Automatic pairs first: each duplicate points at the lowest id of its transitive
        group. Then review pairs between different groups (their kept records), best first.
    """
    if not keys:
        return []
    if new_ids is not None:
        keys = _related(keys, new_ids)
    new = [k.id in new_ids for k in keys] if new_ids is not None else None
    matcher = _Matcher(keys)
    groups = _Groups(keys)
    # edge: (score, i, j, reason)
    auto_edges: list[tuple[float, int, int, str]] = []
    review_edges: list[tuple[float, int, int, str]] = []

    for field, label in (("doi", "same DOI"), ("pmid", "same PMID")):
        by_id: dict[str, list[int]] = defaultdict(list)
        for idx, value in enumerate(map(attrgetter(field), keys)):
            if value:
                by_id[value].append(idx)
        for members in by_id.values():
            if len(members) < 2 or (new is not None and not any(new[i] for i in members)):
                continue
            members.sort(key=lambda i: keys[i].id)
            first = members[0]
            for other in members[1:]:
                if new is not None and not (new[first] or new[other]):
                    continue
                ta, tb = keys[first].title_norm, keys[other].title_norm
                if ta and tb and fuzz.token_set_ratio(ta, tb) / 100 < SAME_ID_MIN_TITLE:
                    review_edges.append((0.5, first, other, f"{label}, titles differ"))
                else:
                    auto_edges.append((1.0, first, other, label))

    for i, j in _candidate_pairs(keys, new):
        verdict = matcher.compare(i, j)
        if verdict is None:
            continue
        tier, score, reason = verdict
        (auto_edges if tier == "auto" else review_edges).append((score, i, j, reason))

    # Strongest evidence first, so a conflicting weaker edge is the one refused.
    auto_edges.sort(key=lambda e: (-e[0], keys[e[1]].id, keys[e[2]].id))
    link: dict[int, tuple[float, str]] = {}
    for score, i, j, reason in auto_edges:
        if groups.find(i) == groups.find(j):
            continue
        if groups.union(i, j):
            for member in (i, j):
                if member not in link or link[member][0] < score:
                    link[member] = (score, reason)
        else:
            review_edges.append((score * 0.99, i, j, reason + "; group has another DOI/PMID"))

    result: list[DuplicatePair] = []
    for idx in sorted(link, key=lambda i: keys[i].id):
        root = groups.find(idx)
        if root == idx:
            continue
        if new is not None and not (new[idx] or new[root]):
            continue  # both old: their relation is not this run's business
        score, reason = link[idx]
        result.append(DuplicatePair(keys[root].id, keys[idx].id, round(score, 4), "auto", reason))

    best_review: dict[tuple[int, int], tuple[float, str]] = {}
    for score, i, j, reason in review_edges:
        ri, rj = groups.find(i), groups.find(j)
        if ri == rj:
            continue
        if new is not None and not (new[i] or new[j]):
            continue
        pair = (
            (keys[ri].id, keys[rj].id) if keys[ri].id < keys[rj].id else (keys[rj].id, keys[ri].id)
        )
        if (ri, rj) != (i, j) and (rj, ri) != (i, j):
            reason += f" (via #{keys[i].id} ~ #{keys[j].id})"
        if pair not in best_review or best_review[pair][0] < score:
            best_review[pair] = (score, reason)
    reviews = sorted(best_review.items(), key=lambda kv: (-kv[1][0], kv[0]))
    result.extend(DuplicatePair(k, d, round(s, 4), "review", r) for (k, d), (s, r) in reviews)
    return result
