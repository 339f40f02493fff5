"""Benchmark the embedded data generator: time, peak memory, rows and bytes per file.

Each scale runs in its own Python process so its peak RSS is its own (a process's ru_maxrss
never goes down, so measuring several scales in one process would report the largest).

    python benchmarks/generate.py            # scales 1 and 10
    python benchmarks/generate.py 0.1 1 --seed 7 --keep /tmp/olist-bench
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

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _worker(scale: float, seed: int, out_dir: Path) -> None:
    """Generate in this process and report the result and this process's peak RSS as JSON."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from dev.generator.generate import generate

    result = generate(out_dir, scale=scale, seed=seed)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": result.seconds, "peak_kib": peak_kib, "rows": result.row_counts}))


def _run_scale(scale: float, seed: int, out_dir: Path) -> dict:
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            str(scale),
            "--seed",
            str(seed),
            "--out",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["wall_seconds"] = time.perf_counter() - started
    report["bytes"] = {name: (out_dir / name).stat().st_size for name in report["rows"]}
    return report


def _print_report(scale: float, report: dict) -> None:
    print(
        f"\nscale {scale:g}: generate() {report['seconds']:.1f}s, process wall "
        f"{report['wall_seconds']:.1f}s, peak RSS {report['peak_kib'] / 1024:.0f} MiB"
    )
    print(f"  {'file':45s} {'rows':>12s} {'MB':>9s}")
    for name, rows in report["rows"].items():
        print(f"  {name:45s} {rows:>12,d} {report['bytes'][name] / 1e6:>9.1f}")
    total = sum(report["bytes"].values())
    print(f"  {'total':45s} {sum(report['rows'].values()):>12,d} {total / 1e6:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scales", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="write here (one folder per scale) and keep")
    parser.add_argument("--worker", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        _worker(args.worker, args.seed, args.out)
        return
    for scale in args.scales:
        if args.keep:
            report = _run_scale(scale, args.seed, args.keep / f"scale-{scale:g}")
        else:
            with tempfile.TemporaryDirectory(prefix=f"olist-bench-{scale:g}-") as tmp:
                report = _run_scale(scale, args.seed, Path(tmp))
        _print_report(scale, report)


if __name__ == "__main__":
    main()
