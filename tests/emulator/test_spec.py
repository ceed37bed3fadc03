"""The spec the emulator validates against: resolution, vendored subset, request checking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiogram.exceptions import TelegramBadRequest

from bot.emulator import BotSeed, implemented_methods, load_spec, start_emulator
from bot.emulator import spec as spec_module
from bot.emulator.spec import DEFAULT_SPEC_PATH, SPEC_ENV_VAR, VENDORED_SPEC_PATH, UploadedFile, check_params

from .conftest import TOKEN, make_bot

shared_spec = pytest.mark.skipif(not DEFAULT_SPEC_PATH.is_file(), reason="shared Bot API spec not available")


def signature(fields: list[dict]) -> list[tuple[str, tuple[str, ...], bool]]:
    return [(f["name"], tuple(f["types"]), bool(f["required"])) for f in fields]


def test_every_implemented_method_is_in_the_vendored_subset() -> None:
    subset = load_spec(VENDORED_SPEC_PATH)
    for name in implemented_methods():
        method = subset.method(name)
        assert method is not None and method.name == name


@shared_spec
def test_every_implemented_method_is_in_the_shared_spec() -> None:
    full = load_spec(DEFAULT_SPEC_PATH)
    assert [name for name in implemented_methods() if full.method(name) is None] == []


@shared_spec
def test_vendored_subset_agrees_with_shared_spec() -> None:
    full = json.loads(DEFAULT_SPEC_PATH.read_text(encoding="utf-8"))
    subset = json.loads(VENDORED_SPEC_PATH.read_text(encoding="utf-8"))
    assert (subset["version"], subset["release_date"]) == (full["version"], full["release_date"])
    for name, method in subset["methods"].items():
        assert signature(method.get("fields", [])) == signature(full["methods"][name].get("fields", [])), name
    for name, item in subset["types"].items():
        assert signature(item.get("fields", [])) == signature(full["types"][name].get("fields", [])), name
    expected = spec_module.build_subset(full, implemented_methods())
    assert set(subset["methods"]) == set(expected["methods"]), (
        "regenerate api_subset.json (see spec.build_subset)"
    )
    assert set(subset["types"]) == set(expected["types"])
    assert set(subset["other_methods"]) == set(expected["other_methods"])


def test_vendored_license_is_shipped() -> None:
    license_text = (Path(spec_module.__file__).parent / "LICENSE.telegram-bot-api-spec").read_text()
    assert "MIT" in license_text
    assert "telegram-bot-api-spec" in json.loads(VENDORED_SPEC_PATH.read_text())["_origin"]


def test_spec_path_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SPEC_ENV_VAR, str(VENDORED_SPEC_PATH))
    assert spec_module.resolve_spec_path() == VENDORED_SPEC_PATH
    assert load_spec().is_subset
    monkeypatch.delenv(SPEC_ENV_VAR)
    monkeypatch.setattr(spec_module, "DEFAULT_SPEC_PATH", tmp_path / "missing.json")
    assert spec_module.resolve_spec_path() == VENDORED_SPEC_PATH
    with pytest.raises(FileNotFoundError):
        spec_module.resolve_spec_path(tmp_path / "missing.json")


def test_check_params_coerces_form_values() -> None:
    spec = load_spec(VENDORED_SPEC_PATH)
    method = spec.method("sendphoto")
    assert method is not None
    upload = UploadedFile("a.png", "image/png", b"png")
    raw = {
        "chat_id": "42",
        "photo": "attach://f1",
        "f1": upload,
        "disable_notification": "true",
        "reply_markup": '{"inline_keyboard": [[{"text": "a", "callback_data": "x"}]]}',
        "bogus": "1",
    }
    result = check_params(spec, method, raw)
    assert result.ok
    assert result.params["chat_id"] == 42 and result.params["photo"] is upload
    assert result.params["disable_notification"] is True
    assert result.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    assert result.unknown_params == ["bogus"]
    broken = check_params(
        spec, method, {"chat_id": "@channel", "photo": "attach://nothing", "has_spoiler": "maybe"}
    )
    assert broken.params["chat_id"] == "@channel"
    assert {v.param for v in broken.violations} == {"photo", "has_spoiler"}


@pytest.mark.asyncio
async def test_emulator_runs_on_the_vendored_subset() -> None:
    running = await start_emulator(bots=[BotSeed(TOKEN, "fupin_demo_bot")], spec_path=str(VENDORED_SPEC_PATH))
    bot = make_bot(running.base_url)
    try:
        assert running.emulator.spec.is_subset
        assert (await bot.get_me()).username == "fupin_demo_bot"
        with pytest.raises(TelegramBadRequest, match="method not supported by emulator"):
            await bot.get_chat_member(1, 1)  # known to the full spec only by name
    finally:
        await bot.session.close()
        await running.stop()
