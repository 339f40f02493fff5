"""Deterministic sampling helpers on the standard library's `random.Random`.

numpy is not part of the locked requirements, so the generator uses one `random.Random` per
stream (reference tables) or per chunk (orders), each seeded from a hash of (seed, stream,
index): a chunk's output depends only on the seed and its index, never on how many chunks
ran before it or on memory.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


def derive_rng(seed: int, stream: str, index: int = 0) -> random.Random:
    """An independent generator for one stream, stable across runs and Python processes."""
    digest = hashlib.sha256(f"{seed}:{stream}:{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


class Weighted(Generic[T]):
    """Draws from a fixed discrete distribution with one bisect (faster than random.choices)."""

    def __init__(self, weights: Mapping[T, float] | Sequence[tuple[T, float]]) -> None:
        pairs = list(weights.items()) if isinstance(weights, Mapping) else list(weights)
        self.values: list[T] = [value for value, _ in pairs]
        self.cumulative: list[float] = list(accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> T:
        index = bisect_right(self.cumulative, rng.random() * self.total)
        return self.values[min(index, len(self.values) - 1)]


def hex_id(rng: random.Random) -> str:
    """A 32-hex-digit id like Olist's (md5-looking); 128 random bits make collisions moot."""
    return f"{rng.getrandbits(128):032x}"


def geometric_extra(rng: random.Random, mean_extra: float) -> int:
    """Number of extra rows with the given mean: 0 most of the time, a thin long tail."""
    stop = 1.0 / (1.0 + mean_extra)
    extra = 0
    while rng.random() > stop:
        extra += 1
    return extra
