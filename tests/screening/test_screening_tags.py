"""The agreement table's reviewer-pair rows, built in Python instead of a template loop."""

from screening.agreement import cohen_kappa
from screening.selectors import PairAgreement
from screening.templatetags.screening_tags import agreement_pair_rows


def test_pair_rows_escape_names_and_format_as_the_template_did():
    rows = agreement_pair_rows(
        [
            PairAgreement("ta", "<b>ann", "bob", cohen_kappa([[3, 1], [0, 4]])),
            PairAgreement("ta", "bob", "cy", cohen_kappa([[0, 0], [0, 2]])),  # kappa undefined
        ]
    )
    assert rows == (
        '<tr><td>&lt;b&gt;ann &amp; bob</td><td class="text-end">8</td>'
        '<td class="text-center">3 / 1 / 0 / 4</td><td class="text-end">87.5 %</td>'
        '<td class="text-end">0.75</td></tr>'
        '<tr><td>bob &amp; cy</td><td class="text-end">2</td>'
        '<td class="text-center">0 / 0 / 0 / 2</td><td class="text-end">100.0 %</td>'
        '<td class="text-end">—</td></tr>'
    )
    assert agreement_pair_rows([]) == ""


def test_fixed_rounds_as_floatformat_does():
    import random

    from django.template.defaultfilters import floatformat

    from screening.templatetags.screening_tags import fixed

    rng = random.Random(7)
    # Ties of the decimal representation (half up, not to even), negatives that round to
    # zero, every percentage of a small table, kappas of small tables, random values.
    values = [0.625, -0.625, 0.125, 12.25, 87.5, 99.95, 0.995, -0.004, -0.005, 0.0, -0.0]
    values += [100 * a / b for b in range(1, 60) for a in range(b + 1)]
    values += [
        (a * d - b * c) / ((a + b) * (c + d))
        for a in range(5)
        for b in range(5)
        for c in range(5)
        for d in range(1, 5)
        if a + b
    ]
    values += [rng.uniform(-1, 1) for _ in range(2000)]
    for value in values:
        for places in (1, 2):
            assert fixed(value, places) == floatformat(value, places), (value, places)
    assert fixed(None, 1) == floatformat(None, 1) == ""
