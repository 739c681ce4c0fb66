"""The merchant's traffic: payments (an order, then a UPI or card payment; for some orders two or
three payments at once, as a shopper double-clicking Pay or paying in two tabs would), then
partial refunds of successful payments, several per payment, some over the amount left, some
fired concurrently at one payment. Everything is planned from the seed; a few client threads
send it at a steady rate."""

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from chaos.client import ApiClient, Tally

EXCEEDS = "Refund amount exceeds available amount"
NOT_REFUNDABLE = "Payment not in refundable state"
KEY_SHARE = 0.5  # requests that carry an Idempotency-Key
RESUBMIT_SHARE = 0.05  # keyed requests sent twice on purpose: the second must be a replay
OVER_AMOUNT_SHARE = 0.3  # refund scripts that end with a refund larger than what is left
BURST_SIZE = 4  # concurrent refunds of one payment, each of BURST_SHARE of it
BURST_SHARE = 0.4
REFUNDS_OF_FAILED_PAYMENTS = 10
RIVAL_SHARE = 0.1  # orders paid by two or three concurrent payment requests
ALREADY_PAID = "Order already paid"

Expectation = Literal["accept", "exceed", "not_refundable"]


@dataclass(frozen=True)
class PlannedPayment:
    number: int
    amount: int
    instrument: dict[str, Any]
    order_key: str | None
    payment_key: str | None
    resubmit: bool
    # Further payments of the same order sent at the same moment: (instrument, key) each.
    rivals: tuple[tuple[dict[str, Any], str | None], ...] = ()


@dataclass
class PaymentOutcome:
    plan: PlannedPayment
    order_id: str | None = None
    payment_id: str | None = None
    error: str | None = None
    rival: bool = False  # one of the plan's rival payments, not its first


@dataclass(frozen=True)
class PlannedRefund:
    payment_id: str
    amount: int
    expect: Expectation
    key: str | None
    resubmit: bool = False


@dataclass(frozen=True)
class RefundScript:
    """Refunds of one payment, sent one after the other, or all at once for a burst."""

    refunds: list[PlannedRefund]
    concurrent: bool = False


@dataclass
class RefundOutcome:
    plan: PlannedRefund
    status: int | None = None
    refund_id: str | None = None
    description: str | None = None
    burst: bool = False


@dataclass
class Replay:
    """A keyed request sent again on purpose."""

    path: str
    ok: bool
    detail: str


@dataclass
class Traffic:
    payments: list[PaymentOutcome] = field(default_factory=list)
    refunds: list[RefundOutcome] = field(default_factory=list)
    replays: list[Replay] = field(default_factory=list)
    successful_listed: int = 0
    failed_listed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, outcome: PaymentOutcome | RefundOutcome | Replay) -> None:
        with self._lock:
            if isinstance(outcome, PaymentOutcome):
                self.payments.append(outcome)
            elif isinstance(outcome, RefundOutcome):
                self.refunds.append(outcome)
            else:
                self.replays.append(outcome)


class Pacer:
    """Hands out start times at `rate` per second, shared by every client thread."""

    def __init__(self, rate: float):
        self.rate = rate
        self.started = time.monotonic()
        self._issued = 0
        self._lock = threading.Lock()

    def wait_turn(self) -> None:
        with self._lock:
            slot = self._issued
            self._issued += 1
        delay = self.started + slot / self.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)


# Planning


def luhn_complete(partial: str) -> str:
    """`partial` with the check digit that makes it Luhn-valid."""
    total = 0
    for position, digit in enumerate(reversed(partial)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return partial + str((10 - total % 10) % 10)


def random_card(rng: random.Random) -> dict[str, Any]:
    prefix, length = rng.choice([("4", 16), ("52", 16), ("55", 16), ("37", 15), ("60", 16)])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    number = luhn_complete(body)
    if rng.random() < 0.3:
        number = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    year = rng.randint(2030, 2035)
    return {
        "number": number,
        "expiry_month": rng.choice([rng.randint(1, 12), f"{rng.randint(1, 12):02d}"]),
        "expiry_year": rng.choice([year, str(year), f"{year % 100:02d}"]),
        "cvv": "".join(rng.choice("0123456789") for _ in range(4 if prefix == "37" else 3)),
        "holder_name": rng.choice(["Asha Rao", "Vikram Nair", "Zoë Fernandes", "Li Wei"]),
    }


def random_instrument(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        user = rng.choice(["asha", "vikram.n", "li_wei", "shop-42", "zoe"])
        return {"method": "upi", "vpa": f"{user}{rng.randint(1, 999)}@{rng.choice(['paytm', 'okaxis', 'ybl'])}"}  # fmt: skip
    return {"method": "card", "card": random_card(rng)}


def plan_payments(rng: random.Random, count: int, seed: int) -> list[PlannedPayment]:
    plans = []
    for number in range(count):
        order_key = f"chaos-{seed}-order-{number}" if rng.random() < KEY_SHARE else None
        payment_key = f"chaos-{seed}-payment-{number}" if rng.random() < KEY_SHARE else None
        plans.append(
            PlannedPayment(
                number=number,
                amount=rng.randint(1_000, 200_000),
                instrument=random_instrument(rng),
                order_key=order_key,
                payment_key=payment_key,
                resubmit=payment_key is not None and rng.random() < RESUBMIT_SHARE * 2,
            )
        )
        if rng.random() < RIVAL_SHARE:
            rivals = tuple(
                (random_instrument(rng),
                 f"chaos-{seed}-payment-{number}-rival-{n}" if rng.random() < KEY_SHARE else None)
                for n in range(rng.choice([1, 2]))
            )  # fmt: skip
            plans[-1] = dataclasses.replace(plans[-1], rivals=rivals, resubmit=False)
    return plans


def plan_refunds(
    rng: random.Random,
    seed: int,
    successful: dict[str, int],
    failed: list[str],
    target: int,
    bursts: int,
) -> list[RefundScript]:
    """About `target` refunds that must be accepted, over scripts of random payments."""
    ids = sorted(successful)
    rng.shuffle(ids)
    numbers = iter(range(1_000_000))

    def key() -> str | None:
        return f"chaos-{seed}-refund-{next(numbers)}" if rng.random() < KEY_SHARE else None

    scripts: list[RefundScript] = []
    accepted = 0
    for payment_id in ids[:bursts]:
        share = -(-successful[payment_id] * int(BURST_SHARE * 100) // 100)
        burst = [PlannedRefund(payment_id, share, "accept", key()) for _ in range(BURST_SIZE)]
        scripts.append(RefundScript(burst, concurrent=True))
        accepted += int(1 / BURST_SHARE)
    for payment_id in ids[bursts:]:
        if accepted >= target:
            break
        amount = successful[payment_id]
        count = min(rng.choice([1, 1, 2, 2, 3, 4]), target - accepted)
        budget = (
            rng.randint(count, amount)
            if rng.random() < 0.3
            else rng.randint(count, amount // 2 + count)
        )
        cuts = sorted(rng.sample(range(1, budget), count - 1)) if count > 1 else []
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, budget], strict=True)]
        refunds = []
        for part in parts:
            k = key()
            refunds.append(PlannedRefund(payment_id, part, "accept", k, k is not None and rng.random() < RESUBMIT_SHARE * 2))  # fmt: skip
        accepted += count
        if rng.random() < OVER_AMOUNT_SHARE:
            over = amount - budget + rng.randint(1, amount)
            refunds.append(PlannedRefund(payment_id, over, "exceed", key()))
        scripts.append(RefundScript(refunds))
    for payment_id in sorted(failed)[:REFUNDS_OF_FAILED_PAYMENTS]:
        scripts.append(RefundScript([PlannedRefund(payment_id, 100, "not_refundable", key())]))
    rng.shuffle(scripts)
    return scripts


# Sending


def run_in_threads(
    clients: int,
    api_url: str,
    tally: Tally,
    seed: int,
    items: Iterator[Any],
    work: Callable[[ApiClient, Any], None],
) -> None:
    lock = threading.Lock()

    def client_loop(number: int) -> None:
        with ApiClient(api_url, tally, seed * 100 + number) as client:
            while True:
                with lock:
                    item = next(items, None)
                if item is None:
                    return
                work(client, item)

    with ThreadPoolExecutor(clients, thread_name_prefix="client") as pool:
        for future in [pool.submit(client_loop, n) for n in range(clients)]:
            future.result()


def send_payments(
    api_url: str, plans: list[PlannedPayment], clients: int, rate: float, tally: Tally,
    traffic: Traffic, seed: int,
) -> None:  # fmt: skip
    pacer = Pacer(rate)

    def create(client: ApiClient, plan: PlannedPayment) -> None:
        pacer.wait_turn()
        if plan.rivals:
            for outcome in create_rival_payments(client, api_url, tally, seed, plan):
                traffic.record(outcome)
        else:
            traffic.record(create_payment(client, plan, traffic))

    run_in_threads(clients, api_url, tally, seed, iter(plans), create)


def create_payment(client: ApiClient, plan: PlannedPayment, traffic: Traffic) -> PaymentOutcome:
    outcome = PaymentOutcome(plan)
    order = client.post(
        "/api/v1/orders",
        {"amount": plan.amount, "currency": "INR", "receipt": f"chaos-{plan.number}",
         "notes": {"chaos": str(plan.number)}},
        key=plan.order_key,
    )  # fmt: skip
    if order is None or order.status_code != 201:
        outcome.error = f"order: {describe(order)}"
        return outcome
    outcome.order_id = order.json()["id"]
    body = {"order_id": outcome.order_id, **plan.instrument}
    payment = client.post("/api/v1/payments", body, key=plan.payment_key)
    if payment is None or payment.status_code != 201:
        outcome.error = f"payment: {describe(payment)}"
        return outcome
    outcome.payment_id = payment.json()["id"]
    if plan.resubmit:
        traffic.record(resubmit(client, "/api/v1/payments", body, plan.payment_key, payment))
    return outcome


def create_rival_payments(
    client: ApiClient, api_url: str, tally: Tally, seed: int, plan: PlannedPayment
) -> list[PaymentOutcome]:
    """An order, then its payment and the plan's rivals sent at once from separate clients:
    each must be answered 201 or 400 "Order already paid", and at most one may succeed."""
    first = PaymentOutcome(plan)
    order = client.post(
        "/api/v1/orders",
        {"amount": plan.amount, "currency": "INR", "receipt": f"chaos-{plan.number}",
         "notes": {"chaos": str(plan.number), "rivals": str(len(plan.rivals))}},
        key=plan.order_key,
    )  # fmt: skip
    if order is None or order.status_code != 201:
        first.error = f"order: {describe(order)}"
        return [first]
    order_id = order.json()["id"]
    attempts = [(plan.instrument, plan.payment_key, False)] + [
        (instrument, key, True) for instrument, key in plan.rivals
    ]

    def pay(attempt: tuple[dict[str, Any], str | None, bool]) -> PaymentOutcome:
        instrument, key, rival = attempt
        outcome = PaymentOutcome(plan, order_id=order_id, rival=rival)
        with ApiClient(api_url, tally, seed) as own:
            payment = own.post("/api/v1/payments", {"order_id": order_id, **instrument}, key=key)
        if payment is None or payment.status_code != 201:
            outcome.error = f"payment: {describe(payment)}"
        else:
            outcome.payment_id = payment.json()["id"]
        return outcome

    with ThreadPoolExecutor(len(attempts)) as pool:
        return list(pool.map(pay, attempts))


def resubmit(
    client: ApiClient, path: str, body: dict[str, Any], key: str | None, first: Any
) -> Replay:
    again = client.post(path, body, key=key)
    if again is None:
        return Replay(path, False, "no response")
    same = again.status_code == first.status_code and again.content == first.content
    replayed = again.headers.get("idempotent-replayed") == "true"
    return Replay(path, same and replayed, f"HTTP {again.status_code}, replayed={replayed}, same body={same}")  # fmt: skip


def list_payments(client: ApiClient, status: str) -> dict[str, int]:
    """Every payment of the merchant in `status`, id -> amount."""
    found: dict[str, int] = {}
    offset = 0
    while True:
        page = client.get("/api/v1/payments", {"status": status, "limit": 100, "offset": offset})
        if page is None or page.status_code != 200:
            raise RuntimeError(f"cannot list {status} payments: {describe(page)}")
        body = page.json()
        found.update((p["id"], p["amount"]) for p in body["data"])
        offset += 100
        if offset >= body["total"]:
            return found


def send_refunds(
    api_url: str, scripts: list[RefundScript], clients: int, rate: float, tally: Tally,
    traffic: Traffic, seed: int,
) -> None:  # fmt: skip
    pacer = Pacer(rate)

    def run_script(client: ApiClient, script: RefundScript) -> None:
        if script.concurrent:
            for _ in script.refunds:
                pacer.wait_turn()
            with ThreadPoolExecutor(len(script.refunds)) as pool:
                outcomes = list(
                    pool.map(lambda p: refund_alone(api_url, tally, seed, p), script.refunds)
                )
            for outcome in outcomes:
                traffic.record(outcome)
            return
        for plan in script.refunds:
            pacer.wait_turn()
            traffic.record(create_refund(client, plan, traffic))

    run_in_threads(clients, api_url, tally, seed, iter(scripts), run_script)


def refund_alone(api_url: str, tally: Tally, seed: int, plan: PlannedRefund) -> RefundOutcome:
    with ApiClient(api_url, tally, seed) as client:
        outcome = create_refund(client, plan, None)
    outcome.burst = True
    return outcome


def create_refund(client: ApiClient, plan: PlannedRefund, traffic: Traffic | None) -> RefundOutcome:
    path = f"/api/v1/payments/{plan.payment_id}/refunds"
    body = {"amount": plan.amount, "reason": f"chaos {plan.expect}"}
    response = client.post(path, body, key=plan.key)
    outcome = RefundOutcome(plan)
    if response is None:
        return outcome
    outcome.status = response.status_code
    if response.status_code == 201:
        outcome.refund_id = response.json()["id"]
        if plan.resubmit and traffic is not None:
            traffic.record(resubmit(client, path, body, plan.key, response))
    else:
        outcome.description = describe(response)
    return outcome


def describe(response: Any) -> str:
    if response is None:
        return "no response"
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['description']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:200]}"
