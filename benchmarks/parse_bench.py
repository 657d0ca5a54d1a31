"""Parse-only benchmark: seconds and peak memory to read a 100,000-record RIS file.

Compares reviews.importing (streaming, one record at a time) with rispy.load (the
whole file into one list). Each measurement runs in a fresh child process so the peak
resident memory (ru_maxrss) belongs to that measurement alone.

The machine is shared, so CPU seconds (time.process_time) are printed next to wall-clock
seconds: CPU time is what the code costs, wall time what a user waits on a busy machine.

``--real``: every RIS file of the public data (``../shared/data``: database, reference
manager, Rayyan and Covidence exports, the included-study lists), each read by both in
this process (best of ``--repeat`` runs), with the records each found: a file rispy cannot
read says why on its line.

Measured 7 Dec 2026 (idle machine): all 21 RIS files, both parsers found the same number
of records in every file (3 to 120); CPU summed over the files 14 ms ours, 14 ms rispy
(the files are small: 9-372 KB). The large-file figures are the 100,000-record default.

Usage: python benchmarks/parse_bench.py [N=100000] [--keep FILE] [--real [--repeat 5]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def _measure(kind: str, path: str) -> dict:
    """Run in a child: parse ``path`` with ``kind`` and report time and peak RSS."""
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu_start = time.perf_counter(), time.process_time()
    if kind == "reviewflow":
        from reviews.importing import ParsedRecord, iter_records

        n = skipped = 0
        with open(path, "rb") as fh:
            for item in iter_records(fh):
                if isinstance(item, ParsedRecord):
                    n += 1
                else:
                    skipped += 1
    else:
        import rispy

        with open(path, encoding="utf-8") as fh:
            entries = rispy.load(fh)
        n, skipped = len(entries), 0
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "records": n,
        "skipped": skipped,
        "seconds": seconds,
        "cpu": cpu,
        "peak_mb": peak / 1024,
        "growth_mb": (peak - base_rss) / 1024,
    }


SHARED_DATA = REPO.parent / "shared" / "data"


def _count(kind: str, path: Path) -> int:
    """Records read from `path` by ``reviewflow`` or ``rispy``."""
    if kind == "reviewflow":
        from reviews.importing import ParsedRecord, iter_records

        with path.open("rb") as fh:
            return sum(isinstance(item, ParsedRecord) for item in iter_records(fh, fmt="ris"))
    import rispy

    with path.open(encoding="utf-8-sig") as fh:
        return len(rispy.load(fh))


def real_files(repeat: int) -> None:
    """Both parsers on every RIS file of the public data, in one run."""
    files = sorted(SHARED_DATA.rglob("*.ris"))
    if not files:
        sys.exit(f"no RIS file under {SHARED_DATA}")
    print(f"{len(files)} RIS files under {SHARED_DATA}; CPU ms, best of {repeat}")
    print(f"{'file':<48} {'KB':>6} {'ours n':>7} {'ours ms':>8} {'rispy n':>8} {'rispy ms':>9}")
    totals = {"reviewflow": 0.0, "rispy": 0.0}
    for path in files:
        cells = []
        for kind in ("reviewflow", "rispy"):
            best, n = float("inf"), None
            try:
                for _ in range(repeat):
                    cpu = time.process_time()
                    n = _count(kind, path)
                    best = min(best, time.process_time() - cpu)
            except Exception as exc:  # noqa: BLE001 - the peer's failure is a result here
                cells.append(f"failed: {type(exc).__name__}: {str(exc)[:40]}")
                continue
            totals[kind] += best
            cells.append(f"{n:>7} {best * 1000:>8.1f}")
        name = str(path.relative_to(SHARED_DATA))[-48:]
        print(f"{name:<48} {path.stat().st_size / 1024:>6.0f} {cells[0]} {cells[1]:>18}")
    ours, peer = totals["reviewflow"], totals["rispy"]
    print(f"all files: ours {ours * 1000:.0f} ms CPU, rispy {peer * 1000:.0f} ms CPU")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--real", action="store_true", help="every RIS file of ../shared/data")
    parser.add_argument("--repeat", type=int, default=5, help="--real: runs per file and parser")
    args = parser.parse_args()
    if args.real:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        django.setup()
        real_files(args.repeat)
        return
    if args.child:
        print(json.dumps(_measure(*args.child)))
        return

    from ris_generate import generate_ris

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "bench.ris"
        t0 = time.perf_counter()
        generate_ris(path, args.n, seed=1, duplicates=0.05)
        size = path.stat().st_size / 1e6
        print(f"generated {args.n} records, {size:.0f} MB in {time.perf_counter() - t0:.1f} s")
        for kind in ("reviewflow", "rispy"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout)
            print(
                f"{kind:>10}: {r['records']} records ({r['skipped']} skipped) in "
                f"{r['seconds']:.2f} s wall, {r['cpu']:.2f} s CPU "
                f"({r['records'] / r['cpu']:,.0f} records/CPU-s); "
                f"peak RSS {r['peak_mb']:.0f} MB (+{r['growth_mb']:.0f} MB while parsing)"
            )


if __name__ == "__main__":
    main()
