"""Search exports for update-round tests: RIS files whose records overlap on purpose."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from reviews import services
from reviews.models import ImportBatch

TOPICS = (
    "peer support groups",
    "peer-delivered self-management",
    "mutual help meetings",
    "lay health worker coaching",
    "online peer forums",
    "recovery college courses",
    "peer navigators",
    "clubhouse programmes",
)
VOCABULARY = (
    "randomised controlled pragmatic cluster pilot feasibility multicentre crossover stepped "
    "wedge community inpatient outpatient rural urban veterans adolescents older women men "
    "carers families primary secondary care schizophrenia bipolar psychosis anxiety trauma "
    "homelessness employment housing stigma loneliness adherence telephone video digital "
    "group individual brief intensive structured manualised culturally adapted nurse led "
    "volunteer trained supervised evaluation effectiveness implementation costs outcomes"
)
OUTCOMES = ("depressive symptoms", "hospital readmission", "personal recovery", "quality of life")


@dataclass(frozen=True)
class Ref:
    """One reference as a database exports it; ``n`` makes its title, DOI and author unique."""

    n: int

    @property
    def title(self) -> str:
        # Words drawn per reference, so that no two titles look alike to de-duplication.
        words = random.Random(self.n).sample(VOCABULARY.split(), 7)
        topic = TOPICS[self.n % len(TOPICS)]
        outcome = OUTCOMES[(self.n // len(TOPICS)) % len(OUTCOMES)]
        return f"{' '.join(words).capitalize()}: {topic} and {outcome}"

    @property
    def doi(self) -> str:
        return f"10.5555/living.{self.n:04d}"

    def ris(self) -> str:
        return (
            "TY  - JOUR\n"
            f"TI  - {self.title}\n"
            f"AU  - Author{self.n}, Alex\n"
            f"PY  - {2010 + self.n % 14}\n"
            "JO  - Journal of Mental Health Services\n"
            f"DO  - {self.doi}\n"
            f"AB  - A randomised trial ({self.n}) of {TOPICS[self.n % len(TOPICS)]}.\n"
            "ER  - \n"
        )


def ris_export(numbers) -> bytes:
    return "\n".join(Ref(n).ris() for n in numbers).encode()


def preview(cast, numbers, *, search=None, name="export.ris", **run) -> ImportBatch:
    return services.import_preview(
        review=cast.review,
        actor=cast.lead,
        file=io.BytesIO(ris_export(numbers)),
        filename=name,
        search=search,
        run=run or None,
    )


def imported(cast, numbers, **kwargs) -> ImportBatch:
    return services.import_confirm(batch=preview(cast, numbers, **kwargs), actor=cast.lead)
