"""Confluence storage XHTML → Markdown-like text that keeps what support engineers need.

Storage format is XHTML plus `ac:`/`ri:` elements with undeclared prefixes and HTML
entities, so an XML parser stops at the first macro, and lxml/html2text drop CDATA
code bodies. We parse with the stdlib `html.parser` into a tiny tree and render each
construct explicitly: code macros become fenced blocks, info/note/warning/tip/panel
become `> Label: title` quotes, expand keeps its title, tables become pipe tables,
macro parameters never leak into the text, links without a body keep their target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {"br", "hr", "img", "col", "wbr", "input", "meta", "link", "source"}
_BLOCK = {"p", "div", "section", "article", "blockquote", "dl", "dt", "dd", "center"}
_PANEL_LABELS = {
    "info": "Информация",
    "note": "Примечание",
    "warning": "Внимание",
    "tip": "Совет",
    "panel": "Панель",
    "success": "Готово",
    "error": "Ошибка",
}
_DROPPED_MACROS = {"toc", "children", "anchor", "recently-updated", "pagetree", "livesearch"}


@dataclass
class Node:
    """An element of the parsed storage tree; text children are plain strings."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)
    raw: bool = False  # CDATA content: keep verbatim

    def find(self, tag: str) -> Node | None:
        for child in self.children:
            if isinstance(child, Node) and child.tag == tag:
                return child
        return None

    def param(self, name: str) -> str:
        for child in self.children:
            if (
                isinstance(child, Node)
                and child.tag == "ac:parameter"
                and child.attrs.get("ac:name") == name
            ):
                return _plain(child).strip()
        return ""


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {key: value or "" for key, value in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID and not tag.startswith("ri:"):
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {key: value or "" for key, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):
            self.stack[-1].children.append(Node("#cdata", children=[data[6:]], raw=True))


def parse_storage(xhtml: str) -> Node:
    """Parse storage XHTML into a tree (never raises on malformed markup)."""
    builder = _TreeBuilder()
    builder.feed(xhtml)
    builder.close()
    return builder.root


def _plain(node: Node | str) -> str:
    if isinstance(node, str):
        return node
    return "".join(_plain(child) for child in node.children)


def _inline(text: str) -> str:
    return re.sub(r"[ \t\r\n\u00a0]+", " ", text)


class _Renderer:
    """Renders a tree to Markdown-ish text; blocks are separated by blank lines."""

    def render(self, node: Node | str) -> str:
        if isinstance(node, str):
            return _inline(node)
        if node.raw:
            return _plain(node)
        handler = getattr(self, "_" + re.sub(r"[^a-z0-9]", "_", node.tag), None)
        if handler is not None:
            return str(handler(node))
        if node.tag in _BLOCK or node.tag.startswith("ac:layout"):
            return f"\n\n{self.children(node)}\n\n"
        return self.children(node)

    def children(self, node: Node) -> str:
        return "".join(self.render(child) for child in node.children)

    # -- plain HTML ------------------------------------------------------------------
    def _heading(self, node: Node) -> str:
        level = int(node.tag[1])
        text = _inline(self.children(node)).strip()
        return f"\n\n{'#' * level} {text}\n\n" if text else ""

    _h1 = _h2 = _h3 = _h4 = _h5 = _h6 = _heading

    def _br(self, node: Node) -> str:
        return "\n"

    def _hr(self, node: Node) -> str:
        return "\n\n"

    def _pre(self, node: Node) -> str:
        return f"\n\n```\n{_plain(node).strip(chr(10))}\n```\n\n"

    def _code(self, node: Node) -> str:
        return f"`{_plain(node).strip()}`"

    def _a(self, node: Node) -> str:
        text = self.children(node).strip()
        href = node.attrs.get("href", "")
        if not text:
            return href
        return f"{text} ({href})" if href.startswith("http") and href not in text else text

    def _ul(self, node: Node) -> str:
        return self._list(node, ordered=False)

    def _ol(self, node: Node) -> str:
        return self._list(node, ordered=True)

    def _list(self, node: Node, *, ordered: bool) -> str:
        lines = []
        items = [c for c in node.children if isinstance(c, Node) and c.tag in ("li", "ac:task")]
        for number, item in enumerate(items, start=1):
            body = self.render(item) if item.tag == "ac:task" else self.children(item)
            body = re.sub(r"\n{2,}", "\n", body.strip())
            marker = f"{number}." if ordered else "-"
            lines.append(f"{marker} {body}".replace("\n", "\n  "))
        return "\n\n" + "\n".join(lines) + "\n\n"

    def _table(self, node: Node) -> str:
        rows: list[list[str]] = []
        header = False

        def walk(current: Node) -> None:
            nonlocal header
            for child in current.children:
                if not isinstance(child, Node):
                    continue
                if child.tag == "tr":
                    cells = [
                        c for c in child.children if isinstance(c, Node) and c.tag in ("td", "th")
                    ]
                    if not rows and cells and all(c.tag == "th" for c in cells):
                        header = True
                    rows.append(
                        [_inline(self.children(c)).strip().replace("|", "/") for c in cells]
                    )
                elif child.tag != "table":
                    walk(child)

        walk(node)
        rows = [row for row in rows if any(row)]
        if not rows:
            return ""
        width = max(len(row) for row in rows)
        lines = ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
        if header:
            lines.insert(1, "|" + " --- |" * width)
        return "\n\n" + "\n".join(lines) + "\n\n"

    def _time(self, node: Node) -> str:
        return node.attrs.get("datetime", "") or self.children(node)

    # -- Confluence elements -----------------------------------------------------------
    def _ac_structured_macro(self, node: Node) -> str:
        name = node.attrs.get("ac:name", "")
        body = node.find("ac:rich-text-body")
        if name in ("code", "noformat"):
            plain = node.find("ac:plain-text-body")
            code = _plain(plain).strip("\n") if plain else ""
            language = node.param("language")
            title = node.param("title")
            head = f"{title}\n" if title else ""
            return f"\n\n{head}```{language}\n{code}\n```\n\n"
        if name in _PANEL_LABELS:
            return self._panel(_PANEL_LABELS[name], node.param("title"), body)
        if name == "expand":
            title = node.param("title") or "Подробнее"
            return f"\n\n**{title}**\n\n{self.children(body) if body else ''}\n\n"
        if name == "jira":
            key = node.param("key") or node.param("jqlQuery")
            return f"[Jira {key}]" if key else ""
        if name in ("include", "excerpt-include"):
            page = _find_deep(node, "ri:page")
            title = page.attrs.get("ri:content-title", "") if page else ""
            return f"\n\n[включение: {title}]\n\n" if title else ""
        if name == "status":
            return node.param("title")
        if name in _DROPPED_MACROS:
            return ""
        return self.children(body) if body else ""

    def _panel(self, label: str, title: str, body: Node | None) -> str:
        text = self.children(body).strip() if body else ""
        text = re.sub(r"\n{3,}", "\n\n", text)
        head = f"{label}: {title}" if title else f"{label}:"
        quoted = "\n".join(f"> {line}".rstrip() for line in text.splitlines())
        return f"\n\n> {head}\n{quoted}\n\n"

    def _ac_adf_extension(self, node: Node) -> str:
        adf = node.find("ac:adf-node")
        if adf is None:
            fallback = node.find("ac:adf-fallback")
            return self.children(fallback) if fallback else ""
        content = adf.find("ac:adf-content")
        panel_type = ""
        for child in adf.children:
            if (
                isinstance(child, Node)
                and child.tag == "ac:adf-attribute"
                and child.attrs.get("key") == "panel-type"
            ):
                panel_type = _plain(child).strip()
        if adf.attrs.get("type") == "panel":
            return self._panel(_PANEL_LABELS.get(panel_type, "Панель"), "", content)
        return self.children(content) if content else ""

    def _ac_image(self, node: Node) -> str:
        ref = node.find("ri:attachment") or node.find("ri:url")
        name = (ref.attrs.get("ri:filename") or ref.attrs.get("ri:value", "")) if ref else ""
        return f"[изображение: {name}]" if name else ""

    def _ac_link(self, node: Node) -> str:
        body = node.find("ac:plain-text-link-body") or node.find("ac:link-body")
        if body is not None and _plain(body).strip():
            return _inline(_plain(body)).strip()
        if (page := node.find("ri:page")) is not None:
            return page.attrs.get("ri:content-title", "")
        if (attachment := node.find("ri:attachment")) is not None:
            return attachment.attrs.get("ri:filename", "")
        if (url := node.find("ri:url")) is not None:
            return url.attrs.get("ri:value", "")
        return "@пользователь" if node.find("ri:user") is not None else ""

    def _ac_task_list(self, node: Node) -> str:
        return self._list(node, ordered=False)

    def _ac_task(self, node: Node) -> str:
        status = node.find("ac:task-status")
        done = status is not None and _plain(status).strip() == "complete"
        body = node.find("ac:task-body")
        return ("[x] " if done else "[ ] ") + (self.children(body).strip() if body else "")

    def _ac_parameter(self, node: Node) -> str:
        return ""

    _ac_placeholder = _ac_emoticon = _ac_parameter

    def _ac_plain_text_body(self, node: Node) -> str:
        return _plain(node)


def _find_deep(node: Node, tag: str) -> Node | None:
    for child in node.children:
        if isinstance(child, Node):
            if child.tag == tag:
                return child
            if (found := _find_deep(child, tag)) is not None:
                return found
    return None


def storage_to_text(xhtml: str) -> str:
    """Convert storage XHTML to Markdown-like text (headings as `#` lines)."""
    text = _Renderer().render(parse_storage(xhtml))
    lines = [line.rstrip() for line in text.split("\n")]
    # Trim leading spaces left by inline whitespace, but never inside code fences.
    out: list[str] = []
    in_code = False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_code = not in_code
            out.append(line.strip())
            continue
        out.append(line if in_code else line.strip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
