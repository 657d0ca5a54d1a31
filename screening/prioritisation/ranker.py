"""Relevance ranking of a review's records: word + character TF-IDF and a linear SVM.

Pure Python (no Django). The app and the simulation use the same code path:

* :meth:`Ranker.vectorise` turns the review's texts (title twice, abstract and keywords,
  see :func:`record_text`) into word and character n-gram TF-IDF features once per corpus
  (cached by content fingerprint, so the background refits of a review reuse it and only
  the classifier is refitted), kept as term counts (:class:`CompactFeatures`);
* :meth:`Ranker.fit` trains the classifier on the labelled (resolved) records and returns
  an immutable :class:`Ranking` of the unlabelled records, which the app stores (as JSON)
  and keeps serving while the next refit runs.

Until the labels contain at least one include and one exclude there is nothing to learn
from; the ranking is then the lead's seed records first and a seeded random order after.

The design follows continuous active learning for technology-assisted review: every refit
trains a regularised linear model on all screening decisions so far and the reviewer sees
the highest-scoring records first ("max query") [1]_. The model is ASReview's default
(``elas_u4``: word uni+bigram TF-IDF, linear SVM with C=0.11, includes weighted 9.8 to 1),
which its authors tuned on the 26 SYNERGY sets, plus three changes chosen by
leave-one-dataset-out over the nine labelled sets (``benchmarks/prioritisation_lodo.py``):
a character n-gram block, the title written twice and the records' keywords. Class imbalance (often < 5 %
includes) is handled by the class weights; a random sample of unscreened records taken as
presumed excludes, the device of the BMI baseline [2]_, is available but off, as it lost.

References
----------
.. [1] Cormack GV, Grossman MR (2014). Evaluation of machine-learning protocols for
   technology-assisted review in electronic discovery. SIGIR '14, 153-162.
   doi:10.1145/2600428.2609601
.. [2] Cormack GV, Grossman MR (2015). Autonomy and reliability of continuous active
   learning for technology-assisted review. arXiv:1504.06868
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import (
    ENGLISH_STOP_WORDS,
    HashingVectorizer,
    TfidfVectorizer,
    strip_accents_unicode,
)
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from .errors import PrioritisationError

RecordId = Hashable

__all__ = [
    "DEFAULT_MODEL",
    "MODEL_NAMES",
    "CompactFeatures",
    "Corpus",
    "RankedRecord",
    "Ranker",
    "Ranking",
    "TITLE_REPEATS",
    "USE_KEYWORDS",
    "VectoriserSettings",
    "corpus_cache_budget",
    "corpus_cache_clear",
    "corpus_cache_info",
    "rank_records",
    "record_text",
]


# --------------------------------------------------------------------------------------
# Text and features
# --------------------------------------------------------------------------------------


def record_text(
    title: Any = "", abstract: Any = "", keywords: Any = "", *, title_repeats: int = 1
) -> str:
    """Join a record's title, abstract and keywords into the text to rank.

    Missing values (``None``, NaN) become empty strings; keywords may be a string or a list.
    ``title_repeats`` > 1 writes the title that many times, which doubles (or more) the
    term frequency of its words: a title says in a few words what the record is about,
    where an abstract also tells the methods and results. The app and the simulation pass
    :data:`TITLE_REPEATS` and, when :data:`USE_KEYWORDS` says so, the keywords.
    """

    def clean(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, (list, tuple)):
            return "; ".join(clean(v) for v in value)
        return str(value)

    titles = [clean(title)] * max(1, int(title_repeats))
    return " \n".join(part for part in (*titles, clean(abstract), clean(keywords)) if part)


#: Texts tokenised, and rows of the hashed character block built, at a time (see
#: VectoriserSettings._hashed_chunks). 500 rather than 2,000 took the peak RSS of a cold
#: build at 20,000 abstracts from 678 to 579 MB at the same CPU.
CHUNK_ROWS = 500

#: Rank on title + abstract + keywords (MeSH terms, author keywords), where a record has
#: them. Chosen with :data:`TITLE_REPEATS` and the character block by leave-one-dataset-out
#: over the nine labelled sets (seeds 1-3; ``benchmarks/prioritisation_lodo.py``): mean
#: WSS@95 0.435 with keywords against 0.429 without (ASReview 0.392); they helped most on
#: estrogens (0.483 vs 0.430) and urinary incontinence, and cost on proton pump inhibitors
#: (0.420 vs 0.475).
USE_KEYWORDS = True

#: Times the title is written into the text to rank (see :func:`record_text`). Two raised
#: mean WSS@95 from 0.392 to 0.406 on word features alone (lower on no set by more than
#: 0.001) and from 0.423 to 0.429 with the character block (there it cost atypical
#: antipsychotics 0.05 and gained on seven sets).
TITLE_REPEATS = 2


@dataclass(frozen=True)
class VectoriserSettings:
    """Feature settings, fixed per review.

    Word block: TF-IDF of word uni- and bigrams with sublinear term frequency
    (1 + log tf), terms in more than ``max_df`` of the records dropped; no stop-word list
    (bigrams such as "of the" are cheap, and a list drops words that matter in some
    fields, e.g. "all" in "ALL" leukaemia). These are ASReview's defaults (``elas_u4``).
    Built from integer token ids with numpy (:meth:`word_block`): the same matrix as
    scikit-learn's vectoriser (:meth:`tfidf`) but for the order of the columns.

    Character block (``char_weight`` > 0): TF-IDF of character 3- and 4-grams
    (``char_ngram``) inside word boundaries, seen in at least ``char_min_df`` and at most ``char_max_df`` of the
    records, scaled by ``char_weight``. Word forms that the word block keeps apart share
    most of their character n-grams ("antihistamine", "antihistaminic",
    "H1-antihistamines"; "randomised"/"randomized"), so what is learnt from one include
    carries over to records that say the same in other forms, which finds the last, hard
    includes earlier.

    Its cost (issue 24): the block held 85 % of the features' entries and a vocabulary
    of millions of n-grams (at 20,000 abstracts 79 s CPU, 2.2 GB peak, 609 MB of
    features). By default it is now built from the records' distinct words and hashed
    into ``2**char_hash_bits`` columns (see :meth:`char_block`; no vocabulary, the same
    counts but for n-grams whose hashes collide) and the matrices are float32. Dropping
    the common n-grams (``char_max_df`` 0.2 halves the entries) lost mean WSS@95 0.018
    in leave-one-dataset-out runs over the nine labelled sets (0.12 on urinary
    incontinence) and is not the default. 3- and 4-grams instead of 3- to 5-grams keep
    26 % fewer entries and ranked as well (mean WSS@95 0.439 against 0.434, RRF@10 0.455
    against 0.450, seeds 1-5; 4-grams alone lost 0.045 on estrogens); see the table in
    ``benchmarks/ranking_refit_bench.py``. ``char_hash_bits=0`` and ``dtype="float64"``
    give the former vocabulary block, ``char_max_features`` caps that vocabulary.

    :meth:`compact` builds the same features as their term counts (what the app and the
    simulation keep, see :class:`CompactFeatures`); :meth:`transform` builds the float
    matrix, kept for the settings the compact form does not cover (a vocabulary character
    block, float64, the semantic block) and as the compact form's reference in the tests.

    Semantic block (``lsa_weight`` > 0, off by default): the first ``lsa_components``
    latent semantic analysis (truncated SVD) dimensions of the word TF-IDF matrix [3]_,
    row-normalised and scaled by ``lsa_weight``.

    The blocks are joined side by side and each row is L2-normalised again.

    References
    ----------
    .. [3] Deerwester S, Dumais ST, Furnas GW, Landauer TK, Harshman R (1990). Indexing
       by latent semantic analysis. JASIS 41(6):391-407.
    """

    ngram_max: int = 2
    min_df: int = 1
    max_df: float = 0.95
    sublinear_tf: bool = True
    stop_words: str | None = None
    char_weight: float = 1.0
    char_ngram: tuple[int, int] = (3, 4)
    char_min_df: int = 2
    char_max_df: float = 0.95
    char_hash_bits: int = 20
    char_max_features: int | None = None
    dtype: str = "float32"
    lsa_components: int = 100
    lsa_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "float64"):
            raise PrioritisationError(f"dtype must be float32 or float64, got {self.dtype!r}.")
        if not 0 <= self.char_hash_bits <= 26:
            raise PrioritisationError(
                f"char_hash_bits must be 0 (a vocabulary) or 1-26, got {self.char_hash_bits}."
            )
        if self.char_hash_bits and self.char_max_features is not None:
            raise PrioritisationError(
                "char_max_features caps a vocabulary; hashed columns are capped by char_hash_bits."
            )
        if self.ngram_max not in (1, 2):
            raise PrioritisationError(f"ngram_max must be 1 or 2, got {self.ngram_max}.")
        if self.stop_words not in (None, "english"):
            raise PrioritisationError(
                f"stop_words must be None or 'english', got {self.stop_words!r}."
            )
        lo, hi = self.char_ngram
        if not 1 <= lo <= hi:
            raise PrioritisationError(
                f"char_ngram must be (low, high), 1 <= low <= high, got {self.char_ngram}."
            )

    @property
    def _dtype(self) -> type:
        return np.float32 if self.dtype == "float32" else np.float64

    def tfidf(self, n_docs: int) -> TfidfVectorizer:
        """scikit-learn's word vectoriser with these settings: what :meth:`word_block`
        computes (but for the order of the columns), kept as its reference in the tests."""
        # On a tiny corpus (tests, a pilot review) min_df=2 could leave no vocabulary.
        min_df = self.min_df if n_docs >= 20 else 1
        max_df = self.max_df if n_docs >= 20 else 1.0
        return TfidfVectorizer(
            ngram_range=(1, self.ngram_max),
            min_df=min_df,
            max_df=max_df,
            sublinear_tf=self.sublinear_tf,
            stop_words=self.stop_words,
            strip_accents="unicode",
            dtype=self._dtype,
        )

    def char_tfidf(self, n_docs: int) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngram,
            min_df=self.char_min_df if n_docs >= 20 else 1,
            max_df=self.char_max_df if n_docs >= 20 else 1.0,
            max_features=self.char_max_features,
            sublinear_tf=True,
            strip_accents="unicode",
            dtype=self._dtype,
        )

    def char_block(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Character n-gram TF-IDF of the texts (rows L2-normalised).

        With ``char_hash_bits`` = 0, scikit-learn's ``char_wb`` vectoriser and its
        vocabulary. Otherwise the same counts are built from the texts' *distinct words*:
        ``char_wb`` takes the n-grams of each whitespace-separated word (padded with a
        space each side) and adds them up, so the counts of a text are its word counts
        times the n-gram counts of each word. The n-grams of the (tens of thousands of)
        distinct words are hashed into ``2**char_hash_bits`` columns once, instead of
        cutting millions of n-grams out of every text and keeping a vocabulary of them,
        which is what took the time and memory of the feature build. Columns seen in
        fewer than ``char_min_df`` or more than ``char_max_df`` of the texts are then
        dropped as the vocabulary would drop those n-grams; what differs from the
        vocabulary is only that n-grams whose hashes collide share a column.

        Raises ``ValueError`` when no column is left.
        """
        if not self.char_hash_bits:
            return self.char_tfidf(len(texts)).fit_transform(texts).tocsr()
        tokens = _Tokens.of(texts)
        return sp.vstack([chunk for _, chunk in self._hashed_chunks(tokens)[1]], format="csr")

    def word_block(self, texts: Sequence[str] | _Tokens) -> sp.csr_matrix:
        """Word uni(+bi)gram TF-IDF of the texts, rows L2-normalised.

        The same matrix as scikit-learn's :meth:`tfidf` vectoriser (same tokens, counts,
        ``min_df``/``max_df`` pruning, sublinear tf, smooth idf) but for the order of the
        columns, built from integer token ids with numpy instead of cutting each text's
        n-grams into Python strings and keeping a dictionary of them (at 20,000 abstracts
        that took 10 of the 23 s of the feature build). A bigram is the pair of
        consecutive token ids of a text; the distinct pairs are numbered after the words.

        Raises ``ValueError`` when the texts have no word, or every term is pruned.
        """
        return self._word_block(texts)[0]

    def _word_block(
        self, texts: Sequence[str] | _Tokens, *, names: bool = False
    ) -> tuple[sp.csr_matrix, list[str]]:
        """(:meth:`word_block`, the term of each of its columns when ``names``, else [])."""
        tokens = texts if isinstance(texts, _Tokens) else _Tokens.of(texts)
        counts, idf, terms = self._word_counts(tokens, names=names)
        return _tfidf(counts, idf), terms

    def _word_counts(
        self, tokens: _Tokens, *, names: bool = False
    ) -> tuple[sp.csr_matrix, np.ndarray, list[str]]:
        """(term counts of the word block's kept columns, their idf, the term of each
        column when ``names``, else []): what :meth:`word_block` weighs."""
        n_docs = tokens.n_docs
        ids, ptr = tokens.word_ids, tokens.word_ptr
        n_words = len(tokens.word_names)
        if self.stop_words is not None:
            stop = np.fromiter(
                (w in ENGLISH_STOP_WORDS for w in tokens.word_names), dtype=bool, count=n_words
            )
            kept = ~stop[ids]
            ids = ids[kept]
            ptr = np.concatenate([[0], np.cumsum(kept)])[ptr]
        if not len(ids):
            raise ValueError("empty vocabulary")
        lengths = np.diff(ptr)
        # Each token's unigram followed by the bigram it starts (none at a text's last
        # token, marked -1): the entries come out grouped by text, in CSR order as built.
        slots = np.full((len(ids), 2), -1, dtype=np.int32)
        slots[:, 0] = ids
        pairs = np.zeros(0, dtype=np.int64)
        if self.ngram_max >= 2 and len(ids) > 1:
            last = ptr[1:][lengths > 0] - 1  # each non-empty text's last token
            n_starts = len(ids) - 1  # tokens that may start a pair

            def pair_keys(lo: int, hi: int) -> np.ndarray:
                """(id, next id) of the tokens lo..hi-1 as one integer each."""
                keys = ids[lo:hi].astype(np.int64)
                keys *= n_words
                keys += ids[lo + 1 : hi + 1]
                return keys

            # The distinct pairs in sorted order (a sort is far faster than np.unique's
            # hash table on millions of keys); a text's last token starts no pair (its key
            # set to the largest, and left out). Sorted in place, numbered by searching:
            # an argsort and its permuted copy took 100 MB more at 20,000 abstracts.
            keys = pair_keys(0, n_starts)
            no_pair = np.iinfo(np.int64).max
            keys[last[last < n_starts]] = no_pair
            keys.sort()
            new = np.empty(len(keys), dtype=bool)
            new[:1] = True
            np.not_equal(keys[1:], keys[:-1], out=new[1:])
            new &= keys != no_pair
            pairs = keys[new]
            del keys, new
            # Each pair's column: its place among the distinct pairs, after the words; a
            # chunk of tokens at a time (searchsorted's int64 output is the largest array).
            step = CHUNK_ROWS * 2048
            for lo in range(0, n_starts, step):
                hi = min(lo + step, n_starts)
                found = np.searchsorted(pairs, pair_keys(lo, hi))
                found += n_words
                slots[lo:hi, 1] = found
            del found
            slots[last, 1] = -1
            per_text = np.where(lengths > 0, 2 * lengths - 1, 0)
        else:
            per_text = lengths
        n_cols = n_words + len(pairs)

        def terms(columns: np.ndarray) -> list[str]:
            names = tokens.word_names
            return [
                names[c]
                if c < n_words
                else " ".join(map(names.__getitem__, divmod(int(pairs[c - n_words]), n_words)))
                for c in columns.tolist()
            ]

        column = slots.ravel()
        column = column[column >= 0]
        del slots
        indptr = np.zeros(n_docs + 1, dtype=np.int64 if len(column) >= 2**31 else np.int32)
        np.cumsum(per_text, out=indptr[1:])
        matrix = sp.csr_matrix(
            (np.ones(len(column), dtype=self._dtype), column, indptr), shape=(n_docs, n_cols)
        )
        del column
        # A term said twice in a text: one entry of 2 (and each row's columns sorted).
        matrix.sum_duplicates()
        df = np.bincount(matrix.indices, minlength=n_cols)
        min_df = self.min_df if n_docs >= 20 else 1
        max_df = self.max_df if n_docs >= 20 else 1.0
        keep = (df >= min_df) & (df <= max_df * n_docs) & (df > 0)
        if not keep.any():
            raise ValueError("After pruning, no terms remain.")
        new_column = np.full(n_cols, -1, dtype=np.int32 if n_cols < 2**31 else np.int64)
        new_column[keep] = np.arange(int(keep.sum()))
        idf = _smooth_idf(df[keep], n_docs, self._dtype)
        counts = _prune(matrix, new_column[matrix.indices], int(keep.sum()))
        return counts, idf, terms(np.flatnonzero(keep)) if names else []

    def _hashed_chunks(self, tokens: _Tokens) -> tuple[int, Iterator[tuple[int, sp.csr_matrix]]]:
        """(entries before pruning, iterator of (first row, TF-IDF rows)) of the hashed
        character block, :data:`CHUNK_ROWS` rows at a time (see :meth:`_hashed_counts`)."""
        bound, idf, chunks = self._hashed_counts(tokens)
        return bound, ((start, _tfidf(counts, idf)) for start, counts in chunks)

    def _hashed_counts(
        self, tokens: _Tokens
    ) -> tuple[int, np.ndarray, Iterator[tuple[int, sp.csr_matrix]]]:
        """(entries before pruning, idf of the kept columns, iterator of (first row, term
        counts of the kept columns)) of the hashed character block, :data:`CHUNK_ROWS`
        rows at a time.

        Two passes over the products of word counts and word n-grams, one chunk of rows at
        a time: the first (run here) counts each column's documents, the second (the
        iterator) keeps the columns within ``char_min_df``/``char_max_df`` and weighs them.
        Only a chunk of the unpruned counts is ever in memory (at 20,000 abstracts the
        whole would be 300 MB); the count of entries bounds the block's size.
        """
        n_docs = tokens.n_docs
        counts_by_word, vocabulary = tokens.piece_counts(self._dtype), tokens.piece_names
        if not vocabulary:
            raise ValueError("no words")
        ngrams_by_word = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=self.char_ngram,
            n_features=2**self.char_hash_bits,
            alternate_sign=False,
            norm=None,
            lowercase=False,
            dtype=self._dtype,
        ).transform(vocabulary)
        n_cols = ngrams_by_word.shape[1]
        starts = range(0, n_docs, CHUNK_ROWS)

        def counts(start: int) -> sp.csr_matrix:
            return (counts_by_word[start : start + CHUNK_ROWS] @ ngrams_by_word).tocsr()

        # Pass 1: document frequency of each column (a text's columns are distinct).
        dense = n_cols <= 2**22
        bound = 0
        if dense:
            df = np.zeros(n_cols, dtype=np.int64)
            for start in starts:
                indices = counts(start).indices
                bound += len(indices)
                df += np.bincount(indices, minlength=n_cols)
            del indices
            used = np.arange(n_cols)
        else:  # few texts in very many columns (tests): count the columns in use only
            parts = [np.unique(counts(start).indices, return_counts=True) for start in starts]
            bound = int(sum(c.sum() for _, c in parts))
            used, inverse = np.unique(np.concatenate([u for u, _ in parts]), return_inverse=True)
            df = np.bincount(inverse, weights=np.concatenate([c for _, c in parts]))
        min_df = self.char_min_df if n_docs >= 20 else 1
        max_df = self.char_max_df if n_docs >= 20 else 1.0
        keep = (df >= min_df) & (df <= max_df * n_docs)
        kept = used[keep]
        if not len(kept):
            raise ValueError("every character n-gram pruned")
        idf = _smooth_idf(df[keep], n_docs, self._dtype)
        if dense:
            new_column = np.full(n_cols, -1, dtype=np.int64)
            new_column[kept] = np.arange(len(kept))
        del df, used, keep

        def rows() -> Iterator[tuple[int, sp.csr_matrix]]:
            # Pass 2: keep the columns within the document frequencies, renumbered.
            for start in starts:
                chunk = counts(start)
                if dense:
                    column = new_column[chunk.indices]
                else:
                    position = np.minimum(np.searchsorted(kept, chunk.indices), len(kept) - 1)
                    column = np.where(kept[position] == chunk.indices, position, -1)
                yield start, _prune(chunk, column, len(kept))

        return bound, idf, rows()

    def transform(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, int]:
        """(joint feature matrix, number of word TF-IDF columns), one row per text.

        The word block is the joint matrix's first columns (see :attr:`Corpus.lexical`).
        """
        # One pass of tokenising for both blocks (the word block's tokens are cut from the
        # character block's whitespace-separated pieces).
        tokens = _Tokens.of(texts)
        try:
            lexical = self.word_block(tokens)
        except ValueError:
            # Every text empty (or stop words only): no features, every record scores alike.
            return sp.csr_matrix((len(texts), 1), dtype=self._dtype), 1
        if self.char_weight > 0 and self.char_hash_bits and self.lsa_weight <= 0:
            try:
                return self._joint_by_chunks(tokens, lexical), lexical.shape[1]
            except ValueError:
                lexical.sort_indices()  # every character n-gram pruned: words alone
                return lexical, lexical.shape[1]
        blocks = [lexical]
        if self.char_weight > 0:
            try:
                chars = (
                    sp.vstack([c for _, c in self._hashed_chunks(tokens)[1]], format="csr")
                    if self.char_hash_bits
                    else self.char_block(texts)
                )
            except ValueError:
                # Every character n-gram pruned: in more than max_df of the records (texts
                # written from a few words) or in fewer than char_min_df. Words alone then.
                pass
            else:
                chars.data *= self.char_weight
                blocks.append(chars)
        k = min(self.lsa_components, lexical.shape[0] - 1, lexical.shape[1] - 1)
        if self.lsa_weight > 0 and k >= 2:
            # The randomized SVD is the tuned default; an exact top-k SVD moved results
            # more than it saved time, and it is only paid once per corpus.
            svd = TruncatedSVD(n_components=k, algorithm="randomized", random_state=0)
            # One BLAS thread: the SVD's small dense factorisations gain nothing from
            # threads, and on a shared (busy) machine OpenBLAS threads spin-wait, which
            # made this step 3-8 times slower. Single-threaded sums are also the same on
            # every machine, whatever its core count.
            with threadpool_limits(limits=1, user_api="blas"):
                semantic = normalize(svd.fit_transform(lexical)) * self.lsa_weight
            blocks.append(sp.csr_matrix(semantic, dtype=self._dtype))
        n_lexical = lexical.shape[1]
        if len(blocks) == 1:
            lexical.sort_indices()
            return lexical, n_lexical
        # Built once per corpus as one CSR matrix, so that a refit only slices rows.
        joint = sp.hstack(blocks, format="csr", dtype=self._dtype)
        del blocks, lexical
        joint = normalize(joint, copy=False)
        # Sorted once here: liblinear needs sorted rows, and scikit-learn sorted a copy of
        # the training rows on every refit (15 % of a simulation's CPU).
        joint.sort_indices()
        return joint, n_lexical

    def _joint_by_chunks(self, tokens: _Tokens, lexical: sp.csr_matrix) -> sp.csr_matrix:
        """Word and hashed character blocks side by side, rows L2-normalised, built a chunk
        of rows at a time into arrays of the final size (the peak memory is about the
        final matrix, not two or three copies of it).

        The arrays are allocated for the character block's entries before pruning (a few
        per cent more than it keeps) and shrunk in place at the end.
        """
        bound, chunks = self._hashed_chunks(tokens)
        bound += lexical.nnz
        data = np.empty(bound, dtype=self._dtype)
        indices = np.empty(bound, dtype=np.int32)
        indptr = np.empty(tokens.n_docs + 1, dtype=np.int64 if bound >= 2**31 else np.int32)
        indptr[0] = 0
        at, n_cols = 0, lexical.shape[1]
        for start, chars in chunks:
            chars.data *= self.char_weight
            rows = sp.hstack(
                [lexical[start : start + chars.shape[0]], chars], format="csr", dtype=self._dtype
            )
            del chars
            rows = normalize(rows, copy=False)
            # Sorted once here: liblinear needs sorted rows, and scikit-learn sorted a copy
            # of the training rows on every refit (15 % of a simulation's CPU).
            rows.sort_indices()
            data[at : at + rows.nnz] = rows.data
            indices[at : at + rows.nnz] = rows.indices
            indptr[start + 1 : start + rows.shape[0] + 1] = rows.indptr[1:] + at
            at += rows.nnz
            n_cols = rows.shape[1]
            del rows
        # In place (realloc): a copy would hold both sizes at once.
        data.resize(at, refcheck=False)
        indices.resize(at, refcheck=False)
        joint = sp.csr_matrix((data, indices, indptr), shape=(tokens.n_docs, n_cols))
        joint.has_sorted_indices = True
        return joint

    @property
    def compactable(self) -> bool:
        """Whether :meth:`compact` covers these settings (float32, no semantic block, a
        hashed character block or none)."""
        return (
            self.dtype == "float32"
            and self.lsa_weight <= 0
            and (self.char_weight <= 0 or self.char_hash_bits > 0)
        )

    def features(self, texts: Sequence[str]) -> tuple[CompactFeatures | sp.csr_matrix, int]:
        """(the features to keep, number of word columns): :meth:`compact` where it covers
        the settings, else the float matrix of :meth:`transform`."""
        if self.compactable:
            compact = self.compact(texts)
            return compact, compact.n_lexical
        return self.transform(texts)

    def compact(self, texts: Sequence[str]) -> CompactFeatures:
        """The features of :meth:`transform` as term counts (see :class:`CompactFeatures`),
        built a chunk of rows at a time without a float matrix of them all.

        The same columns, entries and order as :meth:`transform`; the values it computes
        back agree with that matrix's to float32 rounding.
        """
        if not self.compactable:
            raise PrioritisationError(f"No compact form for {self!r}.")
        tokens = _Tokens.of(texts)
        n_docs = tokens.n_docs
        try:
            words, word_idf, _ = self._word_counts(tokens)
        except ValueError:
            # Every text empty (or stop words only): no features, every record scores alike.
            return CompactFeatures.empty(n_docs)
        n_lexical = words.shape[1]
        norms = np.zeros((n_docs, 2))
        norms[:, 0] = _row_norms(words, word_idf)
        chunks = None
        if self.char_weight > 0:
            with contextlib.suppress(ValueError):  # every character n-gram pruned: words alone
                bound, char_idf, chunks = self._hashed_counts(tokens)
        del tokens
        if chunks is None:
            return CompactFeatures(
                counts=_narrow_counts(words.data),
                indices=words.indices,
                indptr=words.indptr,
                idf=word_idf,
                norms=norms,
                char_starts=words.indptr[1:].copy(),
                n_lexical=n_lexical,
                char_weight=0.0,
            )
        # Arrays of the final size, filled a chunk of rows at a time (allocated for the
        # character entries before pruning, a few per cent more than kept; shrunk at the end).
        bound += words.nnz
        # uint8, with the few counts above 255 (if any) kept aside and widened at the end:
        # a uint16 array and its uint8 copy would take three times the counts' bytes.
        counts = np.empty(bound, dtype=np.uint8)
        large: list[tuple[np.ndarray, np.ndarray]] = []
        indices = np.empty(bound, dtype=np.int32)
        indptr = np.empty(n_docs + 1, dtype=np.int64 if bound >= 2**31 else np.int32)
        indptr[0] = 0
        char_starts = np.empty(n_docs, dtype=indptr.dtype)
        at = 0
        for start, chars in chunks:
            stop = start + chars.shape[0]
            norms[start:stop, 1] = _row_norms(chars, char_idf)
            # Word entries then character entries, each in column order (as transform's
            # sorted rows): the word block's rows are sorted, a product's are not.
            chars.sort_indices()
            word_rows = words[start:stop]
            n_word = np.diff(word_rows.indptr)
            n_char = np.diff(chars.indptr)
            row_at = at + word_rows.indptr[:-1] + chars.indptr[:-1]
            # Each entry's place in the joint arrays: its row's start, then its rank in
            # the row (word entries first).
            word_place = np.repeat(row_at - word_rows.indptr[:-1], n_word) + np.arange(
                word_rows.nnz
            )
            char_place = np.repeat(row_at + n_word - chars.indptr[:-1], n_char) + np.arange(
                chars.nnz
            )
            for place, values in ((word_place, word_rows.data), (char_place, chars.data)):
                counts[place] = np.minimum(values, 255)
                if values.max(initial=0) > 255:
                    wide = values > 255
                    large.append((place[wide], values[wide]))
            indices[word_place] = word_rows.indices
            indices[char_place] = chars.indices + n_lexical
            indptr[start + 1 : stop + 1] = at + np.cumsum(n_word + n_char)
            char_starts[start:stop] = row_at + n_word
            at += word_rows.nnz + chars.nnz
            del chars, word_rows, word_place, char_place
        del words
        counts.resize(at, refcheck=False)  # in place (realloc): a copy would hold both
        indices.resize(at, refcheck=False)
        if large:
            counts = counts.astype(np.uint16)
            for place, values in large:
                # Beyond 65,535 a count is kept as 65,535 (tf 12.09 instead of a little more).
                counts[place] = np.minimum(values, 65535)
        return CompactFeatures(
            counts=counts,
            indices=indices,
            indptr=indptr,
            idf=np.concatenate([word_idf, char_idf]),
            norms=norms,
            char_starts=char_starts,
            n_lexical=n_lexical,
            char_weight=self.char_weight,
        )


#: scikit-learn's default ``token_pattern``: words of two or more letters or digits.
_WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _preprocess(text: str) -> str:
    """Lower case, accents stripped: scikit-learn's preprocessing of both vectorisers."""
    return strip_accents_unicode(text.lower())


@dataclass(frozen=True, eq=False)
class _Tokens:
    """One tokenising pass over the texts, shared by the word and character blocks.

    ``pieces`` are the whitespace-separated pieces of the preprocessed texts (what
    ``char_wb`` cuts its n-grams from), as ids into ``piece_names``; ``word_ids`` are the
    word tokens (``token_pattern``), as ids into ``word_names``. The word tokens of a text
    are those of its pieces in turn (a token never spans whitespace), so they are cut from
    the distinct pieces only, not from every text. ``*_ptr[i]:*_ptr[i + 1]`` are text
    ``i``'s. Ids are numbered in sorted order of the names within each chunk of texts, so
    that they do not depend on the process's string hashing.
    """

    n_docs: int
    pieces: np.ndarray
    piece_ptr: np.ndarray
    piece_names: list[str]
    word_ids: np.ndarray
    word_ptr: np.ndarray
    word_names: list[str]

    @classmethod
    def of(cls, texts: Sequence[str]) -> _Tokens:
        n_docs = len(texts)
        number: dict[str, int] = {}
        get = number.get
        parts: list[np.ndarray] = []
        lengths = np.zeros(n_docs, dtype=np.int64)
        # A chunk of texts at a time: only a chunk's piece strings are held at once.
        for start in range(0, n_docs, CHUNK_ROWS):
            chunk: list[str] = []
            for i, text in enumerate(texts[start : start + CHUNK_ROWS], start):
                split = _preprocess(text).split()
                lengths[i] = len(split)
                chunk += split
            for piece in sorted(set(chunk).difference(number)):
                number[piece] = len(number)
            parts.append(np.fromiter(map(get, chunk), dtype=np.int32, count=len(chunk)))
            del chunk
        pieces = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        del parts
        piece_ptr = np.concatenate([[0], np.cumsum(lengths)])
        piece_names = list(number)
        del number

        # Word tokens of each distinct piece, as a ragged array.
        found = [_WORD_TOKEN.findall(piece) for piece in piece_names]
        word_names = sorted({word for words in found for word in words})
        word_number = {word: i for i, word in enumerate(word_names)}
        per_piece = np.fromiter(map(len, found), dtype=np.int32, count=len(found))
        flat = np.fromiter(
            (word_number[w] for words in found for w in words),
            dtype=np.int32,
            count=int(per_piece.sum()),
        )
        del found, word_number
        first = np.concatenate([[0], np.cumsum(per_piece)])
        # Each text's pieces expanded into their word tokens in order, a chunk of pieces at
        # a time (the index arrays of all of them at once took 250 MB at 20,000 abstracts).
        counts = per_piece[pieces]  # int32, and so their running sum when it fits
        total = int(per_piece.sum(dtype=np.int64)) if len(per_piece) else 0
        word_ptr = np.zeros(len(pieces) + 1, dtype=np.int32 if total < 2**31 else np.int64)
        np.cumsum(counts, out=word_ptr[1:])
        word_ptr = word_ptr[piece_ptr].astype(np.int64)
        step = CHUNK_ROWS * 256
        parts = []
        for start in range(0, len(pieces), step):
            chunk, n = pieces[start : start + step], counts[start : start + step]
            ends = np.cumsum(n)
            offset = np.arange(int(ends[-1]), dtype=np.int64) - np.repeat(ends - n, n)
            parts.append(flat[np.repeat(first[:-1][chunk], n) + offset])
        word_ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return cls(n_docs, pieces, piece_ptr, piece_names, word_ids, word_ptr, word_names)

    def piece_counts(self, dtype: type) -> sp.csr_matrix:
        """Texts x distinct pieces: how often each text says each piece."""
        indptr = self.piece_ptr
        if len(self.pieces) < 2**31:
            indptr = indptr.astype(np.int32)  # int32 throughout, as scipy would otherwise widen
        counts = sp.csr_matrix(
            (np.ones(len(self.pieces), dtype=dtype), self.pieces, indptr),
            shape=(self.n_docs, max(len(self.piece_names), 1)),
        )
        counts.sum_duplicates()  # a piece said twice in a text: one entry of 2
        return counts


def _smooth_idf(df: np.ndarray, n_docs: int, dtype: type) -> np.ndarray:
    """TfidfTransformer's smooth idf: ln((1 + n) / (1 + df)) + 1."""
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(dtype)


def _prune(counts: sp.csr_matrix, column: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """The counts of the kept columns: ``column`` gives each entry's new column (a kept
    term, renumbered in the same order), or -1 to drop it."""
    mask = column >= 0
    cumulative = np.zeros(len(mask) + 1, dtype=np.int64 if len(mask) >= 2**31 else np.int32)
    np.cumsum(mask, out=cumulative[1:])
    indptr = cumulative[counts.indptr]
    return sp.csr_matrix(
        (counts.data[mask], column[mask].astype(np.int32, copy=False), indptr),
        shape=(counts.shape[0], n_cols),
    )


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Counts (float, overwritten) -> (1 + ln tf) x idf, rows L2-normalised."""
    tf = counts.data
    np.log(tf, out=tf)
    tf += 1
    tf *= idf[counts.indices]
    return normalize(counts, copy=False)


def _row_norms(counts: sp.csr_matrix, idf: np.ndarray) -> np.ndarray:
    """L2 norm of each row's (1 + ln tf) x idf (0 for an empty row), in float64; a chunk
    of rows at a time (float64 arrays of all the entries would be the largest in a build)."""
    n_rows = counts.shape[0]
    norms = np.empty(n_rows)
    for start in range(0, n_rows, CHUNK_ROWS):
        chunk = counts[start : start + CHUNK_ROWS]
        weighed = 1.0 + np.log(chunk.data.astype(np.float64))
        weighed *= idf[chunk.indices]
        weighed *= weighed
        rows = np.repeat(np.arange(chunk.shape[0]), np.diff(chunk.indptr))
        norms[start : start + chunk.shape[0]] = np.bincount(
            rows, weights=weighed, minlength=chunk.shape[0]
        )
    return np.sqrt(norms)


def _narrow_counts(counts: np.ndarray) -> np.ndarray:
    """Counts as uint8 when every one fits (most texts), else uint16 (larger capped)."""
    if not len(counts) or counts.max() <= 255:
        return counts.astype(np.uint8)
    return counts if counts.dtype == np.uint16 else np.minimum(counts, 65535).astype(np.uint16)


#: Rows decoded at a time when every row is scored (:meth:`CompactFeatures.dot`).
SCORE_ROWS = 1000


@dataclass(frozen=True, eq=False)
class CompactFeatures:
    """The joint TF-IDF features kept as term counts: 5 bytes an entry instead of 8.

    The features are a function of the counts: entry (i, j) is (1 + ln count) x
    ``idf[j]`` divided by the L2 norm of row i's block (the word block, columns below
    ``n_lexical``, or the character block), the character block times ``char_weight``,
    and the row divided again by its joint norm. So the counts (uint8, or uint16 where a
    count exceeds 255), their columns, the idf of each column and the two norms of each
    row are kept, and the float values are computed back for the rows a fit needs
    (:meth:`rows`) or a chunk of rows at a time when every row is scored (:meth:`dot`):
    the float32 matrix of all rows (8 bytes an entry) never exists. At 20,000 abstracts
    that is 137 MB of features instead of 219 MB.
    """

    counts: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    idf: np.ndarray
    norms: np.ndarray = field(repr=False)  # (rows, 2): word and character block norms
    char_starts: np.ndarray = field(repr=False)  # where each row's character entries start
    n_lexical: int
    char_weight: float

    @classmethod
    def empty(cls, n_docs: int) -> CompactFeatures:
        """No features (no words in any text): one empty column."""
        return cls(
            counts=np.zeros(0, dtype=np.uint8),
            indices=np.zeros(0, dtype=np.int32),
            indptr=np.zeros(n_docs + 1, dtype=np.int32),
            idf=np.ones(1, dtype=np.float32),
            norms=np.zeros((n_docs, 2)),
            char_starts=np.zeros(n_docs, dtype=np.int32),
            n_lexical=1,
            char_weight=0.0,
        )

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, len(self.idf)

    @property
    def nnz(self) -> int:
        return len(self.counts)

    @property
    def nbytes(self) -> int:
        arrays = (self.counts, self.indices, self.indptr, self.idf, self.norms, self.char_starts)
        # The row scales and block pointer computed on the first fit (about 24 B a row).
        return sum(a.nbytes for a in arrays) + 24 * self.shape[0]

    @cached_property
    def _tf(self) -> np.ndarray:
        """1 + ln(count) for every count that can occur (float32, as the float form)."""
        top = int(self.counts.max()) if len(self.counts) else 0
        with np.errstate(divide="ignore"):
            tf = np.log(np.arange(top + 1, dtype=np.float32))
        tf += 1
        tf[0] = 0.0  # no entry holds a count of 0
        return tf

    @cached_property
    def _scales(self) -> np.ndarray:
        """(rows, 2): what each row's word and character (1 + ln tf) x idf are multiplied
        by, its block's norm and the joint norm in one (0 for an empty block)."""
        norms = self.norms
        present = norms > 0
        # Each block has norm 1 (char_weight) once normalised, so the joint norm is known.
        joint = np.sqrt(present[:, 0] + self.char_weight**2 * present[:, 1])
        scales = np.zeros_like(norms)
        weight = np.array([1.0, self.char_weight])
        np.divide(weight, norms * joint[:, None], out=scales, where=present)
        return scales

    @cached_property
    def _counts(self) -> sp.csr_matrix:
        """The counts as a sparse matrix (the same arrays, not a copy)."""
        return sp.csr_matrix((self.counts, self.indices, self.indptr), shape=self.shape, copy=False)

    def rows(self, rows: np.ndarray, *, lexical: bool = False) -> sp.csr_matrix:
        """The float32 feature rows ``rows`` (sorted columns); ``lexical``: the word block
        alone, rows L2-normalised (what naive Bayes needs)."""
        rows = np.asarray(rows, dtype=np.intp)
        picked = self._counts[rows]
        values = np.take(self._tf, picked.data, mode="clip")
        values *= np.take(self.idf, picked.indices)
        # Entries of each picked row's word and character blocks, and each block's scale.
        lengths = np.diff(self._block_ptr).reshape(-1, 2)[rows].ravel()
        if lexical:
            norms = self.norms[rows]
            scales = np.zeros_like(norms)
            np.divide(1.0, norms[:, 0], out=scales[:, 0], where=norms[:, 0] > 0)
        else:
            scales = self._scales[rows]
        values *= np.repeat(scales.ravel().astype(np.float32), lengths)
        indices, indptr, n_cols = picked.indices, picked.indptr, self.shape[1]
        if lexical:
            kept = np.repeat(np.tile([True, False], len(rows)), lengths)
            values, indices, n_cols = values[kept], indices[kept], self.n_lexical
            indptr = np.zeros(len(rows) + 1, dtype=indptr.dtype)
            np.cumsum(lengths[0::2], out=indptr[1:])
        matrix = sp.csr_matrix((values, indices, indptr), shape=(len(rows), n_cols))
        matrix.has_sorted_indices = True
        return matrix

    def to_csr(self, *, lexical: bool = False) -> sp.csr_matrix:
        """Every row as float32 (the float form; for tests and naive Bayes)."""
        return self.rows(np.arange(self.shape[0]), lexical=lexical)

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """Features @ ``weights`` for every row, :data:`SCORE_ROWS` rows at a time.

        ``(1 + ln tf) x (idf x weights)`` summed over each row's word entries and over its
        character entries, each sum times the row's block scale, so no row's feature
        values are formed. A row's word entries come before its character entries: the
        two sums of every row are one sparse product whose "rows" are the blocks of the
        rows (the same arrays, another index pointer). In float64, a chunk at a time:
        closer to the exact scores than the float form's float32 product and within 1e-6
        of it.
        """
        weighted = self.idf.astype(np.float64) * np.asarray(weights, dtype=np.float64)
        scales, tf, blocks = self._scales, self._tf.astype(np.float64), self._block_ptr
        n_rows, n_cols = self.shape
        out = np.empty(n_rows)
        starts = range(0, n_rows, SCORE_ROWS)
        ends = self.indptr[[min(s + SCORE_ROWS, n_rows) for s in starts]] - self.indptr[starts]
        # One buffer for every chunk's values: a take into it with mode="clip" (counts are
        # in the table's range) is several times faster than fancy indexing by uint8.
        buffer = np.empty(int(ends.max()) if len(ends) else 0)
        for start in starts:
            stop = min(start + SCORE_ROWS, n_rows)
            first, last = int(self.indptr[start]), int(self.indptr[stop])
            values = buffer[: last - first]
            np.take(tf, self.counts[first:last], out=values, mode="clip")
            chunk = sp.csr_matrix(
                (
                    values,
                    self.indices[first:last],
                    blocks[2 * start : 2 * stop + 1] - first,
                ),
                shape=(2 * (stop - start), n_cols),
                copy=False,
            )
            sums = (chunk @ weighted).reshape(-1, 2)
            out[start:stop] = (sums * scales[start:stop]).sum(axis=1)
        return out

    @cached_property
    def _block_ptr(self) -> np.ndarray:
        """Each row's start, where its character entries start (after its word
        entries), ..., and the end: an index pointer whose "rows" are the blocks."""
        ptr = np.empty(2 * self.shape[0] + 1, dtype=self.indptr.dtype)
        ptr[0::2] = self.indptr
        ptr[1::2] = self.char_starts
        return ptr

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays to save (see :meth:`from_arrays`)."""
        return {
            "counts": self.counts,
            "indices": self.indices,
            "indptr": self.indptr,
            "idf": self.idf,
            "norms": self.norms,
            "char_starts": self.char_starts,
            "n_lexical": np.asarray(self.n_lexical),
            "char_weight": np.asarray(self.char_weight),
        }

    @classmethod
    def from_arrays(cls, saved: Mapping[str, np.ndarray]) -> CompactFeatures:
        return cls(
            counts=saved["counts"],
            indices=saved["indices"],
            indptr=saved["indptr"],
            idf=saved["idf"],
            norms=saved["norms"],
            char_starts=saved["char_starts"],
            n_lexical=int(saved["n_lexical"]),
            char_weight=float(saved["char_weight"]),
        )


@dataclass(frozen=True, eq=False)
class Corpus:
    """Feature matrices of one review's records; row ``i`` belongs to ``record_ids[i]``.

    ``features`` holds the joint features of :class:`VectoriserSettings` (for the linear
    models): as :class:`CompactFeatures` (the default settings), else as a float matrix.
    Their first ``n_lexical`` columns are the word TF-IDF block, from which
    :attr:`lexical` (what naive Bayes needs) is rebuilt on demand instead of keeping a
    second copy of it.
    """

    record_ids: tuple[RecordId, ...]
    features: CompactFeatures | sp.csr_matrix = field(repr=False)
    n_lexical: int
    fingerprint: str
    row_of: Mapping[RecordId, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.record_ids)

    @property
    def matrix(self) -> sp.csr_matrix:
        """Every row's float features; computed afresh from compact features (tests)."""
        if isinstance(self.features, CompactFeatures):
            return self.features.to_csr()
        return self.features

    def expanded(self) -> Corpus:
        """This corpus with every row's float features formed once.

        For a simulation, which refits hundreds of times in one process: each refit then
        scores with one float32 product instead of decoding the counts again (on ADHD
        7 instead of 14 ms a refit). The app's worker, which refits once per task from
        the cached features, keeps the compact form. Scores agree within 1e-6.
        """
        if not isinstance(self.features, CompactFeatures):
            return self
        return replace(self, features=self.features.to_csr())

    def training_rows(self, rows: np.ndarray) -> sp.csr_matrix:
        """The float feature rows of ``rows`` (what a fit trains on)."""
        if isinstance(self.features, CompactFeatures):
            return self.features.rows(rows)
        return self.features[rows]

    def decision_values(self, model: Any) -> np.ndarray:
        """A fitted linear model's decision values on every row (chunked for compact
        features: the float matrix of all rows is never formed)."""
        coef = getattr(model, "coef_", None)
        if isinstance(self.features, CompactFeatures) and coef is not None and coef.shape[0] == 1:
            return self.features.dot(coef[0]) + float(model.intercept_[0])
        return _decision_values(model, self.matrix)

    @cached_property
    def lexical(self) -> sp.csr_matrix:
        """The word TF-IDF block alone, rows L2-normalised (as the word vectoriser left them)."""
        if isinstance(self.features, CompactFeatures):
            return self.features.to_csr(lexical=True)
        if self.n_lexical == self.features.shape[1]:
            return self.features
        return normalize(self.features[:, : self.n_lexical])

    @property
    def nbytes(self) -> int:
        """Bytes the corpus holds in memory: its features and the record index (about)."""
        if isinstance(self.features, CompactFeatures):
            held = self.features.nbytes
        else:
            m = self.features
            held = m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        if "lexical" in self.__dict__ and self.lexical is not self.features:
            m = self.lexical
            held += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        # A dict entry and a boxed int per record, as the tuple and row_of hold them.
        return held + len(self.record_ids) * 150

    def save(self, path: Path) -> None:
        """Write the features to ``path`` (``.npz``); record ids must be integers.

        Written to a temporary name and renamed, so a reader never sees half a file.
        """
        arrays: dict[str, np.ndarray] = {
            "record_ids": np.asarray(self.record_ids, dtype=np.int64),
            "fingerprint": np.asarray(self.fingerprint),
            "n_lexical": np.asarray(self.n_lexical),
        }
        if isinstance(self.features, CompactFeatures):
            arrays.update({f"compact_{name}": a for name, a in self.features.arrays().items()})
        else:
            m = self.features
            arrays.update(
                matrix_data=m.data,
                matrix_indices=m.indices,
                matrix_indptr=m.indptr,
                matrix_shape=np.asarray(m.shape),
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        # Named per process and thread: the embedded task thread and a request thread of
        # one process may save the same review's features at once.
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        with partial.open("wb") as handle:
            np.savez(handle, **arrays)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> Corpus | None:
        """The corpus saved at ``path`` if it has this fingerprint, else ``None``."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                if str(saved["fingerprint"]) != fingerprint:
                    return None
                features: CompactFeatures | sp.csr_matrix
                if "compact_counts" in saved.files:
                    prefix = len("compact_")
                    features = CompactFeatures.from_arrays(
                        {k[prefix:]: saved[k] for k in saved.files if k.startswith("compact_")}
                    )
                else:
                    features = sp.csr_matrix(
                        (saved["matrix_data"], saved["matrix_indices"], saved["matrix_indptr"]),
                        shape=tuple(saved["matrix_shape"]),
                    )
                n_lexical = int(saved["n_lexical"])
                ids = tuple(saved["record_ids"].tolist())
        except (OSError, KeyError, ValueError):  # missing, partial or foreign file: rebuild
            return None
        return cls(
            record_ids=ids,
            features=features,
            n_lexical=n_lexical,
            fingerprint=fingerprint,
            row_of={rid: i for i, rid in enumerate(ids)},
        )


#: Default memory budget of a process's corpus cache, in MB (see :func:`corpus_cache_budget`).
DEFAULT_CACHE_MB = 512

_CORPUS_CACHE: OrderedDict[str, Corpus] = OrderedDict()
_CORPUS_CACHE_BUDGET = [DEFAULT_CACHE_MB * 2**20]  # bytes; a list so the lock guards it
_CORPUS_LOCK = threading.Lock()


def corpus_cache_clear() -> None:
    """Forget every cached corpus, so that the next :meth:`Ranker.vectorise` starts afresh.

    The simulation and its benchmark call it before each run so that a run's time includes
    building the features, as a real review's first fit does.
    """
    with _CORPUS_LOCK:
        _CORPUS_CACHE.clear()


def corpus_cache_budget(megabytes: float | None = None) -> int:
    """Set (when given) and return the corpus cache's budget in bytes.

    The cache keeps the most recently used corpora while their :attr:`Corpus.nbytes` add
    up to no more than the budget, and forgets the least recently used first; a corpus
    larger than the whole budget is not kept (its review's refits load it from its file).
    0 keeps nothing in memory.
    """
    with _CORPUS_LOCK:
        if megabytes is not None:
            if megabytes < 0:
                raise PrioritisationError(f"The cache budget must be >= 0 MB, got {megabytes}.")
            _CORPUS_CACHE_BUDGET[0] = int(megabytes * 2**20)
            _cache_evict()
        return _CORPUS_CACHE_BUDGET[0]


def corpus_cache_info() -> tuple[int, int, int]:
    """(corpora held, bytes held, budget in bytes) of this process's corpus cache."""
    with _CORPUS_LOCK:
        held = sum(corpus.nbytes for corpus in _CORPUS_CACHE.values())
        return len(_CORPUS_CACHE), held, _CORPUS_CACHE_BUDGET[0]


def _cache_evict() -> None:
    # Called with the lock held. Least recently used first, until within the budget. The
    # sizes are summed afresh (a handful of entries): a corpus grows when naive Bayes
    # first asks for its word block.
    held = sum(corpus.nbytes for corpus in _CORPUS_CACHE.values())
    while _CORPUS_CACHE and held > _CORPUS_CACHE_BUDGET[0]:
        _, corpus = _CORPUS_CACHE.popitem(last=False)
        held -= corpus.nbytes


def _cache_put(key: str, corpus: Corpus) -> None:
    with _CORPUS_LOCK:
        if corpus.nbytes > _CORPUS_CACHE_BUDGET[0]:
            return
        _CORPUS_CACHE[key] = corpus
        _CORPUS_CACHE.move_to_end(key)
        _cache_evict()


def _fingerprint(texts_by_id: Mapping[RecordId, str], settings: VectoriserSettings) -> str:
    digest = hashlib.blake2b(repr(settings).encode(), digest_size=20)
    for record_id, text in texts_by_id.items():
        digest.update(repr(record_id).encode())
        digest.update(b"\x00")
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x01")
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Classifiers
# --------------------------------------------------------------------------------------


# liblinear visits the samples in a random order: a fixed random_state makes fits repeatable.
# Dual coordinate descent suits far fewer labelled records than features: the primal
# (dual=False) solver took 65-150 ms per fit on the ADHD set against 2-16 ms.
# C = 0.11 (squared hinge) is ASReview's default, tuned on the 26 SYNERGY sets; with
# sample weights whose mean is 1 (see _balanced_weights) it regularises alike.
def _svm() -> LinearSVC:
    return LinearSVC(C=0.11, class_weight="balanced", dual=True, max_iter=2000, random_state=0)


def _lr() -> LogisticRegression:
    # Dual liblinear is fast when there are far fewer labelled records than features.
    return LogisticRegression(
        C=1.0,
        class_weight="balanced",
        solver="liblinear",
        dual=True,
        max_iter=500,
        random_state=0,
    )


def _cnb() -> ComplementNB:
    return ComplementNB(alpha=0.1)


def _mnb() -> MultinomialNB:
    # Uniform class prior: the prior of the labelled sample is not the review's prevalence.
    return MultinomialNB(alpha=0.1, fit_prior=False)


#: Model name -> factories whose decision values are combined (several = ensemble).
_MODELS: dict[str, tuple[Callable[[], Any], ...]] = {
    "svm": (_svm,),
    "lr": (_lr,),
    "nb": (_cnb,),
    "mnb": (_mnb,),
    "nb+lr": (_cnb, _lr),
    "svm+lr": (_svm, _lr),
    "svm+nb": (_svm, _cnb),
}
#: Factories that need non-negative (TF-IDF only) features.
_LEXICAL_ONLY = {_cnb, _mnb}
_MODEL_DESCRIPTIONS = {
    "svm": "linear SVM (C=0.11, includes weighted 9.8 to 1)",
    "lr": "logistic regression (C=1, includes weighted up)",
    "nb": "complement naive Bayes (alpha=0.1)",
    "mnb": "multinomial naive Bayes (alpha=0.1, uniform prior)",
    "nb+lr": "rank average of complement naive Bayes and logistic regression",
    "svm+lr": "rank average of linear SVM and logistic regression",
    "svm+nb": "rank average of linear SVM and complement naive Bayes",
}
MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)
#: ASReview's default classifier. In the previous release's leave-one-dataset-out runs
#: logistic regression ranked alike at a higher fit cost, and an SVM + complement naive
#: Bayes rank average lost clearly (mean WSS@95 0.33 against 0.41, seed 1).
DEFAULT_MODEL = "svm"


#: Includes and excludes get equal total weight, then the includes' total is multiplied by
#: this, so that they outweigh the excludes 9.8 to 1: ASReview's default balance, tuned on
#: the SYNERGY sets. Leave-one-dataset-out over the nine labelled sets agreed (10 gave mean
#: WSS@95 0.422 against 0.405 with 1, and 0.411 with 4).
DEFAULT_INCLUDE_WEIGHT = 9.8


def _balanced_weights(y: np.ndarray, include_weight: float = 1.0) -> dict[int, float]:
    """Per-class sample weights: the includes' total ``include_weight`` times the
    excludes', scaled so that the mean weight is 1.

    The mean of 1 keeps the SVM's ``C`` meaning the same whatever the balance; with
    ``include_weight=1`` these are scikit-learn's ``class_weight="balanced"``
    (``n / (2 · count)`` per class).
    """
    counts = np.bincount(y, minlength=2)
    n = len(y)
    scale = 2.0 / (1.0 + include_weight)
    return {
        0: float(scale * n / (2 * counts[0])),
        1: float(scale * include_weight * n / (2 * counts[1])),
    }


def _decision_values(model: Any, matrix: sp.csr_matrix) -> np.ndarray:
    coef = getattr(model, "coef_", None)
    if coef is not None and coef.shape[0] == 1 and hasattr(model, "decision_function"):
        # The linear models' decision function, as one sparse matrix-vector product.
        # In the matrix's precision: a float64 vector would make scipy copy a float32
        # matrix to float64 on every refit.
        weights = coef[0].astype(matrix.dtype, copy=False)
        return np.asarray(matrix @ weights + model.intercept_[0], dtype=float)
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(matrix), dtype=float)
    log_proba = model.predict_log_proba(matrix)
    return log_proba[:, 1] - log_proba[:, 0]


def _rank_scale(values: np.ndarray) -> np.ndarray:
    """Scores -> ranks scaled into (0, 1]; ties share their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = np.arange(1, len(values) + 1)
    # Average the ranks of tied values so that the ensemble does not depend on row order.
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if len(counts) < len(values):
        sums = np.bincount(inverse, weights=ranks)
        ranks = sums[inverse] / counts[inverse]
    return ranks / len(values)


# --------------------------------------------------------------------------------------
# Ranking (the immutable result)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankedRecord:
    record_id: RecordId
    score: float | None


@dataclass(frozen=True)
class Ranking:
    """An immutable, serialisable ranking of the unlabelled records of one review.

    ``order`` lists the unlabelled records, most likely include first; ``order_scores``
    holds their scores (classifier decision values, or rank-based scores in (0, 1] for
    the random/seed-record order). ``strategy`` is ``"classifier"``, ``"random"`` or
    ``"seed records + random"``; :attr:`method` describes it in words.
    """

    order: tuple[RecordId, ...]
    order_scores: tuple[float, ...]
    model: str
    strategy: str
    trained_on: int
    n_included: int
    n_excluded: int
    fitted_at: str
    seed: int

    def __post_init__(self) -> None:
        if len(self.order) != len(self.order_scores):
            raise PrioritisationError("A ranking needs exactly one score per record.")

    def __len__(self) -> int:
        return len(self.order)

    @property
    def scores(self) -> dict[RecordId, float]:
        """Record id -> score for every ranked (unlabelled) record."""
        return dict(zip(self.order, self.order_scores, strict=True))

    @property
    def method(self) -> str:
        """What produced this order, in words (shown on the screening overview)."""
        if self.strategy == "classifier":
            return (
                f"{_MODEL_DESCRIPTIONS.get(self.model, self.model)} on word and character "
                f"TF-IDF, trained on {self.trained_on} decisions ({self.n_included} includes)"
            )
        return f"{self.strategy} order (seed {self.seed}): not yet one include and one exclude"

    def rank(self, unlabelled_ids: Iterable[RecordId]) -> list[RankedRecord]:
        """Order the given records by this ranking without refitting.

        Records the ranking has not seen (imported after the fit) follow the ranked ones,
        in the order given, with score ``None``.
        """
        position = {record_id: i for i, record_id in enumerate(self.order)}
        known: list[tuple[int, RecordId]] = []
        unknown: list[RecordId] = []
        for record_id in dict.fromkeys(unlabelled_ids):
            if record_id in position:
                known.append((position[record_id], record_id))
            else:
                unknown.append(record_id)
        known.sort(key=lambda pair: pair[0])
        return [RankedRecord(rid, self.order_scores[pos]) for pos, rid in known] + [
            RankedRecord(rid, None) for rid in unknown
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": list(self.order),
            "order_scores": [float(s) for s in self.order_scores],
            "model": self.model,
            "strategy": self.strategy,
            "trained_on": self.trained_on,
            "n_included": self.n_included,
            "n_excluded": self.n_excluded,
            "fitted_at": self.fitted_at,
            "seed": self.seed,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ranking:
        try:
            return cls(
                order=tuple(data["order"]),
                order_scores=tuple(float(s) for s in data["order_scores"]),
                model=str(data["model"]),
                strategy=str(data["strategy"]),
                trained_on=int(data["trained_on"]),
                n_included=int(data["n_included"]),
                n_excluded=int(data["n_excluded"]),
                fitted_at=str(data["fitted_at"]),
                seed=int(data["seed"]),
            )
        except (KeyError, TypeError) as exc:
            raise PrioritisationError(f"Not a stored ranking: {exc!r}") from exc

    @classmethod
    def from_json(cls, text: str) -> Ranking:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PrioritisationError(f"Stored ranking is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


# --------------------------------------------------------------------------------------
# Ranker
# --------------------------------------------------------------------------------------


def _label_value(record_id: RecordId, label: Any) -> int:
    if isinstance(label, (bool, np.bool_)):
        return int(label)
    if isinstance(label, (int, np.integer)) and label in (0, 1):
        return int(label)
    if isinstance(label, float) and label in (0.0, 1.0):
        return int(label)
    raise PrioritisationError(
        f"Label of record {record_id!r} must be 1/True (include) or 0/False (exclude), "
        f"got {label!r}."
    )


class Ranker:
    """Fits the relevance model of one review and ranks its unlabelled records.

    Parameters
    ----------
    model
        One of :data:`MODEL_NAMES`; :data:`DEFAULT_MODEL` was chosen by simulation
        (see ``benchmarks/prioritisation.py``).
    seed
        Seeds the random order used before there is one include and one exclude, and
        the sample of presumed excludes.
    seed_record_ids
        Records the lead marked as known-relevant starting points: they head the
        order while the classifier cannot be fitted yet.
    presumed_excludes
        Size of the random sample of unlabelled records added as excludes to each fit
        while fewer than ``presumed_until`` records are labelled (0 switches it off).
    include_weight
        Multiplies the balanced class weight of the includes (see
        :data:`DEFAULT_INCLUDE_WEIGHT`); 1 gives scikit-learn's ``"balanced"``.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        seed: int = 0,
        seed_record_ids: Sequence[RecordId] = (),
        presumed_excludes: int = 0,
        presumed_until: int = 200,
        include_weight: float = DEFAULT_INCLUDE_WEIGHT,
        vectoriser: VectoriserSettings | None = None,
    ) -> None:
        if model not in _MODELS:
            raise PrioritisationError(
                f"Unknown ranking model {model!r}; choose one of {', '.join(MODEL_NAMES)}."
            )
        if presumed_excludes < 0 or presumed_until < 0:
            raise PrioritisationError("presumed_excludes and presumed_until must be >= 0.")
        if not include_weight > 0:
            raise PrioritisationError(f"include_weight must be > 0, got {include_weight}.")
        self.model = model
        self.seed = int(seed)
        self.seed_record_ids = tuple(seed_record_ids)
        self.presumed_excludes = int(presumed_excludes)
        self.presumed_until = int(presumed_until)
        self.include_weight = float(include_weight)
        self.vectoriser = vectoriser or VectoriserSettings()

    @property
    def method(self) -> str:
        return _MODEL_DESCRIPTIONS[self.model]

    def vectorise(
        self, texts_by_id: Mapping[RecordId, str], *, cache_file: Path | None = None
    ) -> Corpus:
        """TF-IDF of the review's records; cached by content, so refits reuse the matrix.

        The cache is this process's memory, and ``cache_file`` when given (integer record
        ids only): a server's refits each run in a fresh process, and building the
        features of 20,000 records takes seconds where loading them takes milliseconds.
        """
        if not texts_by_id:
            raise PrioritisationError("There are no records to rank.")
        texts = {
            rid: text if isinstance(text, str) else str(text) for rid, text in texts_by_id.items()
        }
        key = _fingerprint(texts, self.vectoriser)
        with _CORPUS_LOCK:
            cached = _CORPUS_CACHE.get(key)
            if cached is not None:
                _CORPUS_CACHE.move_to_end(key)
                return cached
        on_disk = cache_file is not None and all(type(rid) is int for rid in texts)
        corpus = Corpus.load(cache_file, key) if on_disk else None
        if (
            corpus is not None
            and self.vectoriser.compactable
            and not isinstance(corpus.features, CompactFeatures)
        ):
            corpus = None  # a file of the float form (before the compact form): rebuilt compact
        if corpus is None:
            features, n_lexical = self.vectoriser.features(list(texts.values()))
            ids = tuple(texts)
            corpus = Corpus(
                record_ids=ids,
                features=features,
                n_lexical=n_lexical,
                fingerprint=key,
                row_of={rid: i for i, rid in enumerate(ids)},
            )
            if on_disk:
                corpus.save(cache_file)
        _cache_put(key, corpus)
        return corpus

    def fit(
        self,
        texts_by_id: Mapping[RecordId, str] | Corpus,
        labels_by_id: Mapping[RecordId, Any],
        *,
        fitted_at: datetime | None = None,
    ) -> Ranking:
        """Train on the labelled records and rank every unlabelled record of the corpus.

        ``labels_by_id`` maps record ids to 1/True (include) or 0/False (exclude): pass
        resolved decisions only. Labels of records outside the corpus are an error.
        """
        corpus = texts_by_id if isinstance(texts_by_id, Corpus) else self.vectorise(texts_by_id)
        rows = np.empty(len(labels_by_id), dtype=np.intp)
        y = np.empty(len(labels_by_id), dtype=np.int64)
        for i, (record_id, label) in enumerate(labels_by_id.items()):
            row = corpus.row_of.get(record_id)
            if row is None:
                raise PrioritisationError(f"Labelled record {record_id!r} is not in the corpus.")
            rows[i] = row
            y[i] = _label_value(record_id, label)
        n_included = int(y.sum())
        n_excluded = len(y) - n_included
        stamp = (fitted_at or datetime.now(UTC)).isoformat()

        unlabelled = np.ones(len(corpus), dtype=bool)
        unlabelled[rows] = False
        candidates = np.flatnonzero(unlabelled)

        if n_included == 0 or n_excluded == 0:
            order_rows, scores, strategy = self._fallback_order(corpus, candidates)
        else:
            values = self.decision_values(corpus, rows, y, candidates)
            # Highest score first; ties keep corpus order so the ranking is deterministic.
            position = np.argsort(-values, kind="stable")
            order_rows, scores, strategy = candidates[position], values[position], "classifier"
        ids = corpus.record_ids
        return Ranking(
            order=tuple([ids[r] for r in order_rows.tolist()]),
            order_scores=tuple(np.asarray(scores, dtype=float).tolist()),
            model=self.model,
            strategy=strategy,
            trained_on=len(y),
            n_included=n_included,
            n_excluded=n_excluded,
            fitted_at=stamp,
            seed=self.seed,
        )

    def decision_values(
        self,
        corpus: Corpus,
        rows: np.ndarray,
        y: np.ndarray,
        candidates: np.ndarray,
    ) -> np.ndarray:
        """Relevance scores of the ``candidates`` rows after training on ``rows``/``y``."""
        train_rows, train_y = rows, y
        if self.presumed_excludes and len(y) < self.presumed_until and len(candidates):
            # Seeded by the number of decisions so that a refit is reproducible.
            rng = np.random.default_rng([self.seed, len(y)])
            k = min(self.presumed_excludes, len(candidates))
            presumed = rng.choice(candidates, size=k, replace=False)
            train_rows = np.concatenate([rows, presumed])
            train_y = np.concatenate([y, np.zeros(k, dtype=np.int64)])
        outputs = []
        # The inputs are built here (finite, valid parameters): skipping sklearn's checks
        # saves about a third of a small refit, and the simulation refits hundreds of times.
        with (
            warnings.catch_warnings(),
            config_context(assume_finite=True, skip_parameter_validation=True),
        ):
            # A capped liblinear run still ranks well; its warning would flood the logs.
            warnings.simplefilter("ignore", ConvergenceWarning)
            for factory in _MODELS[self.model]:
                lexical = factory in _LEXICAL_ONLY
                estimator = factory()
                if getattr(estimator, "class_weight", None) == "balanced":
                    # Same weights as sklearn's "balanced", without its label encoding.
                    estimator.set_params(
                        class_weight=_balanced_weights(train_y, self.include_weight)
                    )
                estimator.fit(
                    corpus.lexical[train_rows] if lexical else corpus.training_rows(train_rows),
                    train_y,
                )
                # Every row is scored (sparse products); slicing out the candidates first
                # would copy most of the features on every refit.
                values = (
                    _decision_values(estimator, corpus.lexical)
                    if lexical
                    else corpus.decision_values(estimator)
                )
                outputs.append(values[candidates])
        if len(outputs) == 1:
            return outputs[0]
        return np.mean([_rank_scale(values) for values in outputs], axis=0)

    def _fallback_order(
        self, corpus: Corpus, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, str]:
        rng = np.random.default_rng(self.seed)
        shuffled = candidates[rng.permutation(len(candidates))]
        seeds = [
            corpus.row_of[rid]
            for rid in dict.fromkeys(self.seed_record_ids)
            if rid in corpus.row_of
        ]
        candidate_set = set(candidates.tolist())
        seeds = [row for row in seeds if row in candidate_set]
        if seeds:
            seed_set = set(seeds)
            rest = [row for row in shuffled.tolist() if row not in seed_set]
            order_rows = np.array(seeds + rest, dtype=np.intp)
            strategy = "seed records + random"
        else:
            order_rows, strategy = shuffled, "random"
        n = len(order_rows)
        scores = 1.0 - np.arange(n) / max(n, 1)
        return order_rows, scores, strategy


def rank_records(
    texts_by_id: Mapping[RecordId, str],
    labels_by_id: Mapping[RecordId, Any],
    *,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
    seed_record_ids: Sequence[RecordId] = (),
) -> Ranking:
    """One-call convenience: ``Ranker(model, seed=...).fit(texts_by_id, labels_by_id)``."""
    return Ranker(model, seed=seed, seed_record_ids=seed_record_ids).fit(texts_by_id, labels_by_id)
