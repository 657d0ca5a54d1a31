"""Parse-only benchmark: seconds and peak memory to read a 100,000-record RIS file.

Compares reviews.importing (streaming, one record at a time) with rispy.load (the
whole file into one list). Each measurement runs in a fresh child process so the peak
resident memory (ru_maxrss) belongs to that measurement alone.

The machine is shared, so CPU seconds (time.process_time) are printed next to wall-clock
seconds: CPU time is what the code costs, wall time what a user waits on a busy machine.

Usage: python benchmarks/parse_bench.py [N=100000] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
