"""Interoperability benchmark: bringing in another tool's decisions, and the records API.

Prints seconds for, on a fresh SQLite database (or DATABASE_URL):
  1. importing N ASReview-labelled records (preview + confirm), for scale;
  2. bringing in their N labels as imported resolutions (`api.services.decisions_import`),
     against the peer in the same run: the same N decisions cast here as dual votes
     through `screening.services.vote_cast` (what screening them here writes);
  3. the records API: walking every cursor page of 50 as a reviewer, against the records
     page of the site (`/reviews/<slug>/records/`, pages of 50).

  4. reading N records of the database formats added for issue 20 (no database): Web of
     Science plain text and tab-delimited against the `wosfile` package on the same
     files, and the Ovid direct export (no peer reads it).

Ranking refits are switched off (review.prioritise) so both sides of 2 measure the writes.

Usage: python benchmarks/interop_bench.py [N=2000] [--formats-only]
"""

from __future__ import annotations

import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(n: int) -> None:
    tmp = tempfile.mkdtemp(prefix="interop-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from api import services as api_services
    from reviews import services as review_services
    from reviews.models import Membership
    from screening import services as screening_services
    from tests.factories import UserFactory

    setup_test_environment()
    call_command("migrate", verbosity=0)
    lead, alice, bob = (UserFactory(username=u) for u in ("lead", "alice", "bob"))

    def review_with_records(slug: str):
        review = review_services.review_create(creator=lead, title=f"Bench {slug}", slug=slug)
        review.prioritise = False
        review.save()
        for user in (alice, bob):
            Membership.objects.create(review=review, user=user, is_reviewer=True)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["record_id", "title", "abstract", "authors", "doi", "included"])
        for i in range(n):
            writer.writerow(
                [i, f"Trial {i} of peer support {i * 7919 % 10007}", f"Abstract {i}.",
                 f"Author{i}, A", f"10.1000/b.{slug}.{i}", i % 5 == 0 and 1 or 0]
            )  # fmt: skip
        t0 = time.perf_counter()
        batch = review_services.import_preview(
            review=review,
            actor=lead,
            file=SimpleUploadedFile("asreview.csv", out.getvalue().encode()),
            filename="asreview.csv",
        )
        batch = review_services.import_confirm(batch=batch, actor=lead)
        return review, batch, time.perf_counter() - t0

    review, batch, seconds = review_with_records("imported")
    print(f"records: {n}")
    print(f"1. import {n} ASReview records (preview + confirm): {seconds:.2f} s")

    t0 = time.perf_counter()
    summary = api_services.decisions_import(batch=batch, actor=lead, tool="asreview")
    imported = time.perf_counter() - t0
    assert summary["resolved"] == n, summary

    peer, peer_batch, _ = review_with_records("screened")
    screening_services.items_sync(peer, force=True)
    labels = {
        r.pk: ("include" if i % 5 == 0 else "exclude")
        for i, r in enumerate(peer_batch.records.order_by("id"))
    }
    t0 = time.perf_counter()
    for record_id, decision in labels.items():
        for user in (alice, bob):
            screening_services.vote_cast(
                review=peer, record_id=record_id, stage="ta", actor=user, decision=decision
            )
    voted = time.perf_counter() - t0
    print(
        f"2. {n} decisions brought in from ASReview: {imported:.2f} s "
        f"({1000 * imported / n:.2f} ms each); the same decisions as dual votes here: "
        f"{voted:.2f} s ({1000 * voted / n:.2f} ms per record); ratio {voted / imported:.1f}x"
    )

    api = APIClient()
    api.force_authenticate(alice)
    t0 = time.perf_counter()
    url, pages = f"/api/v1/reviews/{review.slug}/records/", 0
    while url:
        body = api.get(url).json()
        url, pages = body["next"], pages + 1
    api_s = time.perf_counter() - t0
    client = Client()
    client.force_login(alice)
    t0 = time.perf_counter()
    for page in range(1, pages + 1):
        assert client.get(f"/reviews/{review.slug}/records/?page={page}").status_code == 200
    page_s = time.perf_counter() - t0
    print(
        f"3. {pages} pages of 50 records: API {api_s:.2f} s ({1000 * api_s / pages:.1f} ms/page), "
        f"records page {page_s:.2f} s ({1000 * page_s / pages:.1f} ms/page)"
    )


def formats(n: int) -> None:
    """4. Parse N records of Web of Science (plain text, tab-delimited) and Ovid exports."""
    from reviews.importing import ParsedRecord, iter_records

    fixtures = REPO / "tests" / "fixtures" / "imports"
    tmp = Path(tempfile.mkdtemp(prefix="formats-bench-"))

    def records_of(name: str, start: str) -> list[str]:
        text = (fixtures / name).read_text(encoding="utf-8-sig")
        return [start + part for part in text.split(start)[1:]]

    def ours(path: Path) -> tuple[int, float]:
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            count = sum(1 for r in iter_records(fh) if isinstance(r, ParsedRecord))
        return count, time.perf_counter() - t0

    # Web of Science plain text: the real records repeated, each title made unique.
    wos = [
        r.split("\nEF")[0].rstrip() + "\n"
        for r in records_of("wos_plaintext_clarivate.txt", "PT J\n")
    ]
    body = "".join(wos[i % len(wos)].replace("\nTI ", f"\nTI {i} ", 1) + "\n" for i in range(n))
    plain = tmp / "wos.txt"
    plain.write_text("FN Clarivate Analytics Web of Science\nVR 1.0\n" + body + "EF\n")
    # Tab-delimited: the same records under the tags they use, one line each.
    from reviews.importing.wos import parse_wos

    parsed = list(parse_wos([plain.read_text()]))
    tags = sorted({t for r in parsed for t in r.source_fields})
    people = {"AU", "AF", "CA", "BA", "BF", "BE", "GP", "CR", "C1"}
    lines = ["\t".join(tags)]
    for r in parsed:
        cells = [
            ("; " if t in people else " ").join(r.source_fields.get(t, [""])[0].split("\n"))
            for t in tags
        ]
        # wosfile reads the file with the csv module, which a '"' would derail.
        lines.append("\t".join(c.replace('"', "'") for c in cells))
    tab = tmp / "wos_tab.txt"
    tab.write_text("\n".join(lines) + "\n")
    ovid = records_of("ovid_embase_citavi.ovd", "<")
    ovd = tmp / "ovid.ovd"
    ovd.write_text("".join(f"<{i + 1}. >" + ovid[i % len(ovid)].split(">", 1)[1] for i in range(n)))

    try:
        from wosfile import PlainTextReader, TabDelimitedReader, records_from
    except ImportError:  # requirements-dev.txt installs it
        records_from = None
    for label, path, reader in (
        ("Web of Science plain text", plain, "PlainTextReader"),
        ("Web of Science tab-delimited", tab, "TabDelimitedReader"),
    ):
        count, seconds = ours(path)
        mb = path.stat().st_size / 1e6
        line = f"4. {label}, {count} records ({mb:.1f} MB): ours {seconds:.2f} s"
        if records_from is not None:
            using = PlainTextReader if reader == "PlainTextReader" else TabDelimitedReader
            t0 = time.perf_counter()
            peer = sum(1 for _ in records_from(str(path), using=using, encoding="utf-8"))
            peer_s = time.perf_counter() - t0
            line += (
                f"; wosfile 0.7.0 {peer_s:.2f} s ({peer} records), ratio {peer_s / seconds:.1f}x"
            )
        print(line)
    count, seconds = ours(ovd)
    print(
        f"4. Ovid direct export, {count} records ({ovd.stat().st_size / 1e6:.1f} MB): "
        f"ours {seconds:.2f} s (no peer package reads it)"
    )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a.isdigit()]
    size = int(args[0]) if args else 2000
    if "--formats-only" not in sys.argv:
        main(size)
    formats(size)
