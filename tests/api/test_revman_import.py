"""RevMan 5 review files (.rm5) brought in: refused in words when they cannot be read,
previewed, imported as studies with a finalised consensus, and, pooled again from what
was imported with RevMan's own method, equal to the numbers RevMan stored.

The files are real (tests/fixtures/revman/README.md says where each comes from)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import hypothesis
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import strategies as st

from analysis import selectors as analysis_selectors
from analysis import services as analysis_services
from analysis.data import effects_read
from analysis.stats.revman import display, revman_continuous, revman_dichotomous
from api.exchange import revman_import
from api.exchange.revman import (
    CONTINUOUS,
    RevManFileError,
    outcome_checks,
    parse_rm5,
)
from extraction import selectors as extraction_selectors
from extraction import services as extraction_services
from extraction.models import (
    ArmValue,
    Extraction,
    ExtractionKind,
    ExtractionRevision,
    ExtractionStatus,
    Study,
    StudyEvent,
)
from extraction.services import DataEntryError, ImportedOutcome, ImportedStudy, studies_import
from reviews import services as review_services
from reviews.errors import DomainError
from reviews.models import ImportBatch, Record
from tests.conftest import browser_login, save_screenshot

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "revman"
FILES = [
    "Fleiss1993.rm5",
    "benzodiazepines_gad_excerpt.rm5",
    "rotavirus_cd008521_excerpt.rm5",
    "sore_throat_cd000023_excerpt.rm5",
]
# RevMan writes each double with Java's Double.toString (the shortest string that reads
# back as the same double): what it stores is what it computed, so 1e-6 is a real test.
TOLERANCE = 1e-6


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- the file ------------------------------------------------------------------------------


BAD_FILES = [
    (b"", "empty"),
    (b"Comparison Number,Outcome Number\n1,1\n", "XML cannot be read"),
    (b"<?xml version='1.0'?><xml><records/></xml>", "root element is <xml>"),
    (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<COCHRANE_REVIEW>&b;</COCHRANE_REVIEW>",
        "DTD or XML entities",
    ),
    (b'<COCHRANE_REVIEW TYPE="DIAGNOSTIC"/>', "only intervention reviews"),
    (b'<COCHRANE_REVIEW TYPE="INTERVENTION"/>', "no included studies"),
]


@pytest.mark.parametrize(("data", "words"), BAD_FILES)
def test_a_file_that_is_not_a_revman_review_is_refused_in_words(data, words):
    with pytest.raises(RevManFileError, match=words) as info:
        parse_rm5(data)
    assert info.value.status == 400


def _with(old: bytes, new: bytes) -> bytes:
    data = _read("Fleiss1993.rm5")
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (b'EVENTS_1="49"', b'EVENTS_1="4x9"', "Analysis 1.1, study STD-MRC_x002d_1: EVENTS_1"),
        (b'EVENTS_1="49"', b'EVENTS_1="700"', "more events \\(700\\) than participants"),
        (b'EVENTS_1="49"', b'EVENTS_1="-1"', "not a whole number"),
        (
            b'STUDY_ID="STD-CDP" TOTAL',
            b'STUDY_ID="STD-Nobody" TOTAL',
            "not among the file's included",
        ),
        (b'EFFECT_MEASURE="OR"', b'EFFECT_MEASURE="HR"', "unknown effect measure"),
        (b'SD_1="4.7"', b'SD_1="-4.7"', "SD_1 is negative"),
    ],
)
def test_a_damaged_number_is_named_with_its_analysis_and_study(old, new, words):
    with pytest.raises(RevManFileError, match=words):
        parse_rm5(_with(old, new))


def test_the_file_is_read_as_revman_structures_it():
    fleiss = parse_rm5(_read("Fleiss1993.rm5"))
    assert fleiss.version == "5.0.23" and len(fleiss.studies) == 12
    dich, cont = fleiss.comparisons[0].outcomes
    assert (dich.number, dich.measure, dich.method, dich.random) == ("1.1", "OR", "MH", False)
    assert (dich.group_label_1, dich.group_label_2) == ("Aspirin", "Control")
    assert [(r.events1, r.total1, r.events2, r.total2) for r in dich.rows][:2] == [
        (49, 615, 67, 624),
        (44, 758, 64, 771),
    ]
    assert cont.kind == CONTINUOUS and cont.measure == "SMD" and len(cont.rows) == 5
    assert (cont.rows[0].mean1, cont.rows[0].sd1, cont.rows[0].total1) == (5.0, 4.7, 13)
    rota = parse_rm5(_read("rotavirus_cd008521_excerpt.rm5"))
    subgrouped = rota.comparisons[0].outcomes[0]
    assert len(subgrouped.subgroups) == 3 and {r.subgroup for r in subgrouped.rows} == {0, 1, 2}


# --- RevMan's numbers, computed again -------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_pooling_the_file_with_revmans_method_gives_its_stored_numbers(name):
    """Every study's estimate and CI, every subgroup and every total RevMan computed
    (estimate, CI, tau², chi²), for MH/IV, fixed/random, OR/RR/MD, zero cells included."""
    checks = outcome_checks(parse_rm5(_read(name)))
    compared = [c for check in checks for c in check.comparisons]
    assert compared, "the file has computed analyses to compare"
    bad = [c for c in compared if not c.agrees]
    assert not bad, bad[:5]
    assert max(abs(c.ours - c.stored) for c in compared) < TOLERANCE


def test_checks_cover_totals_subgroups_and_non_estimable_studies():
    gad = {c.outcome.number: c for c in outcome_checks(parse_rm5(_read(FILES[1])))}
    # 1.26: a study with no events in either arm is "not estimable" (RevMan stores 0.0
    # with ESTIMABLE="NO"); it is left out of the pooling, as RevMan leaves it out.
    quantities = {(c.what, c.quantity) for c in gad["1.26"].comparisons}
    assert ("overall", "EFFECT_SIZE") in quantities and ("overall", "TAU2") in quantities
    rota = outcome_checks(parse_rm5(_read(FILES[2])))
    assert any(c.what.startswith("subgroup 1.1.") for c in rota[0].comparisons)


# --- import ----------------------------------------------------------------------------------


def _import(cast, name: str) -> dict:
    plan, token = revman_import.revman_upload(
        review=cast.review, upload=SimpleUploadedFile(name, _read(name))
    )
    return revman_import.revman_confirm(review=cast.review, actor=cast.lead, token=token)


@pytest.mark.django_db
def test_preview_says_what_will_be_created_and_what_cannot(cast):
    plan = revman_import.revman_preview(review=cast.review, data=_read("Fleiss1993.rm5"))
    assert plan.counts == {
        "studies": 12,
        "arms": 24,
        "outcomes": 12,
        "values": 24,
        "domains": 1,
        "subdomains": 2,
    }
    assert plan.checked == (1, 1)  # the SMD outcome was never computed in RevMan
    assert not Study.objects.exists()  # a preview writes nothing
    gad = revman_import.revman_preview(review=cast.review, data=_read(FILES[1]))
    reasons = {s.what: s.reason for s in gad.not_imported}
    assert "Risk of bias tables, characteristics of studies, references and the review text" in (
        reasons
    )
    empty = {o.outcome.number: (o.imported, o.rows) for o in gad.outcomes}["1.4"]
    assert empty == (0, 0)  # an analysis set up in RevMan without any data rows
    # A study added to an analysis without its numbers (RevMan keeps TOTAL 0) is named.
    data = _with(b'EVENTS_1="49" EVENTS_2="67"', b'EVENTS_1="0" EVENTS_2="67"')
    data = data.replace(b'TOTAL_1="615"', b'TOTAL_1="0"', 1)
    plan = revman_import.revman_preview(review=cast.review, data=data)
    assert [(s.what, s.reason) for s in plan.not_imported][0] == (
        "Analysis 1.1, MRC-1",
        "no data entered (a group of 0 participants)",
    )
    assert plan.counts["outcomes"] == 11


@pytest.mark.django_db
def test_import_creates_studies_arms_outcomes_and_a_final_consensus(cast):
    summary = _import(cast, "Fleiss1993.rm5")
    assert summary["studies"] == 12 and summary["checked"] == summary["computed"] == 1
    isis = Study.objects.get(review=cast.review, label="ISIS-2")
    assert [(a.name, a.role) for a in isis.arms.all()] == [
        ("Aspirin", "intervention"),
        ("Control", "control"),
    ]
    outcome = isis.outcomes.get()
    assert outcome.name == "1.1 Aspirin for Preventing Death after Myocardial Infarction"
    assert outcome.subdomain.name == outcome.name
    assert outcome.subdomain.domain.name == "1 Examples from Fleiss (1993)"
    consensus = isis.extractions.get()
    assert (consensus.kind, consensus.status) == (
        ExtractionKind.CONSENSUS,
        ExtractionStatus.SUBMITTED,
    )
    values = {
        v.arm.name: (v.events, v.n) for v in ArmValue.objects.filter(data__extraction=consensus)
    }
    assert values == {"Aspirin": (1570, 8587), "Control": (1720, 8600)}
    davis = Study.objects.get(review=cast.review, label="Davis")
    assert [
        (v.mean, v.sd, v.n) for v in ArmValue.objects.filter(data__extraction__study=davis)
    ] == [
        (5.0, 4.7, 13),
        (6.5, 3.8, 13),
    ]
    # History names who imported: a study event each, a revision of each consensus.
    events = StudyEvent.objects.filter(review=cast.review, action="imported")
    assert events.count() == 12 and {e.actor for e in events} == {cast.lead}
    assert events.first().detail["source"] == "RevMan 5"
    assert events.first().detail["file"] == "Fleiss1993.rm5"
    revisions = ExtractionRevision.objects.filter(action="consensus imported")
    assert revisions.count() == 12 and {r.actor for r in revisions} == {cast.lead}


@pytest.mark.django_db
def test_a_second_import_of_the_same_file_is_refused_and_writes_nothing(cast):
    _import(cast, "Fleiss1993.rm5")
    before = (Study.objects.count(), ArmValue.objects.count(), StudyEvent.objects.count())
    with pytest.raises(DomainError, match="already has 12 of the file's studies"):
        _import(cast, "Fleiss1993.rm5")
    assert (Study.objects.count(), ArmValue.objects.count(), StudyEvent.objects.count()) == before


@pytest.mark.django_db
def test_a_bad_number_anywhere_leaves_nothing_half_written(cast):
    good = ImportedStudy(
        "Good 2001",
        (("A", "intervention"), ("B", "control")),
        (ImportedOutcome("Death", "lower", "1 A vs B", "1.1 Death"),),
        {0: {0: {"events": 1, "n": 10}, 1: {"events": 2, "n": 10}}},
    )
    bad = ImportedStudy(
        "Bad 2002", good.arms, good.outcomes, {0: {0: {"events": 11, "n": 10}, 1: {"n": 10}}}
    )
    with pytest.raises(DataEntryError, match="Events cannot exceed N"):
        studies_import(
            review=cast.review, actor=cast.lead, studies=[good, bad], timepoint_label="t", source={}
        )
    assert not Study.objects.exists() and not Extraction.objects.exists()


@pytest.mark.django_db
def test_a_preview_token_of_another_review_or_tampered_is_refused(cast, other_review):
    _plan, token = revman_import.revman_upload(
        review=other_review, upload=SimpleUploadedFile("f.rm5", _read("Fleiss1993.rm5"))
    )
    with pytest.raises(DomainError, match="another review"):
        revman_import.revman_confirm(review=cast.review, actor=cast.lead, token=token)
    with pytest.raises(DomainError, match="no longer valid"):
        revman_import.revman_confirm(review=cast.review, actor=cast.lead, token=token + "x")
    assert not Study.objects.exists()


# --- what was imported, pooled with RevMan's method, gives RevMan's numbers -----------------


def _pool(outcome, rows):
    if outcome.kind == CONTINUOUS:
        return revman_continuous(
            [r.means[0] for r in rows], [r.means[1] for r in rows],
            [r.n_intervention for r in rows], [r.means[2] for r in rows],
            [r.means[3] for r in rows], [r.n_control for r in rows],
            measure=outcome.measure, random=outcome.random,
            ci_study=outcome.ci_study, ci_total=outcome.ci_total,
        )  # fmt: skip
    return revman_dichotomous(
        [r.events[0] for r in rows], [r.n_intervention for r in rows],
        [r.events[1] for r in rows], [r.n_control for r in rows],
        measure=outcome.measure, method=outcome.method, random=outcome.random,
        ci_study=outcome.ci_study, ci_total=outcome.ci_total,
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("name", FILES)
def test_imported_data_pooled_with_revmans_method_equals_revmans_stored_results(cast, name):
    """The consensus rows analysis reads (``analysis.data.effects_read``, by the domain and
    subdomain each RevMan analysis became) pooled with the analysis' own method: every
    study's estimate and CI and the total equal the file's to 1e-6."""
    _import(cast, name)
    file = parse_rm5(_read(name))
    compared = 0
    for outcome in file.outcomes:
        stored_rows = [r for r in outcome.rows if r.total1 and r.total2]
        if outcome.stored.effect is None or not stored_rows:
            continue
        rows = effects_read(
            cast.review,
            domain=revman_import.domain_name(outcome),
            subdomain=revman_import.subdomain_name(outcome),
        ).rows
        usable = [r for r in rows if (r.means if outcome.kind == CONTINUOUS else r.events)]
        result = _pool(outcome, usable)
        if outcome.totals:
            for ours, stored in (
                (result.estimate, outcome.stored.effect),
                (result.ci_low, outcome.stored.ci_start),
                (result.ci_high, outcome.stored.ci_end),
            ):
                assert display(outcome.measure, ours) == pytest.approx(stored, abs=TOLERANCE)
                compared += 1
        # Per study: the same study may have several rows (multi-arm trials), so each
        # stored row is matched to one of ours of the same study with the same estimate.
        ours = [
            (r.study_label, *(display(outcome.measure, v) for v in (x.yi, x.ci_low, x.ci_high)))
            for r, x in zip(usable, result.rows, strict=True)
            if x.estimable
        ]
        names = {s.id: s.name for s in file.studies}
        for r in stored_rows:
            if r.stored.estimable is False or r.stored.effect is None:
                continue
            stored = (r.stored.effect, r.stored.ci_start, r.stored.ci_end)
            match = next(
                o for o in ours if o[0] == names[r.study_id] and abs(o[1] - stored[0]) <= TOLERANCE
            )
            ours.remove(match)
            assert match[1:] == pytest.approx(stored, abs=TOLERANCE)
            compared += 1
        assert not ours  # no estimable row of ours that RevMan did not have
    assert compared >= 10


# --- RevMan's "Data and analyses" CSV in the record importer -------------------------------


@pytest.mark.django_db
def test_revmans_analyses_csv_is_refused_as_records_and_points_to_the_rm5_import(cast):
    """RevMan 5's CSV export of Fleiss 1993 used to become 3 "records" named after a
    comparison and two outcomes, plus one per study row; it is now refused at once."""
    data = _read("Fleiss1993_CR.csv")
    with pytest.raises(DomainError, match="“Data and analyses” export") as info:
        review_services.import_check(file=io.BytesIO(data), fmt=None)
    assert "A RevMan 5 review" in info.value.message and info.value.status == 400
    with pytest.raises(DomainError, match="Other tools"):
        review_services.import_preview(
            review=cast.review,
            actor=cast.lead,
            file=SimpleUploadedFile("Fleiss1993_CR.csv", data),
            filename="Fleiss1993_CR.csv",
        )
    assert not Record.objects.exists() and not ImportBatch.objects.exists()
    # A reference list with a "Name" column but none of RevMan's columns still imports.
    plain = b"Name,Title,Year\nSmith,Peer support in psychosis,2001\n"
    review_services.import_check(file=io.BytesIO(plain), fmt=None)


# --- the page -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lead_previews_then_imports_and_others_may_not(client, cast):
    url = f"/reviews/{cast.review.slug}/exchange/revman/"
    client.force_login(cast.bob)
    page = client.get(f"/reviews/{cast.review.slug}/exchange/")
    assert b"A RevMan 5 review (.rm5)" not in page.content  # leads only
    # Every member sees which RevMan files are understood, with an example of each.
    assert "RevMan 5 review file (.rm5), RevMan 5.0 to 5.4" in page.content.decode()
    assert "RevMan Web study-centric import" in page.content.decode()
    upload = SimpleUploadedFile("Fleiss1993.rm5", _read("Fleiss1993.rm5"))
    assert client.post(url, {"file": upload}).status_code == 403
    assert client.post(url + "confirm/", {"token": "x"}).status_code == 403

    client.force_login(cast.lead)
    assert client.get(url).status_code == 405
    preview = client.post(url, {"file": SimpleUploadedFile("F.rm5", _read("Fleiss1993.rm5"))})
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "12 studies" in text and "agrees" in text and "Not imported" in text
    assert "ISIS-2: Aspirin (intervention), Control (control)" in text
    assert not Study.objects.exists()
    token = preview.context["token"]
    done = client.post(url + "confirm/", {"token": token}, follow=True)
    assert done.redirect_chain[-1][0] == f"/reviews/{cast.review.slug}/extraction/"
    assert "RevMan file F.rm5 imported: 12 studies" in done.content.decode()
    assert "ISIS-2" in done.content.decode()
    again = client.post(url + "confirm/", {"token": token})
    assert again.status_code == 400 and "upload it again" in again.content.decode()
    assert Study.objects.count() == 12


@pytest.mark.django_db
def test_a_bad_upload_is_a_clear_400_and_stores_nothing(client, cast):
    client.force_login(cast.lead)
    url = f"/reviews/{cast.review.slug}/exchange/revman/"
    response = client.post(url, {})
    assert (
        response.status_code == 400 and "Choose a RevMan 5 review file" in response.content.decode()
    )
    csv = SimpleUploadedFile("Fleiss1993_CR.csv", _read("Fleiss1993_CR.csv"))
    response = client.post(url, {"file": csv})
    assert response.status_code == 400
    assert "not a RevMan 5 review file" in response.content.decode()
    assert not Study.objects.exists()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_lead_imports_a_revman_file_in_the_browser(new_page, cast):
    page = new_page()
    browser_login(page, "lead")
    page.goto(f"/reviews/{cast.review.slug}/")
    page.click("a.nav-link:has-text('Other tools')")
    page.set_input_files("#revman-file", str(FIXTURES / "benzodiazepines_gad_excerpt.rm5"))
    page.click("button:has-text('Preview the import')")
    page.wait_for_selector("[data-testid=revman-outcomes]")
    assert "3 studies" in page.inner_text("[data-testid=revman-counts]")
    assert page.locator("[data-testid=revman-outcomes] .badge:has-text('agrees')").count() == 5
    save_screenshot(page, "revman_import_preview")
    assert not Study.objects.exists()
    page.click("button:has-text('Import 3 studies')")
    page.wait_for_selector("text=RevMan file benzodiazepines_gad_excerpt.rm5 imported")
    for label in ("Feltner 2003", "Pande 2003", "Rickels 2005"):
        assert page.locator(f"text={label}").count() >= 1
    save_screenshot(page, "revman_import_done")
    assert Study.objects.filter(review=cast.review).count() == 3


# --- the API --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_previews_and_imports_for_leads_only(api, cast):
    base = f"/api/v1/reviews/{cast.review.slug}/revman/"
    formats = api("bob").get(base + "formats/")
    assert formats.status_code == 200
    assert {f["direction"] for f in formats.json()} == {"import", "export", "not read"}
    assert all(f["example"] for f in formats.json())
    upload = SimpleUploadedFile("F.rm5", _read("Fleiss1993.rm5"))
    assert api("bob").post(base + "preview/", {"file": upload}).status_code == 403
    assert api("outsider").post(base + "preview/", {"file": upload}).status_code == 404
    bad = api("lead").post(base + "preview/", {"file": SimpleUploadedFile("x.rm5", b"<x/>")})
    assert bad.status_code == 400 and "not <COCHRANE_REVIEW>" in str(bad.json())
    upload = SimpleUploadedFile("F.rm5", _read("Fleiss1993.rm5"))
    preview = api("lead").post(base + "preview/", {"file": upload})
    assert preview.status_code == 200
    body = preview.json()
    assert body["counts"]["studies"] == 12 and body["checked"] == {"agree": 1, "computed": 1}
    assert body["analyses"][0]["agrees"] is True and body["analyses"][1]["agrees"] is None
    assert not Study.objects.exists()
    done = api("lead").post(base + "import/", {"token": body["token"]}, format="json")
    assert done.status_code == 201 and done.json()["studies"] == 12
    assert Study.objects.filter(review=cast.review).count() == 12
    again = api("lead").post(base + "import/", {"token": body["token"]}, format="json")
    assert again.status_code == 400


@pytest.mark.django_db
def test_the_apps_own_analysis_of_an_imported_subdomain_gives_revmans_result(cast):
    """Ready for analysis: an analysis of the subdomain a RevMan outcome became, with the
    same measure and method (Mantel-Haenszel OR; no zero cells, where metafor's rma.mh
    and RevMan agree), reports RevMan's stored estimate and CI."""
    _import(cast, "Fleiss1993.rm5")
    outcome = parse_rm5(_read("Fleiss1993.rm5")).comparisons[0].outcomes[0]
    post = next(
        w
        for w in analysis_services.windows_ensure_default(review=cast.review, actor=cast.lead)
        if w.kind == "post"
    )
    analysis = analysis_services.analysis_save(
        review=cast.review,
        actor=cast.lead,
        values={
            "title": "Aspirin: death",
            "domain": revman_import.domain_name(outcome),
            "subdomain": revman_import.subdomain_name(outcome),
            "window": post,
            "effect_measure": "OR",
            "pooling_method": "MH",
            "subgroup_fields": [],
        },
    )
    report, _ = analysis_selectors.analysis_report(analysis)
    assert report.main.k == 7
    pooled = [math.exp(x) for x in (report.main.estimate, report.main.ci_low, report.main.ci_high)]
    stored = (outcome.stored.effect, outcome.stored.ci_start, outcome.stored.ci_end)
    assert pooled == pytest.approx(stored, abs=TOLERANCE)


# --- hostile files -------------------------------------------------------------------------

_SEED = _read("Fleiss1993.rm5")


@hypothesis.given(
    st.one_of(
        st.binary(max_size=400),
        st.tuples(st.integers(0, len(_SEED) - 1), st.binary(max_size=20)).map(
            lambda cut: _SEED[: cut[0]] + cut[1] + _SEED[cut[0] + len(cut[1]) :]
        ),
        st.sampled_from(
            [
                _SEED.replace(b"ISO-8859-1", b"x-unknown-codec"),
                _SEED.replace(b"ISO-8859-1", b"UTF-16"),
                _SEED.replace(b'NO="1"', b'NO="1e400"', 1),
                _SEED.replace(b'NO="1"', b'NO="1e300"', 1),
                _SEED.replace(b'CI_STUDY="95"', b'CI_STUDY="100"', 1),
                _SEED.replace(b'TOTAL_1="615"', b'TOTAL_1="0"', 1),
                _SEED.replace(b'EVENTS_1="49"', b'EVENTS_1="NaN"', 1),
            ]
        ),
    )
)
def test_any_damaged_file_is_read_or_refused_in_words(data):
    """No file makes the reader (or the re-pooling the preview shows) fail otherwise."""
    try:
        review = parse_rm5(data)
    except RevManFileError as exc:
        assert exc.message
        return
    outcome_checks(review)


@pytest.mark.django_db
def test_pages_of_imported_studies_open_for_the_team(client, cast):
    """Studies without reports, with an imported consensus: their pages, the outcome
    table, the exports and the Activity log all answer (no 500 on any of them)."""
    _import(cast, "benzodiazepines_gad_excerpt.rm5")
    study = Study.objects.get(review=cast.review, label="Pande 2003")
    slug = cast.review.slug
    client.force_login(cast.lead)
    for url in (
        f"/reviews/{slug}/extraction/",
        f"/reviews/{slug}/extraction/studies/{study.pk}/",
        f"/reviews/{slug}/extraction/studies/{study.pk}/consensus/",
        f"/reviews/{slug}/extraction/outcomes/",
        f"/reviews/{slug}/activity/",
        f"/reviews/{slug}/exchange/revman-web-study-results.csv",
        f"/reviews/{slug}/exchange/revman-web-study-information.csv",
    ):
        response = client.get(url)
        assert response.status_code < 500, url
        assert response.status_code == 200, (url, response.status_code)
    activity = client.get(f"/reviews/{slug}/activity/").content.decode()
    assert "Study imported" in activity and "Consensus consensus imported" in activity
    results = client.get(f"/reviews/{slug}/exchange/revman-web-study-results.csv")
    lines = results.content.decode().splitlines()
    # 28 study outcomes (the empty analysis 1.4 has none), two arms each.
    assert len(lines) == 1 + 2 * 28


@pytest.mark.django_db
def test_an_imported_consensus_can_be_corrected_by_the_team(cast):
    """Nobody's independent extraction exists to keep blind, so the consensus of an
    imported study opens at once; a correction keeps it final and leaves a revision."""
    _import(cast, "Fleiss1993.rm5")
    study = Study.objects.get(review=cast.review, label="ISIS-2")
    consensus = study.extractions.get()
    cells = extraction_selectors.extraction_cells(consensus)
    key = next(k for k, v in cells.items() if k.endswith(":events") and v == 1570)
    cells[key] = 1571
    extraction_services.consensus_save(study=study, cells=cells, actor=cast.alice)
    consensus.refresh_from_db()
    assert consensus.status == ExtractionStatus.SUBMITTED
    assert ArmValue.objects.filter(data__extraction=consensus, events=1571).exists()
    assert consensus.revisions.first().action == "consensus saved"
    assert consensus.revisions.first().actor == cast.alice
    # A study extracted in the usual way still waits for its extractors.
    other = Study.objects.create(review=cast.review, label="Own 2024")
    with pytest.raises(DomainError, match="opens when 2 extraction"):
        extraction_services.consensus_check_ready(study=other, user=cast.lead)
