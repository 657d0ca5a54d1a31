"""De-duplication quality and speed on data with known duplicates.

1. Quality: the real records of ../shared/data (ASReview CSVs + EndNote/Embase RIS,
   2,342 records, none duplicated) plus perturbed copies of a fraction of them (changed
   case, missing DOI/PMID, truncated title, "The"/punctuation changes, year +/- 1,
   author initials vs full names, HTML tags, diacritics, a typo). Identifiers are also
   removed from some originals so that DOI/PMID conflicts cannot hide title-only errors.
   Prints precision and recall for the automatic tier and for automatic + review.
2. Speed: 100,000 keys built like benchmarks/ris_generate.py builds records (5 % planted
   duplicates), all checked at once, and then a 5,000-record import checked against the
   95,000 records already in the review (new_ids).

Usage: python benchmarks/dedup.py [--copies 0.3] [--seed 7] [--n 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from ris_generate import load_real_records, perturb  # noqa: E402

from reviews.dedup import (  # noqa: E402
    DedupKey,
    DuplicatePair,
    build_key,
    find_duplicates,
    first_author_key,
    normalise_title,
)


def _key(i: int, rec: dict) -> DedupKey:
    return build_key(
        i,
        title=rec["title"],
        doi=rec["doi"],
        pmid=rec["pmid"],
        year=rec["year"],
        authors=rec["authors"],
    )


def synthetic_set(
    originals: list[dict], copies: float, rng: random.Random
) -> tuple[list[DedupKey], list[int], dict[str, int]]:
    """Keys (originals then duplicates, shuffled ids) and each key's true cluster."""
    rows: list[tuple[dict, int]] = []
    kinds: dict[str, int] = {}
    for cluster, rec in enumerate(originals):
        rec = dict(rec)
        # A database that does not carry the identifier: keeps title-only matching honest.
        for key in ("doi", "pmid"):
            if rec[key] and rng.random() < 0.3:
                rec[key] = ""
        cluster = rec.get("cluster", cluster)
        rows.append((rec, cluster))
        n_copies = (rng.random() < copies) + (rng.random() < copies * 0.2)
        for _ in range(n_copies):
            dup, applied = perturb(rec, rng)
            for kind in applied:
                kinds[kind] = kinds.get(kind, 0) + 1
            rows.append((dup, cluster))
    rng.shuffle(rows)
    keys = [_key(i, rec) for i, (rec, _) in enumerate(rows)]
    return keys, [cluster for _, cluster in rows], kinds


def score(pairs: list[DuplicatePair], truth: list[int], tiers: set[str]) -> tuple[float, float]:
    """Precision: share of reported links within one true cluster. Recall: share of true
    duplicate records (all but the first of each cluster) linked to their cluster."""
    linked: set[int] = set()
    tp = fp = 0
    for p in pairs:
        if p.tier not in tiers:
            continue
        if truth[p.kept_id] == truth[p.duplicate_id]:
            tp += 1
            linked.add(p.duplicate_id)
        else:
            fp += 1
    sizes: dict[int, int] = {}
    for cluster in truth:
        sizes[cluster] = sizes.get(cluster, 0) + 1
    n_true = sum(size - 1 for size in sizes.values())
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, len(linked) / n_true if n_true else 1.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=float, default=0.3, help="share of records duplicated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--n", type=int, default=100_000, help="keys for the speed test")
    parser.add_argument("--show", type=int, default=0, help="print N misses / false pairs")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    real = load_real_records()
    originals = [
        {"title": r.title, "authors": r.authors, "year": r.year, "doi": r.doi, "pmid": r.pmid}
        for r in real
    ]
    # The shared data hold one real duplicate already (Gross-Tsur 1997/1998, same title and
    # first author, PMIDs 9003849 and 9432523); such records form one true cluster.
    real_cluster: dict[tuple[str, str], int] = {}
    for i, rec in enumerate(originals):
        same = (normalise_title(rec["title"]), first_author_key(next(iter(rec["authors"]), "")))
        rec["cluster"] = real_cluster.setdefault(same, i)
    n_real = len(originals) - len(real_cluster)
    keys, truth, kinds = synthetic_set(originals, args.copies, rng)
    n_dup = len(keys) - len(set(truth))
    start = time.perf_counter()
    pairs = find_duplicates(keys)
    seconds = time.perf_counter() - start
    print(
        f"quality set: {len(keys)} records from {len(originals)} real ones, {n_dup} duplicates"
        f" ({n_real} already in the real data)"
    )
    print("  perturbations: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    for label, tiers in (("auto", {"auto"}), ("auto+review", {"auto", "review"})):
        p, r = score(pairs, truth, tiers)
        n = sum(1 for x in pairs if x.tier in tiers)
        print(f"  {label:>11}: {n} pairs, precision {p:.4f}, recall {r:.4f}")
    print(f"  time {seconds:.2f} s")
    if args.show:
        by_id = {k.id: k for k in keys}
        linked = {p.duplicate_id for p in pairs if p.tier == "auto"}
        wrong = [p for p in pairs if p.tier == "auto" and truth[p.kept_id] != truth[p.duplicate_id]]
        for p in wrong[: args.show]:
            print("FALSE", p, "\n   ", by_id[p.kept_id], "\n   ", by_id[p.duplicate_id])
        firsts: dict[int, int] = {}
        for k in sorted(keys, key=lambda k: k.id):
            firsts.setdefault(truth[k.id], k.id)
        missed = [k for k in keys if firsts[truth[k.id]] != k.id and k.id not in linked]
        for k in missed[: args.show]:
            print("MISSED", k, "\n   ", by_id[firsts[truth[k.id]]])

    # --- speed on 100,000 keys --------------------------------------------------------
    words = [w for r in real for w in r.title.rstrip(".").split()]
    authors = [a for r in real for a in r.authors]
    big: list[dict] = []
    big_truth: list[int] = []
    for i in range(args.n):
        if big and rng.random() < 0.05:
            j = rng.randrange(len(big))
            dup, _ = perturb(big[j], rng)
            big.append(dup)
            big_truth.append(big_truth[j])
        else:
            template = real[rng.randrange(len(real))]
            n_words = max(4, len(template.title.split()))
            title = " ".join(rng.choice(words) for _ in range(n_words))
            big.append(
                {
                    "title": title,
                    "authors": [rng.choice(authors)] if template.authors else [],
                    "year": rng.randint(1985, 2024),
                    "doi": f"10.5555/rf.{i}" if template.doi else "",
                    "pmid": str(10_000_000 + i) if template.pmid else "",
                }
            )
            big_truth.append(i)
    start = time.perf_counter()
    big_keys = [_key(i, rec) for i, rec in enumerate(big)]
    t_keys = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    big_pairs = find_duplicates(big_keys)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    p_auto, r_auto = score(big_pairs, big_truth, {"auto"})
    p_all, r_all = score(big_pairs, big_truth, {"auto", "review"})
    print(f"speed set: {args.n} keys ({len(big) - len(set(big_truth))} planted duplicates)")
    print(f"  building keys (normalising titles/authors/DOIs): {t_keys:.2f} s")
    print(f"  find_duplicates, all against all: {seconds:.2f} s wall, {cpu:.2f} s CPU")
    print(f"    auto precision {p_auto:.4f} recall {r_auto:.4f}; +review {p_all:.4f} / {r_all:.4f}")
    new_ids = set(range(args.n - 5000, args.n))
    start, cpu = time.perf_counter(), time.process_time()
    find_duplicates(big_keys, new_ids=new_ids)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"  find_duplicates, 5,000 new against {args.n - 5000:,}: {seconds:.2f} s wall, {cpu:.2f} s CPU"
    )


if __name__ == "__main__":
    main()
