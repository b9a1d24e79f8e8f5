"""The governance layer's tables: the organisation register, decisions, guideline versions,
evaluations, nominations, notifications and the sign-in throttle.

They live in the same database as the engine's but have their own Alembic history
(`processes/migrations`, version table `kedja_governance_version`), so the engine stays
ignorant of them. Rows written during an engine step (by a handler) are written with the
step's SQL in its transaction; everything else goes through these models.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # central, district, specialist, company
    local_council: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    organisation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(5), default="sv")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class RoleGrant(Base):
    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(120), index=True)
    role: Mapped[str] = mapped_column(String(40))
    organisation_id: Mapped[str | None] = mapped_column(String(64))


class DecisionRecord(Base):
    """A decision as an official record: inserted once, never changed (database triggers
    refuse UPDATE and DELETE), and chained into its instance's history."""

    __tablename__ = "decision_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    subject: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(Text)
    motivation: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime)
    organisation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    definition_key: Mapped[str] = mapped_column(String(255))
    definition_version: Mapped[int] = mapped_column(Integer)
    element_id: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[int | None] = mapped_column(Integer)
    document: Mapped[str | None] = mapped_column(Text)  # JSON


class GuidelineVersion(Base):
    __tablename__ = "guideline_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text)
    effective_date: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(DateTime)
    decision_number: Mapped[str | None] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(Integer)


class GuidelineReview(Base):
    __tablename__ = "guideline_review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reviewed_on: Mapped[date] = mapped_column(Date)
    changed: Mapped[bool] = mapped_column(Boolean)
    motivation: Mapped[str] = mapped_column(Text)
    next_review: Mapped[date] = mapped_column(Date)
    instance_id: Mapped[int | None] = mapped_column(Integer)


class Evaluation(Base):
    """One organisation's annual evaluation; next year's lägesbild starts from it."""

    __tablename__ = "evaluation"
    __table_args__ = (UniqueConstraint("year", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    organisation_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)  # JSON
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    instance_id: Mapped[int | None] = mapped_column(Integer)


class Nomination(Base):
    """A public nomination for the safety prize. The nominator's personal data lives only
    here (never in process data or history), so it can be erased on schedule."""

    __tablename__ = "nomination"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    nominee: Mapped[str] = mapped_column(String(300))
    nominee_organisation: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    nominator_name: Mapped[str | None] = mapped_column(String(200))
    nominator_email: Mapped[str | None] = mapped_column(String(254))
    nominator_phone: Mapped[str | None] = mapped_column(String(40))
    source_key: Mapped[str | None] = mapped_column(String(64), index=True)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)


class PersonalDataAccess(Base):
    """Who looked at a nominator's personal data, when (GDPR: access is logged)."""

    __tablename__ = "personal_data_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    user_id: Mapped[str] = mapped_column(String(120))
    nomination_id: Mapped[int] = mapped_column(Integer, index=True)
    purpose: Mapped[str] = mapped_column(String(200))


class Notification(Base):
    """A message to a person, queued in the transaction of the event that causes it and
    delivered afterwards."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    recipient: Mapped[str | None] = mapped_column(String(120), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class PrizeWinner(Base):
    """The year's published winner of the safety prize (public)."""

    __tablename__ = "prize_winner"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    nomination_id: Mapped[int | None] = mapped_column(Integer)
    nominee: Mapped[str] = mapped_column(String(300))
    nominee_organisation: Mapped[str | None] = mapped_column(String(300))
    motivation: Mapped[str] = mapped_column(Text)
    prize_sum: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime)
    instance_id: Mapped[int | None] = mapped_column(Integer)


class YearlyStart(Base):
    """A yearly process claimed for a year, so that several workers starting the year at
    the same moment start it once."""

    __tablename__ = "yearly_start"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime)
    instance_id: Mapped[int | None] = mapped_column(Integer)


class Attachment(Base):
    """A file attached to a task's form (`ui:widget: file`): stored in the database beside
    the case it belongs to, so it is backed up, migrated and access-checked with it.

    The form value is a reference (`attachment:<id>/<file name>`, see
    `processes.attachments`), never the file itself, so process data stays small. Who may
    download it follows who may see the instance's tasks for the same organisation."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int] = mapped_column(Integer, index=True)
    task_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organisation_id: Mapped[str | None] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(500))  # JSON pointer of the form field
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(120))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime)


class NotificationPreference(Base):
    """How a user wants to hear of their work: each notification as it comes, or a weekly
    digest (Monday 08:00 Stockholm time)."""

    __tablename__ = "notification_preference"

    user_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default="each")  # each | digest
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class CalendarToken(Base):
    """A private, revocable calendar-feed address: only the token's hash is stored."""

    __tablename__ = "calendar_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(120), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class TertialReportRow(Base):
    """One organisation's report in one tertial, as compiled (the dashboard's read model)."""

    __tablename__ = "tertial_report_row"
    __table_args__ = (UniqueConstraint("year", "tertial", "organisation_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    tertial: Mapped[str] = mapped_column(String(4))
    organisation_id: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    traffic_light: Mapped[str | None] = mapped_column(String(10))
    measures: Mapped[str] = mapped_column(Text)  # JSON: [{"nr", "atgard", "status", "farg", ...}]
    instance_id: Mapped[int | None] = mapped_column(Integer)
    compiled_at: Mapped[datetime] = mapped_column(DateTime)


class CouncilMeeting(Base):
    """A meeting of riskhanteringsrådet; items awaiting the council go on the agenda of the
    next one."""

    __tablename__ = "council_meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meets_at: Mapped[datetime] = mapped_column(DateTime, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))


class ApiToken(Base):
    """A personal API token for the REST API (/api/v1): it acts as its user, with the same
    permissions. Only the token's SHA-256 is stored, so a copy of the database opens
    nothing; the token is shown once, when it is created."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(120), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Every token expires (processes.api_tokens); renewing moves the expiry and says when.
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(DateTime)


class ModellerDraft(Base):
    """A process owner's unfinished edit of one diagram in the modeller, saved without
    deploying. One current draft per process, file and user: saving again replaces it
    (the modeller keeps no draft history — deployed versions are the history). Other users
    never see it; deploying from the modeller removes the deployer's draft of that file."""

    __tablename__ = "modeller_draft"
    __table_args__ = (UniqueConstraint("definition_key", "file_name", "saved_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition_key: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(500))
    base_version: Mapped[int] = mapped_column(Integer)  # the deployed version it was edited from
    content: Mapped[str] = mapped_column(Text)  # the diagram's XML as the browser saved it
    saved_by: Mapped[str] = mapped_column(String(120), index=True)
    saved_at: Mapped[datetime] = mapped_column(DateTime)


class SignInAttempt(Base):
    """A sign-in attempt that has not succeeded: the throttle every web process shares
    (`processes.sign_in_attempts`). A row is written when an attempt starts and removed when
    it succeeds, so what stays are failures. Neither the user name nor the address is stored,
    only keyed hashes of each (HMAC with the application's secret key)."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        Index("ix_sign_in_attempt_user_key_at", "user_key", "at"),
        Index("ix_sign_in_attempt_address_key_at", "address_key", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_key: Mapped[str] = mapped_column(String(64))
    address_key: Mapped[str | None] = mapped_column(String(64))
