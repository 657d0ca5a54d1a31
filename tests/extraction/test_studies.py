"""Studies follow full-text inclusion; a lead merges, names and splits them; PRISMA counts them."""

from __future__ import annotations

import pytest

from extraction import selectors, services
from extraction.models import Study, StudyEvent
from reviews.errors import ConflictError, DomainError
from screening.models import Resolution
from screening.prisma import prisma_counts
from tests.extraction.factories import included_record, included_study, plain_record, with_structure


def test_a_record_included_at_full_text_becomes_a_study(cast):
    record = included_record(cast, authors=["Smit, Anna"], year=2023)
    study = record.study_report.study
    assert study.review == cast.review and study.label == "Smit 2023"
    assert record.study_report.is_primary


def test_records_not_included_at_full_text_do_not_become_studies(cast):
    plain_record(cast)
    services.studies_sync(review=cast.review, actor=cast.lead)
    assert not Study.objects.filter(review=cast.review).exists()


def test_sync_is_idempotent(cast):
    included_record(cast)
    assert services.studies_sync(review=cast.review, actor=cast.lead) == []
    assert services.studies_sync(review=cast.review, actor=cast.lead) == []
    assert Study.objects.filter(review=cast.review).count() == 1


def test_the_selector_reads_screenings_resolution(cast):
    record = included_record(cast)
    other = plain_record(cast)
    assert list(selectors.included_full_text_records(cast.review)) == [record]
    assert other not in selectors.included_full_text_records(cast.review)


def test_merge_moves_reports_names_the_study_and_logs_it(cast):
    main, protocol = included_study(cast), included_study(cast)
    services.study_merge(target=main, sources=[protocol], actor=cast.lead, label="Smit 2023")
    main.refresh_from_db()
    assert main.label == "Smit 2023"
    assert main.reports.count() == 2
    assert not Study.objects.filter(pk=protocol.pk).exists()
    assert StudyEvent.objects.filter(study=main, action="merged", actor=cast.lead).exists()
    studies, reports = selectors.prisma_included(cast.review)
    assert (studies, reports) == (1, 2)


def test_merge_refuses_a_source_with_extraction_work(cast):
    main, other = included_study(cast), included_study(cast)
    with_structure(other, cast.alice)
    with pytest.raises(ConflictError, match="already has extraction data"):
        services.study_merge(target=main, sources=[other], actor=cast.lead)
    assert Study.objects.filter(pk=other.pk).exists()
    assert main.reports.count() == 1


def test_merge_needs_another_study(cast):
    main = included_study(cast)
    with pytest.raises(DomainError):
        services.study_merge(target=main, sources=[main], actor=cast.lead)


def test_split_gives_a_merged_report_its_own_study_again(cast):
    main, protocol = included_study(cast), included_study(cast)
    services.study_merge(target=main, sources=[protocol], actor=cast.lead)
    report = main.reports.get(is_primary=False)
    new = services.study_split_report(report=report, actor=cast.lead)
    assert new.reports.get().record == report.record
    with pytest.raises(ConflictError):
        services.study_split_report(report=main.reports.get(), actor=cast.lead)


def test_rename_refuses_an_empty_name(cast):
    study = included_study(cast)
    with pytest.raises(DomainError):
        services.study_rename(study=study, label="  ", actor=cast.lead)


def test_withdrawn_inclusion_removes_a_study_without_work_but_keeps_one_with_work(cast):
    empty, worked = included_study(cast), included_study(cast)
    with_structure(worked, cast.alice)
    for study in (empty, worked):
        Resolution.objects.filter(record=study.reports.get().record, stage="ft").delete()
    assert not Study.objects.filter(pk=empty.pk).exists()
    assert Study.objects.filter(pk=worked.pk).exists()


def test_prisma_diagram_counts_studies_and_reports_from_extraction(cast):
    main, protocol = included_study(cast), included_study(cast)
    included_study(cast)
    services.study_merge(target=main, sources=[protocol], actor=cast.lead)
    counts = prisma_counts(cast.review)
    assert counts.studies_included == 2
    assert counts.reports_included == 3


def test_views_merge_and_rename(client, cast):
    main, other = included_study(cast), included_study(cast)
    client.force_login(cast.lead)
    base = f"/reviews/{cast.review.slug}/extraction/studies/{main.pk}"
    response = client.post(f"{base}/merge/", {"sources": [other.pk], "label": "Smit 2023"})
    assert response.status_code == 302
    main.refresh_from_db()
    assert main.label == "Smit 2023" and main.reports.count() == 2
    response = client.post(f"{base}/rename/", {"label": ""})
    assert response.status_code == 400
    page = client.get(base + "/")
    assert "Smit 2023" in page.content.decode()


def test_study_list_shows_studies_and_progress(client, cast):
    included_study(cast, authors=["Jansen, Piet"], year=2021)
    client.force_login(cast.alice)
    html = client.get(f"/reviews/{cast.review.slug}/extraction/").content.decode()
    assert "Jansen 2021" in html and "not started" in html
