"""The parts of ``report.html`` that are plain HTML: escaping, tables, images, the page itself.

Every string that reaches the page from a model, a dataset, a path or a
results file goes through :func:`el` (``html.escape`` of text and attribute
values) or, for the sample data, :func:`json_script` (JSON inside
``<script type="application/json">`` with ``<``, ``>``, ``&`` and U+2028/9
written as ``\\uXXXX``, so no completion can close the script element). The
page's own script and style are inlined from ``html_assets/``; nothing is
fetched from the network.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any


class Markup(str):
    """Text already escaped (built by :func:`el`): inserted as is."""


def escape(value: Any) -> Markup:
    return value if isinstance(value, Markup) else Markup(html.escape(str(value), quote=True))


def el(tag: str, *children: Any, **attrs: Any) -> Markup:
    """``<tag attrs>children</tag>``; plain strings are escaped, :class:`Markup` kept, ``None`` dropped.

    Attribute names are Python names (``class_`` for ``class``, ``data_x`` for ``data-x``); a
    ``True`` value writes the bare attribute, ``None``/``False`` leaves it out.
    """
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        parts.append(name if value is True else f'{name}="{escape(value)}"')
    inner = "".join(escape(c) for c in _flatten(children) if c is not None)
    return Markup(f"<{' '.join(parts)}>{inner}</{tag}>")


def _flatten(items: Iterable[Any]) -> Iterable[Any]:
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flatten(item)
        else:
            yield item


def join(*parts: Any) -> Markup:
    return Markup("".join(escape(p) for p in _flatten(parts) if p is not None))


def cell_text(text: str) -> Markup:
    """A table cell from the markdown reports: their ``<br>`` (the only markup they put in a cell)
    becomes a line break; everything else is text."""
    return join(
        [
            escape(piece) if i == 0 else join(Markup("<br>"), escape(piece))
            for i, piece in enumerate(str(text).split("<br>"))
        ]
    )


def table(header: Sequence[str], body: Sequence[Sequence[str]], **attrs: Any) -> Markup:
    return el(
        "table",
        el("thead", el("tr", [el("th", cell_text(h)) for h in header])),
        el("tbody", [el("tr", [el("td", cell_text(c)) for c in row]) for row in body]),
        **attrs,
    )


def png_data_uri(path: Path) -> str | None:
    """A PNG file as a ``data:`` URI (``None`` if it is absent or not a PNG)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure(title: str, path: Path) -> Markup | None:
    uri = png_data_uri(path)
    if uri is None:
        return None
    return el("figure", el("img", src=uri, alt=title, loading="lazy"), el("figcaption", title))


_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_script(element_id: str, data: Any) -> Markup:
    """``data`` as JSON in a ``<script type="application/json">`` element that no string in it can close."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, code in _JSON_ESCAPES.items():
        text = text.replace(char, code)
    return Markup(f'<script type="application/json" id="{escape(element_id)}">{text}</script>')


def asset(name: str) -> str:
    """The text of ``harness/evaluation/html_assets/<name>`` (shipped as package data)."""
    return resources.files("harness.evaluation").joinpath("html_assets", name).read_text(encoding="utf-8")


# In the head of every page the harness writes: `harness report` replaces an existing page only if it has it.
GENERATOR_TAG = '<meta name="generator" content="rft-harness report">'


def written_by_harness(path: str | Path) -> bool:
    """Whether the file at ``path`` is a page :func:`page` wrote (its head holds :data:`GENERATOR_TAG`)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return GENERATOR_TAG in fh.read(4096)
    except OSError:
        return False


def page(title: str, body: Markup, data_blocks: Sequence[Markup] = ()) -> str:
    """The whole document: static ``body`` first (painted before any script runs), then the JSON
    data blocks, then the inline script that builds the sample browser from them."""
    # The inline script may not contain "</script" (it would end the element early): checked, not assumed.
    script = asset("report.js")
    if "</script" in script.lower():
        raise ValueError("html_assets/report.js contains '</script'")
    head = join(
        Markup('<meta charset="utf-8">'),
        Markup(GENERATOR_TAG),  # marks the page as the harness's: a later report may replace it, nothing else
        Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        # Nothing may load from anywhere: images are data: URIs, script and style are inline.
        Markup(
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        ),
        el("title", title),
        el("style", Markup(asset("report.css"))),
    )
    return (
        "<!DOCTYPE html>\n"
        + el("html", el("head", head), el("body", body, list(data_blocks), el("script", Markup(script))), lang="en")
        + "\n"
    )


def _inline(text: str) -> Markup:
    """One line of the generated markdown: escaped, then its ``**bold**`` and `` `code` `` marked."""
    import re

    out = str(escape(text))
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return Markup(out)


def _row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def markdown_html(text: str, base: Path | None = None) -> Markup:
    """The markdown the harness generates (``report.md``: headings, ``|`` tables, ``-`` lists,
    paragraphs, ``![title](file.png)``) as HTML, so the page's tables are the report's, cell for cell.

    Only the harness's own constructs are read; every line is escaped first, so a model path or a
    note holding markup stays text. Images are embedded from ``base`` (when the file is a PNG there).
    """
    import re

    lines = text.splitlines()
    out: list[Markup] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 4)
            title = line.lstrip("#").strip()
            out.append(el(f"h{level + 1}", _inline(title), id="sec-" + re.sub(r"[^a-z0-9]+", "-", title.lower())[:40]))
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            header, body = _row(rows[0]), [_row(r) for r in rows[2:]]
            out.append(
                el(
                    "div",
                    el(
                        "table",
                        el("thead", el("tr", [el("th", _cell(c)) for c in header])),
                        el("tbody", [el("tr", [el("td", _cell(c)) for c in r]) for r in body]),
                    ),
                    class_="table-wrap",
                )
            )
        elif line.lstrip().startswith("- "):
            items: list[Markup] = []
            while i < len(lines) and lines[i].lstrip().startswith("- "):
                item = lines[i]
                nested = item.startswith("  ")
                items.append(el("li", _inline(item.lstrip()[2:]), class_="nested" if nested else None))
                i += 1
            out.append(el("ul", items))
        elif (m := re.fullmatch(r"!\[(.*)\]\((.*)\)", line.strip())) is not None:
            fig = figure(m.group(1), (base or Path(".")) / m.group(2)) if base is not None else None
            out.append(fig if fig is not None else el("p", f"[figure {m.group(2)} not found]"))
            i += 1
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "- ", "![")):
                para.append(lines[i])
                i += 1
            out.append(el("p", _inline(" ".join(para))))
    return join(out)


def _cell(text: str) -> Markup:
    """A table cell: ``<br>`` (the study table's only markup) is a line break; marks get a class."""
    pieces = []
    for n, piece in enumerate(text.split("<br>")):
        if n:
            pieces.append(Markup("<br>"))
        pieces.append(_inline(piece))
    markup = join(pieces)
    for mark, cls in (("[syn]", "mark-syn"), ("[?]", "mark-unknown"), ("▲", "mark-up"), ("▼", "mark-down")):
        markup = Markup(markup.replace(str(escape(mark)), str(el("span", mark, class_=cls))))
    return markup
