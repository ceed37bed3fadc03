"""The cadence rules and deadlines of cadre work, read from a YAML file.

Defaults ship in bot/work/cadence.yaml; `CADENCE_FILE` (Settings.cadence_file) points to
an operator's file with the same keys, where any key left out keeps its default. A bad
file raises `RulesError` with one line naming the file and the key, so the CLI can print
it and exit 2.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_FILE = Path(__file__).with_name("cadence.yaml")


class RulesError(Exception):
    """The cadence file is unreadable or invalid; `str()` is one console line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VisitRules(_Strict):
    every_days: int = Field(30, ge=1, le=366)
    first_contact_days: int = Field(7, ge=0, le=366)
    leader_visits_per_year: int = Field(2, ge=0, le=12)
    backdate_days: int = Field(30, ge=0, le=366)


class ConfirmationRules(_Strict):
    answer_within_days: int = Field(3, ge=1, le=60)


class HardshipRules(_Strict):
    acknowledge_working_days: int = Field(2, ge=1, le=60)
    outcome_working_days: int = Field(20, ge=1, le=250)


class Rules(_Strict):
    visits: VisitRules = VisitRules()
    confirmation: ConfirmationRules = ConfirmationRules()
    hardship: HardshipRules = HardshipRules()


def load_rules(path: Path | None = None) -> Rules:
    """The rules of `path` over the shipped defaults (the defaults alone when path is None)."""
    base = _read(DEFAULT_FILE)
    if path is not None:
        _merge(base, _read(Path(path)))
    try:
        return Rules.model_validate(base)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RulesError(f"{path or DEFAULT_FILE}: {where}: {err['msg']}") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise RulesError(f"{path}{line}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RulesError(f"{path}: expected a mapping of sections (visits, confirmation, hardship)")
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in the service's time zone (Asia/Shanghai by default): deadlines and
    "overdue" turn at local midnight, not at UTC midnight."""
    moment = now if now is not None else datetime.now(tz)
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(tz).date()
