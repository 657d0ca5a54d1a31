"""Keyword highlighting: case-insensitive, stems, phrases, and never unescaped HTML."""

from screening.highlight import highlighter, parse_terms


def test_terms_one_per_line_and_commas():
    assert parse_terms("peer*\n\n randomised ,  trial \n*\n") == ("peer*", "randomised", "trial")


def test_case_insensitive_whole_words_and_stems():
    hl = highlighter("randomi*\npeer", "rats")
    html = hl("A Randomized trial of PEER support in rats; randomisation; peers; pirates")
    assert '<mark class="kw-include">Randomized</mark>' in html
    assert '<mark class="kw-include">randomisation</mark>' in html
    assert '<mark class="kw-include">PEER</mark>' in html
    assert '<mark class="kw-exclude">rats</mark>' in html
    # No stem: "peers" is not "peer"; "pirates" does not contain the word "rats".
    assert "peers" in html and '<mark class="kw-include">peers' not in html
    assert "pi<mark" not in html


def test_phrases_match_across_whitespace():
    html = highlighter("", "case report")("A CASE\n  report of one patient")
    assert '<mark class="kw-exclude">CASE\n  report</mark>' in html


def test_html_in_the_record_is_escaped():
    hl = highlighter("peer", "")
    html = hl('<script>alert("x")</script> peer <b>support</b> & more')
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp; more" in html
    assert '<mark class="kw-include">peer</mark>' in html


def test_html_in_a_keyword_is_escaped_and_matched_literally():
    hl = highlighter("<b>", "")
    html = hl("tag <b> here")
    assert '<mark class="kw-include">&lt;b&gt;</mark>' in html


def test_regex_characters_in_keywords_are_literal():
    hl = highlighter("c++\n(a|b)", "")
    assert '<mark class="kw-include">c++</mark>' in hl("written in c++ today")
    assert "<mark" not in hl("a or b")


def test_no_keywords_just_escapes():
    assert highlighter("", "")("a < b") == "a &lt; b"
