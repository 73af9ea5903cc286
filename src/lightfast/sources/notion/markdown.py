"""Notion pages as Markdown (pure): blocks (https://developers.notion.com/reference/block), with their
children already fetched under ``children``, and page properties. Headings, paragraphs, bulleted,
numbered and to-do lists, quotes, callouts, code with its language, tables, toggles (as <details>),
dividers, equations, bookmarks and media as links; a child page or database is a link (a child page is
a document of its own). Unknown block types are skipped, never fatal."""

from __future__ import annotations

from typing import Any

from lightfast.sources.metadata import NotionDocMetadata

MAX_DEPTH = 12  # deeper nesting is flattened: Notion allows deep trees, Markdown readers do not


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def rich_text(parts: Any) -> str:
    """Notion rich text as inline Markdown: bold, italic, strikethrough, code and links kept."""
    if not isinstance(parts, list):
        return ""
    out: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        text = str(part.get("plain_text") or "")
        if not text:
            continue
        notes = _dict(part.get("annotations"))
        stripped = text.strip()
        if stripped:
            if notes.get("code"):
                stripped = f"`{stripped}`"
            if notes.get("bold"):
                stripped = f"**{stripped}**"
            if notes.get("italic"):
                stripped = f"_{stripped}_"
            if notes.get("strikethrough"):
                stripped = f"~~{stripped}~~"
            href = part.get("href")
            if isinstance(href, str) and href.startswith(("http://", "https://")):
                stripped = f"[{stripped}]({href})"
            text = text[: len(text) - len(text.lstrip())] + stripped + text[len(text.rstrip()) :]
        out.append(text)
    return "".join(out)


def _content(block: dict[str, Any]) -> dict[str, Any]:
    value = block.get(str(block.get("type")))
    return value if isinstance(value, dict) else {}


def _children(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = block.get("children")
    return [b for b in found if isinstance(b, dict)] if isinstance(found, list) else []


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _table(block: dict[str, Any]) -> str:
    rows = [_content(row).get("cells") for row in _children(block) if row.get("type") == "table_row"]
    cells = [
        [rich_text(c).replace("|", "\\|").replace("\n", " ") for c in row]
        for row in rows
        if isinstance(row, list)
    ]
    if not cells:
        return ""
    width = max(len(r) for r in cells)
    cells = [r + [""] * (width - len(r)) for r in cells]
    header, body = (
        (cells[0], cells[1:]) if _content(block).get("has_column_header") else ([""] * width, cells)
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def render_blocks(blocks: list[dict[str, Any]], depth: int = 0) -> str:
    """Markdown of a list of blocks; consecutive list items stay one list."""
    out: list[str] = []
    number = 0
    for block in blocks:
        kind = str(block.get("type") or "")
        number = number + 1 if kind == "numbered_list_item" else 0
        text = _block(block, kind, number, depth)
        if text:
            out.append(text)
    separator = "\n"
    joined: list[str] = []
    for index, text in enumerate(out):
        if index:
            tight = _is_item(out[index - 1]) and _is_item(text)
            joined.append(separator if tight else "\n\n")
        joined.append(text)
    return "".join(joined)


def _is_item(text: str) -> bool:
    first = text.lstrip().split(" ", 1)[0]
    return first in ("-", "- [ ]", "- [x]") or (first.endswith(".") and first[:-1].isdigit())


def _block(block: dict[str, Any], kind: str, number: int, depth: int) -> str:
    content = _content(block)
    text = rich_text(content.get("rich_text"))
    children = _children(block)
    inner = render_blocks(children, depth + 1) if children and depth < MAX_DEPTH else ""
    if kind in ("heading_1", "heading_2", "heading_3"):
        return "#" * (int(kind[-1]) + 1) + " " + text if text else ""  # the page title is the one H1
    if kind == "paragraph":
        return "\n\n".join(p for p in (text, inner) if p)
    if kind in ("bulleted_list_item", "numbered_list_item", "to_do"):
        marker = {"bulleted_list_item": "-", "numbered_list_item": f"{number}."}.get(kind)
        if marker is None:
            marker = "- [x]" if content.get("checked") else "- [ ]"
        item = f"{marker} {text}"
        return item + ("\n" + _indent(inner, "    ") if inner else "")
    if kind == "toggle":
        return f"<details>\n<summary>{text}</summary>\n\n{inner}\n\n</details>" if inner else f"- {text}"
    if kind in ("quote", "callout"):
        body = "\n\n".join(p for p in (text, inner) if p)
        return _indent(body, "> ") if body else ""
    if kind == "code":
        language = str(content.get("language") or "").replace("plain text", "")
        code = "".join(
            str(p.get("plain_text") or "") for p in content.get("rich_text") or [] if isinstance(p, dict)
        )
        fence = "````" if "```" in code else "```"
        return f"{fence}{language}\n{code}\n{fence}"
    if kind == "table":
        return _table(block)
    if kind == "divider":
        return "---"
    if kind == "equation":
        return f"$$ {content.get('expression', '')} $$"
    if kind == "child_page":
        return f"Page: {content.get('title', '')}"
    if kind == "child_database":
        return f"Database: {content.get('title', '')}"
    if kind in ("bookmark", "embed", "link_preview", "image", "video", "file", "pdf"):
        url = content.get("url") or _content(content).get("url") or (content.get("external") or {}).get("url")
        caption = rich_text(content.get("caption")) or kind
        return f"[{caption}]({url})" if isinstance(url, str) else ""
    return inner  # synced blocks, columns and types not known: their children only


def property_text(value: Any) -> str:
    """A database row's property value as text (title, rich text, select, dates, people, numbers...)."""
    if not isinstance(value, dict):
        return ""
    kind = value.get("type")
    data = value.get(str(kind))
    if kind in ("title", "rich_text"):
        return rich_text(data)
    if kind in ("select", "status") and isinstance(data, dict):
        return str(data.get("name") or "")
    if kind == "multi_select" and isinstance(data, list):
        return ", ".join(str(o.get("name")) for o in data if isinstance(o, dict))
    if kind == "date" and isinstance(data, dict):
        return " → ".join(str(v) for v in (data.get("start"), data.get("end")) if v)
    if kind == "people" and isinstance(data, list):
        return ", ".join(str(p.get("name") or p.get("id")) for p in data if isinstance(p, dict))
    if kind in ("number", "checkbox", "url", "email", "phone_number") and data is not None:
        return str(data)
    return ""


def title_of(page: dict[str, Any]) -> str:
    for value in _dict(page.get("properties")).values():
        if isinstance(value, dict) and value.get("type") == "title":
            return rich_text(value.get("title")).strip()
    return ""


def render_page(
    page: dict[str, Any], blocks: list[dict[str, Any]], comments: list[dict[str, Any]] | None = None
) -> tuple[str, dict[str, Any]]:
    """(Markdown, typed metadata) of a page: its title as the H1, a database row's properties as a list,
    its blocks, then its comments."""
    title = title_of(page) or "Untitled"
    parent = _dict(page.get("parent"))
    database_id = parent.get("database_id") if parent.get("type") == "database_id" else None
    parts = [f"# {title}"]
    properties: dict[str, str] = {}
    if database_id:
        for name, value in _dict(page.get("properties")).items():
            shown = property_text(value)
            if shown and not (isinstance(value, dict) and value.get("type") == "title"):
                properties[str(name)] = shown
        if properties:
            parts.append("\n".join(f"- {name}: {value}" for name, value in properties.items()))
    body = render_blocks(blocks)
    if body:
        parts.append(body)
    said = [rich_text(c.get("rich_text")) for c in comments or [] if isinstance(c, dict)]
    if any(said):
        parts.append("## Comments\n\n" + "\n".join(f"- {s}" for s in said if s))
    edited_by = _dict(page.get("last_edited_by"))
    metadata = NotionDocMetadata(
        kind="database-page" if database_id else "doc-page",
        page_id=str(page.get("id")),
        database_id=database_id,
        title=title,
        url=page.get("url") if isinstance(page.get("url"), str) else None,
        properties=properties or None,
        last_edited_time=str(page.get("last_edited_time") or ""),
        last_edited_by=edited_by.get("id") if isinstance(edited_by.get("id"), str) else None,
    ).wire()
    return "\n\n".join(parts) + "\n", metadata


def render_comment(comment: dict[str, Any], page_id: str) -> tuple[str, dict[str, Any]]:
    """(Markdown, typed metadata) of a comment: a child document of its page."""
    said = rich_text(comment.get("rich_text")).strip()
    first = said.splitlines()[0][:80] if said else ""
    title = f"Comment: {first}" if first else "Comment"
    author = _dict(comment.get("created_by"))
    metadata = NotionDocMetadata(
        kind="comment",
        page_id=page_id,
        title=title,
        last_edited_time=str(comment.get("last_edited_time") or comment.get("created_time") or ""),
        last_edited_by=author.get("id") if isinstance(author.get("id"), str) else None,
    ).wire()
    return f"# {title}\n\n{said}\n", metadata
