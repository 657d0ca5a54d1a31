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
