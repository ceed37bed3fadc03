"""/reload_policy (admins): success, a broken file (last good corpus kept), audit, non-admins."""

from __future__ import annotations

import pytest

from bot.policy.service import PolicyService
from storage.models import AuditLog
from tests.policy_chat.conftest import ADMIN_USER, ANSWERS, HOUSEHOLD_USER, PUBLIC_USER
from tests.policy_chat.helpers import ask_one, rows

pytestmark = pytest.mark.usefixtures("app")


@pytest.fixture
def policy(private_policy: PolicyService) -> PolicyService:
    """This module reloads and breaks its own copy of the corpus."""
    return private_policy


async def test_reload_ok_then_broken_file_keeps_the_last_good_corpus(tg, people, policy_dir, sessionmaker) -> None:
    [ok] = await tg.ask(ADMIN_USER, "/reload_policy")
    assert ok["text"] == "政策库已重新加载：40 节"

    broken = policy_dir / "sections" / "32.yaml"
    good = broken.read_text(encoding="utf-8")
    broken.write_text(good.replace("label: 三十二", "label: [三十二"), encoding="utf-8")
    [failed] = await tg.ask(ADMIN_USER, "/reload_policy")
    first, second = failed["text"].split("\n")
    assert first.startswith("政策库加载失败：") and "32.yaml:" in first
    assert second == "仍在使用上一次成功加载的政策库（40 节）。"
    # Still answering from the last good corpus.
    reply = await ask_one(tg, PUBLIC_USER, "贷款要抵押吗")
    assert reply["text"].startswith(ANSWERS[32]["zh_Hans"])

    # A file that parses but does not validate names its line and field.
    broken.write_text(good.replace("label: 三十二", "label: 三十三"), encoding="utf-8")
    [invalid] = await tg.ask(ADMIN_USER, "/reload_policy")
    assert "32.yaml:" in invalid["text"] and "label" in invalid["text"]

    broken.write_text(good, encoding="utf-8")
    [again] = await tg.ask(ADMIN_USER, "/reload_policy")
    assert again["text"] == "政策库已重新加载：40 节"

    audit = await rows(sessionmaker, AuditLog, AuditLog.action == "policy.reload")
    assert [a.details["ok"] for a in audit] == [True, False, False, True]
    assert all(a.actor.startswith("account:") for a in audit)
    assert "32.yaml" in audit[1].details["error"]


@pytest.mark.parametrize("user_id", [PUBLIC_USER, HOUSEHOLD_USER])
async def test_reload_is_for_admins_only(tg, people, sessionmaker, user_id) -> None:
    [reply] = await tg.ask(user_id, "/reload_policy")
    assert "政策库" not in reply["text"] and "/help" in reply["text"]
    assert await rows(sessionmaker, AuditLog, AuditLog.action == "policy.reload") == []


async def test_menus_list_the_new_commands(tg, people) -> None:
    [public] = await tg.ask(PUBLIC_USER, "/help")
    assert "/topics" in public["text"] and "/benefits" not in public["text"]
    [household] = await tg.ask(HOUSEHOLD_USER, "/help")
    assert "/topics" in household["text"] and "/benefits" in household["text"]
    [admin] = await tg.ask(ADMIN_USER, "/help")
    assert "/reload_policy" in admin["text"]
