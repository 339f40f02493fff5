"""Benchmark the dbt build of the feature store at several generator scales (not a test).

For each scale: generate the Olist-shaped CSVs, ingest them into the raw zone (the product's
ingestion: validated, all-VARCHAR Parquet, a published batch), then measure
  1. a full `dbt build` (seeds, every model, every test), wall time;
  2. the feature store's full refresh alone (`dbt run -s fct_customer_return_risk_features`),
     model time from target/run_results.json and the dbt process's peak RSS (os.wait4 on
     that very subprocess: DuckDB lives inside it, so this is the honest total);
  3. a single-snapshot build of the last snapshot, model time and peak RSS;
  4. the upstream gold models' times (int_orders_enriched, int_customer_feature_changes),
     which a monthly run also rebuilds;
and rows produced. Finally the largest/smallest scale ratio of the full-refresh model time.

    .venv/bin/python benchmarks/dbt_build.py            # scales 1 and 10
    .venv/bin/python benchmarks/dbt_build.py 0.1 1 --work-dir /tmp/olist-bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

import duckdb  # noqa: E402

from dev.generator.generate import generate  # noqa: E402
from include.olist_risk.ingestion.batch import current_batch_id, ingest_folder  # noqa: E402
from include.olist_risk.lake.layout import WAREHOUSE_PREFIX, table_key  # noqa: E402
from include.olist_risk.lake.storage import LocalLake  # noqa: E402
from include.olist_risk.transform.dbt_invocation import FEATURE_STORE_MODEL, DbtInvocation  # noqa: E402

TARGETS = {"full_refresh_s": 13.0, "peak_rss_gib": 3.0, "single_over_full": 0.2}


def run_measured(invocation: DbtInvocation, args: list[str]) -> tuple[float, float, dict]:
    """Run dbt; return (wall seconds, peak RSS GiB of that process, run_results)."""
    command = invocation.command(args)
    started = time.perf_counter()
    out_file = invocation.log_path / "benchmark.out"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    log = out_file.open("w")
    process = subprocess.Popen(
        command,
        cwd=invocation.project_dir,
        env=invocation.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    log.close()
    if os.waitstatus_to_exitcode(status) != 0:
        tail = out_file.read_text().splitlines()[-40:]
        raise SystemExit(f"dbt failed: {' '.join(command)}\n" + "\n".join(tail))
    results = json.loads(invocation.run_results_path.read_text())
    return wall, usage.ru_maxrss / 1024 / 1024, results


def model_time(results: dict, model: str) -> float:
    for result in results["results"]:
        if result["unique_id"] == f"model.olist_risk.{model}":
            return float(result["execution_time"])
    raise KeyError(model)


def bench_scale(scale: float, work_dir: Path, seed: int) -> dict:
    data_dir = work_dir / f"scale-{scale:g}"
    csv_dir, lake_root = data_dir / "csv", data_dir / "lake"
    marker = csv_dir / ".complete"
    if not marker.exists():
        shutil.rmtree(data_dir, ignore_errors=True)
        started = time.perf_counter()
        result = generate(csv_dir, scale=scale, seed=seed)
        print(
            f"[scale {scale:g}] generated {result.row_counts.get('olist_orders_dataset.csv', 0):,} "
            f"orders in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        marker.write_text("ok")
    lake = LocalLake(lake_root)
    batch_id = current_batch_id(lake)
    if batch_id is None:
        started = time.perf_counter()
        batch_id = ingest_folder(LocalLake(csv_dir), lake)
        print(f"[scale {scale:g}] ingested in {time.perf_counter() - started:.1f}s", flush=True)
    shutil.rmtree(lake_root / WAREHOUSE_PREFIX, ignore_errors=True)
    paths = {"target_path": work_dir / "dbt-target", "log_path": work_dir / "dbt-logs"}
    invocation = DbtInvocation(lake_root=str(lake_root), raw_batch_id=batch_id, **paths)

    build_wall, build_rss, build_results = run_measured(invocation, ["build"])
    print(
        f"[scale {scale:g}] full dbt build: {build_wall:.1f}s wall, peak {build_rss:.2f} GiB",
        flush=True,
    )

    full_wall, full_rss, full_results = run_measured(
        invocation, ["run", "--select", FEATURE_STORE_MODEL]
    )
    full_model = model_time(full_results, FEATURE_STORE_MODEL)
    con = duckdb.connect()
    fs_glob = lake_root / WAREHOUSE_PREFIX / "gold" / FEATURE_STORE_MODEL / "*" / "*.parquet"
    rows, snapshots, last = con.execute(
        f"select count(*), count(distinct snapshot_date), max(snapshot_date) "
        f"from read_parquet('{fs_glob}', hive_partitioning = true)"
    ).fetchone()
    print(
        f"[scale {scale:g}] feature store full refresh: model {full_model:.2f}s, "
        f"process {full_wall:.1f}s, peak {full_rss:.2f} GiB, {rows:,} rows, {snapshots} snapshots",
        flush=True,
    )

    single = DbtInvocation(
        lake_root=str(lake_root), raw_batch_id=batch_id, snapshot_date=str(last), **paths
    )
    _single_wall, single_rss, single_results = run_measured(
        single, ["run", "--select", FEATURE_STORE_MODEL]
    )
    single_model = model_time(single_results, FEATURE_STORE_MODEL)
    single_rows = con.execute(
        f"select count(*) from read_parquet('{fs_glob}', hive_partitioning = true) "
        f"where snapshot_date = '{last}'"
    ).fetchone()[0]
    print(
        f"[scale {scale:g}] single snapshot {last}: model {single_model:.2f}s "
        f"({single_model / full_model:.2f} of full), peak {single_rss:.2f} GiB, "
        f"{single_rows:,} rows",
        flush=True,
    )
    upstream = {
        name: model_time(build_results, name)
        for name in ("int_orders_enriched", "int_customer_feature_changes", "customer_risk_tiers")
    }
    gold_path = sum(upstream[n] for n in ("int_orders_enriched", "int_customer_feature_changes"))
    print(
        f"[scale {scale:g}] upstream gold models in the build: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in upstream.items()),
        flush=True,
    )
    slowest = sorted(
        ((r["execution_time"], r["unique_id"]) for r in build_results["results"]), reverse=True
    )[:8]
    print(
        f"[scale {scale:g}] slowest nodes of the build: "
        + ", ".join(f"{uid.split('.')[-1]} {t:.1f}s" for t, uid in slowest),
        flush=True,
    )
    return {
        "scale": scale,
        "orders": con.execute(
            f"select count(*) from read_parquet('{lake.uri(table_key('orders', batch_id))}')"
        ).fetchone()[0],
        "build_wall_s": build_wall,
        "build_peak_gib": build_rss,
        "full_model_s": full_model,
        "full_process_s": full_wall,
        "full_peak_gib": full_rss,
        "rows": rows,
        "snapshots": snapshots,
        "single_model_s": single_model,
        "single_peak_gib": single_rss,
        "single_rows": single_rows,
        "upstream_gold_s": gold_path,
        **{f"{k}_s": v for k, v in upstream.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scales", nargs="*", type=float, default=[1.0, 10.0])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/olist-dbt-bench"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    os.environ.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"})
    results = [bench_scale(scale, args.work_dir, args.seed) for scale in args.scales]
    print("\nscale   orders     build_s  fs_full_s  fs_peak_GiB  fs_single_s  single/full  rows")
    for r in results:
        print(
            f"{r['scale']:<7g} {r['orders']:<10,d} {r['build_wall_s']:<8.1f} "
            f"{r['full_model_s']:<10.2f} "
            f"{r['full_peak_gib']:<12.2f} {r['single_model_s']:<12.2f} "
            f"{r['single_model_s'] / r['full_model_s']:<12.2f} {r['rows']:,}"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        growth = large["scale"] / small["scale"]
        ratio = large["full_model_s"] / small["full_model_s"]
        print(
            f"full-refresh model time ratio scale {large['scale']:g}/{small['scale']:g}: "
            f"{ratio:.2f} "
            f"(linear would be {growth:g}); rows ratio {large['rows'] / small['rows']:.2f}"
        )
    for r in results:
        misses = []
        if r["full_model_s"] > TARGETS["full_refresh_s"]:
            misses.append(f"full refresh {r['full_model_s']:.1f}s > {TARGETS['full_refresh_s']}s")
        if r["full_peak_gib"] > TARGETS["peak_rss_gib"]:
            misses.append(f"peak {r['full_peak_gib']:.2f} GiB > {TARGETS['peak_rss_gib']} GiB")
        if r["single_model_s"] > TARGETS["single_over_full"] * r["full_model_s"]:
            misses.append("single snapshot > 1/5 of the full refresh")
        print(f"scale {r['scale']:g}: " + ("all targets met" if not misses else "; ".join(misses)))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
