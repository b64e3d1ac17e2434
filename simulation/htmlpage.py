"""The machinery of mlmsim's self-contained HTML pages, shared by the run and sweep reports.

A page is one file: inline CSS, figures embedded as base64 PNG data URIs, no script and no
reference that leaves the file, so it opens offline in any browser and can be mailed as is.
:func:`page` wraps a body in the document with the base :data:`CSS` (typography, navigation,
figures, tables, notes) plus the rules a page adds of its own (``extra_css``).
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  margin: 0; color: #1f1f1f; background: #fafafa; font-size: 17px; line-height: 1.5; }
main { max-width: 1150px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 30px; margin: 8px 0 4px; }
h2 { font-size: 24px; margin-top: 44px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 19px; margin-top: 28px; }
.sub { color: #555; margin: 0 0 12px; }
nav { background: #f1f4f8; padding: 10px 14px; border-radius: 6px; font-size: 15px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav a { color: #1f4e8c; text-decoration: none; white-space: nowrap; }
figure { margin: 18px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 15px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 15px; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e3e3e3; text-align: left;
  vertical-align: top; }
th { background: #f1f4f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
.note { color: #555; font-size: 15px; }
.warn { background: #fff4e5; border-left: 4px solid #c77700; padding: 8px 12px; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def escape(x: Any) -> str:
    """``str(x)`` with ``&``, ``<``, ``>`` and quotes escaped for HTML text and attributes."""
    return html.escape(str(x))


def _cls(names: str) -> str:
    return f' class="{names}"' if names else ""


def table_html(
    headers: list[str],
    rows: list[list[Any]],
    numeric_from: int = 1,
    *,
    numeric_to: int | None = None,
    cls: str = "",
) -> str:
    """A scrollable HTML table of escaped cells.

    Columns ``numeric_from`` to ``numeric_to`` (exclusive; default: the last) are numbers,
    right-aligned in tabular figures; a ``numeric_from`` past the last column right-aligns
    none. ``cls`` is the table's class (several names separated by spaces).
    """
    end = len(headers) if numeric_to is None else numeric_to

    def align(i: int) -> str:
        return _cls("num" if numeric_from <= i < end else "")

    head = "".join(f"<th{align(i)}>{escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{align(i)}>{escape(c)}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table{_cls(cls)}><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def figure_html(png: bytes, caption: str, fig_id: str = "") -> str:
    """A figure with its PNG embedded as a base64 data URI; the caption is also its alt text."""
    data = base64.b64encode(png).decode("ascii")
    ident = f' id="{escape(fig_id)}"' if fig_id else ""
    return (
        f'<figure{ident}><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def png_bytes(fig: Figure, dpi: int = 100, **savefig: Any) -> bytes:
    """A matplotlib figure drawn as PNG bytes; ``savefig`` options pass through."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **savefig)
    return buf.getvalue()


def nav_html(links: list[tuple[str, str]]) -> str:
    """The navigation bar: one link per ``(anchor, text)``."""
    return "<nav>" + "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in links) + "</nav>"


def page(title: str, body: str, extra_css: str = "") -> str:
    """The self-contained document: ``body`` (HTML) in ``<main>``, styled by CSS + extra_css."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}{extra_css}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )
