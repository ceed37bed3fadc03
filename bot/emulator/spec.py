"""Telegram Bot API specification: loading it and checking requests against it.

The emulator validates every bot call against the machine-readable spec
(``api.json`` from PaulSonOfLars/telegram-bot-api-spec).  Resolution order for
the spec file:

1. an explicit ``path`` argument,
2. the ``FUPIN_BOTAPI_SPEC`` environment variable,
3. ``<repo root>/../shared/telegram-bot-api/api.json`` when it exists,
4. the vendored, trimmed copy ``bot/emulator/api_subset.json``.

:func:`check_params` coerces raw request values (form fields arrive as strings,
nested objects as JSON strings, files as uploads) to the spec's types and
reports missing/invalid parameters as :class:`Violation` objects.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_SPEC_PATH",
    "SPEC_ENV_VAR",
    "VENDORED_SPEC_PATH",
    "ApiSpec",
    "CheckResult",
    "FieldSpec",
    "MethodSpec",
    "UploadedFile",
    "Violation",
    "build_subset",
    "check_params",
    "load_spec",
    "resolve_spec_path",
]

SPEC_ENV_VAR = "FUPIN_BOTAPI_SPEC"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "telegram-bot-api" / "api.json"
VENDORED_SPEC_PATH = Path(__file__).with_name("api_subset.json")

SCALAR_TYPES = frozenset({"Integer", "Float", "String", "Boolean", "InputFile"})
_ARRAY_PREFIX = "Array of "
_INTEGER = re.compile(r"-?\d+")


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class MethodSpec:
    """A Bot API method: its canonical name, parameters and return types."""

    name: str
    fields: tuple[FieldSpec, ...]
    returns: tuple[str, ...] = ()

    def field(self, name: str) -> FieldSpec | None:
        return next((item for item in self.fields if item.name == name), None)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes

    def describe(self) -> dict[str, Any]:
        """Log-friendly description (never the content)."""
        return {"upload": self.filename, "content_type": self.content_type, "size": len(self.data)}


@dataclass(frozen=True)
class Violation:
    """A parameter that is missing or does not match the spec."""

    param: str
    kind: str  # "missing" | "invalid"
    detail: str

    def __str__(self) -> str:
        return f"{self.param}: {self.detail}"


@dataclass
class CheckResult:
    """Outcome of :func:`check_params`: coerced params plus spec violations."""

    params: dict[str, Any]
    violations: list[Violation] = field(default_factory=list)
    unknown_params: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def _fields(raw: Iterable[Mapping[str, Any]]) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(item["name"], tuple(item["types"]), bool(item["required"])) for item in raw)


class ApiSpec:
    """Parsed spec with case-insensitive method lookup (Telegram ignores method-name case)."""

    def __init__(self, raw: Mapping[str, Any], source: Path | None = None) -> None:
        self.raw = raw
        self.source = source
        self.version: str = raw.get("version", "")
        self.release_date: str = raw.get("release_date", "")
        self.methods = {
            name.lower(): MethodSpec(name, _fields(item.get("fields", [])), tuple(item.get("returns", [])))
            for name, item in raw["methods"].items()
        }
        self.types: dict[str, Mapping[str, Any]] = dict(raw.get("types", {}))
        self._other_methods = {name.lower(): name for name in raw.get("other_methods", [])}
        self._type_fields = {name: _fields(item.get("fields", [])) for name, item in self.types.items()}

    @property
    def is_subset(self) -> bool:
        return "other_methods" in self.raw

    def method(self, name: str) -> MethodSpec | None:
        """Spec of a method with full parameter data, or ``None``."""
        return self.methods.get(name.lower())

    def canonical_name(self, name: str) -> str | None:
        """Spelling used by the spec for any method it knows (also bare names kept by the subset)."""
        method = self.method(name)
        return method.name if method else self._other_methods.get(name.lower())

    def type_fields(self, name: str) -> tuple[FieldSpec, ...] | None:
        return self._type_fields.get(name)

    def subtypes(self, name: str) -> list[str]:
        return list(self.types.get(name, {}).get("subtypes", []))


def resolve_spec_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Spec file to use (see module docstring); explicit/env paths must exist."""
    explicit = path if path is not None else os.environ.get(SPEC_ENV_VAR) or None
    if explicit is not None:
        resolved = Path(explicit)
        if not resolved.is_file():
            raise FileNotFoundError(f"Bot API spec not found: {resolved}")
        return resolved
    return DEFAULT_SPEC_PATH if DEFAULT_SPEC_PATH.is_file() else VENDORED_SPEC_PATH


@lru_cache(maxsize=8)
def _load_cached(path: Path) -> ApiSpec:
    with path.open(encoding="utf-8") as handle:
        return ApiSpec(json.load(handle), source=path)


def load_spec(path: str | os.PathLike[str] | None = None) -> ApiSpec:
    """Load (and cache) the Bot API spec."""
    return _load_cached(resolve_spec_path(path).resolve())


# ------------------------------------------------------------------ subset export


def _type_names(type_expr: str) -> list[str]:
    while type_expr.startswith(_ARRAY_PREFIX):
        type_expr = type_expr[len(_ARRAY_PREFIX) :]
    return [] if type_expr in SCALAR_TYPES else [type_expr]


def build_subset(full: Mapping[str, Any], methods: Iterable[str], origin: str = "") -> dict[str, Any]:
    """Trimmed spec: ``methods``, every type their parameters reference (transitively) and
    the direct definitions of their return types; other method names are kept as a bare list."""
    wanted = {name.lower() for name in methods}
    chosen = {name: item for name, item in full["methods"].items() if name.lower() in wanted}
    pending = [
        t
        for item in chosen.values()
        for f in item.get("fields", [])
        for expr in f["types"]
        for t in _type_names(expr)
    ]
    types: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in types or name not in full["types"]:
            continue
        types[name] = item = full["types"][name]
        pending.extend(item.get("subtypes", []))
        pending.extend(t for f in item.get("fields", []) for expr in f["types"] for t in _type_names(expr))
    for item in chosen.values():
        for name in (t for expr in item.get("returns", []) for t in _type_names(expr)):
            types.setdefault(name, full["types"][name])
    return {
        "_origin": origin,
        "version": full.get("version"),
        "release_date": full.get("release_date"),
        "changelog": full.get("changelog"),
        "methods": dict(sorted(chosen.items())),
        "types": dict(sorted(types.items())),
        "other_methods": sorted(name for name in full["methods"] if name.lower() not in wanted),
    }


# --------------------------------------------------------------- request checking


class _Mismatch(Exception):
    """Internal: a value does not fit the expected type."""


def check_params(spec: ApiSpec, method: MethodSpec, raw: Mapping[str, Any]) -> CheckResult:
    """Coerce ``raw`` request values to the method's parameter types and validate them.

    ``raw`` holds strings (query/form fields), JSON values (JSON bodies) or
    :class:`UploadedFile` objects; ``attach://name`` references are resolved.
    """
    result = CheckResult(params={})
    attached = {
        value[len("attach://") :]
        for value in raw.values()
        if isinstance(value, str) and value.startswith("attach://")
    }
    for item in method.fields:
        value = raw.get(item.name)
        if value is None or (isinstance(value, str) and value == "" and item.types != ("String",)):
            if item.required:
                result.violations.append(Violation(item.name, "missing", "is required"))
            continue
        try:
            result.params[item.name] = _coerce(spec, value, item.types, raw)
        except _Mismatch as error:
            result.violations.append(Violation(item.name, "invalid", str(error)))
    known = {item.name for item in method.fields}
    result.unknown_params = sorted(name for name in raw if name not in known and name not in attached)
    return result


def _coerce(spec: ApiSpec, value: Any, types: tuple[str, ...], raw: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("attach://") and "InputFile" in types:
        upload = raw.get(value[len("attach://") :])
        if not isinstance(upload, UploadedFile):
            raise _Mismatch(f"attached file {value!r} is missing from the request")
        return upload
    value = _from_text(value, types)
    _check_any(spec, value, types)
    return value


def _from_text(value: Any, types: tuple[str, ...]) -> Any:
    """Convert a form-field string (or loosely typed JSON scalar) to the declared type."""
    if isinstance(value, int | float) and not isinstance(value, bool) and types == ("String",):
        return str(value)
    if not isinstance(value, str):
        return value
    if "Integer" in types and _INTEGER.fullmatch(value.strip()):
        return int(value)
    if "String" in types or "InputFile" in types:
        return value
    if "Float" in types:
        try:
            return float(value)
        except ValueError as error:
            raise _Mismatch(f"{value!r} is not a Float") from error
    if "Boolean" in types:
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise _Mismatch(f"{value!r} is not a Boolean")
    if "Integer" in types:
        raise _Mismatch(f"{value!r} is not an Integer")
    try:
        return json.loads(value)
    except ValueError as error:
        raise _Mismatch("can't parse JSON object") from error


def _check_any(spec: ApiSpec, value: Any, types: Iterable[str], path: str = "") -> None:
    """Accept ``value`` if it matches any of ``types``; otherwise report the closest mismatch."""
    errors: list[tuple[int, str]] = []
    for type_expr in types:
        try:
            _check(spec, value, type_expr, path)
            return
        except _Mismatch as error:
            errors.append((_affinity(spec, value, type_expr), str(error)))
    errors.sort(key=lambda item: -item[0])
    raise _Mismatch(errors[0][1] if errors else "unexpected value")


def _affinity(spec: ApiSpec, value: Any, type_expr: str) -> int:
    """How many keys of a dict value are fields of ``type_expr`` (to pick the best error)."""
    fields = spec.type_fields(type_expr) or ()
    return len({f.name for f in fields} & set(value)) if isinstance(value, dict) else 0


def _check(spec: ApiSpec, value: Any, type_expr: str, path: str) -> None:
    where = path or "value"
    if type_expr.startswith(_ARRAY_PREFIX):
        if not isinstance(value, list):
            raise _Mismatch(f"{where} must be an array")
        for index, item in enumerate(value):
            _check(spec, item, type_expr[len(_ARRAY_PREFIX) :], f"{path}[{index}]")
        return
    scalar_ok = {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "Boolean": lambda v: isinstance(v, bool),
        "InputFile": lambda v: isinstance(v, UploadedFile | str),
    }.get(type_expr)
    if scalar_ok is not None:
        if not scalar_ok(value):
            raise _Mismatch(f"{where} must be {type_expr}")
        return
    _check_object(spec, value, type_expr, path)


def _check_object(spec: ApiSpec, value: Any, type_name: str, path: str) -> None:
    if not isinstance(value, dict):
        raise _Mismatch(f"{path or 'value'} must be a {type_name} object")
    subtypes = spec.subtypes(type_name)
    if subtypes:
        _check_any(spec, value, subtypes, path)
        return
    for item in spec.type_fields(type_name) or ():
        nested = f"{path}.{item.name}" if path else item.name
        if value.get(item.name) is None:
            if item.required:
                raise _Mismatch(f"{nested} is required in {type_name}")
            continue
        _check_any(spec, value[item.name], item.types, nested)
