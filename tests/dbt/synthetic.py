"""A tiny, deterministic Olist-shaped dataset for the dbt tests' edge cases.

Not the project's generator (dev/generator/generate.py): this one is small and
deliberately nasty (zip prefixes with and without leading zeros or padding, NULL unique ids,
reviews answered after later snapshots, several reviews per order, cancellations whose
known_at lies months after the purchase, orders at exact window bounds, unknown centroids).
It writes the nine Kaggle CSVs with their exact headers.
"""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

from include.olist_risk.olist.tables import TABLES

FMT = "%Y-%m-%d %H:%M:%S"
STATES = ["SP", "RJ", "MG", "RS", "PR", "BA", "SC", "PE"]
CATEGORIES = ["beleza_saude", "informatica_acessorios", "moveis_decoracao", "sem_traducao", ""]
PAYMENT_TYPES = ["credit_card", "boleto", "voucher", "debit_card", "", "pix"]


def _ts(value: datetime | None) -> str:
    return "" if value is None else value.strftime(FMT)


def write_synthetic(out_dir: Path, n_people: int = 150, seed: int = 7) -> Path:
    rnd = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[list[str]]] = {name: [] for name in TABLES}

    zips = [f"{rnd.randint(1000, 99999)}" for _ in range(40)]
    for z in zips:
        for _ in range(rnd.randint(1, 4)):
            lat, lng = rnd.uniform(-30, -5), rnd.uniform(-60, -36)
            rows["geolocation"].append([z.zfill(5), f"{lat:.6f}", f"{lng:.6f}", "city", "SP"])
    rows["geolocation"].append([zips[0], "40.0", "-50.0", "noise", "SP"])  # outside Brazil
    rows["geolocation"].append([zips[1], "-33.75", "-34.79", "edge", "SP"])  # on the bounds

    def zip_text(z: str) -> str:
        return rnd.choice([z, z.zfill(5), f" {z.zfill(5)} ", z.lstrip("0") or "0"])

    sellers = [f"seller{i:03d}" for i in range(25)]
    for s in sellers[:-2]:  # the last two sellers are missing from sellers
        rows["sellers"].append(
            [s, zip_text(rnd.choice([*zips, "abc"])), "city", rnd.choice(STATES)]
        )
    products = [f"prod{i:03d}" for i in range(30)]
    for p in products[:-3]:  # three products missing from products
        rows["products"].append(
            [p, rnd.choice(CATEGORIES), "10", "100", "1", "500", "10", "10", "10"]
        )
    rows["product_category_name_translation"] += [
        ["beleza_saude", "health_beauty"],
        ["informatica_acessorios", "computers_accessories"],
        ["moveis_decoracao", "furniture_decor"],
    ]

    start = datetime(2017, 1, 3, 10, 0, 0)
    order_no = review_no = 0
    for person in range(n_people):
        unique_id = f"person{person:04d}"
        n_orders = rnd.choice([1, 1, 1, 2, 3, 5, 8])
        t = start + timedelta(days=rnd.randint(0, 420), seconds=rnd.randint(0, 86399))
        for _ in range(n_orders):
            order_no += 1
            order_id = f"order{order_no:05d}"
            customer_id = f"cust{order_no:05d}"
            state = rnd.choice([*STATES, ""])
            uid = "" if rnd.random() < 0.02 else unique_id
            zip_value = zip_text(rnd.choice(zips)) if rnd.random() > 0.1 else "xx1"
            rows["customers"].append([customer_id, uid, zip_value, "city", state])
            gap = rnd.choice(
                [
                    timedelta(minutes=20),
                    timedelta(hours=3),
                    timedelta(days=2),
                    timedelta(days=25),
                    timedelta(days=90),
                ]
            )
            t = t + gap
            purchase = t if rnd.random() > 0.01 else None
            status = rnd.choice(["delivered"] * 6 + ["canceled", "shipped", "processing"])
            approved = (
                None if rnd.random() < 0.3 and status == "canceled" else t + timedelta(hours=1)
            )
            delivered = t + timedelta(days=rnd.randint(2, 40)) if status == "delivered" else None
            if status == "delivered" and rnd.random() < 0.05:
                delivered = None
            estimated = t + timedelta(days=rnd.randint(10, 60)) if rnd.random() > 0.05 else None
            rows["orders"].append(
                [
                    order_id,
                    customer_id,
                    status,
                    _ts(purchase),
                    _ts(approved),
                    _ts(delivered),
                    _ts(delivered),
                    _ts(estimated),
                ]
            )
            for item in range(1, rnd.choice([1, 1, 2, 3, 11]) + 1):
                rows["order_items"].append(
                    [
                        order_id,
                        str(item),
                        rnd.choice(products),
                        rnd.choice(sellers),
                        _ts(t),
                        f"{rnd.uniform(5, 500):.2f}",
                        f"{rnd.uniform(0, 50):.2f}",
                    ]
                )
            for seq in range(1, rnd.choice([0, 1, 1, 1, 2]) + 1):
                rows["order_payments"].append(
                    [
                        order_id,
                        str(seq),
                        rnd.choice(PAYMENT_TYPES),
                        str(rnd.randint(1, 10)),
                        rnd.choice([f"{rnd.uniform(0, 900):.2f}", "0"]),
                    ]
                )
            for _ in range(rnd.choice([0, 1, 1, 1, 2, 3])):
                review_no += 1
                answered = t + timedelta(days=rnd.randint(1, 150), seconds=rnd.randint(0, 9999))
                if rnd.random() < 0.05:
                    answered = None
                rows["order_reviews"].append(
                    [
                        f"rev{review_no:05d}",
                        order_id,
                        str(rnd.randint(1, 5)) if rnd.random() > 0.03 else "",
                        "",
                        "",
                        _ts(answered),
                        _ts(answered),
                    ]
                )
    # exact window bounds around snapshot 2017-06-01 for person9999
    s = datetime(2017, 6, 1)
    for k, (offset, status) in enumerate(
        [
            (timedelta(days=30), "delivered"),
            (timedelta(days=7), "delivered"),
            (timedelta(hours=24), "canceled"),
            (timedelta(0), "delivered"),
        ]
    ):
        order_id, customer_id = f"edge{k}", f"edgecust{k}"
        rows["customers"].append([customer_id, "person9999", "01037", "city", STATES[k]])
        p = s - offset
        rows["orders"].append(
            [
                order_id,
                customer_id,
                status,
                _ts(p),
                _ts(p),
                _ts(p + timedelta(days=3)),
                _ts(p + timedelta(days=3)),
                _ts(s - timedelta(days=30) + timedelta(days=k)),
            ]
        )
        rows["order_items"].append(
            [order_id, "1", products[0], sellers[k], _ts(p), "10.00", "1.00"]
        )
        rows["order_payments"].append([order_id, "1", "credit_card", "2", "10.00"])
    for name, table in TABLES.items():
        with (out_dir / table.file_name).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
            writer.writerow(table.header)
            writer.writerows(rows[name])
    return out_dir
