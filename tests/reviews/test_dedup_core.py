"""reviews.dedup: normalisation, known duplicate pairs, known non-duplicates, grouping."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviews import dedup
from reviews.dedup import (
    DedupKey,
    build_key,
    find_duplicates,
    first_author_key,
    normalise_doi,
    normalise_pmid,
    normalise_title,
)

# --- normalisation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "10.1192/BJP.BP.114.145516",
        "https://doi.org/10.1192/bjp.bp.114.145516",
        "http://dx.doi.org/10.1192/bjp.bp.114.145516",
        "doi:10.1192/bjp.bp.114.145516",
        "DOI: 10.1192/bjp.bp.114.145516.",
        " 10.1192/bjp.bp.114.145516 [doi]",
    ],
)
def test_normalise_doi(raw):
    assert normalise_doi(raw) == "10.1192/bjp.bp.114.145516"


def test_normalise_doi_without_a_doi_and_url_encoded():
    assert normalise_doi("") == normalise_doi(None) == normalise_doi("not a doi") == ""
    assert (
        normalise_doi("https://doi.org/10.1007%2Fs11262-017-1464-9") == "10.1007/s11262-017-1464-9"
    )


def test_normalise_pmid():
    assert normalise_pmid("PMID: 25657356") == "25657356"
    assert normalise_pmid(" 0012345 ") == "12345"
    assert normalise_pmid("none") == ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The effect of peer support.", "effect of peer support"),
        ("A Randomised Trial: Peer-Support", "randomised trial peersupport"),
        (
            "Effects of <i>Helicobacter pylori</i> eradication",
            "effects of helicobacter pylori eradication",
        ),
        ("Müller’s naïve café study — Ærø", "mullers naive cafe study aero"),
        ("  Peer   support\n\tgroups  ", "peer support groups"),
        ("Smoking &amp; depression &AMP; anxiety", "smoking and depression and anxiety"),
        ("IL-6 and TNF-α in ADHD", "il6 and tnf alpha in adhd"),
        ("Regurgitation--recommendations", "regurgitation recommendations"),
        ("", ""),
    ],
)
def test_normalise_title(a, b):
    assert normalise_title(a) == b


def test_leading_article_only_removed_at_the_start():
    assert normalise_title("The theory of the mind") == "theory of the mind"
    # All leading articles, but never the last word, so normalising twice changes nothing.
    assert normalise_title("The A to Z") == "to z"
    assert normalise_title("The") == "the"


@pytest.mark.parametrize(
    "name",
    ["Smith, J.", "Smith, John", "Smith J", "Smith JA", "John Smith", "J. A. Smith", "SMITH, J"],
)
def test_first_author_key_forms(name):
    assert first_author_key(name) == "smith"


def test_first_author_key_particles_diacritics_and_empty():
    assert first_author_key("van der Berg, A") == first_author_key("A. van der Berg") == "berg"
    assert first_author_key("Müller, Jörg") == first_author_key("Jorg Muller") == "muller"
    assert first_author_key("Li Y") == "li"
    assert first_author_key("Smith, J., Jr.") == "smith"
    assert first_author_key("") == first_author_key(None) == ""


@given(st.text(max_size=120))
@settings(max_examples=1000, deadline=None)
def test_normalise_title_is_idempotent_and_plain(text):
    once = normalise_title(text)
    assert normalise_title(once) == once
    assert once == once.strip() and "  " not in once and "<" not in once


# --- known pairs -----------------------------------------------------------------------


def key(i, title, *, doi="", pmid="", year=2015, author="Bryant, R. A."):
    return build_key(
        i, title=title, doi=doi, pmid=pmid, year=year, authors=[author] if author else []
    )


TITLE = "Trajectory of post-traumatic stress following traumatic injury: 6-year follow-up"


def pairs_by_id(pairs):
    return {(p.kept_id, p.duplicate_id): p for p in pairs}


def test_true_duplicates_are_found_automatically():
    keys = [
        key(1, TITLE, doi="10.1192/bjp.bp.114.145516", pmid="25657356"),
        key(2, TITLE.upper(), doi="https://doi.org/10.1192/BJP.BP.114.145516"),  # same DOI
        key(3, "The " + TITLE + ".", pmid="25657356"),  # same PMID
        key(
            4,
            TITLE.replace("post-traumatic", "posttraumatic"),
            year=2016,
            author="Richard A Bryant",
        ),
        key(
            5,
            "<i>Trajectory</i> of post-traumatic stress following traumatic injuy: 6-year follow-up",
        ),
        key(6, TITLE[:61], author="Bryant RA"),  # truncated mid-word by a database
    ]
    pairs = find_duplicates(keys)
    auto = {(p.kept_id, p.duplicate_id) for p in pairs if p.tier == "auto"}
    assert auto == {(1, 2), (1, 3), (1, 4), (1, 5), (1, 6)}
    assert [p for p in pairs if p.tier == "review"] == []
    reasons = pairs_by_id(pairs)
    assert reasons[(1, 2)].reason == "same DOI" and reasons[(1, 2)].score == 1.0
    assert reasons[(1, 3)].reason == "same PMID"
    assert all(0.95 <= p.score <= 1.0 for p in pairs)


KNOWN_NON_DUPLICATES = [
    # Two trials by the same author, same year, titles differing by population.
    (
        "Methylphenidate for attention deficit hyperactivity disorder in children: a randomised controlled trial",
        "Methylphenidate for attention deficit hyperactivity disorder in adults: a randomised controlled trial",
    ),
    # A series: Part 1 / Part 2.
    (
        "Peer support for people with severe mental illness. Part 1: design of a randomised trial",
        "Peer support for people with severe mental illness. Part 2: design of a randomised trial",
    ),
    # Different follow-up lengths.
    (
        "Omeprazole maintenance in reflux oesophagitis: 12-month results of a randomised trial",
        "Omeprazole maintenance in reflux oesophagitis: 24-month results of a randomised trial",
    ),
    # A short generic title.
    ("Editorial", "Editorial"),
    # The shorter title ends where a word of the longer one ends: maybe a different paper.
    (
        "Critical appraisal of current management practices for infant regurgitation",
        "Critical appraisal of current management practices for infant regurgitation--recommendations of a working party",
    ),
]


@pytest.mark.parametrize(("a", "b"), KNOWN_NON_DUPLICATES)
def test_known_non_duplicates_are_not_merged_automatically(a, b):
    pairs = find_duplicates([key(1, a, author="Vandenplas, Y"), key(2, b, author="Vandenplas Y.")])
    assert all(p.tier == "review" for p in pairs)
    assert len(pairs) == 1  # similar enough for a human to look at
    assert pairs[0].kept_id == 1 and pairs[0].duplicate_id == 2


def test_different_studies_are_not_paired_at_all():
    keys = [
        key(1, "Peer support for people with severe mental illness"),
        key(2, "Cognitive behavioural therapy for insomnia in older adults"),
        key(3, TITLE, year=2015),
        key(4, TITLE, year=2019),  # same title, 4 years later: another report
    ]
    assert find_duplicates(keys) == []


def test_doi_conflict_blocks_an_automatic_fuzzy_merge():
    keys = [
        key(1, TITLE, doi="10.1192/bjp.bp.114.145516"),
        key(2, TITLE, doi="10.1192/bjp.bp.114.999999"),  # e.g. an erratum or a preprint
    ]
    (pair,) = find_duplicates(keys)
    assert pair.tier == "review" and "different DOIs" in pair.reason


def test_pmid_conflict_blocks_an_automatic_fuzzy_merge():
    (pair,) = find_duplicates([key(1, TITLE, pmid="1"), key(2, TITLE, pmid="2")])
    assert pair.tier == "review" and "different PMIDs" in pair.reason


def test_same_doi_with_unrelated_titles_goes_to_review():
    # Supplement issues give one DOI to hundreds of conference abstracts.
    keys = [
        key(1, "Peer support in psychosis", doi="10.1016/s0924-9338(17)30001-1"),
        key(
            2,
            "Ketamine infusion for treatment-resistant depression",
            doi="10.1016/S0924-9338(17)30001-1",
        ),
    ]
    (pair,) = find_duplicates(keys)
    assert pair.tier == "review" and "titles differ" in pair.reason


def test_transitive_group_points_at_the_lowest_id():
    keys = [
        key(30, TITLE, doi="10.1000/x"),
        key(10, TITLE.lower()),
        key(20, TITLE + ".", pmid="123"),
        key(40, TITLE, pmid="123"),
    ]
    pairs = find_duplicates(keys)
    assert {(p.kept_id, p.duplicate_id) for p in pairs} == {(10, 20), (10, 30), (10, 40)}
    assert {p.tier for p in pairs} == {"auto"}


def test_group_never_joins_two_different_dois_even_transitively():
    keys = [
        key(1, TITLE, doi="10.1000/a"),
        key(2, TITLE),  # no DOI: matches both
        key(3, TITLE, doi="10.1000/b"),
    ]
    pairs = find_duplicates(keys)
    auto = [p for p in pairs if p.tier == "auto"]
    assert len(auto) == 1 and auto[0].kept_id in (1, 2)
    groups = {p.kept_id for p in auto} | {p.duplicate_id for p in auto}
    assert not {1, 3} <= groups
    review = [p for p in pairs if p.tier == "review"]
    assert review, "the refused link is left for a human"


def test_new_ids_only_report_pairs_involving_new_records():
    old = [
        key(1, TITLE),
        key(2, TITLE.upper()),
        key(3, "Peer support for people with psychosis in Norway"),
    ]
    new = [key(4, TITLE + "."), key(5, "Peer support for people with psychosis in norway")]
    pairs = find_duplicates(old + new, new_ids={4, 5})
    assert {(p.kept_id, p.duplicate_id) for p in pairs if p.tier == "auto"} == {(1, 4), (3, 5)}
    assert all(4 in (p.kept_id, p.duplicate_id) or 5 in (p.kept_id, p.duplicate_id) for p in pairs)
    assert find_duplicates(old + new, new_ids=set()) == []


def test_new_ids_work_on_the_records_that_share_a_block_with_a_new_one():
    """With new_ids, old records that share no block or identifier with a new one are left
    out before pairing; the pairs are the same as when every record is looked at."""
    new = key(100, TITLE, author="Bryant, R", year=2016)
    related = [
        DedupKey(1, "", "", "lonely words here", None, ""),  # shares nothing: left out
        key(2, TITLE.lower(), author="Bryant, R", year=2016),  # the title's first words
        DedupKey(3, "", "", "x y " + " ".join(new.title_norm.split()[-3:]), None, ""),  # last
        DedupKey(4, "", "", "other title words entirely", 2015, "bryant"),  # author, year - 1
        DedupKey(5, "", "", "more other title words", 2017, "bryant"),  # author, year + 1
        DedupKey(6, "", "", "still other title words", 2018, "bryant"),  # two years: left out
        DedupKey(7, "10.1000/x", "", "a doi shared", None, ""),
        DedupKey(8, "", "555", "a pmid shared", None, ""),
    ]
    new = DedupKey(100, "10.1000/x", "555", *dataclasses.astuple(new)[3:])
    kept = dedup._related([*related, new], {100})
    assert [k.id for k in kept] == [2, 3, 4, 5, 7, 8, 100]
    rng = random.Random(5)
    words = [f"w{i}" for i in range(40)]
    keys = [
        DedupKey(
            i,
            rng.choice(["", "10.1/a", "10.1/b"]),
            rng.choice(["", "1", "2"]),
            " ".join(rng.choice(words) for _ in range(rng.randint(1, 6))),
            rng.choice([None, 2000, 2001, 2002, 2003]),
            rng.choice(["", "smith", "doe"]),
        )
        for i in range(1, 400)
    ]
    new_ids = set(rng.sample(range(1, 400), 40))
    full = dedup._related
    try:
        dedup._related = lambda keys, new_ids: list(keys)  # every record looked at
        everything = find_duplicates(keys, new_ids=new_ids)
    finally:
        dedup._related = full
    assert everything and find_duplicates(keys, new_ids=new_ids) == everything


def test_author_mismatch_is_not_auto():
    keys = [key(1, TITLE, author="Bryant, R"), key(2, TITLE, author="Nickerson, A")]
    (pair,) = find_duplicates(keys)
    assert pair.tier == "review" and "different first authors" in pair.reason


def test_missing_author_needs_a_near_identical_title_and_same_year():
    assert find_duplicates([key(1, TITLE), key(2, TITLE.lower(), author="")])[0].tier == "auto"
    (pair,) = find_duplicates([key(1, TITLE), key(2, TITLE, author="", year=2016)])
    assert pair.tier == "review"


def test_empty_and_untitled():
    assert find_duplicates([]) == []
    assert (
        find_duplicates([DedupKey(1, "", "", "", None, ""), DedupKey(2, "", "", "", None, "")])
        == []
    )


def test_positional_dedup_key_matches_the_documented_field_order():
    k = DedupKey(7, "10.1000/x", "123", "title", 2001, "smith")
    assert (k.id, k.doi, k.pmid, k.title_norm, k.year, k.first_author) == (
        7,
        "10.1000/x",
        "123",
        "title",
        2001,
        "smith",
    )


def test_blocking_keeps_the_candidate_pairs_near_linear():
    rng = random.Random(3)
    words = [f"w{i}" for i in range(3000)]
    keys = [
        DedupKey(
            i, "", "", " ".join(rng.choice(words) for _ in range(10)), 2000 + i % 20, f"a{i % 500}"
        )
        for i in range(6000)
    ]
    candidates = dedup._candidate_pairs(keys, None)
    assert len(candidates) < 10 * len(keys)  # all pairs would be 18 million


def test_huge_block_falls_back_to_a_sorted_neighbourhood():
    # 2,000 titles sharing their first three words: one block far above BLOCK_CAP.
    keys = [
        DedupKey(i, "", "", f"effect of the drug number {i} on outcome", None, "")
        for i in range(2000)
    ]
    candidates = dedup._candidate_pairs(keys, None)
    assert len(candidates) <= 2000 * (dedup.WINDOW + 5)
    twins = keys + [DedupKey(5000, "", "", "effect of the drug number 7 on outcome", None, "")]
    pairs = find_duplicates(twins)
    assert any({p.kept_id, p.duplicate_id} == {7, 5000} for p in pairs)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "Peer support trial",
                    "Peer support trials",
                    TITLE,
                    TITLE.upper(),
                    "Other work on sleep",
                ]
            ),
            st.sampled_from(["", "10.1000/a", "10.1000/b"]),
            st.sampled_from([2014, 2015, None]),
            st.sampled_from(["Smith, J", "J Smith", "Doe A", ""]),
        ),
        max_size=12,
    )
)
@settings(max_examples=150, deadline=None)
def test_find_duplicates_invariants(rows):
    keys = [
        build_key(i, title=t, doi=d, year=y, authors=[a] if a else [])
        for i, (t, d, y, a) in enumerate(rows)
    ]
    pairs = find_duplicates(keys)
    auto = [p for p in pairs if p.tier == "auto"]
    duplicates = [p.duplicate_id for p in auto]
    assert len(duplicates) == len(set(duplicates))  # each duplicate points at one record
    kept = {p.kept_id for p in auto}
    assert not kept & set(duplicates)  # a kept record is never itself a duplicate
    assert all(p.kept_id < p.duplicate_id for p in pairs)
    by_id = {k.id: k for k in keys}
    for p in auto:  # no automatic group holds two different DOIs
        a, b = by_id[p.kept_id].doi, by_id[p.duplicate_id].doi
        assert not (a and b and a != b)
