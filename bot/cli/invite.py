"""`fupin-bot invite`: one-time deep links that bind a Telegram account to a role.

    fupin-bot invite --household REG_NO [--qr FILE.png]
    fupin-bot invite --cadre CODE [--qr FILE.png]
    fupin-bot invite --admin REGION|all [--qr FILE.png]
    fupin-bot invite --households-in REGION|all --out FILE.csv [--qr-dir DIR]

A single invitation prints its link on stdout (the code is shown only this once). The
bulk form writes one link per not-yet-bound household of the region subtree to a CSV
(UTF-8 with BOM, for Excel) and optionally one QR image per household. Everything is
checked before anything is written; a bulk run is all or nothing.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.common import CliError, fail, migrated_database, run_async, settings_or_exit
from bot.config import Settings

if TYPE_CHECKING:
    from bot.invitations import HouseholdInvitation

CSV_HEADER = ("户编号", "户主姓名", "行政村", "邀请链接")
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Keep spreadsheet programs from reading a cell as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _qr_filename(reg_no: str, household_id: int, used: set[str]) -> str:
    stem = _UNSAFE_FILENAME.sub("_", reg_no).strip(". ") or f"household-{household_id}"
    name = f"{stem}.png"
    if name.lower() in used:
        name = f"{stem}-{household_id}.png"
    used.add(name.lower())
    return name


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _check_parent(path: Path, option: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"{option}: directory {parent} does not exist")
    if path.is_dir():
        fail(f"{option}: {path} is a directory")


@click.command("invite")
@click.option(
    "--household", metavar="REG_NO", help="Invite the household with this registry number (户编号)."
)
@click.option("--cadre", metavar="CODE", help="Invite the cadre with this cadre code (干部编号).")
@click.option(
    "--admin",
    metavar="REGION",
    help="Invite an administrator of a region subtree, e.g. 白山市/长白朝鲜族自治县, or 'all' for the province.",
)
@click.option(
    "--households-in",
    "households_in",
    metavar="REGION",
    help="Bulk: one link per not-yet-bound household of the region subtree (or 'all'); needs --out.",
)
@click.option(
    "--qr",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.png",
    help="Also write a QR image of the link (single invitations).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.csv",
    help="Bulk: the CSV to write (户编号, 户主姓名, 行政村, 邀请链接).",
)
@click.option(
    "--qr-dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Bulk: also write one QR image per household, named by registry number.",
)
@click.option(
    "--ttl-days",
    type=click.IntRange(1, 365),
    metavar="N",
    help="Days the invitation stays valid (default: INVITE_TTL_DAYS, 14).",
)
def command(
    household: str | None,
    cadre: str | None,
    admin: str | None,
    households_in: str | None,
    qr: Path | None,
    out: Path | None,
    qr_dir: Path | None,
    ttl_days: int | None,
) -> None:
    """Create one-time invitation links that bind a Telegram account to a household, cadre or admin."""
    targets = {
        "--household": household,
        "--cadre": cadre,
        "--admin": admin,
        "--households-in": households_in,
    }
    given = [name for name, value in targets.items() if value is not None]
    if len(given) != 1:
        fail(
            "invite: give exactly one of --household, --cadre, --admin or --households-in "
            "(see `fupin-bot invite --help`)"
        )
    for name in given:
        if not str(targets[name]).strip():
            fail(f"invite: {name} needs a non-empty value")
    if households_in is not None:
        if qr is not None:
            fail("invite: --qr is for single invitations; use --qr-dir with --households-in")
        if out is None:
            fail("invite: --households-in needs --out FILE.csv")
        _check_parent(out, "--out")
        if qr_dir is not None and qr_dir.exists() and not qr_dir.is_dir():
            fail(f"--qr-dir: {qr_dir} is not a directory")
    else:
        if out is not None or qr_dir is not None:
            fail("invite: --out and --qr-dir are for --households-in")
        if qr is not None:
            _check_parent(qr, "--qr")

    settings = settings_or_exit()
    ttl = ttl_days or settings.invite_ttl_days
    if households_in is not None:
        assert out is not None
        count = run_async(_bulk(settings, households_in, out, qr_dir, ttl))
        extra = f" and {count} QR images to {qr_dir}" if qr_dir is not None else ""
        click.echo(f"wrote {count} invitations to {out}{extra} (valid {ttl} days)")
    else:
        link = run_async(_single(settings, household, cadre, admin, qr, ttl))
        click.echo(link)


async def _single(
    settings: Settings,
    household: str | None,
    cadre: str | None,
    admin: str | None,
    qr: Path | None,
    ttl: int,
) -> str:
    from bot.invitations import (
        InvitationError,
        admin_target,
        cadre_target,
        create_invitation,
        household_target,
        invite_link,
        qr_png,
        resolve_bot_username,
    )

    try:
        username = await resolve_bot_username(settings)
    except InvitationError as exc:
        raise CliError(str(exc)) from None
    async with migrated_database(settings) as sessionmaker, sessionmaker() as session:
        try:
            if household is not None:
                target = await household_target(session, household)
            elif cadre is not None:
                target = await cadre_target(session, cadre)
            else:
                target = await admin_target(session, admin or "")
        except InvitationError as exc:
            raise CliError(str(exc)) from None
        issued = await create_invitation(session, target, ttl_days=ttl, actor="cli")
        link = invite_link(username, issued.code)
        if qr is None:
            await session.commit()
            return link
        try:
            _write(qr, qr_png(link))
        except OSError as exc:
            raise CliError(f"--qr: cannot write {qr}: {exc.strerror or exc}") from None
        try:
            await session.commit()
        except BaseException:
            _remove(qr)
            raise
        click.echo(f"QR image written to {qr}", err=True)
        return link


class _BulkFiles:
    """The files of one bulk run: a temporary CSV renamed into place at the end, QR images.

    `abort` removes everything this run wrote (the codes in them were never committed).
    """

    def __init__(self, out: Path, qr_dir: Path | None) -> None:
        self.out = out
        self.qr_dir = qr_dir
        self.tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        self.images: list[Path] = []
        self.created_dir = False
        self.used_names: set[str] = set()
        self.count = 0
        if qr_dir is not None and not qr_dir.exists():
            qr_dir.mkdir(parents=True)
            self.created_dir = True
        self.fh = self.tmp.open("w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.fh)
        self.writer.writerow(CSV_HEADER)

    def add(self, item: HouseholdInvitation, link: str) -> None:
        from bot.invitations import write_qr_png

        self.writer.writerow([_cell(item.reg_no), _cell(item.head_name), _cell(item.village), link])
        if self.qr_dir is not None:
            path = self.qr_dir / _qr_filename(item.reg_no, item.household_id, self.used_names)
            write_qr_png(link, path)
            self.images.append(path)
        self.count += 1

    def finish(self) -> None:
        self.fh.close()
        self.tmp.replace(self.out)

    def abort(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)
        for path in self.images:
            path.unlink(missing_ok=True)
        if self.created_dir and self.qr_dir is not None:
            try:
                self.qr_dir.rmdir()
            except OSError:
                pass


async def _bulk(settings: Settings, region: str, out: Path, qr_dir: Path | None, ttl: int) -> int:
    from bot.invitations import (
        InvitationError,
        create_household_invitations,
        invite_link,
        region_subtree_path,
        resolve_bot_username,
    )

    try:
        username = await resolve_bot_username(settings)
    except InvitationError as exc:
        raise CliError(str(exc)) from None
    async with migrated_database(settings) as sessionmaker, sessionmaker() as session:
        try:
            path = await region_subtree_path(session, region)
        except InvitationError as exc:
            raise CliError(str(exc)) from None
        try:
            files = _BulkFiles(out, qr_dir)
        except OSError as exc:
            raise CliError(f"cannot write the invitation files: {exc.strerror or exc}") from None
        try:
            async for batch in create_household_invitations(session, path, ttl_days=ttl):
                for item in batch:
                    files.add(item, invite_link(username, item.code))
            await session.commit()
            files.finish()
        except BaseException as exc:
            await session.rollback()
            files.abort()
            if isinstance(exc, OSError):
                raise CliError(f"cannot write the invitation files: {exc.strerror or exc}") from None
            raise
        return files.count
