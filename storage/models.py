"""SQLAlchemy 2 typed ORM models: the registry, people, pairings, accounts and audit.

Tables are created only by Alembic migrations (storage/migrations). Timestamps are stored
in UTC; calendar dates (due dates, visit dates) are local dates in the configured zone.
Indexes follow the queries the service runs over a million households: registry lookups
by natural key, scope filters by region, active pairings per cadre and per household,
milestones by due date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.enums import (
    BroadcastState,
    CadreLevel,
    DeliveryState,
    HardshipCategory,
    HouseholdStatus,
    HousingGrade,
    MilestoneCategory,
    NotificationKind,
    PovertyCause,
    RegionLevel,
    Role,
    SupportMeasure,
    VisitConfirmation,
    VisitKind,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CauseSet(TypeDecorator[PovertyCause]):
    """Poverty causes as a bit set in one integer, so SQL can filter with `causes & bit`."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: PovertyCause | int | None, dialect: Any) -> int:
        return int(value or 0)

    def process_result_value(self, value: int | None, dialect: Any) -> PovertyCause:
        return PovertyCause(value or 0)


def _enum(cls: type) -> Enum:
    """Enums are stored as short strings (portable, readable), validated by SQLAlchemy."""
    return Enum(
        cls,
        native_enum=False,
        length=24,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        create_constraint=False,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Region(Base):
    """A node of the administrative tree 省 / 市(州) / 县(市、区) / 乡镇 / 行政村.

    `path` is the names from the province down joined by '/', e.g.
    '吉林省/白山市/长白朝鲜族自治县'; a subtree is `path = p OR path LIKE p || '/%'`.
    """

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    level: Mapped[RegionLevel] = mapped_column(_enum(RegionLevel))
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(400), unique=True)
    code: Mapped[str | None] = mapped_column(String(32))

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="uq_regions_parent_name"),
        Index("ix_regions_path_prefix", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
    )


class Household(Base):
    """A registered poor household (建档立卡户)."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    reg_no: Mapped[str] = mapped_column(String(32), unique=True)  # 户编号
    head_name: Mapped[str] = mapped_column(String(64))  # 户主姓名
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)  # keyed HMAC of 身份证号
    id_last4: Mapped[str | None] = mapped_column(String(4))
    phone: Mapped[str | None] = mapped_column(String(32))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"), index=True)
    members: Mapped[int] = mapped_column(Integer, default=1)  # 家庭人口
    causes: Mapped[PovertyCause] = mapped_column(CauseSet, default=PovertyCause(0))  # 致贫原因
    measure: Mapped[SupportMeasure | None] = mapped_column(_enum(SupportMeasure))  # 帮扶措施
    income_per_capita: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))  # 人均纯收入 (元)
    income_year: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[HouseholdStatus] = mapped_column(
        _enum(HouseholdStatus), default=HouseholdStatus.NOT_LIFTED, index=True
    )
    students: Mapped[int] = mapped_column(Integer, default=0)  # 在校学生数
    disabled: Mapped[int] = mapped_column(Integer, default=0)  # 残疾人数
    housing_grade: Mapped[HousingGrade | None] = mapped_column(_enum(HousingGrade))  # 危房等级
    dibao: Mapped[bool] = mapped_column(Boolean, default=False)  # 享受低保
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    village: Mapped[Region] = relationship()

    __table_args__ = (Index("ix_households_village_status", "village_id", "status"),)


class Cadre(Base):
    """A cadre (帮扶干部) who is paired with households and must visit them."""

    __tablename__ = "cadres"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 干部编号
    name: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(128), default="")  # 单位
    post: Mapped[str] = mapped_column(String(64), default="")  # 职务
    level: Mapped[CadreLevel] = mapped_column(_enum(CadreLevel))
    phone: Mapped[str | None] = mapped_column(String(32))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"), index=True)
    # 联系点: the village a unit leader must visit at least twice a year (cadence rules)
    leader_village_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    supervisor_id: Mapped[int | None] = mapped_column(
        ForeignKey("cadres.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    region: Mapped[Region] = relationship(foreign_keys=[region_id])
    leader_village: Mapped[Region | None] = relationship(foreign_keys=[leader_village_id])
    supervisor: Mapped[Cadre | None] = relationship(remote_side=[id])


class Pairing(Base):
    """Cadre ↔ household pairing (结对帮扶); history is kept, the open one has no end date."""

    __tablename__ = "pairings"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Kept by bot/work/cadence.py (on every visit, pairing and rules change) so that "who is
    # due or overdue" is an index range scan over a million pairings, not an aggregate.
    last_visit_on: Mapped[date | None] = mapped_column(Date)  # latest visit since start_date
    next_visit_due: Mapped[date | None] = mapped_column(Date)  # from the cadence rules

    cadre: Mapped[Cadre] = relationship()
    household: Mapped[Household] = relationship()

    __table_args__ = (
        Index("ix_pairings_cadre_open", "cadre_id", "end_date"),
        Index("ix_pairings_cadre_due", "cadre_id", "next_visit_due"),
        Index(
            "ix_pairings_open_due",
            "next_visit_due",
            sqlite_where=text("end_date IS NULL"),
            postgresql_where=text("end_date IS NULL"),
        ),
        Index("ix_pairings_household_open", "household_id", "end_date"),
        # At most one open pairing per household ('not lifted, not unpaired').
        Index(
            "uq_pairings_household_active",
            "household_id",
            unique=True,
            sqlite_where=text("end_date IS NULL"),
            postgresql_where=text("end_date IS NULL"),
        ),
    )


class Visit(Base):
    """A visit (走访) logged by a cadre; households confirm that it happened."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="RESTRICT"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    visited_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[VisitKind] = mapped_column(_enum(VisitKind))
    notes: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    confirmation: Mapped[VisitConfirmation] = mapped_column(
        _enum(VisitConfirmation), default=VisitConfirmation.NOT_ASKED
    )
    rating: Mapped[int | None] = mapped_column(Integer)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirm_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # PENDING expires after this
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # denied, or no answer in time
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_visits_household_date", "household_id", "visited_on"),
        Index("ix_visits_cadre_date", "cadre_id", "visited_on"),
        Index("ix_visits_confirmation_due", "confirmation", "confirm_due_at"),
        Index("ix_visits_flagged", "flagged", "flagged_at"),
    )


class Milestone(Base):
    """A plan item (帮扶计划事项) of a household with its due date."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"))
    category: Mapped[MilestoneCategory] = mapped_column(_enum(MilestoneCategory))
    title: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_text: Mapped[str | None] = mapped_column(Text)
    evidence_photo_file_id: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(64), default="import")  # 'import' or 'account:<id>'
    completed_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("household_id", "title", name="uq_milestones_household_title"),
        Index("ix_milestones_open_due", "due_date", "completed_at"),
        Index("ix_milestones_household_due", "household_id", "due_date"),
    )

    @property
    def is_done(self) -> bool:
        return self.completed_at is not None

    def is_overdue(self, today: date) -> bool:
        """逾期: not done and past its due date (derived, never stored)."""
        return self.completed_at is None and self.due_date < today


class Account(Base):
    """A Telegram user known to the bot; bound to one role at most.

    role is None for an unbound user (public menu only). An admin's scope is the subtree
    of `admin_region_id`; NULL with role admin means the whole province.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    language: Mapped[str | None] = mapped_column(String(16))  # chosen with /language
    telegram_language: Mapped[str | None] = mapped_column(String(16))  # last language_code seen
    username: Mapped[str | None] = mapped_column(String(32), index=True)  # last @username seen, lowercase
    role: Mapped[Role | None] = mapped_column(_enum(Role))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL"), index=True
    )
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="SET NULL"), index=True)
    admin_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)  # False once the user blocks the bot
    bind_failures: Mapped[int] = mapped_column(Integer, default=0)
    bind_blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household | None] = relationship()
    cadre: Mapped[Cadre | None] = relationship()
    admin_region: Mapped[Region | None] = relationship()


class Invitation(Base):
    """A one-time binding code; only its SHA-256 is stored, the code itself is shown once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(64), default="cli")

    __table_args__ = (
        Index("ix_invitations_household", "household_id"),
        Index("ix_invitations_cadre", "cadre_id"),
    )


class AuditLog(Base):
    """Append-only record of admin actions (imports, invitations, broadcasts, changes)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # 'cli' or 'account:<id>'
    action: Mapped[str] = mapped_column(String(64))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AppMeta(Base):
    """Small key/value facts about this deployment (e.g. the generated ID-hash key)."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PolicyQuestion(Base):
    """A question asked in the chat and what the policy engine made of it (issue #3).

    The row id goes into the answer's buttons (👍/👎, ask my cadre) instead of the text.
    `section_number` is NULL for a refusal; nothing here goes to the Python log.
    """

    __tablename__ = "policy_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(String(1000))
    section_number: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column()
    answered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class PolicyFeedback(Base):
    """👍/👎 on an answer, one per question (a second press updates it), for admins to review."""

    __tablename__ = "policy_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("policy_questions.id", ondelete="CASCADE"), unique=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(String(1000))
    section_number: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None] = mapped_column()
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CadreQuestion(Base):
    """A household's question forwarded to its paired cadre, and the cadre's reply."""

    __tablename__ = "cadre_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    cadre_id: Mapped[int] = mapped_column(ForeignKey("cadres.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    policy_question_id: Mapped[int | None] = mapped_column(
        ForeignKey("policy_questions.id", ondelete="SET NULL"), unique=True
    )
    question: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL")
    )

    __table_args__ = (
        Index("ix_cadre_questions_cadre_open", "cadre_id", "answered_at"),
        Index("ix_cadre_questions_household", "household_id", "created_at"),
    )


class HardshipRequest(Base):
    """A household's report of a sudden hardship (突发困难), with its two deadlines.

    The state (new / acknowledged / resolved / overdue) is derived from the timestamps and
    deadlines (bot/work/hardship.py); the deadlines are stored so that "what is overdue"
    is an index range scan.
    """

    __tablename__ = "hardship_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="RESTRICT"), index=True)
    cadre_id: Mapped[int | None] = mapped_column(ForeignKey("cadres.id", ondelete="SET NULL"))  # paired at filing
    category: Mapped[HardshipCategory] = mapped_column(_enum(HardshipCategory))
    text: Mapped[str] = mapped_column(Text, default="")
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set by the notification engine

    household: Mapped[Household] = relationship()
    cadre: Mapped[Cadre | None] = relationship()

    __table_args__ = (
        Index("ix_hardship_cadre_open", "cadre_id", "resolved_at"),
        Index("ix_hardship_ack_due", "ack_due_at", "acknowledged_at"),
        Index("ix_hardship_outcome_due", "outcome_due_at", "resolved_at"),
    )


class FsmRecord(Base):
    """aiogram FSM state and data of one chat/user (bot/fsm_storage.py), so that a dialog
    survives a restart without Redis."""

    __tablename__ = "fsm_records"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Broadcast(Base):
    """An admin's message to an audience (notifications/broadcasts.py); one outbox row per
    recipient, inserted in one INSERT ... SELECT when it starts."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by: Mapped[str] = mapped_column(String(64))  # 'cli' or 'account:<id>'
    admin_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    texts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # locale -> text; zh_Hans required
    photo_file_id: Mapped[str | None] = mapped_column(String(255))
    document_file_id: Mapped[str | None] = mapped_column(String(255))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the audience filter, as chosen
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    test_only: Mapped[bool] = mapped_column(Boolean, default=False)  # sent to a test audience
    test_account_ids: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))  # named test accounts (besides the admin)
    state: Mapped[BroadcastState] = mapped_column(_enum(BroadcastState), default=BroadcastState.SCHEDULED)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_broadcasts_state_send_at", "state", "send_at"),)


class OutboxMessage(Base):
    """One notification to one account: the durable outbox (notifications/outbox.py).

    `key` makes enqueueing idempotent (kind + recipient + subject + due date, or broadcast
    id + recipient): whatever runs twice inserts once. The text is rendered when it is
    sent, in the recipient's language, from `kind` and `payload`, after checking that its
    condition still holds (notifications/templates.py).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[NotificationKind] = mapped_column(_enum(NotificationKind))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # ids and dates only
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)  # not held by quiet hours
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState), default=DeliveryState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # 429 waits do not count
    last_error: Mapped[str | None] = mapped_column(String(200))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # due / quiet hours / backoff
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set with state=sending
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_outbox_state_not_before", "state", "not_before"),
        Index("ix_outbox_broadcast_state", "broadcast_id", "state"),
    )
