"""RoB 2 lives in `extraction/rob/` but its tables stay where databases already hold them.

The package move must not rename a table (that would orphan every assessment in an existing
database) nor ask for a migration: the models keep the `extraction` app label.
"""

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from extraction.demo import demo_extraction
from extraction.rob.models import RobAssessment, RobChange, RobDomain, RobSettings, RobTarget
from extraction.rob.services import rob_demo_step

# The tables as created by extraction/migrations/0001_initial.py before the move.
TABLES_BEFORE_THE_MOVE = {
    RobSettings: "extraction_robsettings",
    RobTarget: "extraction_robtarget",
    RobAssessment: "extraction_robassessment",
    RobDomain: "extraction_robdomain",
    RobChange: "extraction_robchange",
}


@pytest.mark.parametrize(("model", "table"), TABLES_BEFORE_THE_MOVE.items())
def test_rob_models_keep_their_tables_and_app(model, table):
    assert model._meta.app_label == "extraction"
    assert model._meta.db_table == table
    assert apps.get_model("extraction", model.__name__) is model


def test_every_rob_model_is_in_the_rob_package():
    rob_models = {
        m for m in apps.get_app_config("extraction").get_models() if m.__name__.startswith("Rob")
    }
    assert rob_models == set(TABLES_BEFORE_THE_MOVE)
    assert {m.__module__ for m in rob_models} == {"extraction.rob.models"}


def test_no_migration_pending_after_the_move(db):
    call_command("makemigrations", "extraction", "--check", "--dry-run")  # exits 1 if pending


def test_demo_assessments_are_read_from_the_existing_tables(cast):
    users = {"lead": cast.lead, "alice": cast.alice, "bob": cast.bob, "carol": cast.carol}
    demo_extraction(cast.review, users)
    rob_demo_step(cast.review, users)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM extraction_robassessment")
        (in_table,) = cursor.fetchone()
    assert in_table > 0
    assert RobAssessment.objects.count() == in_table
