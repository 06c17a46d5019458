"""HTML rewriting of Html fields (approximates ``odoo.tools.mail.html_sanitize``)."""

from __future__ import annotations

import html
from html.parser import HTMLParser

_KILL_TAGS = frozenset(
    {"script", "style", "iframe", "object", "embed", "frame", "head", "link", "meta", "noscript", "title", "base"}
)
_VOID_TAGS = frozenset({"br", "hr", "img", "embed", "link", "meta", "base", "frame"})
_KEEP_TAGS = frozenset(
    {"p", "div", "span", "b", "i", "u", "s", "strong", "em", "br", "hr", "ul", "ol", "li", "a"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "img", "font", "small"}
    | {"table", "thead", "tbody", "tfoot", "tr", "td", "th", "sub", "sup", "strike"}
)
_KEEP_ATTRS = frozenset(
    {"href", "src", "alt", "title", "class", "target", "rel", "width", "height", "colspan", "rowspan", "align"}
)


class _Sanitizer(HTMLParser):
    """Rebuild HTML keeping safe tags/attributes; see ``sanitize_html``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.killing: list[str] = []
        self.top_level_text = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a kept tag, start skipping a killed one, unwrap the others."""
        if self.killing or tag in _KILL_TAGS:
            if tag in _KILL_TAGS and tag not in _VOID_TAGS:
                self.killing.append(tag)
            return
        if tag not in _KEEP_TAGS:
            return
        self.out.append(f"<{tag}{_render_attrs(attrs)}>")
        if tag not in _VOID_TAGS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        """Close a kept tag (and the ones left open inside it)."""
        if self.killing:
            if tag == self.killing[-1]:
                self.killing.pop()
            return
        if tag not in self.open:
            return
        while self.open:
            last = self.open.pop()
            self.out.append(f"</{last}>")
            if last == tag:
                return

    def handle_data(self, data: str) -> None:
        """Escape text; remember text sitting outside any element."""
        if self.killing:
            return
        if not self.open and data.strip():
            self.top_level_text = True
        self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        """The rewritten fragment, wrapped in ``<p>`` when it had bare text."""
        self.out.extend(f"</{tag}>" for tag in reversed(self.open))
        text = "".join(self.out)
        return f"<p>{text}</p>" if self.top_level_text else text


def _render_attrs(attrs: list[tuple[str, str | None]]) -> str:
    """Kept attributes only; ``javascript:`` URLs are emptied, ``on*`` dropped."""
    parts = []
    for name, value in attrs:
        if name not in _KEEP_ATTRS:
            continue
        value = value or ""
        if name in ("href", "src") and value.strip().lower().startswith("javascript:"):
            value = ""
        parts.append(f' {name}="{html.escape(value, quote=True)}"')
    return "".join(parts)


def sanitize_html(text: str) -> str:
    """Rewrite ``text`` like an Odoo Html field: ``a<b`` -> ``<p>a&lt;b</p>``."""
    parser = _Sanitizer()
    parser.feed(text)
    parser.close()
    return parser.result()
