"""Inline SVG charts drawn by hand: line charts, a scatter and a radar. No JavaScript.

Every plotted value is also written as a ``data-value`` attribute and a
``<title>`` tooltip, so the numbers can be read back (and tested) from the HTML.
"""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
W, H, PAD = 720, 300, 60
RIGHT = 500  # the plot ends here; the legend sits to its right


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _title(title: str) -> str:
    return (
        f'<text x="{RIGHT / 2}" y="18" text-anchor="middle" font-weight="bold">'
        f"{escape(title)}</text>"
    )


def _axes(
    title: str,
    x_label: str,
    y_label: str,
    x_max: float,
    y_max: float,
    x_ticks: list[float] | None = None,
) -> list[str]:
    parts = [
        _title(title),
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{RIGHT}" y2="{H - PAD}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{PAD}" y2="30" stroke="#333"/>',
        f'<text x="{(PAD + RIGHT) / 2}" y="{H - 12}" text-anchor="middle">{escape(x_label)}</text>',
        f'<text x="14" y="{H / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {H / 2})">{escape(y_label)}</text>',
    ]
    ticks = x_ticks if x_ticks is not None else [x_max * i / 4 for i in range(5)]
    for tick in ticks:
        x = PAD + tick / (x_max or 1.0) * (RIGHT - PAD)
        parts.append(
            f'<text x="{x:.1f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">'
            f"{_fmt(tick)}</text>"
        )
    for i in range(5):
        fy = i / 4
        y = H - PAD - fy * (H - PAD - 30)
        parts.append(
            f'<text x="{PAD - 4}" y="{y + 3}" text-anchor="end" font-size="10">'
            f"{_fmt(y_max * fy)}</text>"
        )
    return parts


def _xy(x: float, y: float, x_max: float, y_max: float) -> tuple[float, float]:
    px = PAD + (x / (x_max or 1.0)) * (RIGHT - PAD)
    py = H - PAD - (y / (y_max or 1.0)) * (H - PAD - 30)
    return round(px, 1), round(py, 1)


def _svg(parts: list[str], label: str) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" aria-label="{escape(label)}" font-family="sans-serif" '
        f'font-size="12">\n{body}\n</svg>'
    )


def _legend(names: list[str]) -> list[str]:
    return [
        f'<text x="{RIGHT + 15}" y="{40 + 16 * i}" fill="{PALETTE[i % 6]}">{escape(name)}</text>'
        for i, name in enumerate(names)
    ]


def line_chart(
    title: str, x_label: str, y_label: str, series: dict[str, list[tuple[float, float]]]
) -> str:
    """One polyline per series; x and y start at zero."""
    points = [p for s in series.values() for p in s]
    x_max = max((x for x, _ in points), default=1.0) * 1.05 or 1.0
    y_max = max((y for _, y in points), default=1.0) * 1.1 or 1.0
    x_ticks = sorted({x for x, _ in points})
    parts = _axes(title, x_label, y_label, x_max, y_max, x_ticks)
    for i, (name, values) in enumerate(series.items()):
        colour = PALETTE[i % 6]
        coords = [_xy(x, y, x_max, y_max) for x, y in sorted(values)]
        path = " ".join(f"{px},{py}" for px, py in coords)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for (x, y), (px, py) in zip(sorted(values), coords, strict=True):
            parts.append(
                f'<circle cx="{px}" cy="{py}" r="3.5" fill="{colour}" '
                f'data-series="{escape(name)}" data-x="{_fmt(x)}" data-value="{_fmt(y)}">'
                f"<title>{escape(name)}: {_fmt(x)} → {_fmt(y)}</title></circle>"
            )
    parts += _legend(list(series))
    return _svg(parts, title)


def scatter(title: str, x_label: str, y_label: str, points: dict[str, tuple[float, float]]) -> str:
    x_max = max((x for x, _ in points.values()), default=1.0) * 1.15 or 1.0
    y_max = max((y for _, y in points.values()), default=1.0) * 1.15 or 1.0
    parts = _axes(title, x_label, y_label, x_max, y_max)
    for i, (name, (x, y)) in enumerate(points.items()):
        px, py = _xy(x, y, x_max, y_max)
        parts.append(
            f'<circle cx="{px}" cy="{py}" r="6" fill="{PALETTE[i % 6]}" '
            f'data-series="{escape(name)}" data-x="{_fmt(x)}" data-value="{_fmt(y)}">'
            f"<title>{escape(name)}: {_fmt(x)}, {_fmt(y)}</title></circle>"
        )
        parts.append(f'<text x="{px + 8}" y="{py - 6}" font-size="11">{escape(name)}</text>')
    return _svg(parts, title)


def radar(title: str, axes: list[str], series: dict[str, dict[str, float]]) -> str:
    """Scores in [0, 1] on each axis."""
    cx, cy, radius = RIGHT / 2, H / 2 + 10, 105
    parts = [_title(title)]

    def at(index: int, r: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * index / len(axes)
        return round(cx + r * math.cos(angle), 1), round(cy + r * math.sin(angle), 1)

    for ring in (0.25, 0.5, 0.75, 1.0):
        ring_pts = " ".join(f"{x},{y}" for x, y in (at(i, radius * ring) for i in range(len(axes))))
        parts.append(f'<polygon points="{ring_pts}" fill="none" stroke="#ccc"/>')
    for i, axis in enumerate(axes):
        x, y = at(i, radius)
        lx, ly = at(i, radius + 22)
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x}" y2="{y}" stroke="#ccc"/>')
        parts.append(
            f'<text x="{lx}" y="{ly}" text-anchor="middle" font-size="10">{escape(axis)}</text>'
        )
    for n, (name, scores) in enumerate(series.items()):
        colour = PALETTE[n % 6]
        pts = [at(i, radius * max(0.0, min(1.0, scores.get(a, 0.0)))) for i, a in enumerate(axes)]
        parts.append(
            f'<polygon points="{" ".join(f"{x},{y}" for x, y in pts)}" fill="{colour}" '
            f'fill-opacity="0.15" stroke="{colour}" stroke-width="2"/>'
        )
        for (x, y), axis in zip(pts, axes, strict=True):
            value = scores.get(axis, 0.0)
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}" data-series="{escape(name)}" '
                f'data-x="{escape(axis)}" data-value="{_fmt(value)}">'
                f"<title>{escape(name)} {escape(axis)}: {_fmt(value)}</title></circle>"
            )
    parts += _legend(list(series))
    return _svg(parts, title)
