"""The generator writes Kaggle-shaped, calibrated, deterministic data with labelled personas.

Expected figures come from the data README (published counts of the real dataset) and from
FEATURES.md / the generator brief (persona definitions), never from the generated output.
"""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest

from dev.generator.generate import GenerationResult, generate
from dev.generator.places import haversine_km
from include.olist_risk.olist import tables as olist
from tests.dev.generator.csv_rows import SCALE, read_rows, read_table
from tests.dev.generator.persona_features import persona_separation

TS = "%Y-%m-%d %H:%M:%S"
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
TRANSLATION = olist.TABLES["product_category_name_translation"]
PERSONA_TARGETS = {
    "serial_canceller": "cancel_rate_lifetime",
    "low_review_abuser": "low_review_on_delivered_rate",
    "geo_hopper": "max_geographic_velocity_kmh",
    "seller_burst": "distinct_sellers_last_7d",
}
# Published counts (data README).
STATUS_COUNTS = {
    "delivered": 96478, "shipped": 1107, "canceled": 625, "unavailable": 609,
    "invoiced": 314, "processing": 301, "created": 5, "approved": 2,
}  # fmt: skip
REVIEW_COUNTS = {5: 57328, 4: 19142, 1: 11424, 3: 8179, 2: 3151}
BRAZIL_LAT, BRAZIL_LNG = (-33.75, 5.27), (-73.99, -34.79)


def _ts(value: str) -> datetime | None:
    return datetime.strptime(value, TS) if value else None


def _labels(directory: Path) -> list[dict[str, str]]:
    return read_rows(directory, olist.LABELS_FILE_NAME)


def _persona_ids(directory: Path, persona: str | None = None) -> set[str]:
    return {r["customer_unique_id"] for r in _labels(directory) if persona in (None, r["persona"])}


def _orders_with_person(directory: Path) -> list[dict[str, str]]:
    people = {c["customer_id"]: c for c in read_table(directory, "customers")}
    return [order | people[order["customer_id"]] for order in read_table(directory, "orders")]


def _unlabelled_orders(directory: Path) -> list[dict[str, str]]:
    labelled = _persona_ids(directory)
    return [o for o in _orders_with_person(directory) if o["customer_unique_id"] not in labelled]


def _sha256s(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


# --- files, headers, bytes ----------------------------------------------------------------


def test_writes_the_nine_kaggle_files_and_the_labels_file(generated: GenerationResult) -> None:
    expected = {t.file_name for t in olist.TABLES.values()} | {olist.LABELS_FILE_NAME}
    assert {p.name for p in generated.out_dir.iterdir()} == expected
    assert set(generated.row_counts) == expected


@pytest.mark.parametrize("table", [t for t in olist.TABLES if t != TRANSLATION.name])
def test_header_is_the_quoted_olist_header(generated: GenerationResult, table: str) -> None:
    with (generated.out_dir / olist.TABLES[table].file_name).open("rb") as handle:
        first_line = handle.readline()
    assert first_line == (",".join(f'"{c}"' for c in olist.TABLES[table].header) + "\n").encode()


def test_translation_file_has_bom_unquoted_header_and_crlf(generated: GenerationResult) -> None:
    raw = (generated.out_dir / TRANSLATION.file_name).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + ",".join(TRANSLATION.header).encode() + b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n")
    rows = read_rows(generated.out_dir, TRANSLATION.file_name)
    assert len(rows) == 71  # the real file's row count (data README)
    names = {r["product_category_name"] for r in rows}
    assert "pc_gamer" not in names and "portateis_cozinha_e_preparadores_de_alimentos" not in names


def test_labels_header_matches_the_olist_module(generated: GenerationResult) -> None:
    with (generated.out_dir / olist.LABELS_FILE_NAME).open(encoding="utf-8", newline="") as handle:
        assert tuple(next(csv.reader(handle))) == olist.LABELS_HEADER


@pytest.mark.parametrize(
    ("table", "column"),
    [("customers", 2), ("sellers", 1), ("geolocation", 0)],
    ids=["customers", "sellers", "geolocation"],
)
def test_zip_prefixes_are_zero_padded_quoted_strings(
    generated: GenerationResult, table: str, column: int
) -> None:
    lines = (generated.out_dir / olist.TABLES[table].file_name).read_text().splitlines()[1:]
    zips = [line.split(",")[column] for line in lines]
    assert all(re.fullmatch(r'"\d{5}"', z) for z in zips)
    # Sao Paulo's prefixes 01000-09999 start with 0: the padding must survive.
    assert any(z.startswith('"0') for z in zips)


@pytest.mark.parametrize("table", ["orders", "customers", "order_payments", "products", "sellers"])
def test_ids_are_quoted_exactly_when_they_start_with_a_digit(
    generated: GenerationResult, table: str
) -> None:
    lines = (generated.out_dir / olist.TABLES[table].file_name).read_text().splitlines()[1:]
    first_fields = [line.split(",", 1)[0] for line in lines]
    for field in first_fields:
        bare = field.strip('"')
        assert re.fullmatch(r"[0-9a-f]{32}", bare)
        assert field.startswith('"') == bare[0].isdigit()
    assert any(f.startswith('"') for f in first_fields) and any(
        f[0].isalpha() for f in first_fields
    )


def test_numbers_and_timestamps_are_never_quoted(generated: GenerationResult) -> None:
    line = (generated.out_dir / olist.TABLES["orders"].file_name).read_text().splitlines()[1]
    assert re.search(r",\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},", line)
    payment = (
        (generated.out_dir / olist.TABLES["order_payments"].file_name).read_text().splitlines()[1]
    )
    assert re.fullmatch(r'("\w+"|\w+),\d+,\w+,\d+,\d+\.\d{2}', payment)


def test_multiline_review_comments_parse_back_with_csv_and_duckdb(
    generated: GenerationResult,
) -> None:
    path = generated.out_dir / olist.TABLES["order_reviews"].file_name
    reviews = read_table(generated.out_dir, "order_reviews")
    messages = [r["review_comment_message"] for r in reviews]
    assert any("\n" in m for m in messages)
    assert any("," in m for m in messages)
    assert any('"' in m for m in messages)
    assert all(r["review_score"] in {"1", "2", "3", "4", "5"} for r in reviews)
    (count,) = duckdb.sql(f"select count(*) from read_csv('{path}', header=true)").fetchone()
    assert count == len(reviews) == generated.row_counts[path.name]


@pytest.mark.parametrize("table", [t for t in olist.TABLES if t != TRANSLATION.name])
def test_lf_line_endings_and_carriage_returns_only_inside_comments(
    generated: GenerationResult, table: str
) -> None:
    raw = (generated.out_dir / olist.TABLES[table].file_name).read_bytes()
    assert raw.endswith(b"\n")
    rows = read_table(generated.out_dir, table)
    in_fields = sum(value.count("\r") for row in rows for value in row.values())
    assert raw.count(b"\r") == in_fields


@pytest.mark.parametrize(
    "table",
    [t.name for t in olist.TABLES.values() if any(c.type == "timestamp" for c in t.columns)],
)
def test_timestamps_use_the_kaggle_format_and_nulls_are_empty(
    generated: GenerationResult, table: str
) -> None:
    columns = [c.name for c in olist.TABLES[table].columns if c.type == olist.ColumnType.TIMESTAMP]
    for row in read_table(generated.out_dir, table):
        for column in columns:
            assert row[column] == "" or TIMESTAMP_RE.match(row[column]), (column, row[column])


def test_row_counts_report_the_data_rows_written(generated: GenerationResult) -> None:
    for file_name, count in generated.row_counts.items():
        assert len(read_rows(generated.out_dir, file_name)) == count


# --- determinism ------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", scale=0.02, seed=7)
    second = generate(tmp_path / "b", scale=0.02, seed=7)
    assert _sha256s(first.out_dir) == _sha256s(second.out_dir)


def test_different_seed_changes_every_generated_table(tmp_path: Path) -> None:
    first = _sha256s(generate(tmp_path / "a", scale=0.02, seed=7).out_dir)
    second = _sha256s(generate(tmp_path / "b", scale=0.02, seed=8).out_dir)
    assert [name for name in first if first[name] == second[name]] == [TRANSLATION.file_name]


# --- keys and consistency -----------------------------------------------------------------


@pytest.mark.parametrize("table", [t.name for t in olist.TABLES.values() if t.key])
def test_olist_table_keys_are_unique(generated: GenerationResult, table: str) -> None:
    key = olist.TABLES[table].key
    rows = read_table(generated.out_dir, table)
    assert len({tuple(r[c] for c in key) for r in rows}) == len(rows)


def test_each_order_has_its_own_customer_id(generated: GenerationResult) -> None:
    orders = read_table(generated.out_dir, "orders")
    customer_ids = {c["customer_id"] for c in read_table(generated.out_dir, "customers")}
    assert len({o["customer_id"] for o in orders}) == len(orders) == len(customer_ids)
    assert {o["customer_id"] for o in orders} == customer_ids


def test_child_rows_reference_existing_orders_products_and_sellers(
    generated: GenerationResult,
) -> None:
    out = generated.out_dir
    order_ids = {o["order_id"] for o in read_table(out, "orders")}
    products = {p["product_id"] for p in read_table(out, "products")}
    sellers = {s["seller_id"] for s in read_table(out, "sellers")}
    for item in read_table(out, "order_items"):
        assert item["order_id"] in order_ids
        assert item["product_id"] in products and item["seller_id"] in sellers
    assert {p["order_id"] for p in read_table(out, "order_payments")} == order_ids
    assert {r["order_id"] for r in read_table(out, "order_reviews")} <= order_ids


# status -> (approved, carrier, delivered) presence; None means either is allowed
STATUS_TIMESTAMPS = {
    "delivered": (True, True, True),
    "shipped": (True, True, False),
    "canceled": (None, None, False),
    "unavailable": (True, False, False),
    "invoiced": (True, False, False),
    "processing": (True, False, False),
    "approved": (True, False, False),
    "created": (False, False, False),
}


def test_order_timestamps_are_consistent_with_status(generated: GenerationResult) -> None:
    for order in read_table(generated.out_dir, "orders"):
        purchase = _ts(order["order_purchase_timestamp"])
        approved = _ts(order["order_approved_at"])
        carrier = _ts(order["order_delivered_carrier_date"])
        delivered = _ts(order["order_delivered_customer_date"])
        estimated = _ts(order["order_estimated_delivery_date"])
        assert purchase is not None and estimated is not None and estimated > purchase
        expected = STATUS_TIMESTAMPS[order["order_status"]]
        for present, value in zip(expected, (approved, carrier, delivered), strict=True):
            if present is not None:
                assert (value is not None) == present, order
        events = [t for t in (purchase, approved, carrier, delivered) if t is not None]
        assert events == sorted(events), order


def test_canceled_orders_come_with_and_without_approval(generated: GenerationResult) -> None:
    canceled = [o for o in _unlabelled_orders(generated.out_dir) if o["order_status"] == "canceled"]
    approved = sum(1 for o in canceled if o["order_approved_at"])
    assert 0 < approved < len(canceled)


def test_reviews_are_answered_after_creation_or_not_at_all(generated: GenerationResult) -> None:
    reviews = read_table(generated.out_dir, "order_reviews")
    for review in reviews:
        created = _ts(review["review_creation_date"])
        assert created is not None and created.time().isoformat() == "00:00:00"
        answered = _ts(review["review_answer_timestamp"])
        assert answered is None or answered > created
    assert any(not r["review_answer_timestamp"] for r in reviews)


# --- calibration to the published figures -----------------------------------------------------


def test_purchases_span_the_published_range_and_grow_over_time(generated: GenerationResult) -> None:
    purchases = [
        _ts(o["order_purchase_timestamp"]) for o in read_table(generated.out_dir, "orders")
    ]
    assert min(purchases) >= datetime(2016, 9, 4)
    assert max(purchases) < datetime(2018, 10, 18)
    by_year = Counter(p.year for p in purchases)
    # Real data: a few hundred orders in 2016, ~45k in 2017, ~54k in 2018.
    assert by_year[2016] < 0.02 * len(purchases)
    assert by_year[2017] > 0.35 * len(purchases) and by_year[2018] > by_year[2017]


def test_order_volume_follows_scale(generated: GenerationResult) -> None:
    orders = generated.row_counts[olist.TABLES["orders"].file_name]
    assert 0.9 * 99441 * SCALE < orders < 1.25 * 99441 * SCALE


def test_status_mix_of_unlabelled_customers_matches_published(generated: GenerationResult) -> None:
    orders = _unlabelled_orders(generated.out_dir)
    counts = Counter(o["order_status"] for o in orders)
    total_published = sum(STATUS_COUNTS.values())
    assert counts["delivered"] / len(orders) == pytest.approx(96478 / total_published, abs=0.015)
    for status in ("shipped", "canceled", "unavailable", "invoiced", "processing"):
        assert counts[status] / len(orders) == pytest.approx(
            STATUS_COUNTS[status] / total_published, abs=0.006
        ), status
    assert set(counts) <= set(STATUS_COUNTS)


def test_review_score_mix_of_unlabelled_customers_matches_published(
    generated: GenerationResult,
) -> None:
    order_ids = {o["order_id"] for o in _unlabelled_orders(generated.out_dir)}
    scores = Counter(
        int(r["review_score"])
        for r in read_table(generated.out_dir, "order_reviews")
        if r["order_id"] in order_ids
    )
    total = sum(scores.values())
    for score, count in REVIEW_COUNTS.items():
        assert scores[score] / total == pytest.approx(
            count / sum(REVIEW_COUNTS.values()), abs=0.025
        )


def test_most_orders_have_one_review_a_few_none_and_a_few_several(
    generated: GenerationResult,
) -> None:
    orders = _unlabelled_orders(generated.out_dir)
    per_order = Counter(r["order_id"] for r in read_table(generated.out_dir, "order_reviews"))
    counts = Counter(per_order[o["order_id"]] for o in orders)
    # Real: 768 of 99441 orders unreviewed; 551 review rows beyond one per order.
    assert 0 < counts[0] < 0.03 * len(orders)
    assert counts[2] + counts[3] > 0
    assert counts[1] > 0.95 * len(orders)


def test_about_three_percent_of_unlabelled_people_order_more_than_once(
    generated: GenerationResult,
) -> None:
    per_person = Counter(o["customer_unique_id"] for o in _unlabelled_orders(generated.out_dir))
    repeat_share = sum(1 for n in per_person.values() if n > 1) / len(per_person)
    # Real: 96096 people for 99441 orders, "about 3% of people order more than once".
    assert repeat_share == pytest.approx(0.03, abs=0.012)


def test_unlabelled_repeat_customers_mostly_reuse_one_zip(generated: GenerationResult) -> None:
    zips: dict[str, set[str]] = defaultdict(set)
    counts = Counter()
    for order in _unlabelled_orders(generated.out_dir):
        zips[order["customer_unique_id"]].add(order["customer_zip_code_prefix"])
        counts[order["customer_unique_id"]] += 1
    repeaters = [person for person, n in counts.items() if n > 1]
    assert sum(1 for p in repeaters if len(zips[p]) == 1) > 0.8 * len(repeaters)


def test_payments_look_like_the_kaggle_payments_file(generated: GenerationResult) -> None:
    payments = read_table(generated.out_dir, "order_payments")
    types = Counter(p["payment_type"] for p in payments)
    assert set(types) == {"credit_card", "boleto", "voucher", "debit_card", "not_defined"}
    # Real row shares: credit_card 73.9%, boleto 19.0%, voucher 5.6%, debit_card 1.5%.
    assert types["credit_card"] / len(payments) == pytest.approx(0.739, abs=0.04)
    assert types["boleto"] / len(payments) == pytest.approx(0.190, abs=0.03)
    assert all(p["payment_value"] == "0.00" for p in payments if p["payment_type"] == "not_defined")
    for payment in payments:
        installments = int(payment["payment_installments"])
        if payment["payment_type"] == "credit_card":
            assert 1 <= installments <= 24
        else:
            assert installments == 1
    assert max(int(p["payment_installments"]) for p in payments) >= 10
    sequences: dict[str, list[int]] = defaultdict(list)
    for payment in payments:
        sequences[payment["order_id"]].append(int(payment["payment_sequential"]))
    assert all(sorted(s) == list(range(1, len(s) + 1)) for s in sequences.values())
    multi = [o for o, s in sequences.items() if len(s) > 1]
    assert multi, "voucher orders pay in several rows"
    voucher_orders = {p["order_id"] for p in payments if p["payment_type"] == "voucher"}
    assert set(multi) <= voucher_orders


def test_geolocation_has_many_rows_per_zip_some_noise_and_misses_some_zips(
    generated: GenerationResult,
) -> None:
    geo = read_table(generated.out_dir, "geolocation")
    per_zip = Counter(g["geolocation_zip_code_prefix"] for g in geo)
    # Real: ~1M rows for ~19k prefixes.
    assert len(geo) / len(per_zip) > 20
    outside = [
        g
        for g in geo
        if not (
            BRAZIL_LAT[0] <= float(g["geolocation_lat"]) <= BRAZIL_LAT[1]
            and BRAZIL_LNG[0] <= float(g["geolocation_lng"]) <= BRAZIL_LNG[1]
        )
    ]
    assert 0 < len(outside) < 0.001 * len(geo)
    customer_zips = {
        c["customer_zip_code_prefix"] for c in read_table(generated.out_dir, "customers")
    }
    assert customer_zips - set(per_zip), "some customer zips have no geolocation row"


def test_products_match_the_real_catalogue_quirks(generated: GenerationResult) -> None:
    products = read_table(generated.out_dir, "products")
    assert len(products) == pytest.approx(32951 * SCALE, rel=0.05)
    uncategorised = [p for p in products if not p["product_category_name"]]
    # Real: 610 of 32951 products have no category, and then no name/description/photos.
    assert len(uncategorised) / len(products) == pytest.approx(610 / 32951, abs=0.01)
    for product in uncategorised:
        assert product["product_name_lenght"] == product["product_photos_qty"] == ""
    translated = {
        r["product_category_name"] for r in read_rows(generated.out_dir, TRANSLATION.file_name)
    }
    categories = {p["product_category_name"] for p in products} - {""}
    assert {"pc_gamer", "portateis_cozinha_e_preparadores_de_alimentos"} <= categories - translated
    assert categories <= translated | {"pc_gamer", "portateis_cozinha_e_preparadores_de_alimentos"}


def test_sellers_follow_the_real_state_mix(generated: GenerationResult) -> None:
    sellers = read_table(generated.out_dir, "sellers")
    assert len(sellers) == pytest.approx(3095 * SCALE, rel=0.05)
    states = Counter(s["seller_state"] for s in sellers)
    # Real: SP 1849 of 3095 sellers, then PR, MG, SC, RJ, RS.
    assert states["SP"] / len(sellers) == pytest.approx(1849 / 3095, abs=0.1)
    assert states.most_common(1)[0][0] == "SP"


# --- personas ----------------------------------------------------------------------------


def test_labels_list_each_persona_with_its_target_feature(generated: GenerationResult) -> None:
    labels = _labels(generated.out_dir)
    people = {o["customer_unique_id"] for o in _orders_with_person(generated.out_dir)}
    by_persona = Counter(label["persona"] for label in labels)
    assert set(by_persona) == set(PERSONA_TARGETS)
    assert all(count >= 20 for count in by_persona.values())
    assert len({label["customer_unique_id"] for label in labels}) == len(labels)
    for label in labels:
        assert label["target_feature"] == PERSONA_TARGETS[label["persona"]]
        assert label["customer_unique_id"] in people
        first, last = (
            date.fromisoformat(label["first_active"]),
            date.fromisoformat(label["last_active"]),
        )
        assert date(2016, 9, 4) <= first <= last <= date(2018, 10, 17)


def _persona_orders(directory: Path, persona: str) -> dict[str, list[dict[str, str]]]:
    ids = _persona_ids(directory, persona)
    orders: dict[str, list[dict[str, str]]] = defaultdict(list)
    for order in _orders_with_person(directory):
        if order["customer_unique_id"] in ids:
            orders[order["customer_unique_id"]].append(order)
    assert set(orders) == ids
    return orders


def test_serial_cancellers_cancel_most_orders_after_approval(generated: GenerationResult) -> None:
    labels = {r["customer_unique_id"]: r for r in _labels(generated.out_dir)}
    for person, orders in _persona_orders(generated.out_dir, "serial_canceller").items():
        cancels = [o for o in orders if o["order_status"] == "canceled" and o["order_approved_at"]]
        assert 4 <= len(orders) <= 8 and len(cancels) >= 3 and len(cancels) > len(orders) / 2
        for order in cancels:
            purchase = _ts(order["order_purchase_timestamp"])
            estimated = _ts(order["order_estimated_delivery_date"])
            assert timedelta(days=7) <= estimated - purchase <= timedelta(days=21)
            assert not order["order_delivered_customer_date"]
        known = sorted(o["order_estimated_delivery_date"][:10] for o in cancels)
        assert labels[person]["first_active"] == known[0]
        assert labels[person]["last_active"] == known[-1]


def test_low_review_abusers_review_every_delivered_order_1_or_2(
    generated: GenerationResult,
) -> None:
    reviews: dict[str, list[dict[str, str]]] = defaultdict(list)
    for review in read_table(generated.out_dir, "order_reviews"):
        reviews[review["order_id"]].append(review)
    labels = {r["customer_unique_id"]: r for r in _labels(generated.out_dir)}
    for person, orders in _persona_orders(generated.out_dir, "low_review_abuser").items():
        assert 4 <= len(orders) <= 8
        answers = []
        for order in orders:
            assert order["order_status"] == "delivered"
            (review,) = reviews[order["order_id"]]
            assert review["review_score"] in {"1", "2"}
            delivered, answered = (
                _ts(order["order_delivered_customer_date"]),
                _ts(review["review_answer_timestamp"]),
            )
            assert delivered < answered <= delivered + timedelta(days=5)
            answers.append(review["review_answer_timestamp"][:10])
        assert labels[person]["first_active"] == min(answers)


def _centroids(directory: Path) -> dict[str, tuple[float, float]]:
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in read_table(directory, "geolocation"):
        lat, lng = float(row["geolocation_lat"]), float(row["geolocation_lng"])
        if BRAZIL_LAT[0] <= lat <= BRAZIL_LAT[1] and BRAZIL_LNG[0] <= lng <= BRAZIL_LNG[1]:
            points[row["geolocation_zip_code_prefix"]].append((lat, lng))
    return {
        z: (sum(p[0] for p in v) / len(v), sum(p[1] for p in v) / len(v)) for z, v in points.items()
    }


def test_geo_hoppers_jump_over_1000_km_within_hours(generated: GenerationResult) -> None:
    centroids = _centroids(generated.out_dir)
    for orders in _persona_orders(generated.out_dir, "geo_hopper").values():
        assert 3 <= len(orders) <= 6
        orders.sort(key=lambda o: o["order_purchase_timestamp"])
        for before, after in pairwise(orders):
            hours = (
                _ts(after["order_purchase_timestamp"]) - _ts(before["order_purchase_timestamp"])
            ).total_seconds() / 3600
            assert 1 <= hours <= 6
            a, b = (
                centroids[before["customer_zip_code_prefix"]],
                centroids[after["customer_zip_code_prefix"]],
            )
            assert haversine_km(*a, *b) > 1000


def test_seller_bursts_hit_many_sellers_just_before_a_month_start(
    generated: GenerationResult,
) -> None:
    sellers: dict[str, set[str]] = defaultdict(set)
    for item in read_table(generated.out_dir, "order_items"):
        sellers[item["order_id"]].add(item["seller_id"])
    for orders in _persona_orders(generated.out_dir, "seller_burst").values():
        bursts: dict[date, set[str]] = defaultdict(set)
        counts = Counter()
        for order in orders:
            purchase = _ts(order["order_purchase_timestamp"])
            month_start = (purchase + timedelta(days=7)).date().replace(day=1)
            assert (
                timedelta(0)
                < datetime.combine(month_start, datetime.min.time()) - purchase
                <= timedelta(days=6)
            )
            bursts[month_start] |= sellers[order["order_id"]]
            counts[month_start] += 1
        assert 1 <= len(bursts) <= 3
        for month_start, distinct in bursts.items():
            assert 6 <= len(distinct) == counts[month_start] <= 12


def test_personas_stand_out_on_their_target_feature(generated: GenerationResult) -> None:
    shares = persona_separation(generated.out_dir)
    assert set(shares) == set(PERSONA_TARGETS)
    for persona, share in shares.items():
        assert share >= 0.8, (persona, share)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_writes_the_files_and_prints_counts(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "dev.generator.generate"]
    command += ["--out", str(tmp_path), "--scale", "0.01", "--seed", "3"]
    project = Path(__file__).resolve().parents[3]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=project)
    assert "olist_orders_dataset.csv" in result.stdout and "rows" in result.stdout
    assert (tmp_path / olist.LABELS_FILE_NAME).is_file()
