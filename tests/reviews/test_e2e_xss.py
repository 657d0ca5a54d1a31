"""Stored XSS: hostile text from an imported RIS file and from forms, on every page that shows it.

The records come in through the importer; study labels, outcome names, exclusion reasons,
the review title and an analysis title are typed into the app's own forms. A browser then
opens each page (and the SVG figures as documents of their own) and checks that no script
ran (a `window.__xss` flag, page dialogs) and that the text shows literally.
"""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client

from analysis.demo import demo_analyses
from analysis.models import Analysis
from extraction.demo import demo_extraction
from extraction.models import Outcome, Study
from extraction.rob.services import rob_demo_step
from reviews import services
from reviews.models import ExclusionReason, Record, Stage
from screening import services as screening_services
from tests.conftest import browser_login, save_screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=2">'
SVG = "<svg onload=window.__xss=3>"
ALERT = "<script>alert(1)</script>"
LINK = '<a href="javascript:window.__xss=4">click</a>'
ENTITY = "Tom &amp; Jerry &lt;b&gt;"
HOSTILE = f"{SCRIPT}{IMG}{SVG}{LINK}"

RIS = f"""TY  - JOUR
TI  - Peer support {SCRIPT} trial {IMG}
AB  - Background {SVG} with {LINK} and H<sub>2</sub>O, <i>in vivo</i>, {ENTITY}. {ALERT}
AU  - Smith, {IMG}
AU  - Doe, J.{SCRIPT}
KW  - {SVG}
KW  - peer support
JO  - Journal of {SCRIPT} Medicine
PY  - 2021
UR  - javascript:window.__xss=5
DO  - 10.1000/xss.1
ER  -

TY  - JOUR
TI  - Second {ALERT} record {ENTITY}
AB  - Abstract <b onmouseover="window.__xss=6">bold</b>
AU  - Roe, {SVG}
JO  - {LINK}
PY  - 2020
ER  -
"""


def _check(page, url: str, *, literal: list[str] | None = None) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    assert page.evaluate("() => window.__xss") is None, f"script ran on {url}"
    assert page.locator('a[href^="javascript:"]').count() == 0, url
    if literal:
        text = page.locator("body").inner_text()
        for needle in literal:
            assert needle in text, f"{needle!r} not shown literally on {url}"


def _check_svg(page, url: str, *, literal: str | None = None) -> None:
    """An SVG figure: no element or handler from the data; opened as a document if inline."""
    response = page.request.get(url)
    assert response.ok, url
    svg = response.text()
    assert "<script" not in svg.lower() and not re.search(r"<[^>]*\son\w+\s*=", svg), url
    assert "javascript:" not in re.sub(r">[^<]*<", "><", svg), url  # not in any attribute
    if literal:
        assert literal in svg, url
    if "attachment" not in response.headers.get("content-disposition", ""):
        _check(page, url)


def _hostile_forms(client: Client, slug: str, study: Study, reason_stage: str) -> None:
    """Names typed into the app's forms, through its views."""
    review_edit = client.get(f"/reviews/{slug}/protocol/")
    assert review_edit.status_code == 200
    form = review_edit.context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data = {k: v for k, v in data.items() if not isinstance(v, list | dict)}
    data["title"] = f"Review {SCRIPT}"
    response = client.post(f"/reviews/{slug}/protocol/", data)
    assert response.status_code == 302, response.content[:2000]
    response = client.post(
        f"/reviews/{slug}/reasons/new/",
        {"stage": reason_stage, "label": f"Reason {IMG}", "position": 99, "active": "on"},
    )
    assert response.status_code == 302
    response = client.post(
        f"/reviews/{slug}/extraction/studies/{study.pk}/rename/", {"label": f"Smit {SCRIPT}"}
    )
    assert response.status_code == 302


def test_hostile_text_never_runs_and_shows_literally(new_page, cast, settings):
    review, slug = cast.review, cast.review.slug
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": cast.carol}
    batch = services.import_preview(
        review=review, actor=cast.lead, file=io.BytesIO(RIS.encode()), filename="xss.ris"
    )
    services.import_confirm(batch=batch, actor=cast.lead)
    first, second = Record.objects.filter(review=review).order_by("pk")
    assert SCRIPT in first.title and IMG in first.authors[0]  # stored as written
    screening_services.items_sync(review)
    # A conflict on the first record, both include the second.
    for reviewer, decision in ((cast.alice, "include"), (cast.bob, "exclude")):
        screening_services.vote_cast(
            review=review, record_id=first.pk, stage="ta", actor=reviewer, decision=decision
        )
    for reviewer in (cast.alice, cast.bob):
        screening_services.vote_cast(
            review=review, record_id=second.pk, stage="ta", actor=reviewer, decision="include"
        )
    demo_extraction(review, users)
    rob_demo_step(review, users)
    demo_analyses(review, users)
    # The demo's studies cite records: make them hostile as well (their tables, figures).
    Record.objects.filter(review=review, source_fields__dataset__isnull=False).update(
        title=f"Trial {SCRIPT}", authors=[f"Senn {IMG}"]
    )
    study = Study.objects.filter(review=review).order_by("pk").first()
    Outcome.objects.filter(study__review=review).update(name=f"HbA1c {SVG}")
    Analysis.objects.filter(review=review).update(title=f"HbA1c analysis {SCRIPT}")
    client = Client()
    client.force_login(cast.lead)
    _hostile_forms(client, slug, study, Stage.TITLE_ABSTRACT)
    assert ExclusionReason.objects.filter(review=review, label=f"Reason {IMG}").exists()
    analysis = Analysis.objects.get(review=review)

    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, "lead")
    base = f"/reviews/{slug}"
    _check(page, f"{base}/", literal=[f"Review {SCRIPT}"])
    _check(page, f"{base}/records/", literal=["Peer support <script>window.__xss=1</script>"])
    _check(
        page,
        f"{base}/records/{first.pk}/",
        literal=[SCRIPT, IMG, "H<sub>2</sub>O", "<i>in vivo</i>", ENTITY, "Journal of"],
    )
    _check(page, f"{base}/records/{second.pk}/", literal=[ALERT, ENTITY])
    _check(page, f"{base}/imports/{batch.pk}/", literal=[SCRIPT])
    _check(page, f"{base}/reasons/", literal=[f"Reason {IMG}"])
    _check(page, f"{base}/screening/title-abstract/")
    for record in (first, second):
        _check(
            page,
            f"{base}/screening/ta/records/{record.pk}/",
            literal=[SCRIPT if record == first else ALERT],
        )
    _check(page, f"{base}/screening/conflicts/", literal=[SCRIPT])
    _check(page, f"{base}/screening/conflicts/ta/{first.pk}/", literal=[SCRIPT, IMG])
    _check(page, f"{base}/screening/full-texts/")
    _check(page, f"{base}/screening/prisma/")
    _check_svg(page, f"{base}/screening/prisma/diagram.svg")
    _check(page, f"{base}/extraction/", literal=[f"Smit {SCRIPT}"])
    _check(page, f"{base}/extraction/studies/{study.pk}/", literal=[f"Smit {SCRIPT}"])
    _check(page, f"{base}/extraction/studies/{study.pk}/consensus/")
    _check(page, f"{base}/extraction/outcomes/")
    _check(page, f"{base}/extraction/rob/", literal=[f"Smit {SCRIPT}"])
    _check(page, f"{base}/extraction/rob/figures/")
    _check_svg(page, f"{base}/extraction/rob/figures/traffic-light.svg")
    _check_svg(page, f"{base}/extraction/rob/figures/summary.svg")
    _check(page, f"{base}/analysis/", literal=[f"HbA1c analysis {SCRIPT}"])
    _check(
        page,
        f"{base}/analysis/{analysis.pk}/",
        literal=[f"HbA1c analysis {SCRIPT}", f"Smit {SCRIPT}"],
    )
    save_screenshot(page, "xss-analysis")
    _check_svg(page, f"{base}/analysis/{analysis.pk}/forest.svg", literal="Smit &lt;script&gt;")
    _check_svg(page, f"{base}/analysis/{analysis.pk}/funnel.svg")
    assert dialogs == []
    assert dialogs == []
