"""Webhook delivery under faults, against a real ``payintents serve`` and real dispatcher processes.

- The receiver answers 500, then sleeps past the sender's timeout, then is down (port closed), then
  recovers: every event is still delivered (retry schedule shrunk by PAYINTENTS_WEBHOOK_RETRY_SCALE).
- Separate ``payintents dispatch`` processes are killed with SIGKILL at random moments while they
  deliver and restarted: nothing is lost (duplicates are allowed, counted and reported).
- Two dispatchers share one backlog and a slow receiver: no event is ever in flight twice at once;
  a negative control (the same event sent twice concurrently by hand) proves the check can fail.
- A 410 disables the subscription: later events are not sent, and it shows ``disabledAt``.
- A receiver that trickles its answer holds only its own deliveries, each for at most the send
  timeout: another merchant's delivery arrives at once (ADR 0022).
- ``PAYINTENTS_SANDBOX_WEBHOOK_HOSTS=""`` keeps sandbox subscriptions off the server's loopback.

Each test prints a ``webhook-faults`` summary line (delivered/expected, duplicates) for the notes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from payintents.workers.dispatcher import PER_SUBSCRIPTION
from tests.e2e.webhook_receiver import (
    ERROR,
    GONE,
    OK,
    TIMEOUT,
    TRICKLE,
    WebhookReceiver,
    deliveries,
    dojo_signature_ok,
    running_receiver,
    standard_webhooks_ok,
    subscribe,
)
from tests.support import Api, RunningServer, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVENTS_PER_FLOW = 4  # created, status Captured, refund.created, status Refunded
RETRY_SCALE = "0.001"  # first retry after ~60 ms, the fourth after ~7 s
SEND_TIMEOUT_S = "1"
# The trickling-receiver test: B's delivery must arrive within B_WAIT_BOUND_S while A's attempts
# last the send timeout. Were B queued behind A, it would wait for the rest of A's attempts:
# about the timeout less the moment it took to create B's intent (a second or two on a busy
# machine), so the timeout stays well above the bound. It was 15 s; the test spent it waiting.
B_WAIT_BOUND_S = 5
TRICKLE_TIMEOUT_S = 10


@contextmanager
def webhook_server(
    database_url: str,
    log_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    built_in_dispatcher: bool,
    send_timeout_s: str = SEND_TIMEOUT_S,
) -> Iterator[tuple[RunningServer, Api]]:
    """A 2-worker server with a shrunk retry schedule and a short send timeout, and a sandbox client."""
    monkeypatch.setenv("PAYINTENTS_WEBHOOK_RETRY_SCALE", RETRY_SCALE)
    monkeypatch.setenv("PAYINTENTS_WEBHOOK_TIMEOUT_S", send_timeout_s)
    monkeypatch.setenv("PAYINTENTS_DISPATCHER", "on" if built_in_dispatcher else "off")
    with (
        running_server(database_url, log_dir, workers=2) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        yield server, Api(client, server.new_account()["sandboxKey"])


def start_dispatcher(database_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``payintents dispatch`` in its own session, so SIGKILL reaches only it."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "payintents.cli", "dispatch", "--database", database_url],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            start_new_session=True,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def refunded_flow(api: Api) -> None:
    """An Auto intent paid and fully refunded: four events."""
    intent_id = api.captured_intent(1000)
    refunded = api.refund(intent_id, 1000)
    assert refunded.status_code == 200, refunded.text


class Traffic(threading.Thread):
    """Refunded flows one after another, until ``finish()`` or ``max_flows``."""

    def __init__(self, api: Api, max_flows: int) -> None:
        super().__init__(daemon=True)
        self.api, self.max_flows, self.flows = api, max_flows, 0
        self.stop = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            while self.flows < self.max_flows and not self.stop.is_set():
                refunded_flow(self.api)
                self.flows += 1
                self.stop.wait(0.2)
        except BaseException as failure:  # reported by finish()
            self.failure = failure

    def finish(self) -> int:
        self.stop.set()
        self.join()
        if self.failure is not None:
            raise self.failure
        return self.flows


def listed_event_ids(api: Api, subscription_id: str) -> set[str]:
    return {d["eventId"] for d in deliveries(api, subscription_id)}


def report(
    capsys: pytest.CaptureFixture[str],
    scenario: str,
    receiver: WebhookReceiver,
    expected: int,
    **extra: object,
) -> tuple[int, int]:
    """Print the summary line; returns (distinct events delivered, duplicate deliveries)."""
    counts = receiver.delivered_ids()
    delivered, duplicates = len(counts), sum(counts.values()) - len(counts)
    rate = duplicates / max(delivered, 1)
    figures = " ".join(f"{k}={v}" for k, v in extra.items())
    with capsys.disabled():
        print(
            f"\nwebhook-faults {scenario}: delivered={delivered}/{expected} duplicates={duplicates}"
            f" duplicate_rate={rate:.1%} requests={len(receiver.requests())} {figures}".rstrip()
        )
    return delivered, duplicates


def test_500_then_timeouts_then_down_then_recovery_delivers_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    with (
        running_receiver(timeout_sleep_s=2.0) as receiver,
        webhook_server(url, tmp_path, monkeypatch, built_in_dispatcher=True) as (_, api),
    ):
        subscription = subscribe(api, receiver.url)
        flows = 0
        for phase in (ERROR, TIMEOUT, "down"):
            if phase == "down":
                receiver.go_down()
            else:
                receiver.mode = phase
            for _ in range(4):
                refunded_flow(api)
                flows += 1
                time.sleep(0.3)
        receiver.mode = OK
        receiver.come_up()
        refunded_flow(api)
        flows += 1
        expected = flows * EVENTS_PER_FLOW
        event_ids = listed_event_ids(api, subscription["id"])
        assert len(event_ids) == expected

        missing = receiver.wait_for(event_ids, timeout_s=30)
        delivered, _ = report(capsys, "500/timeout/down", receiver, expected)
        assert not missing, f"never delivered: {sorted(missing)}"
        assert delivered == expected and set(receiver.delivered_ids()) == event_ids

        secret = subscription["secrets"][0]["value"]
        for request in receiver.delivered():  # retries are re-signed with a fresh timestamp
            assert dojo_signature_ok(secret, request.body, request.headers["dojo-signature"])
            assert standard_webhooks_ok(secret, request)
        answers = {r.answer for r in receiver.requests()}
        assert {ERROR, TIMEOUT, OK} <= answers, "the receiver never saw every kind of fault"
        attempts = [a for d in deliveries(api, subscription["id"]) for a in d["attempts"]]
        errors = [a["error"] for a in attempts]
        assert any(a["statusCode"] == 500 for a in attempts)
        # Generic reasons only: no operating system text saying what listens where.
        assert {"HTTP 500", "timed out", "connection failed"} <= set(errors), errors
        assert set(errors) <= {"HTTP 500", "timed out", "connection failed", None}, errors


def test_sigkilled_dispatchers_lose_no_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'sigkill.db'}"
    rng = random.Random(20)
    with (
        running_receiver() as receiver,
        webhook_server(url, tmp_path, monkeypatch, built_in_dispatcher=False) as (server, api),
    ):
        receiver.delay_s = 0.1  # long enough for kills to land mid-delivery
        subscription = subscribe(api, receiver.url)
        traffic = Traffic(api, max_flows=25)  # at most 100 events: the deliveries listing shows 100
        traffic.start()
        dispatcher_log = tmp_path / "dispatch.log"
        dispatcher = start_dispatcher(server.database_url, dispatcher_log)
        kills = kills_mid_delivery = 0
        for _ in range(5):
            seen = len(receiver.requests())
            deadline = time.monotonic() + 10
            while len(receiver.requests()) == seen and time.monotonic() < deadline:
                time.sleep(0.01)  # wait for this dispatcher to start delivering
            time.sleep(rng.uniform(0.0, 0.3))
            kills_mid_delivery += receiver.in_flight() > 0
            kill(dispatcher)
            kills += 1
            dispatcher = start_dispatcher(server.database_url, dispatcher_log)
        flows = traffic.finish()
        try:
            expected = flows * EVENTS_PER_FLOW
            event_ids = listed_event_ids(api, subscription["id"])
            assert len(event_ids) == expected
            started = time.monotonic()
            missing = receiver.wait_for(event_ids, timeout_s=60)
            recovered_s = time.monotonic() - started
        finally:
            kill(dispatcher)
        delivered, _ = report(
            capsys,
            "sigkill",
            receiver,
            expected,
            kills=kills,
            kills_mid_delivery=kills_mid_delivery,
            recovery_s=f"{recovered_s:.1f}",
        )
        assert not missing, f"lost: {sorted(missing)}"
        assert delivered == expected
        assert kills_mid_delivery > 0, "no kill landed while a delivery was in flight"
        assert "Traceback" not in dispatcher_log.read_text()


def test_two_dispatchers_never_send_one_event_at_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        running_receiver() as receiver,
        webhook_server(database_url, tmp_path, monkeypatch, built_in_dispatcher=False) as (server, api),
    ):
        monkeypatch.setenv("PAYINTENTS_WEBHOOK_TIMEOUT_S", "15")  # no retry while an answer is on its way
        receiver.delay_s = 0.2
        subscription = subscribe(api, receiver.url)
        flows = 15
        for _ in range(flows):
            refunded_flow(api)
        expected = flows * EVENTS_PER_FLOW
        event_ids = listed_event_ids(api, subscription["id"])
        assert len(event_ids) == expected
        # Hold every request until both dispatchers have a full pool of sends waiting: whichever
        # starts first cannot drain the backlog alone, and both really share it.
        receiver.hold()
        dispatchers = [start_dispatcher(server.database_url, tmp_path / f"dispatch-{n}.log") for n in (1, 2)]
        try:
            deadline = time.monotonic() + 10
            while receiver.in_flight() < 2 * PER_SUBSCRIPTION and time.monotonic() < deadline:
                time.sleep(0.01)
            receiver.release()
            missing = receiver.wait_for(event_ids, timeout_s=30)
        finally:
            receiver.release()
            for process in dispatchers:
                kill(process)
        backend = database_url.split(":", 1)[0]
        _, duplicates = report(
            capsys,
            f"two-dispatchers[{backend}]",
            receiver,
            expected,
            overlaps=receiver.overlaps(),
            peak_in_flight=receiver.peak_in_flight,
            spread_s=f"{receiver.requests()[-1].arrived - receiver.requests()[0].arrived:.2f}",
        )
        assert not missing
        assert receiver.overlaps() == 0
        assert duplicates == 0, "no crash happened, so nothing should be sent twice"
        # One dispatcher sends at most 8 of one subscription at once: more in flight means both were
        # really sharing the work.
        assert receiver.peak_in_flight == 2 * PER_SUBSCRIPTION


def test_overlap_check_catches_one_event_sent_twice_at_once() -> None:
    """Negative control: the same delivery posted twice concurrently is flagged by the receiver."""
    with running_receiver() as receiver:
        receiver.delay_s = 0.2
        headers = {"webhook-id": "evt_sandbox_AAAAAAAAAAAAAAAAAAAAAA", "Content-Type": "application/json"}

        def send() -> None:
            httpx.post(receiver.url, content=b"{}", headers=headers, timeout=5)

        senders = [threading.Thread(target=send) for _ in range(2)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        assert len(receiver.requests()) == 2
        assert receiver.overlaps() == 1


def test_the_receiver_counts_no_more_in_flight_than_a_sender_has_outstanding() -> None:
    """The in-flight count the two-dispatcher test relies on: one client sending one request after
    another is never counted as two at once (the count once ran past the sender's answer)."""
    with running_receiver() as receiver, httpx.Client() as client:
        for n in range(300):
            client.post(receiver.url, content=b"{}", headers={"webhook-id": f"evt_{n}"})
        assert len(receiver.requests()) == 300
        assert receiver.peak_in_flight == 1


def test_410_disables_the_subscription_and_nothing_more_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'gone.db'}"
    with (
        running_receiver() as receiver,
        webhook_server(url, tmp_path, monkeypatch, built_in_dispatcher=True) as (_, api),
    ):
        receiver.mode = GONE
        subscription = subscribe(api, receiver.url)
        api.create_intent(1000)
        deadline = time.monotonic() + 15
        while "disabledAt" not in (listed := api.get("/webhooks").json()[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "disabledAt" in listed, listed
        [answered_410] = receiver.requests()
        assert answered_410.answer == GONE
        [gone] = deliveries(api, subscription["id"])
        assert gone["eventId"] == answered_410.webhook_id
        assert gone["status"] == "disabled" and gone["attempts"][0]["statusCode"] == 410

        receiver.mode = OK
        refunded_flow(api)
        time.sleep(2.0)  # four idle polls of the built-in dispatcher
        report(capsys, "410", receiver, expected=0, requests_after_410=len(receiver.requests()) - 1)
        assert len(receiver.requests()) == 1
        assert len(deliveries(api, subscription["id"])) == 1


def test_a_trickling_receiver_delays_only_its_own_deliveries(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Merchant A's receiver answers one byte a second; A has more deliveries due than the
    dispatcher has slots. Merchant B's delivery must still arrive at once, and each of A's
    attempts ends at the send timeout (it once held a delivery 40 s, and B waited behind it)."""
    with (
        running_receiver() as slow,
        running_receiver() as fast,
        webhook_server(
            database_url,
            tmp_path,
            monkeypatch,
            built_in_dispatcher=True,
            send_timeout_s=str(TRICKLE_TIMEOUT_S),
        ) as (server, api_a),
    ):
        slow.mode = TRICKLE
        api_b = Api(api_a.client, server.new_account()["sandboxKey"])
        subscription_a = subscribe(api_a, slow.url, ["payment_intent.created"])
        subscribe(api_b, fast.url, ["payment_intent.created"])
        for _ in range(40):  # more than the dispatcher's 32 slots
            api_a.create_intent(1000)
        deadline = time.monotonic() + 20
        while slow.in_flight() < PER_SUBSCRIPTION and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slow.in_flight() == PER_SUBSCRIPTION, "A's deliveries never started trickling"
        created_at = time.monotonic()
        api_b.create_intent(1000)
        assert fast.wait_for_count(1, timeout_s=60) == 1
        waited_s = fast.delivered()[0].arrived - created_at
        peak_a = slow.peak_in_flight
        attempts_a = _first_attempts(api_a, subscription_a["id"], PER_SUBSCRIPTION, timeout_s=40)
        backend = database_url.split(":", 1)[0]
        report(
            capsys, f"trickling-receiver[{backend}]", fast, 1,
            b_waited_s=f"{waited_s:.2f}", a_in_flight_peak=peak_a,
            a_attempt_ms=max(a["durationMs"] for a in attempts_a),
        )  # fmt: skip
        assert waited_s < B_WAIT_BOUND_S, f"B's delivery waited {waited_s:.1f} s behind A's slow receiver"
        assert peak_a == PER_SUBSCRIPTION, "one subscription took more than its share of the slots"
        # The first attempt was send-timeout-bounded, not the 56 s the trickle would take.
        assert {a["error"] for a in attempts_a} == {"timed out"}
        assert all(a["durationMs"] < (TRICKLE_TIMEOUT_S + 5) * 1000 for a in attempts_a), attempts_a


def _first_attempts(api: Api, subscription_id: str, count: int, timeout_s: float) -> list[dict[str, object]]:
    """The first ``count`` recorded attempts of the subscription's deliveries, waiting for them."""
    deadline = time.monotonic() + timeout_s
    while True:
        attempts = [a for d in deliveries(api, subscription_id) for a in d["attempts"]]
        if len(attempts) >= count or time.monotonic() > deadline:
            return attempts
        time.sleep(0.2)


def test_an_operator_can_keep_sandbox_webhooks_off_the_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shared server sets PAYINTENTS_SANDBOX_WEBHOOK_HOSTS="": no merchant can subscribe a port
    of the server's own loopback (and scan them through the deliveries' answers)."""
    monkeypatch.setenv("PAYINTENTS_SANDBOX_WEBHOOK_HOSTS", "")
    url = f"sqlite:///{tmp_path / 'reach.db'}"
    with (
        running_receiver() as receiver,
        webhook_server(url, tmp_path, monkeypatch, built_in_dispatcher=True) as (_, api),
    ):
        for loopback in (receiver.url, receiver.url.replace("127.0.0.1", "localhost")):
            refused = api.post("/webhooks", {"events": ["payment_intent.created"], "url": loopback})
            assert refused.status_code == 400, refused.text
            assert refused.json()["errors"] == {"url": ["The url must start with https://."]}
        public = api.post(
            "/webhooks", {"events": ["payment_intent.created"], "url": "https://hooks.example.com/"}
        )
        assert public.status_code == 200, public.text
        assert [s["id"] for s in api.get("/webhooks").json()] == [public.json()["id"]]
