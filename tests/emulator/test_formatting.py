"""Telegram text formatting rules (HTML, MarkdownV2, Markdown) as the emulator applies them."""

from __future__ import annotations

import pytest

from bot.emulator.formatting import (
    EntityParseError,
    UnsupportedParseModeError,
    bot_command_entities,
    format_text,
    utf16_len,
)


def test_utf16_length() -> None:
    assert utf16_len("扶贫") == 2
    assert utf16_len("😀") == 2
    assert utf16_len("a😀b") == 4


def test_html_nested_tags_and_pre_language() -> None:
    parsed = format_text(
        '<b>bold <i>both</i></b>\n<pre><code class="language-python">x = 1</code></pre>', "HTML"
    )
    assert parsed.text == "bold both\nx = 1"
    assert parsed.entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        {"type": "pre", "offset": 10, "length": 5, "language": "python"},
    ]


def test_html_entities_spoilers_quotes_and_custom_emoji() -> None:
    parsed = format_text(
        '&lt;a&gt; &amp; &#25206; <span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler> '
        '<blockquote expandable>q</blockquote> <tg-emoji emoji-id="5368">👍</tg-emoji>',
        "html",
    )
    assert parsed.text == "<a> & 扶 s t q 👍"
    assert [e["type"] for e in parsed.entities] == [
        "spoiler",
        "spoiler",
        "expandable_blockquote",
        "custom_emoji",
    ]
    assert parsed.entities[-1]["custom_emoji_id"] == "5368"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("扶<b>x</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("<u>x</u></u>", "Unexpected end tag at byte offset 8"),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_html_errors(text: str, message: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        format_text(text, "HTML")
    assert str(caught.value) == message


def test_whitespace_is_trimmed_and_entities_shifted() -> None:
    parsed = format_text("  \n<b> hi</b>  ", "HTML")
    assert parsed.text == "hi"
    assert parsed.entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_explicit_entities_win_over_parse_mode() -> None:
    parsed = format_text("<b>x</b>", "HTML", [{"type": "italic", "offset": 0, "length": 3}])
    assert parsed.text == "<b>x</b>"
    assert parsed.entities == [{"type": "italic", "offset": 0, "length": 3}]


def test_markdown_v2() -> None:
    parsed = format_text(r"*b* _i_ __u__ ~s~ ||p|| [link](https://e.org/a\)b) `c\`` 1\+1\=2", "MarkdownV2")
    assert parsed.text == "b i u s p link c` 1+1=2"
    assert [(e["type"], e["offset"], e["length"]) for e in parsed.entities] == [
        ("bold", 0, 1),
        ("italic", 2, 1),
        ("underline", 4, 1),
        ("strikethrough", 6, 1),
        ("spoiler", 8, 1),
        ("text_link", 10, 4),
        ("code", 15, 2),
    ]
    assert parsed.entities[5]["url"] == "https://e.org/a)b"
    with pytest.raises(EntityParseError, match="Character '!' is reserved"):
        format_text("Hi!", "MarkdownV2")
    with pytest.raises(EntityParseError, match="Can't find end of Italic entity at byte offset 0"):
        format_text("_x", "MarkdownV2")


def test_legacy_markdown() -> None:
    parsed = format_text("*b* _i_ `c` [t](https://e.org) 1.5!", "Markdown")
    assert parsed.text == "b i c t 1.5!"
    assert [e["type"] for e in parsed.entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(EntityParseError, match="Can't find end of the entity starting at byte offset 0"):
        format_text("*x", "Markdown")


def test_unknown_parse_mode() -> None:
    with pytest.raises(UnsupportedParseModeError):
        format_text("x", "BBCode")


def test_bot_command_entities() -> None:
    assert bot_command_entities("/start abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert bot_command_entities("扶 /help@fupin_demo_bot") == [
        {"type": "bot_command", "offset": 2, "length": 20}
    ]
    assert bot_command_entities("a/b https://x/y") == []
