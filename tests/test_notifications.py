"""Notifications by e-mail, through a real SMTP server (aiosmtpd on a free loopback port).

The tertial reporting loop runs in the small demo city on a simulated clock: the mails its
`notify` calls queue (the reminder before the deadline, the escalation after it) arrive at
the right simulated moments, to the right people, with a link that opens the task for its
recipient in the web UI. With the server stopped nothing is lost and the backlog goes out
once it returns; two deliverers never send one notification twice; a digest reader gets the
week's items in one mail on Monday at 08:00. The rules of `processes.notification_rules`
(a new task, a registered decision) and the `kedja notifications` command are tested here
too. Real databases (SQLite and PostgreSQL), no mocks.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select

from engine.clock import to_storage
from engine.scheduler import TimerScheduler
from processes import mailer, notification_outbox, notification_preferences
from processes.calendar import STOCKHOLM
from processes.governance import open_engine
from processes.mail_settings import MailSettings
from processes.mailer import Mailer
from processes.models import Notification
from tests.city import City
from tests.test_process_tertial_loop import (
    CALENDAR,
    GREEN,
    ORGANISATIONS,
    accept,
    council_notes,
    plan,
    report,
)
from tests.test_webui_auth import make_app, sign_in

BASE_URL = "https://kedja.stad.example"
LOOP = "tertial_loop"
LATE = "Tertialrapport T1 2026 från Bromma stadsdelsförvaltning är sen"
REMINDER = "Påminnelse: tertialrapport T1 2026"


def address(user: str) -> str:
    return f"{user}@demo.kedja.example"


# -- a real SMTP server ---------------------------------------------------------------------


@dataclass
class Received:
    to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()  # type: ignore[union-attr]

    @property
    def date(self) -> datetime:
        return parsedate_to_datetime(str(self.message["Date"]))

    @property
    def ids(self) -> list[int]:
        return [int(i) for i in str(self.message["X-Kedja-Notification"]).split(",")]

    def links(self) -> list[str]:
        """The paths of the Kedja links in the plain-text part (but the footer's link to
        the settings)."""
        found = re.findall(re.escape(BASE_URL) + r"(/\S+)", self.text)
        return [path for path in found if path != "/konto"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailServer:
    """aiosmtpd on 127.0.0.1; keeps what it accepts. `refuse` maps an address to the reply
    its RCPT gets (e.g. "550 5.1.1 no such user")."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def take(self) -> list[Received]:
        """What arrived since the last call."""
        with self._lock:
            taken, self.received = self.received, []
        return taken

    def settings(self, **kw: Any) -> MailSettings:
        return MailSettings(
            host="127.0.0.1",
            port=self.port,
            sender="Kedja <kedja@stad.example>",
            base_url=BASE_URL,
            **kw,
        )


@pytest.fixture
def smtp() -> Any:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_city(request: pytest.FixtureRequest) -> City:
    return request.getfixturevalue("city" if request.param == "sqlite" else "city_pg")


def summary(mails: list[Received]) -> list[tuple[str, str]]:
    return sorted((m.to[0], m.subject) for m in mails)


def start_loop(city: City) -> int:
    return city.start(LOOP, year=2026, plans=[plan(org) for org in ORGANISATIONS])


def rows_of(city: City) -> list[dict[str, Any]]:
    """Every notification row, oldest first, as a dict."""
    columns = Notification.__table__.columns  # type: ignore[attr-defined]
    with city.engine.db.read() as session:
        rows = session.scalars(select(Notification).order_by(Notification.id)).all()
        return [{c.name: getattr(r, c.name) for c in columns} for r in rows]


# -- the tertial loop's mails at the right simulated times ------------------------------------


def test_reminder_and_escalation_mails_arrive_at_the_right_times(any_city: City, smtp) -> None:
    city = any_city
    post = Mailer(city.engine, smtp.settings())
    start_loop(city)

    # Period end: each responsible person is told of their own report, with its link.
    city.advance_to(CALENDAR["t1_period_end"])
    post.deliver()
    new_tasks = smtp.take()
    assert summary(new_tasks) == sorted(
        (address(f"ansvarig.{org}"), f"Ny uppgift: Rapportera tertialen ({name})")
        for org, name in ORGANISATIONS.items()
    )
    for mail in new_tasks:
        user = mail.to[0].split("@")[0]
        [path] = mail.links()
        task = city.engine.tasks.get(int(path.rsplit("/", 1)[1]))
        assert task.organisation == user.removeprefix("ansvarig.")
        assert "Sista dag: 2026-05-15." in mail.text

    for org in ("farsta", "trafikkontoret", "svenska_bostader"):
        report(city, org, GREEN)
    post.deliver()
    assert summary(smtp.take()) == sorted(
        (address("samordnare"), f"Ny uppgift: Granska rapporten ({ORGANISATIONS[org]})")
        for org in ("farsta", "trafikkontoret", "svenska_bostader")
    )

    # The reminder: not a minute early, then to Bromma's responsible person only.
    city.advance_to("2026-05-07T07:59:00+02:00")
    assert post.deliver().mails == 0
    city.advance_to(CALENDAR["t1_reminder"])
    post.deliver()
    [reminder] = smtp.take()
    assert reminder.to == [address("ansvarig.bromma")]
    assert reminder.subject == REMINDER
    assert reminder.date == datetime(2026, 5, 7, 8, 0, tzinfo=STOCKHOLM)
    bromma_task = city.task("ansvarig.bromma", "tertial_report", "bromma")
    assert reminder.links() == [f"/uppgifter/{bromma_task.id}"]
    assert f'href="{BASE_URL}/uppgifter/{bromma_task.id}"' in reminder.html
    assert "Öppna uppgiften" in reminder.text and "senast 2026-05-15" in reminder.text

    # The link works for its recipient, and for nobody outside the task.
    app = make_app(city)
    recipient = app.test_client()
    sign_in(recipient, "ansvarig.bromma")
    assert recipient.get(reminder.links()[0]).status_code == 200
    other = app.test_client()
    sign_in(other, "ansvarig.farsta")
    assert other.get(reminder.links()[0]).status_code == 404
    # Not signed in: the sign-in page first, then straight on to the task.
    anonymous = app.test_client()
    answer = anonymous.get(reminder.links()[0])
    assert answer.status_code == 302 and "/logga-in" in answer.headers["Location"]
    after = sign_in(anonymous, "ansvarig.bromma", next_url=reminder.links()[0])
    assert after.headers["Location"].endswith(reminder.links()[0])

    # The escalation: at the deadline, to Bromma's head and the coordinator.
    city.advance_to("2026-05-15T23:00:00+02:00")
    assert post.deliver().mails == 0
    city.advance_to(CALENDAR["t1_report_deadline"])
    post.deliver()
    escalations = smtp.take()
    assert summary(escalations) == [(address("chef.bromma"), LATE), (address("samordnare"), LATE)]
    for mail in escalations:
        assert mail.date == datetime(2026, 5, 15, 23, 59, 59, tzinfo=STOCKHOLM)
        assert "Rapporten från Bromma stadsdelsförvaltning har inte kommit in" in mail.text
    assert {r["state"] for r in rows_of(city)} == {"sent"}


def test_every_mail_has_text_and_html_headers_and_the_recipients_name(city: City, smtp) -> None:
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    Mailer(city.engine, smtp.settings()).deliver()
    mail = next(m for m in smtp.take() if m.to == [address("ansvarig.farsta")])
    row = next(r for r in rows_of(city) if r["recipient"] == "ansvarig.farsta")
    assert mail.message["Message-ID"] == f"<kedja-notification-{row['id']}@stad.example>"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["Content-Language"] == "sv"
    assert str(mail.message["From"]) == "Kedja <kedja@stad.example>"
    name = city.register.user("ansvarig.farsta").name
    assert mail.text.startswith(f"Hej {name}!")
    assert '<html lang="sv">' in mail.html and "<h1>Ny uppgift: Rapportera tertialen" in mail.html
    assert f"{BASE_URL}/konto" in mail.text  # where to choose each or digest


def test_an_english_reader_gets_english_mails(city: City, smtp) -> None:
    city.register.set_language("ansvarig.bromma", "en")
    start_loop(city)
    post = Mailer(city.engine, smtp.settings())
    city.advance_to(CALENDAR["t1_period_end"])
    post.deliver()
    [task_mail] = [m for m in smtp.take() if m.to == [address("ansvarig.bromma")]]
    assert task_mail.subject == "New task: Rapportera tertialen (Bromma stadsdelsförvaltning)"
    assert task_mail.message["Content-Language"] == "en"
    assert task_mail.text.startswith("Hello ")
    assert "Due: 15 May 2026." in task_mail.text and "Open the task: " in task_mail.text
    assert '<html lang="en">' in task_mail.html

    # The diagram's own reminder text is the process owner's Swedish, in an English mail.
    city.advance_to(CALENDAR["t1_reminder"])
    post.deliver()
    reminder = next(m for m in smtp.take() if m.to == [address("ansvarig.bromma")])
    assert reminder.subject == REMINDER
    assert "Open the task: " in reminder.text and "in Swedish" in reminder.text


# -- nothing lost, nothing twice ----------------------------------------------------------------


def test_no_mail_is_lost_while_the_server_is_down(any_city: City, smtp) -> None:
    city = any_city
    post = Mailer(city.engine, smtp.settings())
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    smtp.stop()

    down = post.deliver()
    assert down.mails == 0 and down.failed == 4 and "unavailable" in (down.problem or "")
    rows = rows_of(city)
    assert [(r["state"], r["attempts"]) for r in rows] == [("queued", 1)] * 4
    assert all("Connection" in r["last_error"] or "refused" in r["last_error"] for r in rows)

    # Backing off: no new attempt before the delay has passed.
    assert post.deliver().failed == 0
    assert [r["attempts"] for r in rows_of(city)] == [1] * 4

    # The reminders are queued while the server is still down; the next attempt fails too.
    city.advance_to(CALENDAR["t1_reminder"])
    assert post.deliver().failed == 8
    assert {(r["state"], r["attempts"]) for r in rows_of(city)} == {("queued", 2), ("queued", 1)}

    smtp.start()
    city.clock.advance(timedelta(minutes=5))
    back = post.deliver()
    assert back.mails == 8 and back.problem is None
    mails = smtp.take()
    assert sorted(i for m in mails for i in m.ids) == [r["id"] for r in rows_of(city)]
    assert {r["state"] for r in rows_of(city)} == {"sent"}
    assert post.deliver().mails == 0 and smtp.take() == []


def test_two_deliverers_send_each_notification_once(any_city: City, smtp) -> None:
    city = any_city
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    queue_many(city, 40)
    second_engine = open_engine(city.engine.db.url, city.clock)
    try:
        deliverers = [
            Mailer(city.engine, smtp.settings()),
            Mailer(second_engine, smtp.settings()),
        ]
        barrier = threading.Barrier(len(deliverers))
        rounds: list[Any] = []

        def run(post: Mailer) -> None:
            barrier.wait()
            rounds.append(post.deliver())

        threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for post in deliverers:  # and once more each: nothing is left, nothing goes twice
            rounds.append(post.deliver())
    finally:
        second_engine.close()

    delivered = [i for m in smtp.take() for i in m.ids]
    rows = rows_of(city)
    assert sorted(delivered) == sorted(r["id"] for r in rows)  # every one, none twice
    assert len(rows) == 44 and {r["state"] for r in rows} == {"sent"}
    assert sum(r.sent for r in rounds) == 44


def queue_many(city: City, count: int) -> None:
    """`count` notifications to the demo users, as a handler would queue them."""
    users = ["samordnare", "radet1", "radet2", "chef.farsta", "chef.bromma"]
    now = to_storage(city.clock.now())
    with city.engine.db.write() as session:
        for n in range(count):
            session.add(
                Notification(
                    created_at=now,
                    recipient=users[n % len(users)],
                    kind="process",
                    subject=f"Meddelande {n}",
                    message=f"Text {n}.",
                    state="queued",
                    attempts=0,
                )
            )


def test_a_mail_marked_sent_is_never_sent_again(city: City, smtp) -> None:
    queue_many(city, 3)
    first = Mailer(city.engine, smtp.settings())
    assert first.deliver().mails == 3
    # A second deliverer, or the same one again: the rows are sent, nothing is claimed.
    assert Mailer(city.engine, smtp.settings()).deliver().mails == 0
    assert first.deliver().mails == 0
    assert len(smtp.take()) == 3


# -- the weekly digest ---------------------------------------------------------------------------


def test_a_digest_holds_the_weeks_items_and_goes_out_on_monday_at_eight(
    any_city: City, smtp
) -> None:
    city = any_city
    notification_preferences.set_preference(city.engine, "samordnare", "digest")
    assert notification_preferences.preference(city.engine, "samordnare") == "digest"
    post = Mailer(city.engine, smtp.settings())
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])  # Thursday 30 April
    post.deliver()
    smtp.take()

    # Friday and Saturday: three reports come in, each a new review task for the coordinator.
    city.advance_to("2026-05-01T10:00:00+02:00")
    report(city, "farsta", GREEN)
    report(city, "trafikkontoret", GREEN)
    city.advance_to("2026-05-02T11:00:00+02:00")
    report(city, "svenska_bostader", GREEN)
    post.deliver()
    assert smtp.take() == []
    held = [r for r in rows_of(city) if r["recipient"] == "samordnare"]
    assert len(held) == 3 and {r["state"] for r in held} == {"queued"}

    city.advance_to("2026-05-04T07:59:00+02:00")
    post.deliver()
    assert smtp.take() == []
    city.advance_to("2026-05-04T08:00:00+02:00")  # Monday 08:00
    post.deliver()
    [digest] = smtp.take()
    assert digest.to == [address("samordnare")]
    assert digest.subject == "Kedja: veckans sammanfattning (3 meddelanden)"
    assert digest.date == datetime(2026, 5, 4, 8, 0, tzinfo=STOCKHOLM)
    assert sorted(digest.ids) == sorted(r["id"] for r in held)
    for org in ("farsta", "trafikkontoret", "svenska_bostader"):
        assert f"Ny uppgift: Granska rapporten ({ORGANISATIONS[org]})" in digest.text
    assert len(digest.links()) == 3
    assert all(r["state"] == "sent" for r in rows_of(city) if r["recipient"] == "samordnare")

    # The escalation of Friday 15 May waits for Monday 18 May; a task done meanwhile says so.
    accept(city, "farsta")
    city.advance_to(CALENDAR["t1_report_deadline"])
    city.advance_to("2026-05-17T20:00:00+02:00")
    post.deliver()
    assert [m for m in smtp.take() if m.to == [address("samordnare")]] == []
    city.advance_to("2026-05-18T08:00:00+02:00")
    post.deliver()
    [second] = [m for m in smtp.take() if m.to == [address("samordnare")]]
    assert second.subject == "Kedja: veckans sammanfattning (1 meddelande)"
    assert LATE in second.text


def test_a_digest_of_a_task_done_meanwhile_says_so(city: City, smtp) -> None:
    notification_preferences.set_preference(city.engine, "ansvarig.farsta", "digest")
    city.register.set_language("ansvarig.farsta", "en")
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    report(city, "farsta", GREEN)
    city.advance_to("2026-05-04T08:00:00+02:00")
    Mailer(city.engine, smtp.settings()).deliver()
    [digest] = [m for m in smtp.take() if m.to == [address("ansvarig.farsta")]]
    assert digest.subject == "Kedja: your weekly summary (1 notification)"
    assert "The task has already been closed." in digest.text


def test_the_digest_week_ends_on_monday_at_eight_stockholm_time() -> None:
    monday = datetime(2026, 3, 30, 8, 0, tzinfo=STOCKHOLM)  # the first Monday of summer time
    assert notification_preferences.digest_time_at_or_before(monday) == monday
    assert notification_preferences.digest_time_at_or_before(
        monday - timedelta(seconds=1)
    ) == datetime(2026, 3, 23, 8, 0, tzinfo=STOCKHOLM)
    assert notification_preferences.next_digest_time(monday) == datetime(
        2026, 4, 6, 8, 0, tzinfo=STOCKHOLM
    )
    sunday = datetime(2026, 10, 25, 12, 0, tzinfo=STOCKHOLM)  # the day winter time starts
    assert notification_preferences.next_digest_time(sunday) == datetime(
        2026, 10, 26, 8, 0, tzinfo=STOCKHOLM
    )


# -- addresses the server refuses, and none at all ---------------------------------------------


def test_a_nominator_without_an_account_is_written_to_in_swedish(city: City, smtp) -> None:
    add(city, recipient=None, email="nominerare@example.org", kind="prize_outcome")
    Mailer(city.engine, smtp.settings()).deliver()
    [mail] = smtp.take()
    assert mail.to == ["nominerare@example.org"]
    assert mail.text.startswith("Hej!") and mail.message["Content-Language"] == "sv"
    assert "Svara inte på mejlet." in mail.text and "/konto" not in mail.text


def test_a_recipient_without_an_address_is_skipped(city: City, smtp) -> None:
    city.register.add_user("utan.epost", "Utan Epost", organisation="farsta")
    nid = add(city, recipient="utan.epost")
    result = Mailer(city.engine, smtp.settings()).deliver()
    assert result.skipped == 1 and smtp.take() == []
    [row] = [r for r in rows_of(city) if r["id"] == nid]
    assert row["state"] == "skipped" and "e-mail" in row["last_error"]


def test_a_refused_recipient_is_retried_and_given_up_only_when_refused_for_good(
    city: City, smtp
) -> None:
    smtp.refuse[address("radet1")] = "550 5.1.1 No such user"
    smtp.refuse[address("radet2")] = "450 4.2.1 Mailbox busy"
    gone, busy, fine = add(city, "radet1"), add(city, "radet2"), add(city, "samordnare")
    post = Mailer(city.engine, smtp.settings())
    for _ in range(mailer.PERMANENT_ATTEMPTS):
        post.deliver()
        city.clock.advance(timedelta(minutes=20))  # past every back-off
    rows = {r["id"]: r for r in rows_of(city)}
    assert rows[fine]["state"] == "sent"
    assert rows[gone]["state"] == "failed" and "550" in rows[gone]["last_error"]
    assert rows[gone]["attempts"] == mailer.PERMANENT_ATTEMPTS
    assert rows[busy]["state"] == "queued" and "450" in rows[busy]["last_error"]

    # Fixed: the administrator queues it again and it goes out.
    del smtp.refuse[address("radet1")], smtp.refuse[address("radet2")]
    assert notification_outbox.requeue(city.engine, [gone]) == 1
    smtp.take()
    post.deliver()
    assert sorted(m.to[0] for m in smtp.take()) == [address("radet1"), address("radet2")]


def add(
    city: City,
    recipient: str | None = "samordnare",
    email: str | None = None,
    kind: str = "process",
) -> int:
    with city.engine.db.write() as session:
        row = Notification(
            created_at=to_storage(city.clock.now()),
            recipient=recipient,
            email=email,
            kind=kind,
            subject="Trygghetspriset 2026: juryn har fattat sitt beslut",
            message="Tack för din nominering.",
            state="queued",
            attempts=0,
        )
        session.add(row)
        session.flush()
        return row.id


def test_without_an_smtp_host_nothing_is_sent_and_everything_stays_queued(city: City) -> None:
    add(city)
    result = Mailer(city.engine, MailSettings()).deliver()
    assert result.mails == 0 and "KEDJA_SMTP_HOST" in (result.problem or "")
    assert [r["state"] for r in rows_of(city)] == ["queued"]


def test_settings_come_from_the_environment() -> None:
    s = MailSettings.from_env(
        {
            "KEDJA_SMTP_HOST": "smtp.stad.example",
            "KEDJA_SMTP_STARTTLS": "true",
            "KEDJA_SMTP_USER": "kedja",
            "KEDJA_SMTP_PASSWORD": "hemligt",
            "KEDJA_MAIL_FROM": "Kedja <kedja@stad.example>",
            "KEDJA_BASE_URL": "https://kedja.stad.example/",
        }
    )
    assert (s.host, s.port, s.starttls, s.user) == ("smtp.stad.example", 587, True, "kedja")
    assert s.absolute("/uppgifter/7") == "https://kedja.stad.example/uppgifter/7"
    assert "hemligt" not in repr(s)
    assert MailSettings.from_env({}).enabled is False
    assert MailSettings.from_env({"KEDJA_SMTP_HOST": "h"}).port == 25


# -- the rules: new tasks and decisions -----------------------------------------------------------


def test_a_new_task_is_told_to_those_who_may_work_on_it_but_not_to_who_caused_it(
    city: City,
) -> None:
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    new = [r for r in rows_of(city) if r["kind"] == "task_assigned"]
    assert sorted(r["recipient"] for r in new) == sorted(f"ansvarig.{o}" for o in ORGANISATIONS)
    for row in new:
        task = city.engine.tasks.get(row["task_id"])
        assert row["link"] == f"/uppgifter/{task.id}"
        assert f"ansvarig.{task.organisation}" == row["recipient"]

    # Farsta's report makes a review task for the coordinator; the reporter is not told.
    before = len(rows_of(city))
    report(city, "farsta", GREEN)
    added = rows_of(city)[before:]
    assert [(r["recipient"], r["kind"]) for r in added] == [("samordnare", "task_assigned")]

    # A returned report goes back to its responsible person; the coordinator who returned it
    # is not told of the task their own step created.
    task = city.task("samordnare", "review_tertial_report", "farsta")
    before = len(rows_of(city))
    city.complete("samordnare", task, {"beslut": "komplettering", "motivering": "Komplettera."})
    assert [r["recipient"] for r in rows_of(city)[before:]] == ["ansvarig.farsta"]


def test_a_registered_decision_is_told_to_those_who_worked_on_the_case(city: City) -> None:
    start_loop(city)
    city.advance_to(CALENDAR["t1_period_end"])
    for org in ORGANISATIONS:
        report(city, org, GREEN)
        accept(city, org)
    council_notes(city)  # radet2 decides
    [record] = [d for d in city.decisions() if d["kind"] == "council"]
    told = [r for r in rows_of(city) if r["kind"] == "decision_registered"]
    assert sorted(r["recipient"] for r in told) == sorted(
        [*(f"ansvarig.{o}" for o in ORGANISATIONS), "samordnare"]
    )
    row = told[0]
    assert row["subject"] == f"Beslut {record['number']}: Tertialuppföljning T1 2026"
    assert row["link"] == f"/beslut/{record['id']}"
    assert "Riskhanteringsrådet har beslutat: Rådet noterar tertialrapporten" in row["message"]
    assert "Motivering: Uppföljningen går enligt plan." in row["message"]

    client = make_app(city).test_client()
    sign_in(client, row["recipient"])
    assert client.get(row["link"]).status_code == 200


# -- running it: the scheduler and the command -------------------------------------------------


def test_the_worker_schedules_delivery_only_with_an_smtp_host(city: City, smtp) -> None:
    scheduler = TimerScheduler(city.engine.timers)
    assert mailer.schedule_delivery(city.engine, scheduler, MailSettings()) is None
    assert scheduler._scheduler.get_jobs() == []
    assert mailer.schedule_delivery(city.engine, scheduler, smtp.settings()) is not None
    triggers = sorted(str(job.trigger) for job in scheduler._scheduler.get_jobs())
    assert triggers == [
        "cron[hour='8', minute='0']",
        "interval[0:00:30]",
    ]


def test_the_notifications_command_lists_and_delivers(city: City, smtp, monkeypatch) -> None:
    add(city)
    url = city.engine.db.url
    runner = CliRunner()
    listed = runner.invoke(cli_main(), ["notifications", "list", "--db", url, "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert [n["state"] for n in data["notifications"]] == ["queued"]
    assert data["counts"] == {"queued": 1}

    monkeypatch.delenv("KEDJA_SMTP_HOST", raising=False)
    refused = runner.invoke(cli_main(), ["notifications", "deliver", "--db", url])
    assert refused.exit_code == 1 and "KEDJA_SMTP_HOST" in refused.stderr

    monkeypatch.setenv("KEDJA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KEDJA_SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("KEDJA_BASE_URL", BASE_URL)
    sent = runner.invoke(cli_main(), ["notifications", "deliver", "--db", url])
    assert sent.exit_code == 0, sent.output
    assert "1 mail(s) sent" in sent.stdout
    assert [m.to for m in smtp.take()] == [[address("samordnare")]]
    plain = runner.invoke(cli_main(), ["notifications", "--db", url])
    assert plain.exit_code == 0 and "sent " in plain.stdout


def cli_main() -> Any:
    from webui import cli

    return cli.main
