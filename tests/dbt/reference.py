"""An independent, literal implementation of FEATURES.md in plain Python (csv module only).

It reads the Kaggle CSVs, not dbt's output, and computes snapshot S by scanning the facts
with known_at < S exactly as the spec words it. Slow on purpose (per snapshot, per person)
and only meant for small datasets / a handful of customers.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from include.olist_risk.olist.tables import TABLES

FMT = "%Y-%m-%d %H:%M:%S"


def _read(csv_dir: Path, name: str) -> list[dict[str, str | None]]:
    with (csv_dir / TABLES[name].file_name).open(newline="", encoding="utf-8-sig") as handle:
        return [
            {k: (v if v != "" else None) for k, v in row.items()} for row in csv.DictReader(handle)
        ]


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _ts(value: str | None) -> datetime | None:
    value = _text(value)
    return None if value is None else datetime.strptime(value, FMT)


def _num(value: str | None) -> float | None:
    value = _text(value)
    return None if value is None else float(value)


def _zip(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value.zfill(5) if re.fullmatch(r"[0-9]{1,5}", value) else None


def haversine(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def _seed(path: Path) -> dict[str, float]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return {row[0]: float(row[1]) for row in rows}


class Reference:
    def __init__(self, csv_dir: Path, seeds_dir: Path) -> None:
        self.payment_risk = _seed(seeds_dir / "payment_method_risk.csv")
        self.category_prior = _seed(seeds_dir / "category_risk_priors.csv")

        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        for row in _read(csv_dir, "geolocation"):
            z, lat, lng = (
                _zip(row["geolocation_zip_code_prefix"]),
                _num(row["geolocation_lat"]),
                _num(row["geolocation_lng"]),
            )
            if (
                z
                and lat is not None
                and lng is not None
                and -33.75 <= lat <= 5.27
                and -73.99 <= lng <= -34.79
            ):
                s = sums[z]
                s[0] += lat
                s[1] += lng
                s[2] += 1
        self.centroid = {z: (s[0] / s[2], s[1] / s[2]) for z, s in sums.items()}

        customers = {_text(r["customer_id"]): r for r in _read(csv_dir, "customers")}
        translation = {
            _text(r["product_category_name"]): _text(r["product_category_name_english"])
            for r in _read(csv_dir, "product_category_name_translation")
        }
        products = {
            _text(r["product_id"]): _text(r["product_category_name"])
            for r in _read(csv_dir, "products")
        }
        sellers = {
            _text(r["seller_id"]): _zip(r["seller_zip_code_prefix"])
            for r in _read(csv_dir, "sellers")
        }

        self.orders: dict[str, dict] = {}
        for row in _read(csv_dir, "orders"):
            customer = customers.get(_text(row["customer_id"]))
            uid = _text(customer["customer_unique_id"]) if customer else None
            purchase = _ts(row["order_purchase_timestamp"])
            if uid is None or purchase is None:
                continue
            status = _text(row["order_status"])
            self.orders[_text(row["order_id"])] = {
                "order_id": _text(row["order_id"]),
                "uid": uid,
                "purchase": purchase,
                "state": _text(customer["customer_state"]),
                "centroid": self.centroid.get(_zip(customer["customer_zip_code_prefix"])),
                "delivered": _ts(row["order_delivered_customer_date"])
                if status == "delivered"
                else None,
                "cancel_known": _ts(row["order_estimated_delivery_date"])
                if status == "canceled" and _ts(row["order_approved_at"]) is not None
                else None,
                "is_cancel": status == "canceled" and _ts(row["order_approved_at"]) is not None,
                "items": [],
                "payments": [],
                "reviews": [],
            }
        for row in _read(csv_dir, "order_items"):
            order = self.orders.get(_text(row["order_id"]))
            if order is not None:
                product = _text(row["product_id"])
                category = products.get(product)
                english = translation.get(category) if category else None
                prior = (
                    self.category_prior.get(english, self.category_prior["__default__"])
                    if english
                    else self.category_prior["__default__"]
                )
                order["items"].append(
                    (int(_text(row["order_item_id"])), _text(row["seller_id"]), prior)
                )
        for order in self.orders.values():
            order["items"].sort()
            order["distance"] = None
            if order["items"]:
                seller = order["items"][0][1]
                seller_centroid = self.centroid.get(sellers[seller]) if seller in sellers else None
                if seller_centroid and order["centroid"]:
                    order["distance"] = haversine(*order["centroid"], *seller_centroid)
        for row in _read(csv_dir, "order_payments"):
            order = self.orders.get(_text(row["order_id"]))
            if order is not None:
                ptype = _text(row["payment_type"]) or "not_defined"
                installments = _text(row["payment_installments"])
                order["payments"].append(
                    (ptype, int(installments) if installments else None, _num(row["payment_value"]))
                )
        for row in _read(csv_dir, "order_reviews"):
            order = self.orders.get(_text(row["order_id"]))
            answered, score = _ts(row["review_answer_timestamp"]), _text(row["review_score"])
            if order is not None and answered is not None and score is not None:
                order["reviews"].append((answered, _text(row["review_id"]), int(score)))
        self.by_person: dict[str, list[dict]] = defaultdict(list)
        for order in self.orders.values():
            self.by_person[order["uid"]].append(order)

    def features(self, uid: str, snapshot: date) -> dict | None:
        s = datetime(snapshot.year, snapshot.month, snapshot.day)
        orders = sorted(
            (o for o in self.by_person[uid] if o["purchase"] < s),
            key=lambda o: (o["purchase"], o["order_id"]),
        )
        if not orders:
            return None

        def last(days: float = 0, hours: float = 0) -> list[dict]:
            start = s - timedelta(days=days, hours=hours)
            return [o for o in orders if o["purchase"] >= start]

        def visible(o: dict):
            seen = [r for r in o["reviews"] if r[0] < s]
            return max(seen)[2] if seen else None

        latest = max(orders, key=lambda o: (o["purchase"], o["order_id"]))
        delivered = [o for o in orders if o["delivered"] is not None and o["delivered"] < s]
        reviews = [v for v in (visible(o) for o in orders) if v is not None]
        payments = [p for o in orders for p in o["payments"]]
        total = sum(p[2] for p in payments if p[2] is not None)
        items = [i for o in orders for i in o["items"]]
        distances = [o["distance"] for o in orders if o["distance"] is not None]
        velocities = []
        for a, b in itertools.pairwise(orders):
            if a["centroid"] and b["centroid"]:
                hours = (b["purchase"] - a["purchase"]).total_seconds() / 3600.0
                velocities.append(haversine(*a["centroid"], *b["centroid"]) / max(hours, 1.0))
        cancelled = [
            o
            for o in orders
            if o["is_cancel"] and o["cancel_known"] is not None and o["cancel_known"] < s
        ]
        installments = [p[1] for p in payments if p[1] is not None]
        return {
            "customer_unique_id": uid,
            "snapshot_date": snapshot,
            "customer_state": latest["state"],
            "days_since_first_order": (snapshot - orders[0]["purchase"].date()).days,
            "days_since_last_order": (snapshot - max(o["purchase"] for o in orders).date()).days,
            "total_orders_lifetime": len(orders),
            "orders_last_30d": len(last(days=30)),
            "orders_last_7d": len(last(days=7)),
            "orders_last_24h": len(last(hours=24)),
            "distinct_sellers_last_7d": len(
                {i[1] for o in last(days=7) for i in o["items"] if i[1]}
            ),
            "total_spent_last_30d": sum(
                p[2] for o in last(days=30) for p in o["payments"] if p[2] is not None
            ),
            "cancel_rate_lifetime": len(cancelled) / len(orders),
            "cancel_post_approval_count_30d": len(
                [o for o in cancelled if o["cancel_known"] >= s - timedelta(days=30)]
            ),
            "avg_review_score": sum(reviews) / len(reviews) if reviews else None,
            "low_review_on_delivered_rate": (
                len([o for o in delivered if (visible(o) or 99) <= 2]) / len(delivered)
                if delivered
                else None
            ),
            "no_review_rate": len([o for o in delivered if visible(o) is None]) / len(delivered)
            if delivered
            else None,
            "avg_customer_seller_distance_km": sum(distances) / len(distances)
            if distances
            else None,
            "distinct_shipping_states_30d": len({o["state"] for o in last(days=30) if o["state"]}),
            "max_geographic_velocity_kmh": max(velocities) if velocities else None,
            "credit_card_payment_share": (
                sum(p[2] for p in payments if p[0] == "credit_card" and p[2] is not None) / total
                if payments and total != 0
                else None
            ),
            "max_installments_lifetime": max(installments) if installments else None,
            "payment_method_risk_avg": (
                sum(
                    p[2] * self.payment_risk.get(p[0], self.payment_risk["not_defined"])
                    for p in payments
                    if p[2] is not None
                )
                / total
                if payments and total != 0
                else None
            ),
            "category_risk_prior_avg": sum(i[2] for i in items) / len(items) if items else None,
        }

    def snapshot(self, snapshot: date) -> dict[str, dict]:
        out = {}
        for uid in self.by_person:
            row = self.features(uid, snapshot)
            if row is not None:
                out[uid] = row
        return out
