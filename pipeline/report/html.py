"""Building blocks of the self-contained HTML report: page, tables, embedded images.

Everything is inline (CSS, PNG as data URIs), so the file opens anywhere, offline,
and fetches nothing.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

_CSS = """
body { font-family: sans-serif; margin: 2em auto; max-width: 62em; color: #222;
       padding: 0 0.8em; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
tr.muted td { color: #999; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.6em 1em; }
.flag { color: #b00020; font-weight: bold; }
.ok { color: #1b7a1b; font-weight: bold; }
img { max-width: 100%; height: auto; }
.wide { overflow-x: auto; }
.banner { background: #5c2d91; color: #fff; font-weight: bold; padding: 0.6em 1em;
          margin: 0.6em 0; }
.banner.incomplete { background: #b00020; }
.boxes { display: flex; flex-wrap: wrap; gap: 1em; }
.box { flex: 1 1 22em; border: 1px solid #ccc; border-left: 8px solid #777;
       padding: 0.6em 1em; }
.box .word { font-size: 1.4em; font-weight: bold; letter-spacing: 0.03em; }
.box .who { margin: 0.2em 0 0.5em; }
.box table { font-size: 0.95em; }
.state-within .word { color: #1b7a1b; }
.state-outside .word { color: #b00020; }
.state-incomplete .word { color: #b35c00; }
.state-not-assessed .word { color: #555; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; vertical-align: middle; }
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: Sequence[str]) -> str:
    """A complete HTML document."""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def table(
    head: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    left: int = 1,
    muted: Sequence[bool] = (),
) -> str:
    """A table; the first `left` columns are left-aligned; `muted` greys rows out."""

    def cells(tag: str, values: Sequence[object]) -> str:
        return "".join(
            f"<{tag}{' class=l' if i < left else ''}>{esc(v)}</{tag}>" for i, v in enumerate(values)
        )

    out = [f"<div class=wide><table><tr>{cells('th', head)}</tr>"]
    for i, row in enumerate(rows):
        cls = " class=muted" if i < len(muted) and muted[i] else ""
        out.append(f"<tr{cls}>{cells('td', row)}</tr>")
    out.append("</table></div>")
    return "".join(out)


def facts(items: Sequence[tuple[str, object]]) -> str:
    """A two-column key/value table, keys as row headers."""
    rows = "".join(f"<tr><th class=l>{esc(k)}</th><td class=l>{esc(v)}</td></tr>" for k, v in items)
    return f"<div class=wide><table>{rows}</table></div>"


def image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<p><img alt='{esc(alt)}' src='data:image/png;base64,{data}'></p>"


def num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"
