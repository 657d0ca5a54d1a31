"""Generate a large RIS file from the shapes of real records in ../shared/data.

Every generated record copies a real record's tag layout (which tags, in which order,
multi-line KW/N1/AD/UR fields, long abstracts) and replaces the identifying fields with
synthetic ones (a title made from real title words, authors from the real author pool,
a unique DOI/PMID where the template had one), so 100,000 records are 100,000 distinct
references. A fraction can be written as perturbed duplicates of earlier records, so an
import + de-duplication benchmark has known duplicates to find.

Usage: python benchmarks/ris_generate.py 100000 /tmp/big.ris [--seed 1] [--duplicates 0.05]
"""

from __future__ import annotations

import argparse
import random
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reviews.importing import ParsedRecord, iter_records  # noqa: E402

DATA = REPO / ".." / "shared" / "data"

__all__ = ["DATA", "generate_ris", "load_real_records", "perturb", "ris_lines"]


def _year_from_pmid(pmid: str) -> int | None:
    """PMIDs grow with time; ASReview's CSVs carry no year, so estimate one from the PMID."""
    if not pmid.isdigit():
        return None
    anchors = [(1, 1950), (5_000_000, 1990), (10_000_000, 1999), (15_000_000, 2004)]
    anchors += [(20_000_000, 2009), (25_000_000, 2014), (30_000_000, 2018), (36_000_000, 2022)]
    value = int(pmid)
    for (p0, y0), (p1, y1) in zip(anchors, anchors[1:], strict=False):
        if value <= p1:
            return round(y0 + (y1 - y0) * (value - p0) / (p1 - p0))
    return 2023


def load_real_records(data_dir: Path = DATA) -> list[ParsedRecord]:
    """All real records of the shared RIS and CSV files (CSV ones get a year from the PMID)."""
    records: list[ParsedRecord] = []
    for path in sorted((data_dir / "imports").glob("*.ris")):
        with path.open("rb") as fh:
            records += [r for r in iter_records(fh) if isinstance(r, ParsedRecord)]
    for path in sorted((data_dir / "screening").glob("*.csv")):
        with path.open("rb") as fh:
            for r in iter_records(fh):
                if isinstance(r, ParsedRecord):
                    r.year = r.year or _year_from_pmid(r.pmid)
                    records.append(r)
    if not records:
        raise FileNotFoundError(f"No real records found under {data_dir}")
    return records


def _template_fields(record: ParsedRecord) -> dict[str, list[str]]:
    """RIS tags of a real record (CSV records are laid out as an EndNote record would be)."""
    if "TY" in record.source_fields:
        return {k: list(v) for k, v in record.source_fields.items()}
    fields: dict[str, list[str]] = {"TY": ["JOUR"]}
    if record.abstract:
        fields["AB"] = [record.abstract]
    if record.pmid:
        fields["AN"] = [record.pmid]
    fields["AU"] = list(record.authors)
    if record.keywords:
        fields["KW"] = ["\n".join(record.keywords)]
    fields["PY"] = [str(record.year or "")]
    fields["TI"] = [record.title]
    return fields


def ris_lines(fields: dict[str, list[str]]) -> Iterator[str]:
    """RIS text lines of one record; multi-line values become untagged continuation lines."""
    for tag, values in fields.items():
        if tag == "ER":
            continue
        for value in values:
            yield f"{tag}  - {value}\n"
    yield "ER  - \n\n"


# --- perturbations used for synthetic duplicates ---------------------------------------

_ACCENT = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü", "c": "ç", "n": "ñ"}


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _initials(name: str, rng: random.Random) -> str:
    """'Bryant, Richard A' <-> 'Bryant RA' / 'R. A. Bryant' / 'Bryant, R.'"""
    if "," in name:
        last, first = (p.strip() for p in name.split(",", 1))
    else:
        parts = name.split()
        last, first = (parts[0], " ".join(parts[1:])) if len(parts) > 1 else (name, "")
    initials = [w[0] for w in first.replace(".", " ").split() if w]
    style = rng.randrange(3)
    if style == 0:
        return f"{last} {''.join(initials)}".strip()
    if style == 1:
        return " ".join([*(i + "." for i in initials), last])
    return f"{last}, {' '.join(i + '.' for i in initials)}".strip(", ")


def perturb(record: dict, rng: random.Random) -> tuple[dict, list[str]]:
    """A realistic duplicate of ``record`` (keys title, authors, year, doi, pmid).

    One to three of: changed case, truncated title, "The"/punctuation changes, year +/- 1,
    author initials vs full names, HTML tags, diacritics added/removed, a one-letter typo;
    each identifier is dropped with probability 0.5 (a database that does not carry it).
    """
    dup = {**record, "authors": list(record["authors"])}
    applied: list[str] = []
    kinds = ["case", "truncate", "the_punct", "year", "initials", "html", "diacritics", "typo"]
    weights = [3, 1, 3, 2, 3, 1, 1, 1]
    for kind in dict.fromkeys(rng.choices(kinds, weights, k=rng.randint(1, 3))):
        title = dup["title"]
        if kind == "case":
            dup["title"] = rng.choice([title.upper(), title.lower(), title.title()])
        elif kind == "truncate" and len(title) > 80:
            dup["title"] = title[: int(len(title) * rng.uniform(0.6, 0.9))]
        elif kind == "the_punct":
            if title.lower().startswith("the "):
                title = title[4:]
            elif rng.random() < 0.5:
                title = "The " + title[0].lower() + title[1:]
            title = title.rstrip(".") if title.endswith(".") else title + "."
            dup["title"] = title.replace(": ", " - ", 1).replace(", ", " ", 1)
        elif kind == "year" and dup["year"]:
            dup["year"] += rng.choice((-1, 1))
        elif kind == "initials" and dup["authors"]:
            dup["authors"] = [_initials(a, rng) for a in dup["authors"]]
        elif kind == "html":
            words = title.split()
            k = rng.randrange(len(words))
            words[k] = rng.choice(["<i>{}</i>", "<sup>{}</sup>", "<b>{}</b>"]).format(words[k])
            dup["title"] = " ".join(words).replace(" and ", " &amp; ", 1)
        elif kind == "diacritics":
            stripped = _strip_accents(title)
            if stripped != title:
                dup["title"] = stripped
            else:
                words = title.split()
                k = rng.randrange(len(words))
                words[k] = "".join(_ACCENT.get(c, c) for c in words[k])
                dup["title"] = " ".join(words)
            if dup["authors"]:
                dup["authors"][0] = _strip_accents(dup["authors"][0])
        elif kind == "typo" and len(title) > 30:
            k = rng.randrange(5, len(title) - 1)
            dup["title"] = title[:k] + title[k + 1] + title[k] + title[k + 2 :]
        else:
            continue
        applied.append(kind)
    for key in ("doi", "pmid"):
        if dup[key] and rng.random() < 0.5:
            dup[key] = ""
            applied.append(f"no_{key}")
    return dup, applied


# --- the generator ---------------------------------------------------------------------


def generate_ris(
    out: TextIO | Path | str,
    n_records: int,
    *,
    seed: int = 1,
    duplicates: float = 0.0,
    data_dir: Path = DATA,
) -> int:
    """Write ``n_records`` RIS records to ``out``; return how many are planted duplicates.

    Parameters
    ----------
    out
        A text file open for writing, or a path.
    n_records
        Number of records to write.
    seed
        Random seed (the output is reproducible).
    duplicates
        Fraction of records written as a perturbed copy of an earlier record.
    """
    if isinstance(out, str | Path):
        with open(out, "w", encoding="utf-8", newline="\n") as fh:
            return generate_ris(fh, n_records, seed=seed, duplicates=duplicates, data_dir=data_dir)
    rng = random.Random(seed)
    real = load_real_records(data_dir)
    templates = [_template_fields(r) for r in real]
    words = [w for r in real for w in r.title.rstrip(".").split()]
    authors = [a for r in real for a in r.authors]
    recent: list[dict] = []  # bounded pool of earlier records to duplicate
    n_dups = 0
    for i in range(n_records):
        template = templates[rng.randrange(len(templates))]
        fields = {k: list(v) for k, v in template.items()}
        if recent and rng.random() < duplicates:
            base, _ = perturb(recent[rng.randrange(len(recent))], rng)
            n_dups += 1
        else:
            n_words = max(4, len(" ".join(fields.get("TI") or fields.get("T1") or ["x"]).split()))
            title = " ".join(rng.choice(words) for _ in range(n_words))
            base = {
                "title": title[0].upper() + title[1:],
                "authors": [rng.choice(authors) for _ in range(max(1, len(fields.get("AU", []))))],
                "year": rng.randint(1985, 2024),
                "doi": f"10.{5000 + i % 997}/rf.{i}" if "DO" in fields else "",
                "pmid": str(10_000_000 + i)
                if any(v.isdigit() for v in fields.get("AN", []))
                else "",
            }
            if len(recent) < 5000:
                recent.append(base)
            else:
                recent[rng.randrange(len(recent))] = base
        fields.pop("T1", None)
        fields["TI"] = [base["title"]]
        fields["AU"] = base["authors"]
        fields["PY"] = [str(base["year"])]
        if base["doi"]:
            fields["DO"] = [base["doi"]]
        else:
            fields.pop("DO", None)
        if base["pmid"]:
            fields["AN"] = [base["pmid"]]
        elif fields.get("AN") and fields["AN"][0].isdigit():
            fields.pop("AN")
        out.writelines(ris_lines(fields))
    return n_dups


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n_records", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duplicates", type=float, default=0.0, help="fraction, e.g. 0.05")
    args = parser.parse_args(argv)
    n_dups = generate_ris(args.out, args.n_records, seed=args.seed, duplicates=args.duplicates)
    size = args.out.stat().st_size / 1e6
    print(
        f"wrote {args.n_records} records ({n_dups} planted duplicates), {size:.0f} MB: {args.out}"
    )


if __name__ == "__main__":
    main()
