"""Zip-prefix universe and the geolocation table.

Geolocation describes places, not activity: the number of zip prefixes follows the real
universe (~19k prefixes, ~1M geolocation rows at scale 1) and stops growing past scale 1, so
scale 10 has ten times the orders on the same map instead of a ten-times larger fake Brazil.
Below scale 1 the universe shrinks with scale (at least 600 prefixes) to keep test data small.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from dev.generator import reference as ref
from dev.generator.sampling import Weighted

EARTH_RADIUS_KM = 6371.0
MIN_ZIPS = 600
# Real geolocation has ~26% exact duplicate rows and a few dozen points outside Brazil.
DUPLICATE_ROW_SHARE = 0.25
REAL_NOISE_ROWS = 29
# Places well outside Brazil's bounding box (Portugal, Spain, Buenos Aires, the Atlantic).
NOISE_POINTS = ((38.72, -9.14), (42.44, -8.65), (-34.60, -58.38), (28.0, -15.4))
# A share of zip prefixes used by customers and sellers that geolocation does not know.
ORPHAN_ZIP_SHARE = 0.01


@dataclass(frozen=True, slots=True)
class Zip:
    prefix: str
    state: str
    city: str
    lat: float
    lng: float
    has_geolocation: bool


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance with FEATURES.md's Earth radius, to place geo hoppers far apart."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def zip_count(scale: float) -> int:
    return max(MIN_ZIPS, min(ref.REAL_ZIP_PREFIXES, round(ref.REAL_ZIP_PREFIXES * scale)))


def geolocation_row_target(scale: float) -> int:
    return round(ref.REAL_GEOLOCATION_ROWS * min(scale, 1.0))


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class ZipUniverse:
    """Every zip prefix the dataset uses, with its state, city and true centre."""

    def __init__(self, rng: random.Random, scale: float) -> None:
        self.zips: list[Zip] = []
        self.by_state: dict[str, list[int]] = {}
        total_customers = sum(state.customers for state in ref.STATES)
        wanted = zip_count(scale)
        for state in ref.STATES:
            self._add_state(rng, state, max(3, round(wanted * state.customers / total_customers)))
        self.located = [i for i, z in enumerate(self.zips) if z.has_geolocation]
        self._customer_state = Weighted([(s.code, float(s.customers)) for s in ref.STATES])
        self._seller_state = Weighted([(s.code, float(s.sellers)) for s in ref.STATES if s.sellers])

    def _add_state(self, rng: random.Random, state: ref.State, count: int) -> None:
        universe = [p for low, high in state.zip_ranges for p in range(low, high + 1)]
        prefixes = rng.sample(universe, min(count, len(universe)))
        indices = []
        for position, prefix in enumerate(prefixes):
            # The first (busiest, see _pick) prefix of a state is its capital and always located.
            city = (
                state.cities[0] if position == 0 or rng.random() < 0.5 else rng.choice(state.cities)
            )
            lat = _clamp(
                rng.gauss(state.lat, state.spread), ref.BRAZIL_LAT[0] + 0.5, ref.BRAZIL_LAT[1] - 0.5
            )
            lng = _clamp(
                rng.gauss(state.lng, state.spread), ref.BRAZIL_LNG[0] + 0.5, ref.BRAZIL_LNG[1] - 0.5
            )
            located = position == 0 or rng.random() >= ORPHAN_ZIP_SHARE
            indices.append(len(self.zips))
            self.zips.append(Zip(f"{prefix:05d}", state.code, city, lat, lng, located))
        self.by_state[state.code] = indices

    def _pick(self, rng: random.Random, state: str) -> int:
        # Squaring a uniform favours the first prefixes: a few busy zips, a long quiet tail.
        indices = self.by_state[state]
        return indices[int(len(indices) * rng.random() ** 2)]

    def customer_zip(self, rng: random.Random) -> int:
        return self._pick(rng, self._customer_state(rng))

    def seller_zip(self, rng: random.Random) -> int:
        return self._pick(rng, self._seller_state(rng))

    def zip_in_state(self, rng: random.Random, state: str) -> int:
        return self._pick(rng, state)

    def far_located_zip(self, rng: random.Random, origin: int, min_km: float) -> int:
        """A located zip at least `min_km` from `origin` (rejection sampling; Brazil is wide)."""
        here = self.zips[origin]
        while True:
            candidate = self.located[rng.randrange(len(self.located))]
            there = self.zips[candidate]
            if haversine_km(here.lat, here.lng, there.lat, there.lng) >= min_km:
                return candidate

    def geolocation_rows(
        self, rng: random.Random, scale: float
    ) -> Iterator[tuple[Zip, float, float]]:
        """(zip, lat, lng) rows: several jittered points per located zip, duplicates, noise."""
        mean_rows = geolocation_row_target(scale) / len(self.located)
        for index in self.located:
            place = self.zips[index]
            count = 1 + int(rng.expovariate(1.0 / max(mean_rows - 1.0, 0.01)))
            lat, lng = place.lat, place.lng
            for _ in range(count):
                if rng.random() >= DUPLICATE_ROW_SHARE:
                    lat = place.lat + rng.gauss(0.0, 0.015)
                    lng = place.lng + rng.gauss(0.0, 0.015)
                yield place, lat, lng
        for _ in range(max(3, round(REAL_NOISE_ROWS * min(scale, 1.0)))):
            place = self.zips[self.located[rng.randrange(len(self.located))]]
            lat, lng = rng.choice(NOISE_POINTS)
            yield place, lat + rng.gauss(0.0, 0.1), lng + rng.gauss(0.0, 0.1)
