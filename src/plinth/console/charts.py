"""Charts drawn on the server as inline SVG: no chart library, no JavaScript.

Every label is escaped; the SVG carries a <title> and an aria-label so the
numbers are readable without the picture.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 560, 200, 56, 30, 24, 34
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** (len(str(int(value))) - 1)
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10.0 * magnitude


def _short(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _axis_label(value: float, unit: str) -> str:
    """A y-axis label; milliseconds past a second read as seconds ("2.5 s", not "2.5kms")."""
    if unit == "ms" and abs(value) >= 1000:
        return f"{value / 1000:.3g} s"
    return f"{_short(value)}{unit}"


def line_chart(
    title: str, labels: list[str], series: dict[str, list[float | None]], *, unit: str = ""
) -> Markup:
    """One or more lines over the same x labels (time buckets), with a legend."""
    values = [v for line in series.values() for v in line if v is not None]
    top = _nice_max(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [
        f'<text x="{LEFT}" y="14" class="ct">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'class="axis"/>',
    ]
    for frac in (0, 0.5, 1):
        yy = y(top * frac)
        parts.append(
            f'<text x="{LEFT - 4}" y="{yy + 4:.1f}" class="yl">'
            f"{escape(_axis_label(top * frac, unit))}</text>"
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}" class="grid"/>'
        )
    step = max(1, count // 6)
    for i in range(0, count, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - 14}" class="xl">{escape(labels[i])}</text>'
        )
    for n, (name, line) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        points = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line) if v is not None]
        if len(points) == 1:
            cx, cy = points[0].split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        elif points:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                'stroke-width="2"/>'
            )
        lx = LEFT + 130 * n
        parts.append(
            f'<rect x="{lx}" y="{HEIGHT - 9}" width="10" height="4" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{HEIGHT - 4}" class="lg">{escape(name)}</text>'
        )
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )
    return Markup(svg)


def bar_chart(title: str, labels: list[str], stacks: dict[str, list[float]]) -> Markup:
    """Stacked bars per x label (e.g. privacy actions per day)."""
    totals = [sum(stack[i] for stack in stacks.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = max(len(labels), 1)
    bar = plot_w / count
    parts = [f'<text x="{LEFT}" y="14" class="ct">{escape(title)}</text>']
    for frac in (0, 0.5, 1):
        yy = TOP + plot_h * (1 - frac)
        parts.append(
            f'<text x="{LEFT - 4}" y="{yy + 4:.1f}" class="yl">{escape(_short(top * frac))}</text>'
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}" class="grid"/>'
        )
    for i, label in enumerate(labels):
        base = float(TOP + plot_h)
        for n, stack in enumerate(stacks.values()):
            h = plot_h * stack[i] / top
            if h > 0:
                base -= h
                parts.append(
                    f'<rect x="{LEFT + i * bar + 1:.1f}" y="{base:.1f}" '
                    f'width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                    f'fill="{COLOURS[n % len(COLOURS)]}"/>'
                )
        if i % max(1, count // 6) == 0:
            parts.append(
                f'<text x="{LEFT + (i + 0.5) * bar:.1f}" y="{HEIGHT - 14}" class="xl">'
                f"{escape(label)}</text>"
            )
    for n, name in enumerate(stacks):
        lx = LEFT + 110 * n
        parts.append(
            f'<rect x="{lx}" y="{HEIGHT - 9}" width="10" height="4" '
            f'fill="{COLOURS[n % len(COLOURS)]}"/>'
            f'<text x="{lx + 14}" y="{HEIGHT - 4}" class="lg">{escape(name)}</text>'
        )
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(parts)}</svg>'
    )
    return Markup(svg)
