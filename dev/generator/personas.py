"""Injected abuse personas and the ground-truth label each one leaves.

Each persona is a customer_unique_id whose orders are built by the same `ChunkBuilder` as
everyone else's; only the facts its target feature reads are pinned. `first_active` is the
day the pattern first becomes observable under FEATURES.md's known_at rules and `last_active`
the day its last abusive fact does, so a snapshot S > first_active can see it.

All persona activity starts in 2017 and ends well before the extraction date (2018-10-17) so
every abusive fact is observable inside the dataset.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from dev.generator.orders import (
    DAY,
    HOUR,
    ChunkBuilder,
    OrderPlan,
    day_of,
    random_purchase,
    to_seconds,
)
from dev.generator.sampling import hex_id

EARLIEST_START = to_seconds(datetime(2017, 1, 15))
LATEST_START = to_seconds(datetime(2018, 4, 1))
# Up to 8 low-review orders 35 days apart must all be reviewed before the extraction date.
LATEST_LOW_REVIEW_START = to_seconds(datetime(2018, 1, 15))
# Consecutive geo_hopper zips are further apart than this (the brief asks > 1000 km; the margin
# covers the gap between a zip's true centre and the mean of its jittered geolocation rows).
HOP_MIN_KM = 1200.0


@dataclass(frozen=True)
class Label:
    unique_id: str
    persona: str
    first_active: str
    last_active: str
    target_feature: str


def _start(rng: random.Random, latest: int = LATEST_START) -> int:
    """A start drawn from the real purchase-time density, so personas follow the growth curve."""
    while True:
        start = random_purchase(rng)
        if EARLIEST_START <= start <= latest:
            return start


def serial_canceller(rng: random.Random, builder: ChunkBuilder, unique_id: str) -> tuple[str, str]:
    """4-8 orders over 1-3 months, at least 3 and most of them approved then canceled."""
    n_orders = rng.randint(4, 8)
    n_kept = rng.randint(0, min(2, n_orders - 3))
    start, span = _start(rng), rng.randint(30 * DAY, 90 * DAY)
    times = sorted(start + rng.randint(0, span) for _ in range(n_orders))
    kept = set(rng.sample(range(n_orders), n_kept))
    home = builder.universe.customer_zip(rng)
    known: list[int] = []
    for position, purchase in enumerate(times):
        if position in kept:
            builder.add_order(OrderPlan(unique_id, home, purchase, status="delivered"))
            continue
        facts = builder.add_order(
            OrderPlan(
                unique_id,
                home,
                purchase,
                status="canceled",
                approved_before_cancel=True,
                estimated_days=rng.randint(8, 21),
            )
        )
        # Olist has no cancellation time: FEATURES.md uses the estimated delivery date.
        known.append(facts.estimated)
    return day_of(min(known)), day_of(max(known))


def low_review_abuser(rng: random.Random, builder: ChunkBuilder, unique_id: str) -> tuple[str, str]:
    """4-8 delivered orders, each reviewed 1 or 2 within days of delivery.

    Orders are 20-35 days apart and each is delivered and reviewed within 13 days, so at any
    snapshot at most the latest delivered order can still lack its low review.
    """
    home = builder.universe.customer_zip(rng)
    purchase = _start(rng, LATEST_LOW_REVIEW_START)
    answers: list[int] = []
    for _ in range(rng.randint(4, 8)):
        plan = OrderPlan(
            unique_id, home, purchase, status="delivered", review_score=rng.choice((1, 2))
        )
        facts = builder.add_order(plan)
        answers.extend(answer for answer in facts.review_answers if answer is not None)
        purchase += rng.randint(20 * DAY, 35 * DAY)
    return day_of(min(answers)), day_of(max(answers))


def geo_hopper(rng: random.Random, builder: ChunkBuilder, unique_id: str) -> tuple[str, str]:
    """3-6 orders 1-6 hours apart, each shipped to a located zip far from the previous one."""
    universe = builder.universe
    place = universe.located[rng.randrange(len(universe.located))]
    purchase = _start(rng)
    purchases = []
    for _ in range(rng.randint(3, 6)):
        builder.add_order(OrderPlan(unique_id, place, purchase))
        purchases.append(purchase)
        place = universe.far_located_zip(rng, place, HOP_MIN_KM)
        purchase += rng.randint(HOUR, 6 * HOUR)
    # Every adjacent pair is far apart: the first becomes visible with the second purchase.
    return day_of(purchases[1]), day_of(purchases[-1])


def seller_burst(rng: random.Random, builder: ChunkBuilder, unique_id: str) -> tuple[str, str]:
    """For 1-3 consecutive months, 6-12 orders from distinct sellers in the 6 days before the
    month starts, so that month's snapshot sees them all in its 7-day window."""
    home = builder.universe.customer_zip(rng)
    month = datetime.fromisoformat(day_of(_start(rng))[:7] + "-01")
    purchases = []
    for _ in range(rng.randint(1, 3)):
        year, number = divmod(month.month, 12)
        month = month.replace(year=month.year + year, month=number + 1)
        boundary = to_seconds(month)
        sellers = rng.sample(range(len(builder.catalog.sellers)), rng.randint(6, 12))
        for seller in sellers:
            purchase = boundary - rng.randint(1, 6 * DAY)
            builder.add_order(
                OrderPlan(unique_id, home, purchase, status="delivered", seller=seller)
            )
            purchases.append(purchase)
    return day_of(min(purchases)), day_of(max(purchases))


PersonaBuilder = Callable[[random.Random, ChunkBuilder, str], tuple[str, str]]

# persona name -> (the FEATURES.md column that targets it, how to build one)
PERSONAS: dict[str, tuple[str, PersonaBuilder]] = {
    "serial_canceller": ("cancel_rate_lifetime", serial_canceller),
    "low_review_abuser": ("low_review_on_delivered_rate", low_review_abuser),
    "geo_hopper": ("max_geographic_velocity_kmh", geo_hopper),
    "seller_burst": ("distinct_sellers_last_7d", seller_burst),
}


def add_persona(rng: random.Random, builder: ChunkBuilder, persona: str) -> Label:
    target, build = PERSONAS[persona]
    unique_id = hex_id(rng)
    first, last = build(rng, builder, unique_id)
    return Label(unique_id, persona, first, last, target)
