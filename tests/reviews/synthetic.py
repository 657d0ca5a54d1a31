"""Synthetic search exports of any size, for tests of large imports."""

from __future__ import annotations

from pathlib import Path


def write_ris(path: Path, n: int) -> None:
    """`n` distinct RIS records (unique titles, DOIs and PMIDs: no duplicates among them)."""
    words = ["peer", "support", "recovery", "trial", "hope", "stigma", "community", "mental"]
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            title = " ".join(words[(i >> k) % len(words)] for k in range(6))
            out.write(
                f"TY  - JOUR\nTI  - Record {i}: a randomised study of {title}\n"
                f"AU  - Author{i % 997}, A.\nPY  - {1990 + i % 30}\nJO  - Journal {i % 50}\n"
                f"DO  - 10.5555/rf.{i}\nAN  - {30000000 + i}\n"
                f"AB  - Background {title}. Methods: trial {i}. Results: effect {i % 13}.\n"
                "ER  - \n\n"
            )
