"""Risk of bias 2 (RoB 2, Sterne et al. 2019) inside the extraction app.

- `algorithm.py`: the published signalling questions and the algorithm that proposes each
  domain's judgement and the overall judgement (pure Python, no Django).
- `models.py`: settings, assessments, answers, their history (tables keep the `extraction_`
  prefix: the models belong to the extraction app).
- `services.py` / `selectors.py`: writes and reads; `views.py`, `forms.py`, `urls.py`: pages.
- `figures.py`: robvis-style traffic-light and summary plots.
"""
