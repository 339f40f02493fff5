"""Generate a Kaggle-shaped Olist dataset with injected, labelled abuse personas.

The nine CSVs have the exact Kaggle file names, headers and byte conventions (see
`olist.TABLES`), so everything downstream treats generated and real data alike; a tenth file,
`ground_truth_labels.csv`, records the personas for evaluating the feature store.

Memory stays bounded at any scale: reference tables (zips, sellers, products) are built once,
then people are generated in fixed-size chunks, each with its own RNG derived from (seed,
chunk index), and every chunk's orders, customers, items, payments and reviews are written
before the next one starts. Same scale and seed give byte-identical files.

    python -m dev.generator.generate --out DIR --scale 1.0 --seed 42
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from dev.generator import reference as ref
from dev.generator.assortment import Catalog, Product, Seller
from dev.generator.orders import DAY, END, ChunkBuilder, OrderPlan, random_purchase, text
from dev.generator.personas import PERSONAS, Label, add_persona
from dev.generator.places import ZipUniverse
from dev.generator.sampling import Weighted, derive_rng, hex_id
from include.olist_risk.olist import tables as olist

# People per chunk: a constant, so the output never depends on available memory.
CHUNK_PEOPLE = 20_000
PERSONAS_AT_SCALE_1 = 100
MIN_PERSONAS = 20
# Mean orders of one customer of each persona (6 + 6 + 4.5 + 2 bursts x 9): normal people
# are reduced by as many orders so that scale 1 keeps Kaggle's ~99k orders.
ORDERS_PER_PERSONA_SET = 34.5
MEAN_ORDERS_PER_PERSON = sum(n * share for n, share in ref.ORDERS_PER_PERSON.items())
ORDERS_PER_PERSON = Weighted(ref.ORDERS_PER_PERSON)
# A repeat customer moves (new zip) only between orders at least a week apart, and rarely.
MOVE_SHARE = 0.08
MIN_MOVE_GAP = 7 * DAY
SAME_DAY_REPEAT_SHARE = 0.4
CHUNK_TABLES = ("orders", "customers", "order_items", "order_payments", "order_reviews")
REFERENCE_TABLES = ("sellers", "products", "geolocation")


@dataclass(frozen=True)
class GenerationResult:
    out_dir: Path
    scale: float
    seed: int
    row_counts: dict[str, int]
    seconds: float


class _CsvFile:
    """One output CSV: LF line endings, quoted header, rows already formatted."""

    def __init__(self, stack: ExitStack, path: Path, header: tuple[str, ...] | list[str]) -> None:
        self.handle: TextIO = stack.enter_context(path.open("w", encoding="utf-8", newline=""))
        self.handle.write(",".join(f'"{name}"' for name in header) + "\n")
        self.rows = 0

    def write(self, rows: list[str]) -> None:
        if rows:
            self.handle.write("\n".join(rows) + "\n")
            self.rows += len(rows)


def persona_count(scale: float) -> int:
    """Customers per persona: proportional to scale, never too few to evaluate."""
    return max(MIN_PERSONAS, round(PERSONAS_AT_SCALE_1 * scale))


def _share(total: int, parts: int, index: int) -> int:
    """Part `index` of `total` split as evenly as possible into `parts`."""
    return total // parts + (1 if index < total % parts else 0)


def _add_person(builder: ChunkBuilder) -> None:
    """A normal customer: usually one order; repeat orders mostly reuse the same zip."""
    rng, universe = builder.rng, builder.universe
    first = random_purchase(rng)
    times = [first]
    for _ in range(ORDERS_PER_PERSON(rng) - 1):
        if rng.random() < SAME_DAY_REPEAT_SHARE:
            later = times[-1] + rng.randint(600, 12 * 3600)
        else:
            later = times[-1] + DAY + int(rng.expovariate(1 / (60 * DAY)))
        times.append(later if later <= END else rng.randint(first, END))
    times.sort()
    unique_id = hex_id(rng)
    home = universe.customer_zip(rng)
    previous = times[0]
    for purchase in times:
        if purchase - previous >= MIN_MOVE_GAP and rng.random() < MOVE_SHARE:
            state = universe.zips[home].state
            home = (
                universe.zip_in_state(rng, state)
                if rng.random() < 0.8
                else universe.customer_zip(rng)
            )
        builder.add_order(OrderPlan(unique_id, home, purchase))
        previous = purchase


def _build_chunk(
    index: int,
    n_chunks: int,
    people: int,
    personas: int,
    seed: int,
    universe: ZipUniverse,
    catalog: Catalog,
) -> tuple[dict[str, list[str]], list[Label]]:
    rng = derive_rng(seed, "chunk", index)
    # At least one not_defined payment overall, so small datasets keep the quirk too.
    not_defined = round(ref.NOT_DEFINED_PAYMENTS_PER_ORDER * people) or (1 if index == 0 else 0)
    builder = ChunkBuilder(rng, universe, catalog, not_defined_payments=not_defined)
    labels = [
        add_persona(rng, builder, persona)
        for persona in PERSONAS
        for _ in range(_share(personas, n_chunks, index))
    ]
    for _ in range(people):
        _add_person(builder)
    return builder.shuffled(), labels


def _table_file(stack: ExitStack, out_dir: Path, table: str) -> _CsvFile:
    return _CsvFile(stack, out_dir / olist.TABLES[table].file_name, olist.TABLES[table].header)


def _write_reference_tables(
    out_dir: Path, universe: ZipUniverse, catalog: Catalog, seed: int, scale: float
) -> dict[str, int]:
    with ExitStack() as stack:
        writers = {name: _table_file(stack, out_dir, name) for name in REFERENCE_TABLES}
        writers["sellers"].write([_seller_row(universe, seller) for seller in catalog.sellers])
        writers["products"].write([_product_row(product) for product in catalog.products])
        batch: list[str] = []
        for place, lat, lng in universe.geolocation_rows(derive_rng(seed, "geolocation"), scale):
            batch.append(f"{text(place.prefix)},{lat!r},{lng!r},{text(place.city)},{place.state}")
            if len(batch) >= 50_000:
                writers["geolocation"].write(batch)
                batch = []
        writers["geolocation"].write(batch)
    counts = {olist.TABLES[name].file_name: writer.rows for name, writer in writers.items()}
    counts[olist.TABLES["product_category_name_translation"].file_name] = _write_translation(
        out_dir
    )
    return counts


def _seller_row(universe: ZipUniverse, seller: Seller) -> str:
    place = universe.zips[seller.zip_index]
    return f"{text(seller.seller_id)},{text(place.prefix)},{text(place.city)},{place.state}"


def _product_row(product: Product) -> str:
    listing = product.listing or ("", "", "")
    dims = product.dimensions or ("", "", "", "")
    fields = [text(product.product_id), product.category or "", *map(str, listing), *map(str, dims)]
    return ",".join(fields)


def _write_translation(out_dir: Path) -> int:
    """The real file's bytes: UTF-8 BOM, unquoted header, CRLF, no newline after the last row."""
    table = olist.TABLES["product_category_name_translation"]
    lines = [",".join(table.header), *(f"{pt},{en}" for pt, en in ref.CATEGORY_TRANSLATIONS)]
    (out_dir / table.file_name).write_bytes(("\ufeff" + "\r\n".join(lines)).encode("utf-8"))
    return len(ref.CATEGORY_TRANSLATIONS)


def generate(out_dir: Path, scale: float = 1.0, seed: int = 42) -> GenerationResult:
    """Write the nine Kaggle CSVs and ground_truth_labels.csv into `out_dir`."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    universe = ZipUniverse(derive_rng(seed, "zips"), scale)
    catalog = Catalog(derive_rng(seed, "catalog"), universe, scale)
    row_counts = _write_reference_tables(out_dir, universe, catalog, seed, scale)
    personas = persona_count(scale)
    persona_orders = personas * ORDERS_PER_PERSONA_SET
    people = max(
        0, round(ref.REAL_CUSTOMER_UNIQUE_IDS * scale - persona_orders / MEAN_ORDERS_PER_PERSON)
    )
    n_chunks = max(1, -(-people // CHUNK_PEOPLE))
    with ExitStack() as stack:
        writers = {name: _table_file(stack, out_dir, name) for name in CHUNK_TABLES}
        labels = _CsvFile(stack, out_dir / olist.LABELS_FILE_NAME, olist.LABELS_HEADER)
        for index in range(n_chunks):
            rows, chunk_labels = _build_chunk(
                index, n_chunks, _share(people, n_chunks, index), personas, seed, universe, catalog
            )
            for name, writer in writers.items():
                writer.write(rows[name])
            labels.write(
                [
                    f"{text(label.unique_id)},{label.persona},{label.first_active},"
                    f"{label.last_active},{label.target_feature}"
                    for label in chunk_labels
                ]
            )
    for name, writer in writers.items():
        row_counts[olist.TABLES[name].file_name] = writer.rows
    row_counts[olist.LABELS_FILE_NAME] = labels.rows
    return GenerationResult(out_dir, scale, seed, row_counts, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write the CSVs into")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1.0 is Kaggle-sized (~99k orders)"
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    result = generate(args.out, args.scale, args.seed)
    for file_name, rows in result.row_counts.items():
        print(f"{file_name:48s} {rows:>10,d} rows")
    print(f"scale {result.scale} seed {result.seed}: {result.seconds:.1f}s -> {result.out_dir}")


if __name__ == "__main__":
    main()
