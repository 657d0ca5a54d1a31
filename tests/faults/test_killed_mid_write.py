"""A server process killed (SIGKILL) in the middle of an import confirm, an extraction
consensus save and an adjudication: the database holds the whole change or none of it.

Each write runs in a process of its own against a private PostgreSQL; a hook placed after
the service has written most of its rows (but before it returns) says READY and sleeps;
the test kills the process there, checks nothing of the change is stored, and runs the
same service again to completion.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

import pytest

from tests.faults.pg import ROOT, app_env, manage, private_postgres_running

pytestmark = [pytest.mark.slow]

HOOK = """
import sys, time
def _stop_here(*args, **kwargs):
    print("READY", flush=True)
    time.sleep(600)
"""

SETUP = """
import io, json
from django.contrib.auth import get_user_model
from reviews import services
from reviews.models import Membership, Review
from reviews.services import exclusion_reasons_seed
from screening import services as screening
from tests.factories import RecordFactory

User = get_user_model()
users = {name: User.objects.create_user(username=name, password="pw-for-faults-1")
         for name in ("lead", "alice", "bob", "carol")}
review = Review.objects.create(title="Kill test", slug="kill")
exclusion_reasons_seed(review=review)
Membership.objects.create(review=review, user=users["lead"], is_lead=True, is_reviewer=True,
                          is_adjudicator=True)
Membership.objects.create(review=review, user=users["alice"], is_reviewer=True)
Membership.objects.create(review=review, user=users["bob"], is_reviewer=True)
Membership.objects.create(review=review, user=users["carol"], is_adjudicator=True)
# A conflict to adjudicate.
record = RecordFactory(review=review, title="Conflicting record")
screening.items_sync(review, force=True)
screening.vote_cast(review=review, record_id=record.pk, stage="ta", actor=users["alice"],
                    decision="include")
screening.vote_cast(review=review, record_id=record.pk, stage="ta", actor=users["bob"],
                    decision="exclude")
# An import waiting for confirmation: 300 records, some duplicates of each other.
ris = "".join(
    f"TY  - JOUR\\nTI  - Trial {i % 250} of peer support in mental illness\\n"
    f"AU  - Author{i % 250}, A.\\nPY  - 2020\\nDO  - 10.1000/kill.{i % 250}\\nER  - \\n\\n"
    for i in range(300)
)
batch = services.import_preview(review=review, actor=users["lead"],
                                file=io.BytesIO(ris.encode()), filename="kill.ris")
# Two independent extractions of the demo studies, without their consensus.
from extraction import demo, services as extraction
real_consensus = extraction.consensus_save
extraction.consensus_save = lambda **kwargs: None
demo.demo_extraction(review, users)
extraction.consensus_save = real_consensus
print(json.dumps({"record": record.pk, "batch": batch.pk}))
"""

IMPORT_CONFIRM = """
from reviews import services
from reviews.models import ImportBatch
from django.contrib.auth import get_user_model
batch = ImportBatch.objects.get(pk={batch})
lead = get_user_model().objects.get(username="lead")
{hook}
services.import_confirm(batch=batch, actor=lead)
print("DONE", flush=True)
"""
IMPORT_HOOK = (
    HOOK + "import reviews.services as s\n"
    "_orig = s.links_insert\n"
    "def _dup(*a, **k):\n"
    "    n = _orig(*a, **k)\n"
    "    _stop_here()\n"
    "    return n\n"
    "s.links_insert = _dup\n"
)
IMPORT_STATE = """
import json
from django.db.models import Q
from reviews.models import DuplicateLink, ImportBatch, Record
batch = ImportBatch.objects.get(pk={batch})
links = DuplicateLink.objects.filter(Q(kept__batch=batch) | Q(duplicate__batch=batch))
print(json.dumps([batch.status, Record.objects.filter(batch=batch).count(),
                  links.count(), batch.n_imported]))
"""

CONSENSUS = """
from django.contrib.auth import get_user_model
from extraction import selectors, services
from extraction.models import ExtractionKind, Study
User = get_user_model()
study = Study.objects.filter(review__slug="kill").order_by("pk").first()
alice = study.extractions.get(kind=ExtractionKind.INDEPENDENT, extractor__username="alice")
{hook}
services.consensus_save(study=study, cells=selectors.extraction_cells(alice),
                        actor=User.objects.get(username="lead"), finalise=True)
print("DONE", flush=True)
"""
CONSENSUS_HOOK = HOOK + "services._snapshot = _stop_here\n"
CONSENSUS_STATE = """
import json
from extraction.models import ArmValue, Extraction, ExtractionKind, OutcomeData, Study
study = Study.objects.filter(review__slug="kill").order_by("pk").first()
consensus = Extraction.objects.filter(study=study, kind=ExtractionKind.CONSENSUS)
print(json.dumps([consensus.count(),
                  OutcomeData.objects.filter(extraction__in=consensus).count(),
                  ArmValue.objects.filter(data__extraction__in=consensus).count(),
                  sum(c.revisions.count() for c in consensus)]))
"""

ADJUDICATE = """
from django.contrib.auth import get_user_model
from reviews.models import Review
from screening import services
{hook}
services.conflict_resolve(review=Review.objects.get(slug="kill"), record_id={record},
                          stage="ta", actor=get_user_model().objects.get(username="carol"),
                          decision="include", note="checked the methods")
print("DONE", flush=True)
"""
ADJUDICATE_HOOK = (
    HOOK + "from django.db.models.signals import post_save\n"
    "from screening.models import ScreeningItem\n"
    "def _after_item(sender, instance, created, **kwargs):\n"
    "    if instance.stage == 'ft' and created:\n"
    "        _stop_here()\n"
    "post_save.connect(_after_item, sender=ScreeningItem, weak=False)\n"
)
ADJUDICATE_STATE = """
import json
from screening.models import Resolution, ScreeningItem
print(json.dumps([Resolution.objects.filter(record_id={record}).count(),
                  ScreeningItem.objects.get(record_id={record}, stage="ta").status,
                  ScreeningItem.objects.filter(record_id={record}, stage="ft").count()]))
"""


@pytest.fixture(scope="module")
def killable():
    with private_postgres_running() as pg:
        env = app_env(pg.url, tempfile.mkdtemp(prefix="reviewflow-kill-media-"))
        manage(env, "migrate", "--noinput")
        ids = json.loads(manage(env, "shell", "-c", SETUP).strip().splitlines()[-1])
        yield env, ids


def _state(env, script: str) -> list:
    return json.loads(manage(env, "shell", "-c", script).strip().splitlines()[-1])


def _kill_at_hook(env, script: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", script],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            if line.strip() == "READY":
                break
            assert time.monotonic() < deadline
        else:
            pytest.fail("the process ended before its hook: " + proc.stderr.read()[-3000:])
    finally:
        proc.kill()  # SIGKILL: no cleanup, no rollback by the process itself
        proc.wait(timeout=30)
    time.sleep(0.5)  # PostgreSQL notices the dropped connection and aborts its transaction


def test_killed_during_import_confirm(killable):
    env, ids = killable
    assert _state(env, IMPORT_STATE.format(**ids)) == ["preview", 0, 0, 0]
    _kill_at_hook(env, IMPORT_CONFIRM.format(hook=IMPORT_HOOK, **ids))
    assert _state(env, IMPORT_STATE.format(**ids)) == ["preview", 0, 0, 0]  # none of it
    assert "DONE" in manage(env, "shell", "-c", IMPORT_CONFIRM.format(hook="", **ids))
    status, n_records, n_links, n_imported = _state(env, IMPORT_STATE.format(**ids))
    assert (status, n_records, n_imported) == ("imported", 300, 300)  # all of it
    assert n_links >= 50


def test_killed_during_consensus_save(killable):
    env, ids = killable
    assert _state(env, CONSENSUS_STATE) == [0, 0, 0, 0]
    _kill_at_hook(env, CONSENSUS.format(hook=CONSENSUS_HOOK))
    assert _state(env, CONSENSUS_STATE) == [0, 0, 0, 0]
    assert "DONE" in manage(env, "shell", "-c", CONSENSUS.format(hook=""))
    n_consensus, n_data, n_arm_values, n_revisions = _state(env, CONSENSUS_STATE)
    assert (n_consensus, n_revisions) == (1, 1) and n_data >= 1 and n_arm_values >= 2


def test_killed_during_adjudication(killable):
    env, ids = killable
    assert _state(env, ADJUDICATE_STATE.format(**ids)) == [0, "conflict", 0]
    _kill_at_hook(env, ADJUDICATE.format(hook=ADJUDICATE_HOOK, **ids))
    assert _state(env, ADJUDICATE_STATE.format(**ids)) == [0, "conflict", 0]
    assert "DONE" in manage(env, "shell", "-c", ADJUDICATE.format(hook="", **ids))
    assert _state(env, ADJUDICATE_STATE.format(**ids)) == [1, "resolved", 1]
