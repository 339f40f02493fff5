"""Sellers and products: reference tables generated once, before any order.

Every seller owns at least one product (product i belongs to seller i for i < sellers), so an
order can be pinned to any seller, which the seller_burst persona needs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dev.generator import reference as ref
from dev.generator.places import ZipUniverse
from dev.generator.sampling import Weighted, hex_id

MIN_SELLERS = 40
MIN_PRODUCTS = 400
PHOTO_COUNTS = Weighted(
    {1: 50.0, 2: 20.0, 3: 11.0, 4: 7.0, 5: 5.0, 6: 4.0, 7: 1.5, 8: 1.0, 10: 0.5}
)
# The real file has 2 products (of 32951) with no weight or dimensions.
NO_DIMENSIONS_SHARE = 2 / 32951


@dataclass(frozen=True, slots=True)
class Seller:
    seller_id: str
    zip_index: int


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    seller: int
    category: str | None
    # name length, description length, photos (all None without a category, like the real file)
    listing: tuple[int, int, int] | None
    # weight g, length cm, height cm, width cm
    dimensions: tuple[int, int, int, int] | None
    price: float
    freight: float


def _bounded(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, value)))


class Catalog:
    def __init__(self, rng: random.Random, universe: ZipUniverse, scale: float) -> None:
        n_sellers = max(MIN_SELLERS, round(ref.REAL_SELLERS * scale))
        n_products = max(MIN_PRODUCTS, round(ref.REAL_PRODUCTS * scale))
        self.sellers = [Seller(hex_id(rng), universe.seller_zip(rng)) for _ in range(n_sellers)]
        seller_popularity = Weighted([(i, rng.lognormvariate(0.0, 1.2)) for i in range(n_sellers)])
        categories = Weighted(ref.CATEGORY_PRODUCT_COUNTS)
        # The untranslated categories are rare; pin one product to each so small scales have them.
        forced = list(ref.UNTRANSLATED_CATEGORIES)
        n_no_dimensions = max(1, round(NO_DIMENSIONS_SHARE * n_products))
        self.products: list[Product] = []
        for i in range(n_products):
            seller = i if i < n_sellers else seller_popularity(rng)
            if i < len(forced):
                category: str | None = forced[i]
            else:
                category = None if rng.random() < ref.NO_CATEGORY_SHARE else categories(rng)
            self.products.append(
                self._product(rng, seller, category, i >= n_products - n_no_dimensions)
            )
        self._popularity = Weighted([(i, rng.lognormvariate(0.0, 1.6)) for i in range(n_products)])

    @staticmethod
    def _product(rng: random.Random, seller: int, category: str | None, no_dims: bool) -> Product:
        weight = _bounded(rng.lognormvariate(6.6, 1.1), 50, 40425)
        listing = None
        if category is not None:
            listing = (
                _bounded(rng.gauss(48.5, 10.0), 5, 76),
                _bounded(rng.lognormvariate(6.4, 0.7), 4, 3992),
                PHOTO_COUNTS(rng),
            )
        dimensions = None
        if not no_dims:
            dimensions = (
                weight,
                _bounded(rng.gauss(30.0, 15.0), 7, 105),
                _bounded(rng.lognormvariate(2.6, 0.6), 2, 105),
                _bounded(rng.gauss(23.0, 11.0), 6, 118),
            )
        price = round(max(0.85, min(6735.0, rng.lognormvariate(4.3, 0.9))), 2)
        freight = round(max(0.0, 7.0 + weight / 1000.0 * 2.0 + rng.gauss(6.0, 3.0)), 2)
        return Product(hex_id(rng), seller, category, listing, dimensions, price, freight)

    def random_product(self, rng: random.Random) -> int:
        return self._popularity(rng)

    def seller_product(self, seller: int) -> int:
        """The product every seller owns (see module docstring)."""
        return seller
