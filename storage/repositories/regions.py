"""Regions: resolving paths like '白山市/长白朝鲜族自治县', creating chains, subtree filters."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import LEVELS_BY_DEPTH, RegionLevel
from storage.models import Region

PROVINCE_NAME = "吉林省"
SEPARATOR = "/"


def normalize_path(raw: str) -> str:
    """Canonical full path: parts stripped, empty parts dropped, the province prefixed."""
    parts = [p.strip() for p in raw.replace("\\", SEPARATOR).split(SEPARATOR) if p.strip()]
    if not parts or parts[0] != PROVINCE_NAME:
        parts.insert(0, PROVINCE_NAME)
    return SEPARATOR.join(parts)


def display_path(path: str) -> str:
    """The path without the province, as operators type it."""
    parts = path.split(SEPARATOR)
    return SEPARATOR.join(parts[1:]) if len(parts) > 1 else path


def within(path: str, scope: str) -> bool:
    """`path` is the region `scope` or lies under it (the Python twin of subtree_clause)."""
    return path == scope or path.startswith(scope + SEPARATOR)


def subtree_clause(column: ColumnElement[str], path: str) -> ColumnElement[bool]:
    """SQL condition: `column` is `path` or lies under it."""
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(column == path, column.like(escaped + SEPARATOR + "%", escape="\\"))


def subtree_ids(path: str):
    """A scalar subquery of the ids of the regions in the subtree of `path`."""
    return select(Region.id).where(subtree_clause(Region.path, path)).scalar_subquery()


class RegionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # Nodes seen by ensure_chain in this session: a registry import creates thousands of
        # villages under a few dozen townships, and should not look the parents up each time.
        self._by_path: dict[str, Region] = {}

    async def get(self, region_id: int) -> Region | None:
        return await self.session.get(Region, region_id)

    async def by_path(self, raw_path: str) -> Region | None:
        path = normalize_path(raw_path)
        return await self.session.scalar(select(Region).where(Region.path == path))

    async def ensure_chain(self, names: list[str]) -> Region:
        """Get or create the chain province → ... → last name; returns the deepest node.

        `names` start below the province (city, county, township, village) and must not
        be deeper than the village level.
        """
        names = [n.strip() for n in names if n and n.strip()]
        if names and names[0] == PROVINCE_NAME:
            names = names[1:]
        if len(names) > 4:
            raise ValueError("a region path has at most 4 levels below the province")
        node = await self._get_or_create(None, PROVINCE_NAME, 0)
        for depth, name in enumerate(names, start=1):
            node = await self._get_or_create(node, name, depth)
        return node

    async def _get_or_create(self, parent: Region | None, name: str, depth: int) -> Region:
        path = name if parent is None else parent.path + SEPARATOR + name
        if path in self._by_path:
            return self._by_path[path]
        existing = await self.session.scalar(select(Region).where(Region.path == path))
        if existing is not None:
            self._by_path[path] = existing
            return existing
        level: RegionLevel = LEVELS_BY_DEPTH[depth]
        region = Region(name=name, path=path, level=level, parent_id=parent.id if parent else None)
        self.session.add(region)
        await self.session.flush()
        self._by_path[path] = region
        return region

    async def children(self, region_id: int | None) -> list[Region]:
        stmt = select(Region).where(Region.parent_id == region_id).order_by(Region.name)
        return list((await self.session.scalars(stmt)).all())

    async def named_in_scope(self, name: str, scope: str, limit: int = 5) -> list[Region]:
        """Regions of the subtree of `scope` whose name is `name` (or whose path ends with
        `name` when it holds a '/', such as 白山市/长白朝鲜族自治县), shallowest first."""
        name = name.strip().strip(SEPARATOR)
        if SEPARATOR in name:  # the name is literal text: % and _ are no wildcards
            condition = Region.path.endswith(SEPARATOR + name, autoescape=True) | (Region.path == name)
        else:
            condition = Region.name == name
        stmt = (
            select(Region)
            .where(condition, subtree_clause(Region.path, scope))
            .order_by(func.length(Region.path), Region.path)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

