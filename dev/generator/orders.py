"""One chunk of orders with their customers, items, payments and reviews, as CSV lines.

Every order goes through `ChunkBuilder.add_order`, personas included, so an abusive order has
the same shape (items, payments, customer row, review) as a normal one; a plan only pins the
few facts a persona is about.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from dev.generator import reference as ref
from dev.generator.assortment import Catalog
from dev.generator.places import ZipUniverse
from dev.generator.sampling import Weighted, geometric_extra, hex_id

DAY = 86_400
HOUR = 3_600
# Timestamps are integer seconds since EPOCH, formatted through a per-day string cache.
EPOCH = datetime(2016, 1, 1)
_DAY_STRINGS = [(EPOCH + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(3 * 366)]


def to_seconds(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


FIRST_PURCHASE = to_seconds(datetime(2016, 9, 4))
# The data was extracted on 2018-10-17: nothing later had happened yet (no delivery, no
# carrier pick-up, no review survey), so orders still in flight keep an earlier status.
END = to_seconds(datetime(2018, 10, 17, 23, 59, 59))


def day_of(t: int) -> str:
    return _DAY_STRINGS[t // DAY]


def fmt_ts(t: int | None) -> str:
    if t is None:
        return ""
    minutes, second = divmod(t % DAY, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_DAY_STRINGS[t // DAY]} {hour:02d}:{minute:02d}:{second:02d}"


_NEEDS_QUOTES = re.compile(r'^[0-9]|[,"\r\n]')


def text(value: str | None) -> str:
    """A text field quoted the way the Kaggle files are: when it starts with a digit (ids,
    zip prefixes) or holds a comma, quote or line break; empty for NULL."""
    if not value:
        return ""
    if _NEEDS_QUOTES.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def _purchase_periods() -> list[tuple[tuple[int, int], float]]:
    """(first day, day after last) -> weight, from the real monthly volumes."""
    bf_day = (datetime.fromisoformat(ref.BLACK_FRIDAY[0]) - EPOCH).days
    periods: list[tuple[tuple[int, int], float]] = []
    for month, count in ref.MONTHLY_ORDERS:
        start = datetime.fromisoformat(f"{month}-01")
        end = (start + timedelta(days=32)).replace(day=1)
        first, last = (
            max((start - EPOCH).days, FIRST_PURCHASE // DAY),
            min((end - EPOCH).days, END // DAY + 1),
        )
        if first <= bf_day < last:
            periods.append(((bf_day, bf_day + 1), float(ref.BLACK_FRIDAY[1])))
            count -= ref.BLACK_FRIDAY[1]
        if count > 0:
            periods.append(((first, last), float(count)))
    return periods


PURCHASE_PERIOD = Weighted(_purchase_periods())
PURCHASE_HOUR = Weighted(list(enumerate(map(float, ref.HOURLY_ORDERS))))
STATUS = Weighted({k: float(v) for k, v in ref.STATUS_COUNTS.items()})
# About a fifth of the real canceled orders were never approved (public EDA: ~141 of 625).
CANCELED_WITHOUT_APPROVAL = 141 / 625
ITEMS = Weighted(ref.ITEMS_PER_ORDER)
PAYMENT_SCHEME = Weighted(ref.PAYMENT_SCHEMES)
INSTALLMENTS = Weighted({k: float(v) for k, v in ref.CARD_INSTALLMENT_COUNTS.items()})
UNDELIVERED_SCORE = Weighted(ref.UNDELIVERED_REVIEW_MIX)


def _delivered_score_mix() -> dict[int, float]:
    """Solve the delivered orders' mix so the overall mix equals the published one."""
    total_orders = sum(ref.STATUS_COUNTS.values())
    undelivered = 1.0 - ref.STATUS_COUNTS["delivered"] / total_orders
    total_reviews = sum(ref.REVIEW_SCORE_COUNTS.values())
    return {
        score: (count / total_reviews - undelivered * ref.UNDELIVERED_REVIEW_MIX[score])
        / (1 - undelivered)
        for score, count in ref.REVIEW_SCORE_COUNTS.items()
    }


DELIVERED_SCORE = Weighted(_delivered_score_mix())
MESSAGE_SEPARATOR = Weighted({" ": 0.55, ", ": 0.2, "\n": 0.15, "\r\n": 0.1})
TITLE_SHARE = 0.12
MESSAGE_SHARE = 0.41
UNANSWERED_REVIEW_SHARE = 0.002
NO_ITEMS_WHEN_CANCELED = 0.25


def random_purchase(rng: random.Random) -> int:
    first, last = PURCHASE_PERIOD(rng)
    day = rng.randrange(first, last)
    t = day * DAY + PURCHASE_HOUR(rng) * HOUR + rng.randrange(HOUR)
    return min(max(t, FIRST_PURCHASE), END)


@dataclass(slots=True)
class OrderPlan:
    """What a caller pins about one order; everything left as None is sampled like Kaggle."""

    unique_id: str
    zip_index: int
    purchase: int
    status: str | None = None
    # canceled orders: force approval first (a cancellation after approval, FEATURES.md)
    approved_before_cancel: bool = False
    estimated_days: int | None = None
    seller: int | None = None
    # exactly one review with this score, answered within days of a 3-10 day delivery
    review_score: int | None = None


@dataclass(slots=True)
class OrderFacts:
    """What a persona needs back to state when its pattern became observable."""

    order_id: str
    status: str
    approved: int | None
    estimated: int
    carrier: int | None
    delivered: int | None
    review_answers: list[int | None] = field(default_factory=list)


@dataclass
class ChunkBuilder:
    rng: random.Random
    universe: ZipUniverse
    catalog: Catalog
    not_defined_payments: int = 0
    orders: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    payments: list[str] = field(default_factory=list)
    reviews: list[str] = field(default_factory=list)

    def add_order(self, plan: OrderPlan) -> OrderFacts:
        rng = self.rng
        order_id, customer_id = hex_id(rng), hex_id(rng)
        place = self.universe.zips[plan.zip_index]
        self.customers.append(
            f"{text(customer_id)},{text(plan.unique_id)},{text(place.prefix)},{text(place.city)},{place.state}"
        )
        facts = self._timeline(plan, order_id)
        total = self._items(plan, facts)
        self._payments(plan, order_id, total)
        self._reviews(plan, facts)
        self.orders.append(
            f"{text(order_id)},{text(customer_id)},{facts.status},{fmt_ts(plan.purchase)},"
            f"{fmt_ts(facts.approved)},{fmt_ts(facts.carrier)},{fmt_ts(facts.delivered)},"
            f"{fmt_ts(facts.estimated)}"
        )
        return facts

    def _timeline(self, plan: OrderPlan, order_id: str) -> OrderFacts:
        rng, p = self.rng, plan.purchase
        status = plan.status or STATUS(rng)
        estimated = (p // DAY + (plan.estimated_days or int(rng.triangular(9, 45, 22)))) * DAY
        approved: int | None = None
        if status != "created":
            approved = p + self._approval_delay(quick=plan.status is not None)
        if status == "canceled" and not plan.approved_before_cancel:
            approved = None if rng.random() < CANCELED_WITHOUT_APPROVAL else approved
        carrier = delivered = None
        if status in ("delivered", "shipped") and approved is not None:
            if plan.review_score is not None:
                delivered = p + rng.randint(3 * DAY, 10 * DAY)
                carrier = approved + int((delivered - approved) * rng.uniform(0.1, 0.6))
            else:
                carrier = approved + rng.randint(7 * HOUR, 5 * DAY)
                delivered = carrier + int(DAY * min(60.0, rng.lognormvariate(1.9, 0.6)))
        if status != "delivered":
            delivered = None
        # Events after the extraction date had not happened: step the status back.
        if delivered is not None and delivered > END:
            status, delivered = "shipped", None
        if carrier is not None and carrier > END:
            status, carrier = "invoiced", None
        if approved is not None and approved > END:
            status, approved = "created", None
        return OrderFacts(order_id, status, approved, estimated, carrier, delivered)

    def _approval_delay(self, quick: bool) -> int:
        # Cards clear in minutes; boleto waits for the bank slip to be paid (hours to days).
        draw = 0.0 if quick else self.rng.random()
        if draw < 0.7:
            return self.rng.randint(60, HOUR)
        if draw < 0.95:
            return self.rng.randint(HOUR, 2 * DAY)
        return self.rng.randint(2 * DAY, 5 * DAY)

    def _items(self, plan: OrderPlan, facts: OrderFacts) -> float:
        """Write the item rows; return the order's total (prices + freight)."""
        rng = self.rng
        if plan.seller is not None:
            products = [self.catalog.seller_product(plan.seller)]
        elif plan.status is None and (
            facts.status in ("unavailable", "created")
            or (facts.status == "canceled" and rng.random() < NO_ITEMS_WHEN_CANCELED)
        ):
            # Real unavailable/created orders (and some canceled ones) have no items.
            return round(rng.lognormvariate(4.6, 0.8), 2)
        else:
            products = [self.catalog.random_product(rng)]
            for _ in range(ITEMS(rng) - 1):
                same = rng.random() < 0.7
                products.append(products[-1] if same else self.catalog.random_product(rng))
        limit = fmt_ts((facts.approved or plan.purchase) + rng.randint(2 * DAY, 7 * DAY))
        total = 0.0
        for item_id, index in enumerate(products, start=1):
            product = self.catalog.products[index]
            seller = self.catalog.sellers[product.seller].seller_id
            self.items.append(
                f"{text(facts.order_id)},{item_id},{text(product.product_id)},{text(seller)},"
                f"{limit},{product.price:.2f},{product.freight:.2f}"
            )
            total += product.price + product.freight
        return total

    def _payments(self, plan: OrderPlan, order_id: str, total: float) -> None:
        rng = self.rng
        oid = text(order_id)
        if self.not_defined_payments and plan.status is None:
            # The real file has 3 such rows, all worth 0.
            self.not_defined_payments -= 1
            self.payments.append(f"{oid},1,not_defined,1,0.00")
            return
        cents = round(total * 100)
        scheme = PAYMENT_SCHEME(rng)
        rows: list[tuple[str, int, int]] = []
        if scheme == "credit_card+voucher":
            vouchers = self._split(
                int(cents * rng.uniform(0.05, 0.6)), 1 + geometric_extra(rng, 0.3)
            )
            rows.append(("credit_card", INSTALLMENTS(rng), cents - sum(vouchers)))
            rows.extend(("voucher", 1, part) for part in vouchers)
        elif scheme == "voucher":
            rows.extend(
                ("voucher", 1, part) for part in self._split(cents, 1 + geometric_extra(rng, 0.8))
            )
        else:
            installments = INSTALLMENTS(rng) if scheme == "credit_card" else 1
            rows.append((scheme, installments, cents))
        for sequential, (kind, installments, value) in enumerate(rows, start=1):
            self.payments.append(f"{oid},{sequential},{kind},{installments},{value / 100:.2f}")

    def _split(self, cents: int, parts: int) -> list[int]:
        """Split an amount into `parts` positive-ish shares that add up exactly."""
        cuts = sorted(self.rng.randint(0, cents) for _ in range(parts - 1))
        bounds = [0, *cuts, cents]
        return [high - low for low, high in pairwise(bounds)]

    def _reviews(self, plan: OrderPlan, facts: OrderFacts) -> None:
        rng = self.rng
        forced = plan.review_score is not None
        if not forced and rng.random() < ref.NO_REVIEW_SHARE:
            return
        count = 1
        if not forced and rng.random() < ref.EXTRA_REVIEW_SHARE:
            count = 2 if rng.random() < 0.9 else 3
        # Olist mails the survey the day after delivery, or around the promised date.
        if facts.delivered is not None:
            created_day = facts.delivered // DAY + 1
        else:
            created_day = min(facts.estimated // DAY, plan.purchase // DAY + rng.randint(2, 20)) + 1
        for _ in range(count):
            created = created_day * DAY
            if created > END:
                return
            if forced:
                score, answered = plan.review_score, created + rng.randint(3 * HOUR, 3 * DAY)
            else:
                score = (DELIVERED_SCORE if facts.status == "delivered" else UNDELIVERED_SCORE)(rng)
                answered = created + self._answer_delay()
                if rng.random() < UNANSWERED_REVIEW_SHARE:
                    answered = None
            facts.review_answers.append(answered)
            self.reviews.append(
                f"{text(hex_id(rng))},{text(facts.order_id)},{score},{text(self._title(score))},"
                f"{text(self._message(score))},{fmt_ts(created)},{fmt_ts(answered)}"
            )
            # A later review of the same order comes days to weeks after the previous one.
            created_day += rng.randint(1, 30)

    def _answer_delay(self) -> int:
        draw = self.rng.random()
        if draw < 0.6:
            return self.rng.randint(3 * HOUR, 2 * DAY)
        if draw < 0.95:
            return int(self.rng.expovariate(1 / (4 * DAY)))
        return self.rng.randint(10 * DAY, 60 * DAY)

    def _title(self, score: int) -> str | None:
        return (
            self.rng.choice(ref.REVIEW_TITLES[score]) if self.rng.random() < TITLE_SHARE else None
        )

    def _message(self, score: int) -> str | None:
        if self.rng.random() >= MESSAGE_SHARE:
            return None
        phrases = ref.REVIEW_PHRASES[score]
        parts = [self.rng.choice(phrases) for _ in range(self.rng.randint(1, 3))]
        message = parts[0]
        for part in parts[1:]:
            message += MESSAGE_SEPARATOR(self.rng) + part
        return message

    def shuffled(self) -> dict[str, list[str]]:
        """Rows by table name; order-level tables shuffled because Kaggle's are unordered."""
        tables = {
            "orders": self.orders,
            "customers": self.customers,
            "order_items": self.items,
            "order_payments": self.payments,
            "order_reviews": self.reviews,
        }
        for name in ("orders", "customers", "order_payments", "order_reviews"):
            self.rng.shuffle(tables[name])
        return tables
