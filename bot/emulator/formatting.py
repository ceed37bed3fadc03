"""Text formatting rules of the Telegram Bot API, as the emulator enforces them.

Turns ``text`` + ``parse_mode`` (HTML, MarkdownV2, legacy Markdown) or explicit
``entities`` into the visible text and a list of ``MessageEntity`` dicts, exactly
like Telegram: offsets and lengths are counted in UTF-16 code units, leading and
trailing whitespace is trimmed, and malformed markup raises
:class:`EntityParseError` carrying Telegram's wording (the part after
``"Bad Request: can't parse entities: "``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

__all__ = [
    "EntityParseError",
    "FormattedText",
    "UnsupportedParseModeError",
    "bot_command_entities",
    "format_text",
    "utf16_len",
]


class EntityParseError(ValueError):
    """Markup could not be parsed; the message mirrors Telegram's description."""


class UnsupportedParseModeError(ValueError):
    """``parse_mode`` is not one of HTML, MarkdownV2 or Markdown."""


@dataclass(frozen=True)
class FormattedText:
    """Visible text plus its entities (UTF-16 offsets), as stored in a Message."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit for limits and offsets)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(source: str, char_index: int) -> int:
    return len(source[:char_index].encode("utf-8"))


def format_text(
    text: str, parse_mode: str | None = None, entities: list[dict[str, Any]] | None = None
) -> FormattedText:
    """Parse ``text`` like Telegram does for sendMessage/captions and trim surrounding whitespace.

    Explicit ``entities`` win over ``parse_mode`` (Telegram ignores parse_mode then).
    """
    if entities:
        parsed = FormattedText(text, [dict(entity) for entity in entities])
    elif not parse_mode:
        parsed = FormattedText(text, [])
    else:
        mode = parse_mode.lower()
        if mode == "html":
            parsed = _HtmlEntityParser(text).parse()
        elif mode == "markdownv2":
            parsed = _MarkdownV2Parser(text).parse()
        elif mode == "markdown":
            parsed = _parse_legacy_markdown(text)
        else:
            raise UnsupportedParseModeError(parse_mode)
    return _trim(parsed)


def _trim(formatted: FormattedText) -> FormattedText:
    """Strip surrounding whitespace and shift/clip entities accordingly."""
    stripped = formatted.text.strip()
    if not stripped:
        return FormattedText("", [])
    lead = utf16_len(formatted.text[: len(formatted.text) - len(formatted.text.lstrip())])
    limit = utf16_len(stripped)
    entities: list[dict[str, Any]] = []
    for entity in formatted.entities:
        start = max(int(entity["offset"]) - lead, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead, limit)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    entities.sort(key=lambda item: (item["offset"], -item["length"]))
    return FormattedText(stripped, entities)


_BOT_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


def bot_command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities Telegram detects in a user's message ("/start abc" → 0..6)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _BOT_COMMAND.finditer(text)
    ]


class _TextBuilder:
    """Accumulates visible text while tracking the UTF-16 position."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.position = 0

    def append(self, text: str) -> None:
        self.chunks.append(text)
        self.position += utf16_len(text)

    def text(self) -> str:
        return "".join(self.chunks)


# --------------------------------------------------------------------------- HTML

_SIMPLE_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


@dataclass
class _OpenTag:
    tag: str
    start: int
    entity: dict[str, Any] | None


class _HtmlEntityParser(HTMLParser):
    """HTML subset accepted by Telegram (https://core.telegram.org/bots/api#html-style)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0] + [index + 1 for index, char in enumerate(source) if char == "\n"]
        self._out = _TextBuilder()
        self._open: list[_OpenTag] = []
        self._entities: list[dict[str, Any]] = []

    def parse(self) -> FormattedText:
        self.feed(self._source)
        self.close()
        if self._open:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{self._open[-1].tag}"')
        return FormattedText(self._out.text(), self._entities)

    def _offset(self) -> int:
        line, column = self.getpos()
        return _byte_offset(self._source, self._line_starts[line - 1] + column)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        entity = self._entity_for(tag, {name: value or "" for name, value in attrs})
        self._open.append(_OpenTag(tag, self._out.position, entity))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._open:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._offset()}")
        top = self._open.pop()
        if top.tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {self._offset()}, expected "</{top.tag}>", found "</{tag}>"'
            )
        length = self._out.position - top.start
        if top.entity is not None and length > 0:
            self._entities.append(
                {"type": top.entity.pop("type"), "offset": top.start, "length": length, **top.entity}
            )

    def handle_data(self, data: str) -> None:
        if data.startswith("<"):
            name = re.match(r"<([^\s>]*)", data)
            raise EntityParseError(
                f'Unsupported start tag "{name.group(1) if name else ""}" at byte offset {self._offset()}'
            )
        self._out.append(data)

    def handle_entityref(self, name: str) -> None:
        self._out.append(_NAMED_HTML_ENTITIES.get(name, f"&{name};"))

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in ("x", "X") else int(name)
            self._out.append(chr(code))
        except (ValueError, OverflowError):
            self._out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        raise EntityParseError(f'Unsupported start tag "!--" at byte offset {self._offset()}')

    def handle_decl(self, decl: str) -> None:
        raise EntityParseError(
            f'Unsupported start tag "!{decl.split()[0] if decl else ""}" at byte offset {self._offset()}'
        )

    def handle_pi(self, data: str) -> None:
        raise EntityParseError(f'Unsupported start tag "?" at byte offset {self._offset()}')

    def unknown_decl(self, data: str) -> None:
        raise EntityParseError(f'Unsupported start tag "![" at byte offset {self._offset()}')

    def _entity_for(self, tag: str, attrs: dict[str, str]) -> dict[str, Any] | None:
        """Entity data for an opening tag (``None`` when the tag yields no own entity)."""
        parent = self._open[-1] if self._open else None
        if tag == "code" and parent is not None and parent.tag == "pre" and parent.entity is not None:
            language = attrs.get("class", "")
            if language.startswith("language-") and len(language) > len("language-"):
                parent.entity["language"] = language[len("language-") :]
            return None
        if tag in _SIMPLE_HTML_TAGS:
            return {"type": _SIMPLE_HTML_TAGS[tag]}
        if tag == "span":
            if attrs.get("class") != "tg-spoiler":
                raise EntityParseError('Tag "span" must have class "tg-spoiler"')
            return {"type": "spoiler"}
        if tag == "a":
            href = attrs.get("href", "").strip()
            return {"type": "text_link", "url": href} if href else None
        if tag == "blockquote":
            return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
        if tag == "tg-emoji":
            emoji_id = attrs.get("emoji-id", "")
            if not emoji_id:
                raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
            return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {self._offset()}')


# --------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "code": "Code",
    "pre": "Pre",
}
_MDV2_SIMPLE_OPENERS = {"*": "bold", "__": "underline", "_": "italic", "~": "strikethrough", "||": "spoiler"}


@dataclass
class _MdEntity:
    type: str
    start: int
    source_index: int
    extra: dict[str, Any] = field(default_factory=dict)


class _MarkdownV2Parser:
    """MarkdownV2 (https://core.telegram.org/bots/api#markdownv2-style), including its escaping rules."""

    def __init__(self, source: str) -> None:
        self._src = source
        self._out = _TextBuilder()
        self._stack: list[_MdEntity] = []
        self._quote: _MdEntity | None = None
        self._entities: list[dict[str, Any]] = []

    def parse(self) -> FormattedText:
        index = 0
        while index < len(self._src):
            index = self._step(index)
        self._close_quote()
        if self._stack:
            top = self._stack[-1]
            name = _MDV2_TYPE_NAMES[top.type]
            raise EntityParseError(
                f"Can't find end of {name} entity at byte offset {_byte_offset(self._src, top.source_index)}"
            )
        return FormattedText(self._out.text(), self._entities)

    def _step(self, index: int) -> int:
        src, char = self._src, self._src[index]
        if char == "\\" and index + 1 < len(src) and 0 < ord(src[index + 1]) <= 126:
            self._out.append(src[index + 1])
            return index + 2
        top = self._stack[-1] if self._stack else None
        if top is not None and top.type in ("code", "pre"):
            return self._step_in_code(top, index)
        if char == "\n":
            self._out.append(char)
            if self._quote is not None and not src.startswith(">", index + 1):
                self._close_quote(before_newline=True)
            return index + 1
        if char == ">" and (index == 0 or src[index - 1] == "\n"):
            if self._quote is None:
                self._quote = _MdEntity("blockquote", self._out.position, index)
            return index + 1
        if char not in _MDV2_RESERVED:
            self._out.append(char)
            return index + 1
        if top is not None and (closer := self._closer_length(top, index)):
            return self._close(top, index, closer)
        return self._open(index)

    def _step_in_code(self, top: _MdEntity, index: int) -> int:
        closer = "```" if top.type == "pre" else "`"
        if self._src.startswith(closer, index):
            return self._close(top, index, len(closer))
        self._out.append(self._src[index])
        return index + 1

    def _closer_length(self, top: _MdEntity, index: int) -> int:
        src = self._src
        for marker, entity_type in (
            ("__", "underline"),
            ("||", "spoiler"),
            ("*", "bold"),
            ("~", "strikethrough"),
        ):
            if top.type == entity_type and src.startswith(marker, index):
                return len(marker)
        if top.type == "italic" and src[index] == "_" and not src.startswith("__", index):
            return 1
        if top.type in ("text_link", "custom_emoji") and src[index] == "]":
            return 1
        return 0

    def _open(self, index: int) -> int:
        src = self._src
        if src.startswith("```", index):
            return self._open_pre(index)
        for marker in ("__", "||", "*", "_", "~"):
            if src.startswith(marker, index):
                self._stack.append(_MdEntity(_MDV2_SIMPLE_OPENERS[marker], self._out.position, index))
                return index + len(marker)
        if src[index] == "`":
            self._stack.append(_MdEntity("code", self._out.position, index))
            return index + 1
        if src[index] == "[":
            self._stack.append(_MdEntity("text_link", self._out.position, index))
            return index + 1
        if src.startswith("![", index):
            self._stack.append(_MdEntity("custom_emoji", self._out.position, index))
            return index + 2
        raise EntityParseError(
            f"Character '{src[index]}' is reserved and must be escaped with the preceding '\\'"
        )

    def _open_pre(self, index: int) -> int:
        start = index + 3
        newline = self._src.find("\n", start)
        closing = self._src.find("```", start)
        entity = _MdEntity("pre", self._out.position, index)
        if newline != -1 and (closing == -1 or newline < closing):
            language = self._src[start:newline]
            if language and not any(ch.isspace() for ch in language):
                entity.extra["language"] = language
            start = newline + 1
        self._stack.append(entity)
        return start

    def _close(self, top: _MdEntity, index: int, closer: int) -> int:
        self._stack.pop()
        index += closer
        if top.type in ("text_link", "custom_emoji"):
            url, index = self._read_url(index)
            if not url:
                return index
            if top.type == "text_link":
                top.extra["url"] = url
            else:
                top.extra["custom_emoji_id"] = url.rsplit("id=", 1)[-1]
        length = self._out.position - top.start
        if length > 0:
            self._entities.append({"type": top.type, "offset": top.start, "length": length, **top.extra})
        return index

    def _read_url(self, index: int) -> tuple[str, int]:
        src = self._src
        if not src.startswith("(", index):
            return "", index
        chars: list[str] = []
        cursor = index + 1
        while cursor < len(src):
            if src[cursor] == "\\" and cursor + 1 < len(src):
                chars.append(src[cursor + 1])
                cursor += 2
                continue
            if src[cursor] == ")":
                return "".join(chars), cursor + 1
            chars.append(src[cursor])
            cursor += 1
        raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(src, index)}")

    def _close_quote(self, before_newline: bool = False) -> None:
        quote, self._quote = self._quote, None
        if quote is None:
            return
        end = self._out.position - (1 if before_newline else 0)
        if end > quote.start:
            self._entities.append({"type": "blockquote", "offset": quote.start, "length": end - quote.start})


# ----------------------------------------------------------------- legacy Markdown

_LEGACY_MARKERS = {"*": "bold", "_": "italic", "`": "code"}


def _parse_legacy_markdown(source: str) -> FormattedText:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url); no nesting."""
    out = _TextBuilder()
    entities: list[dict[str, Any]] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source) and source[index + 1] in "_*`[":
            out.append(source[index + 1])
            index += 2
            continue
        if char not in "_*`[":
            out.append(char)
            index += 1
            continue
        index = _legacy_entity(source, index, out, entities)
    return FormattedText(out.text(), entities)


def _legacy_entity(source: str, index: int, out: _TextBuilder, entities: list[dict[str, Any]]) -> int:
    def fail() -> EntityParseError:
        return EntityParseError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(source, index)}"
        )

    start = out.position
    if source.startswith("```", index):
        end = source.find("```", index + 3)
        if end == -1:
            raise fail()
        body, extra = source[index + 3 : end], {}
        first_line, newline, rest = body.partition("\n")
        if newline and first_line and " " not in first_line:
            body, extra = rest, {"language": first_line}
        out.append(body)
        entities.append({"type": "pre", "offset": start, "length": out.position - start, **extra})
        return end + 3
    if source[index] == "[":
        match = re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(source, index)
        if match is None:
            raise fail()
        out.append(match.group(1))
        if match.group(2) and out.position > start:
            entities.append(
                {"type": "text_link", "offset": start, "length": out.position - start, "url": match.group(2)}
            )
        return match.end()
    end = source.find(source[index], index + 1)
    if end == -1:
        raise fail()
    out.append(source[index + 1 : end])
    if out.position > start:
        entities.append(
            {"type": _LEGACY_MARKERS[source[index]], "offset": start, "length": out.position - start}
        )
    return end + 1
