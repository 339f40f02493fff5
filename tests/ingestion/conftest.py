"""A tiny, hand-written, valid Olist batch in Kaggle's byte conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.olist_risk.olist.tables import TABLES

ROWS: dict[str, list[str]] = {
    "customers": [
        'c1,u1,"01037",sao paulo,SP',
        'c2,u1,"20031",rio de janeiro,RJ',
        'c3,u2,"13023",campinas,SP',
    ],
    "geolocation": [
        '"01037",-23.5456,-46.6391,sao paulo,SP',
        '"20031",-22.9083,-43.1964,rio de janeiro,RJ',
        '"13023",-22.8939,-47.0617,campinas,SP',
    ],
    "order_items": [
        "o1,1,p1,s1,2017-01-09 10:00:00,59.90,10.50",
        "o2,1,p2,s1,2017-02-10 11:00:00,120.00,15.00",
        "o2,2,p1,s1,2017-02-10 11:00:00,59.90,10.50",
        "o3,1,p2,s1,2017-03-08 09:00:00,120.00,12.00",
    ],
    "order_payments": [
        "o1,1,credit_card,3,70.40",
        "o2,1,boleto,1,150.00",
        "o2,2,voucher,1,55.40",
        "o3,1,credit_card,1,132.00",
    ],
    "order_reviews": [
        'r1,o1,5,,"Chegou rápido,\nrecomendo ""muito""",2017-01-15 00:00:00,2017-01-16 10:11:12',
        "r2,o2,1,,,2017-02-20 00:00:00,2017-02-21 08:00:00",
    ],
    "orders": [
        "o1,c1,delivered,2017-01-05 10:00:00,2017-01-05 10:15:00,2017-01-06 12:00:00,"
        "2017-01-12 15:00:00,2017-01-25 00:00:00",
        "o2,c2,delivered,2017-02-06 11:00:00,2017-02-06 11:20:00,2017-02-07 09:00:00,"
        "2017-02-18 10:00:00,2017-03-01 00:00:00",
        "o3,c3,canceled,2017-03-04 09:00:00,2017-03-04 09:30:00,,,2017-03-22 00:00:00",
    ],
    "products": [
        '"1e9e8ef04dbcff4541ed26657ea517e5",perfumaria,40,287,1,225,16,10,14',
        "p1,perfumaria,40,287,1,225,16,10,14",
        "p2,,,,,,,,",
    ],
    "sellers": ['s1,"13023",campinas,SP'],
    "product_category_name_translation": ["perfumaria,perfumery"],
}


def _header(table_name: str) -> str:
    names = TABLES[table_name].header
    if table_name == "product_category_name_translation":
        return ",".join(names)
    return ",".join(f'"{name}"' for name in names)


def write_batch(folder: Path, overrides: dict[str, bytes] | None = None) -> Path:
    """Write the nine files into `folder`; `overrides` replaces a file's bytes by file name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in TABLES.items():
        text = "\n".join([_header(name), *ROWS[name]]) + "\n"
        if name == "product_category_name_translation":
            data = b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()
        else:
            data = text.encode()
        (folder / table.file_name).write_bytes((overrides or {}).get(table.file_name, data))
    return folder


def batch_bytes(file_name: str) -> bytes:
    """The valid bytes of one file of the tiny batch, to corrupt in a test."""
    table = next(t for t in TABLES.values() if t.file_name == file_name)
    return ("\n".join([_header(table.name), *ROWS[table.name]]) + "\n").encode()


@pytest.fixture
def tiny_batch(tmp_path: Path) -> Path:
    return write_batch(tmp_path / "landing")
