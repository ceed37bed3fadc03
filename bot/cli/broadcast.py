"""`fupin-bot broadcast`: create an admin broadcast from the command line.

    fupin-bot broadcast --text TEXT [--text-ko TEXT] [--text-en TEXT]
                        [--audience role=household,region=PATH,cause=因病+因学,status=未脱贫,students=yes]
                        [--at 2026-12-01T09:00] [--dry-run] [--test-to 12345,@name]

Prints the recipient count and the broadcast id (`--dry-run`: the count only, nothing
written). `--test-to` sends only a test copy, at once, to the named accounts (Telegram user
ids or @usernames of active bound accounts, comma separated); a name not found is one line
on stderr and exit status 2, nothing sent. The text is plain text (escaped for Telegram's HTML). The running bot's sender
delivers it; a time in the future (or in quiet hours) is started by its scheduler. A bad
audience, region, date or text is one line on stderr and exit status 2.
"""

from __future__ import annotations

from datetime import datetime

import click

from bot.cli.common import CliError, fail, migrated_database, run_async, settings_or_exit
from bot.config import Settings


@click.command("broadcast")
@click.option("--text", "text", required=True, metavar="TEXT", help="The message (Chinese; plain text, ≤ 4096 characters).")
@click.option("--text-ko", "text_ko", metavar="TEXT", help="The Korean text (optional).")
@click.option("--text-en", "text_en", metavar="TEXT", help="The English text (optional).")
@click.option(
    "--audience",
    metavar="SPEC",
    default="",
    help="role=household|cadre|admin|all, region=PATH|all, cause=因病+因学, status=未脱贫|已脱贫|返贫, "
    "students=yes (comma separated; default: every household).",
)
@click.option("--at", "at", metavar="ISO", help="Send time, e.g. 2026-12-01T09:00 (local time unless an offset is given).")
@click.option("--dry-run", is_flag=True, help="Print the recipient count only; write nothing.")
@click.option(
    "--test-to",
    "test_to",
    metavar="LIST",
    help="Send only a test copy, now, to these accounts: Telegram user ids or @usernames, comma separated.",
)
def command(
    text: str, text_ko: str | None, text_en: str | None, audience: str, at: str | None, dry_run: bool,
    test_to: str | None,
) -> None:
    """Broadcast a message to an audience (households, cadres, admins) of a region."""
    from notifications import broadcasts as service

    texts = {"zh_Hans": text, "ko": text_ko, "en": text_en}
    for code, value in texts.items():
        if value is not None and not value.strip():
            fail(f"broadcast: the {code} text is empty")
        if value is not None and service.text_problem(len(value), has_media=False):
            fail(f"broadcast: the {code} text has {len(value)} characters; at most {service.TEXT_MAX}")
    try:
        parsed = service.parse_audience(audience)
    except ValueError as exc:
        fail(f"broadcast: --audience: {exc}")
    names = None
    if test_to is not None:
        names = service.split_names(test_to)
        if not names:
            fail("broadcast: --test-to: expected Telegram user ids or @usernames, comma separated")
        if len(names) > service.MAX_TEST_ACCOUNTS:
            fail(f"broadcast: --test-to: at most {service.MAX_TEST_ACCOUNTS} accounts")
        if at is not None:
            fail("broadcast: --test-to sends at once; it cannot be used with --at")
    settings = settings_or_exit()
    send_at = None
    if at is not None:
        try:
            send_at = datetime.fromisoformat(at.strip())
        except ValueError:
            fail(f"broadcast: --at: expected an ISO date and time such as 2026-12-01T09:00, got {at!r}")
        if send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=settings.tz)
    html = {code: service.plain_to_html(value) for code, value in texts.items() if value}
    count, broadcast_id = run_async(_broadcast(settings, html, parsed, send_at, dry_run, names))
    click.echo(f"recipients: {count}")
    if broadcast_id is not None:
        click.echo(f"broadcast: {broadcast_id}")


async def _broadcast(
    settings: Settings, texts, audience, send_at, dry_run: bool, test_names: list[str] | None = None
) -> tuple[int, int | None]:
    from notifications import broadcasts as service
    from storage.repositories.regions import PROVINCE_NAME

    now = service.clock()
    if send_at is not None and send_at <= now:
        raise CliError("broadcast: --at is in the past")
    async with migrated_database(settings) as sessionmaker, sessionmaker() as session:
        try:
            await service.resolve_region(session, audience, None)
            test_ids: list[int] = []
            if test_names is not None:
                found = await service.resolve_test_names(session, test_names, PROVINCE_NAME)
                if found.rejected:
                    raise CliError(f"broadcast: --test-to: not found among active bound accounts: "
                                   f"{', '.join(found.rejected)}")
                test_ids = list(found.accepted)
                count = len(test_ids)
            else:
                count = await service.count_audience(session, audience)
            if dry_run:
                return count, None
            created = await service.create_broadcast(
                session, texts=texts, audience=audience, created_by="cli", now=now, send_at=send_at,
                test_only=test_names is not None, test_account_ids=test_ids,
                quiet_hours=settings.quiet_hours, tz=settings.tz,
            )
        except service.BroadcastError as exc:
            if exc.code == "empty":
                raise CliError("broadcast: the audience is empty; nothing was created") from None
            raise CliError(f"broadcast: --audience: {exc}") from None
        await session.commit()
        return created.recipients, created.broadcast_id
