"""The ranking core: obvious includes first, seeded fallback order, immutable stored rankings."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.svm import LinearSVC

from screening.prioritisation import (
    MODEL_NAMES,
    PrioritisationError,
    RankedRecord,
    Ranker,
    Ranking,
    VectoriserSettings,
    rank_records,
    record_text,
)
from screening.prioritisation.ranker import CompactFeatures, corpus_cache_clear

TEXTS = {
    1: "Methylphenidate for attention deficit hyperactivity disorder in children: randomised trial",
    2: "Hip fracture surgery outcomes in elderly women",
    3: "Dietary fibre and colon cancer risk in a cohort study",
    4: "Atomoxetine versus methylphenidate for ADHD in children: randomised controlled trial",
    5: "Knee osteoarthritis and running: a cross-sectional survey",
    6: "Asthma inhaler technique among adolescents",
    7: "Dexamphetamine in adult attention deficit hyperactivity disorder, a randomised trial",
    8: "Vitamin D supplementation and falls in care homes",
    9: "Cost of hospital stay after cardiac surgery",
    10: "Smoking cessation counselling in primary care",
}
LABELS = {1: 1, 2: 0, 3: 0, 9: 0}
FIXED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_obvious_includes_rank_first_for_every_model(model: str) -> None:
    ranking = Ranker(model, seed=1).fit(TEXTS, LABELS)
    assert ranking.strategy == "classifier"
    # Records 4 and 7 share the ADHD trial vocabulary of the one include.
    assert set(ranking.order[:2]) == {4, 7}
    assert set(ranking.order) == set(TEXTS) - set(LABELS)
    assert list(ranking.order_scores) == sorted(ranking.order_scores, reverse=True)


def test_ranking_records_counts_and_method() -> None:
    ranking = Ranker("svm", seed=3).fit(TEXTS, LABELS, fitted_at=FIXED)
    assert (ranking.trained_on, ranking.n_included, ranking.n_excluded) == (4, 1, 3)
    assert ranking.model == "svm"
    assert ranking.fitted_at == "2024-01-02T03:04:05+00:00"
    assert "linear SVM" in ranking.method and "4 decisions" in ranking.method
    assert ranking.scores == dict(zip(ranking.order, ranking.order_scores, strict=True))


def test_fit_is_deterministic_for_a_seed() -> None:
    first = Ranker(seed=7).fit(TEXTS, LABELS, fitted_at=FIXED)
    second = Ranker(seed=7).fit(TEXTS, LABELS, fitted_at=FIXED)
    assert first == second


def test_random_order_until_one_include_and_one_exclude() -> None:
    only_excludes = {2: 0, 3: 0}
    a = Ranker(seed=11).fit(TEXTS, only_excludes)
    b = Ranker(seed=11).fit(TEXTS, only_excludes)
    c = Ranker(seed=12).fit(TEXTS, only_excludes)
    assert a.strategy == "random"
    assert a.order == b.order
    assert a.order != c.order
    assert sorted(a.order) == sorted(set(TEXTS) - {2, 3})
    assert "not yet one include and one exclude" in a.method


def test_seed_records_head_the_order_before_the_model_can_fit() -> None:
    ranking = Ranker(seed=5, seed_record_ids=[8, 2, 99]).fit(TEXTS, {2: 0})
    assert ranking.strategy == "seed records + random"
    # 2 is already labelled and 99 is not in the review: only 8 is put first.
    assert ranking.order[0] == 8
    assert 2 not in ranking.order


def test_json_round_trip_serves_the_ranking_without_refitting() -> None:
    ranking = rank_records(TEXTS, LABELS, seed=2)
    restored = Ranking.from_json(ranking.to_json())
    assert restored == ranking
    subset = restored.rank([10, 4, 42])
    assert [r.record_id for r in subset] == [4, 10, 42]
    assert subset[-1] == RankedRecord(42, None)
    assert subset[0].score == ranking.scores[4]


def test_ranking_is_immutable() -> None:
    ranking = rank_records(TEXTS, LABELS)
    with pytest.raises(AttributeError):
        ranking.order = ()  # type: ignore[misc]


def test_corpus_is_vectorised_once_per_review() -> None:
    ranker = Ranker(seed=1)
    assert ranker.vectorise(TEXTS) is Ranker(seed=2).vectorise(dict(TEXTS))
    assert ranker.vectorise(TEXTS) is not ranker.vectorise({**TEXTS, 11: "A new record"})


def test_clearing_the_cache_rebuilds_the_same_features() -> None:
    before = Ranker(seed=1).vectorise(TEXTS)
    corpus_cache_clear()
    after = Ranker(seed=1).vectorise(TEXTS)
    assert after is not before
    assert after.fingerprint == before.fingerprint
    assert (after.matrix != before.matrix).nnz == 0
    assert Ranker(seed=1).vectorise(TEXTS) is after


def test_two_threads_of_one_process_save_the_same_features_at_once(tmp_path, monkeypatch) -> None:
    """The embedded task thread and a request thread may save one review's features at the
    same moment: each writes its own temporary file, and the file read back is whole."""
    cache_file = tmp_path / "ranking" / "review-1.npz"
    corpus = Ranker("svm", seed=1).vectorise(TEXTS)
    both_writing = threading.Barrier(2, timeout=10)
    savez = np.savez

    def savez_together(handle, **arrays):
        both_writing.wait()  # both temporary files are open before either is renamed
        savez(handle, **arrays)

    monkeypatch.setattr(np, "savez", savez_together)
    errors: list[BaseException] = []

    def save() -> None:
        try:
            corpus.save(cache_file)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    monkeypatch.setattr(np, "savez", savez)
    loaded = type(corpus).load(cache_file, corpus.fingerprint)
    assert loaded is not None and (loaded.matrix != corpus.matrix).nnz == 0
    assert [p.name for p in cache_file.parent.iterdir()] == ["review-1.npz"]


def test_a_corpus_file_carries_the_features_to_a_fresh_process(tmp_path, monkeypatch) -> None:
    cache_file = tmp_path / "ranking" / "review-1.npz"
    ranker = Ranker("svm", seed=1)
    corpus_cache_clear()
    built = ranker.vectorise(TEXTS, cache_file=cache_file)
    assert cache_file.exists()
    corpus_cache_clear()  # as a new process starts: nothing in memory

    def no_rebuild(self, texts):
        raise AssertionError("features rebuilt although the file holds them")

    with monkeypatch.context() as m:
        m.setattr(VectoriserSettings, "features", no_rebuild)
        loaded = ranker.vectorise(TEXTS, cache_file=cache_file)
    assert loaded.record_ids == built.record_ids
    assert (loaded.matrix != built.matrix).nnz == 0 and (loaded.lexical != built.lexical).nnz == 0
    assert ranker.fit(loaded, LABELS).order == ranker.fit(built, LABELS).order


def test_a_stale_or_broken_corpus_file_is_rebuilt(tmp_path) -> None:
    cache_file = tmp_path / "review-1.npz"
    ranker = Ranker("svm", seed=1)
    corpus_cache_clear()
    ranker.vectorise(TEXTS, cache_file=cache_file)
    changed = {**TEXTS, 11: "Peer support for serious mental illness"}
    corpus_cache_clear()
    assert len(ranker.vectorise(changed, cache_file=cache_file)) == 11  # new records: rebuilt
    cache_file.write_bytes(b"not an npz file")
    corpus_cache_clear()
    assert len(ranker.vectorise(changed, cache_file=cache_file)) == 11
    corpus_cache_clear()
    assert len(ranker.vectorise(changed, cache_file=cache_file)) == 11  # rewritten, loads


def test_a_corpus_can_be_reused_across_refits() -> None:
    ranker = Ranker(seed=1)
    corpus = ranker.vectorise(TEXTS)
    assert ranker.fit(corpus, LABELS, fitted_at=FIXED) == ranker.fit(TEXTS, LABELS, fitted_at=FIXED)


@pytest.mark.parametrize(
    ("labels", "message"),
    [({1: 1, 77: 0}, "77"), ({1: 1, 2: "yes"}, "must be 1/True")],
)
def test_bad_labels_raise_a_domain_error(labels: dict, message: str) -> None:
    with pytest.raises(PrioritisationError, match=message):
        Ranker().fit(TEXTS, labels)


def test_unknown_model_and_empty_corpus_are_rejected() -> None:
    with pytest.raises(PrioritisationError, match="Unknown ranking model 'bert'"):
        Ranker("bert")
    with pytest.raises(PrioritisationError, match="no records"):
        Ranker().fit({}, {})
    with pytest.raises(PrioritisationError, match="Not a stored ranking"):
        Ranking.from_dict({"order": [1]})


def test_record_text_skips_missing_parts() -> None:
    assert record_text("Title", float("nan"), ["ADHD", "Child"]) == "Title \nADHD; Child"
    assert record_text(None, "Abstract") == "Abstract"


def test_record_text_can_weight_the_title_by_repeating_it() -> None:
    assert record_text("Title", "Abstract", title_repeats=2) == "Title \nTitle \nAbstract"
    assert record_text(None, "Abstract", title_repeats=2) == "Abstract"


def test_character_block_links_word_forms_the_word_block_keeps_apart() -> None:
    # No word is shared, but the character n-grams of the word forms are.
    texts = {
        1: "antihistamines for allergic rhinitis",
        2: "antihistaminic treatment of urticaria",
        3: "hip fracture surgery in elderly women",
    }
    words = VectoriserSettings(char_weight=0.0).transform(list(texts.values()))[0]
    joint = VectoriserSettings(char_weight=1.0).transform(list(texts.values()))[0]
    assert (words[0] @ words[1].T).toarray()[0, 0] == 0
    assert (joint[0] @ joint[1].T).toarray()[0, 0] > (joint[0] @ joint[2].T).toarray()[0, 0]
    # Rows stay unit length, so that no record outscores another by its length alone.
    np.testing.assert_allclose(np.sqrt(joint.multiply(joint).sum(axis=1)).A1, 1.0)


def test_svm_scores_are_the_balanced_linear_svm_decision_values() -> None:
    # The fast path (own class weights, one sparse product) must score exactly as
    # scikit-learn's LinearSVC(class_weight="balanced").decision_function does.
    ranker = Ranker("svm", seed=1, presumed_excludes=0, include_weight=1.0)
    corpus = ranker.vectorise(TEXTS)
    ranking = ranker.fit(corpus, LABELS)
    rows = [corpus.row_of[rid] for rid in LABELS]
    svm = LinearSVC(C=0.11, class_weight="balanced", dual=True, max_iter=2000, random_state=0)
    svm.fit(corpus.matrix[rows], list(LABELS.values()))
    candidates = [corpus.row_of[rid] for rid in ranking.order]
    expected = svm.decision_function(corpus.matrix[candidates])
    # float32 features: the decision values are computed in float32.
    np.testing.assert_allclose(ranking.order_scores, expected, rtol=1e-5, atol=1e-6)


def test_include_weight_multiplies_the_balanced_weight_of_the_includes() -> None:
    ranker = Ranker("svm", seed=1, presumed_excludes=0, include_weight=10.0)
    corpus = ranker.vectorise(TEXTS)
    ranking = ranker.fit(corpus, LABELS)
    rows = [corpus.row_of[rid] for rid in LABELS]
    # 4 labelled, 1 include: balanced weights 4/(2*3) and 4/(2*1), the include's x 10,
    # then all scaled by 2/11 so that the mean weight is 1: (3 * 4/33 + 40/11) / 4 = 1.
    weights = {0: 4 / 6 * 2 / 11, 1: 10 * 4 / 2 * 2 / 11}
    assert (3 * weights[0] + weights[1]) / 4 == pytest.approx(1.0)
    svm = LinearSVC(C=0.11, class_weight=weights, dual=True, max_iter=2000, random_state=0)
    svm.fit(corpus.matrix[rows], list(LABELS.values()))
    candidates = [corpus.row_of[rid] for rid in ranking.order]
    expected = svm.decision_function(corpus.matrix[candidates])
    # float32 features: the decision values are computed in float32.
    np.testing.assert_allclose(ranking.order_scores, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(PrioritisationError, match="include_weight"):
        Ranker(include_weight=0)


def test_texts_whose_character_ngrams_are_all_pruned_still_rank() -> None:
    # Every record uses the same few words (as generated load-test texts do): each
    # character n-gram is in more than max_df of the records and is pruned, but the word
    # bigrams still tell the records apart. The load benchmark's refits once failed here.
    orders = list(itertools.permutations(["alpha", "beta", "gamma", "delta"]))
    texts = {i: " ".join(orders[i % len(orders)]) for i in range(40)}
    settings = VectoriserSettings(char_weight=1.0)
    with pytest.raises(ValueError):
        settings.char_tfidf(len(texts)).fit_transform(list(texts.values()))
    labels = {0: 1, 1: 0, 2: 0}
    ranking = Ranker(seed=1, vectoriser=settings).fit(texts, labels)
    assert ranking.strategy == "classifier"
    assert len(ranking.order) == 37


# ---- cheaper forms of the character block (issue 24) ----------------------------------

MESSY = [
    "Éstrogen  REPLACEMENT\ttherapy and   bone loss: a randomised trial",
    "Oestrogen replacement therapy (HRT) in post-menopausal women",
    "Naïve Bayes vs SVM — ranking with  co-occurrence  of words",
    "a",
    "",
    "Hormone-replacement therapy, estrogens and fractures; a cohort study",
] * 4  # 24 texts: the min_df/max_df of a corpus of 20 or more apply


def _hashed_reference(settings: VectoriserSettings, texts: list[str]):
    """The character block computed the slow way: n-grams cut from each whole text."""
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    counts = HashingVectorizer(
        analyzer="char_wb",
        ngram_range=settings.char_ngram,
        n_features=2**settings.char_hash_bits,
        alternate_sign=False,
        norm=None,
        strip_accents="unicode",
        dtype=np.float64,
    ).transform(texts)
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    n = len(texts)
    keep = np.flatnonzero((df >= settings.char_min_df) & (df <= settings.char_max_df * n))
    return TfidfTransformer(sublinear_tf=True).fit_transform(counts[:, keep])


@pytest.mark.parametrize("ngram", [(3, 5), (3, 4), (2, 2)])
def test_hashed_character_block_from_distinct_words_equals_cutting_every_text(ngram) -> None:
    settings = VectoriserSettings(
        char_hash_bits=16, char_ngram=ngram, char_max_df=0.5, dtype="float64"
    )
    built = settings.char_block(MESSY)
    expected = _hashed_reference(settings, MESSY)
    assert built.shape == expected.shape
    assert abs(built - expected).max() < 1e-12


def test_hashed_character_block_equals_the_vocabulary_when_no_hashes_collide() -> None:
    vocabulary = VectoriserSettings(char_hash_bits=0).char_block(MESSY)
    hashed = VectoriserSettings(char_hash_bits=24).char_block(MESSY)
    assert hashed.shape == vocabulary.shape
    # Columns come in another order: compare each row's values as a sorted list.
    for i in range(len(MESSY)):
        assert np.allclose(np.sort(hashed[i].data), np.sort(vocabulary[i].data))


def test_float32_features_rank_as_float64_do() -> None:
    corpus_cache_clear()
    wide = Ranker(seed=1, vectoriser=VectoriserSettings(dtype="float64")).vectorise(TEXTS)
    narrow = Ranker(seed=1, vectoriser=VectoriserSettings(dtype="float32")).vectorise(TEXTS)
    assert wide.matrix.dtype == np.float64 and narrow.matrix.dtype == np.float32
    assert narrow.nbytes < wide.nbytes
    assert abs(wide.matrix - narrow.matrix.astype(np.float64)).max() < 1e-6
    first = Ranker(seed=1).fit(wide, LABELS).order
    assert Ranker(seed=1).fit(narrow, LABELS).order[:2] == first[:2]


def test_vectoriser_options_are_checked() -> None:
    with pytest.raises(PrioritisationError, match="dtype"):
        VectoriserSettings(dtype="float16")
    with pytest.raises(PrioritisationError, match="char_hash_bits"):
        VectoriserSettings(char_hash_bits=40)
    with pytest.raises(PrioritisationError, match="char_max_features"):
        VectoriserSettings(char_hash_bits=18, char_max_features=1000)
    with pytest.raises(PrioritisationError, match="ngram_max"):
        VectoriserSettings(ngram_max=3)
    with pytest.raises(PrioritisationError, match="stop_words"):
        VectoriserSettings(stop_words="french")
    with pytest.raises(PrioritisationError, match="char_ngram"):
        VectoriserSettings(char_ngram=(5, 3))


def test_max_features_caps_the_character_vocabulary() -> None:
    capped = VectoriserSettings(char_hash_bits=0, char_max_features=50).char_block(MESSY)
    assert capped.shape[1] == 50


def test_the_word_block_is_the_joint_matrix_s_first_columns() -> None:
    corpus_cache_clear()
    settings = VectoriserSettings(char_hash_bits=18, dtype="float32")
    corpus = Ranker(seed=1, vectoriser=settings).vectorise(TEXTS)
    words = settings.word_block(list(TEXTS.values()))
    assert corpus.n_lexical == words.shape[1] < corpus.matrix.shape[1]
    # Naive Bayes reads the word block; it is built on first use and counted then.
    before = corpus.nbytes
    assert Ranker("nb", seed=1).fit(corpus, LABELS).strategy == "classifier"
    assert corpus.nbytes > before
    assert abs(corpus.lexical - words).max() < 1e-6


# ---- the word block from token ids (issue 24) -------------------------------------------

WORDY = [
    *TEXTS.values(),
    *MESSY,
    "the trial of the drug: of the trial, the drug; the the the",
    "Café au lait spots — naïve 2nd-line therapy (n=12) vs. placebo_arm",
]


def _sklearn_columns(settings: VectoriserSettings, texts: list[str]):
    """scikit-learn's word TF-IDF and its terms, the reference of word_block."""
    vectoriser = settings.tfidf(len(texts))
    return vectoriser.fit_transform(texts).tocsr(), list(vectoriser.get_feature_names_out())


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"dtype": "float64"},
        {"stop_words": "english"},
        {"ngram_max": 1},
        {"min_df": 2, "max_df": 0.3},
    ],
)
def test_word_block_from_token_ids_equals_scikit_learn_s_vectoriser(options) -> None:
    settings = VectoriserSettings(**options)
    built, terms = settings._word_block(WORDY, names=True)
    expected, expected_terms = _sklearn_columns(settings, WORDY)
    assert built.dtype == expected.dtype == np.dtype(settings.dtype)
    assert built.shape == expected.shape
    # The same terms, in another column order: put scikit-learn's columns in ours.
    assert sorted(terms) == expected_terms
    column = {term: i for i, term in enumerate(expected_terms)}
    reordered = expected[:, [column[term] for term in terms]]
    assert abs(built - reordered).max() < (1e-6 if settings.dtype == "float32" else 1e-12)


def test_word_tokens_cut_from_the_pieces_are_the_token_pattern_s() -> None:
    from screening.prioritisation.ranker import _WORD_TOKEN, _preprocess, _Tokens

    tokens = _Tokens.of(WORDY)
    for i, text in enumerate(WORDY):
        ids = tokens.word_ids[tokens.word_ptr[i] : tokens.word_ptr[i + 1]]
        assert [tokens.word_names[j] for j in ids] == _WORD_TOKEN.findall(_preprocess(text))
        pieces = tokens.pieces[tokens.piece_ptr[i] : tokens.piece_ptr[i + 1]]
        assert [tokens.piece_names[j] for j in pieces] == _preprocess(text).split()


def test_word_block_without_words_or_terms_raises() -> None:
    with pytest.raises(ValueError):
        VectoriserSettings().word_block(["", "a", "- ;"])
    with pytest.raises(ValueError):  # every term in more than max_df of 20+ texts
        VectoriserSettings(max_df=0.5).word_block(["same words"] * 25)
    # No words at all: one empty column, every record scores alike.
    matrix, n_lexical = VectoriserSettings().transform(["", "a"])
    assert matrix.shape == (2, 1) and n_lexical == 1


def test_joint_matrix_built_by_chunks_equals_its_blocks_side_by_side(monkeypatch) -> None:
    from sklearn.preprocessing import normalize

    from screening.prioritisation import ranker

    settings = VectoriserSettings(char_hash_bits=16, char_weight=0.7)
    whole, n_lexical = settings.transform(WORDY)
    monkeypatch.setattr(ranker, "CHUNK_ROWS", 4)  # several chunks, the last one short
    joint, n_chunked = settings.transform(WORDY)
    words = settings.word_block(WORDY)
    chars = settings.char_block(WORDY)
    expected = normalize(sp.hstack([words, chars * 0.7], format="csr"))
    assert n_lexical == n_chunked == words.shape[1]
    assert joint.has_sorted_indices and joint.dtype == np.float32
    assert len(joint.data) == joint.nnz == expected.nnz  # shrunk to the entries kept
    assert abs(joint - expected).max() < 1e-6
    assert abs(whole - joint).max() < 1e-6


# ---- the corpus cache's memory budget ---------------------------------------------------


@pytest.fixture
def budget():
    """Restore the process's cache budget after the test."""
    from screening.prioritisation.ranker import corpus_cache_budget

    saved = corpus_cache_budget()
    corpus_cache_clear()
    yield corpus_cache_budget
    corpus_cache_budget(saved / 2**20)
    corpus_cache_clear()


def _corpus_of(i: int):
    return Ranker(seed=1).vectorise({**TEXTS, 100 + i: f"An extra record number {i}"})


def test_the_cache_evicts_the_least_recently_used_corpus_beyond_its_budget(budget) -> None:
    from screening.prioritisation.ranker import corpus_cache_info

    size = _corpus_of(0).nbytes
    corpus_cache_clear()
    budget(2.5 * size / 2**20)  # room for two
    a, b = _corpus_of(1), _corpus_of(2)
    assert corpus_cache_info()[:2] == (2, a.nbytes + b.nbytes)
    assert _corpus_of(1) is a  # a is now the most recently used
    c = _corpus_of(3)  # b goes
    assert corpus_cache_info()[0] == 2
    assert _corpus_of(1) is a and _corpus_of(3) is c
    assert _corpus_of(2) is not b  # rebuilt
    held, used, limit = corpus_cache_info()
    assert held == 2 and used <= limit


def test_a_smaller_budget_evicts_at_once_and_zero_keeps_nothing(budget) -> None:
    from screening.prioritisation.ranker import corpus_cache_info

    first = _corpus_of(1)
    _corpus_of(2)
    assert corpus_cache_info()[0] == 2
    budget(1.5 * first.nbytes / 2**20)
    assert corpus_cache_info()[0] == 1
    budget(0)
    assert corpus_cache_info()[:2] == (0, 0)
    assert _corpus_of(1) is not _corpus_of(1)  # nothing kept: built each time
    with pytest.raises(PrioritisationError):
        budget(-1)


def test_a_corpus_larger_than_the_budget_is_served_but_not_kept(budget, tmp_path) -> None:
    from screening.prioritisation.ranker import corpus_cache_info

    budget(1e-3)  # about 1 kB
    cache_file = tmp_path / "review.npz"
    corpus = Ranker(seed=1).vectorise(TEXTS, cache_file=cache_file)
    assert corpus_cache_info()[0] == 0
    again = Ranker(seed=1).vectorise(TEXTS, cache_file=cache_file)  # from the file
    assert again is not corpus and (again.matrix != corpus.matrix).nnz == 0


# ---- compact features: term counts instead of floats ------------------------------------


def _corpus_texts(n: int = 60) -> list[str]:
    """Enough texts (>= 20) for the document-frequency pruning of the default settings."""
    texts = list(itertools.islice(itertools.cycle(WORDY), n))
    return [
        f"{text} record {i} {'ADHD trial' if i % 3 else 'hip surgery'}"
        for i, text in enumerate(texts)
    ]


@pytest.mark.parametrize(
    "settings",
    [
        VectoriserSettings(),
        VectoriserSettings(char_hash_bits=16, char_weight=0.7),
        VectoriserSettings(char_weight=0.0),
    ],
    ids=["default", "hashed 2^16, weight 0.7", "words only"],
)
def test_compact_features_give_back_the_float_form(settings, monkeypatch) -> None:
    from sklearn.preprocessing import normalize

    from screening.prioritisation import ranker

    texts = _corpus_texts()
    floats, n_lexical = settings.transform(texts)
    monkeypatch.setattr(ranker, "CHUNK_ROWS", 7)  # several chunks, the last one short
    compact = settings.compact(texts)
    assert compact.counts.dtype == np.uint8 and compact.n_lexical == n_lexical
    rebuilt = compact.to_csr()
    # The same entries in the same order; the values to float32 rounding.
    assert np.array_equal(rebuilt.indptr, floats.indptr)
    assert np.array_equal(rebuilt.indices, floats.indices)
    assert rebuilt.dtype == np.float32 and abs(rebuilt - floats).max() < 1e-6
    rows = np.array([5, 0, 33, 5, 59])
    assert abs(compact.rows(rows) - floats[rows]).max() < 1e-6
    words = normalize(floats[:, :n_lexical])
    assert abs(compact.to_csr(lexical=True) - words).max() < 1e-6
    assert abs(compact.rows(rows, lexical=True) - words[rows]).max() < 1e-6
    # 5 bytes an entry (and a few per row and column) against the float form's 8.
    assert (
        compact.nbytes
        < 0.75 * (floats.data.nbytes + floats.indices.nbytes)
        + 64 * len(texts)
        + 4 * compact.shape[1]
    )


def test_compact_scores_are_the_float_product_a_chunk_at_a_time(monkeypatch) -> None:
    from screening.prioritisation import ranker

    texts = _corpus_texts(45)
    settings = VectoriserSettings(char_hash_bits=16, char_weight=0.7)
    floats, _ = settings.transform(texts)
    compact = settings.compact(texts)
    weights = np.random.default_rng(3).normal(size=floats.shape[1]).astype(np.float32)
    exact = floats.astype(np.float64) @ weights.astype(np.float64)
    whole = compact.dot(weights)
    monkeypatch.setattr(ranker, "SCORE_ROWS", 4)  # 12 chunks, the last one short
    chunked = compact.dot(weights)
    assert np.allclose(chunked, whole, rtol=0, atol=1e-9)
    assert abs(chunked - exact).max() < 1e-6
    assert abs(chunked - floats @ weights).max() < 1e-5  # the float form's own float32 sums


def test_counts_above_255_widen_to_uint16_and_stay_exact() -> None:
    texts = _corpus_texts(30)
    texts[4] = "placebo " * 300 + texts[4]
    settings = VectoriserSettings()
    compact = settings.compact(texts)
    floats, _ = settings.transform(texts)
    assert compact.counts.dtype == np.uint16 and compact.counts.max() >= 300
    assert abs(compact.to_csr() - floats).max() < 1e-6


def test_texts_without_words_give_one_empty_column() -> None:
    compact = VectoriserSettings().compact(["", "a", "- ;"])
    assert compact.shape == (3, 1) and compact.nnz == 0
    assert np.array_equal(compact.dot(np.ones(1)), np.zeros(3))


def test_a_fit_on_compact_features_ranks_as_on_the_float_form() -> None:
    from screening.prioritisation.ranker import Corpus

    texts = dict(enumerate(_corpus_texts(), start=1))
    labels = {i: int(i % 3 != 0) for i in range(1, 25)}
    ranker = Ranker("svm", seed=1)
    corpus_cache_clear()
    compact = ranker.vectorise(texts)
    floats, n_lexical = ranker.vectoriser.transform(list(texts.values()))
    reference = Corpus(
        record_ids=compact.record_ids,
        features=floats,
        n_lexical=n_lexical,
        fingerprint="float form",
        row_of=compact.row_of,
    )
    ours, theirs = ranker.fit(compact, labels), ranker.fit(reference, labels)
    assert ours.order == theirs.order
    assert np.allclose(ours.order_scores, theirs.order_scores, rtol=0, atol=1e-6)
    for model in ("nb", "svm+lr"):  # naive Bayes reads the word block
        assert (
            Ranker(model, seed=1).fit(compact, labels).order
            == Ranker(model, seed=1).fit(reference, labels).order
        )


def test_the_feature_file_and_the_cache_hold_the_compact_form(tmp_path, budget) -> None:
    from screening.prioritisation.ranker import CompactFeatures, corpus_cache_info

    texts = dict(enumerate(_corpus_texts(), start=1))
    cache_file = tmp_path / "review.npz"
    corpus = Ranker(seed=1).vectorise(texts, cache_file=cache_file)
    features = corpus.features
    assert isinstance(features, CompactFeatures)
    with np.load(cache_file) as saved:
        assert "compact_counts" in saved.files and "matrix_data" not in saved.files
        assert saved["compact_counts"].dtype == np.uint8
    # The cache counts the compact bytes (and the record index), not the float form's.
    floats = corpus.matrix
    assert corpus.nbytes == features.nbytes + 150 * len(texts)
    assert features.nbytes < floats.data.nbytes + floats.indices.nbytes + floats.indptr.nbytes
    assert corpus_cache_info()[:2] == (1, corpus.nbytes)
    corpus_cache_clear()
    loaded = Ranker(seed=1).vectorise(texts, cache_file=cache_file)
    assert loaded is not corpus and isinstance(loaded.features, CompactFeatures)
    assert (loaded.matrix != corpus.matrix).nnz == 0


def test_a_feature_file_of_the_float_form_loads_and_is_rebuilt_compact(tmp_path) -> None:
    from screening.prioritisation.ranker import CompactFeatures, Corpus

    texts = dict(enumerate(_corpus_texts(), start=1))
    corpus = Ranker(seed=1).vectorise(texts)
    floats = corpus.matrix
    old = Corpus(corpus.record_ids, floats, corpus.n_lexical, corpus.fingerprint, corpus.row_of)
    cache_file = tmp_path / "review.npz"
    old.save(cache_file)  # as the release before wrote it
    loaded = Corpus.load(cache_file, corpus.fingerprint)
    assert loaded is not None and (loaded.matrix != floats).nnz == 0
    labels = {i: int(i % 3 != 0) for i in range(1, 25)}
    assert Ranker(seed=1).fit(loaded, labels).order == Ranker(seed=1).fit(corpus, labels).order
    # The settings have a compact form: the refit rebuilds it and writes it over the file.
    corpus_cache_clear()
    rebuilt = Ranker(seed=1).vectorise(texts, cache_file=cache_file)
    assert isinstance(rebuilt.features, CompactFeatures)
    with np.load(cache_file) as saved:
        assert "compact_counts" in saved.files and "matrix_data" not in saved.files


def test_an_expanded_corpus_scores_as_the_compact_one() -> None:
    """A simulation's corpus (float features formed once) ranks as the app's compact one."""
    texts = dict(enumerate(EXPANDED_TEXTS))
    corpus = Ranker().vectorise(texts)
    expanded = corpus.expanded()
    assert isinstance(corpus.features, CompactFeatures)
    assert not isinstance(expanded.features, CompactFeatures)
    assert expanded.expanded() is expanded
    rows = np.arange(len(texts))
    labels = np.array([1, 0] * (len(texts) // 2))
    model = LinearSVC(C=0.11).fit(corpus.training_rows(rows), labels)
    np.testing.assert_allclose(
        expanded.decision_values(model), corpus.decision_values(model), atol=1e-6
    )
    np.testing.assert_allclose(
        expanded.training_rows(rows).toarray(), corpus.training_rows(rows).toarray(), atol=1e-7
    )


EXPANDED_TEXTS = [
    "Randomised trial of peer support for depression in adults",
    "Cohort study of statins and myocardial infarction",
    "Peer-delivered support groups for severe mental illness: a randomised controlled trial",
    "Cross-sectional survey of hospital pharmacists",
    "Effect of peer mentoring on recovery in schizophrenia: randomized trial",
    "Case report of a rare adverse drug reaction",
]
