"""The per-box 30-day chart as inline SVG: the backlog per hour (bars) above, the hours with contact below.

No script and no style attribute (the page's CSP allows neither): shapes carry classes styled by
``fleet.css``. Hours without a heartbeat have no bar and leave the contact strip empty, so a silent
stretch shows as a gap in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from ..storage._fleet import HOUR_MS, HistoryPoint

DAY_MS = 24 * HOUR_MS
LEFT, RIGHT, TOP = 44, 20, 10
PLOT_H, STRIP_H, GAP, AXIS_H = 120, 14, 10, 18


def chart_svg(points: Sequence[HistoryPoint], *, now_ms: int, days: int = 30) -> Markup:
    hours = days * 24
    end = now_ms - now_ms % HOUR_MS + HOUR_MS  # the end of the current hour
    start = end - hours * HOUR_MS
    width = LEFT + hours + RIGHT
    height = TOP + PLOT_H + GAP + STRIP_H + AXIS_H
    by_hour = {(p.bucket - start) // HOUR_MS: p for p in points if start <= p.bucket < end}
    top = max([p.pending_max for p in by_hour.values()] + [1])
    scale = _nice(top)

    def y(v: int) -> float:
        return TOP + PLOT_H - PLOT_H * v / scale

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-labelledby="chart-title chart-desc">',
           '<title id="chart-title">Hồ sơ chờ gửi và liên lạc trong 30 ngày</title>',
           f'<desc id="chart-desc">{len(by_hour)} trong {hours} giờ có liên lạc; '
           f'nhiều nhất {top if by_hour else 0} hồ sơ chờ gửi.</desc>']
    # grid and y labels
    for v in (0, scale // 2, scale):
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + hours}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        out.append(f'<text class="label" x="{LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>')
    # backlog: one bar per hour with a heartbeat (an hour without one has none)
    bars = [f"M{LEFT + h},{y(p.pending_max):.1f}V{y(0):.1f}h1V{y(p.pending_max):.1f}z"
            for h, p in sorted(by_hour.items()) if p.pending_max > 0]
    if bars:
        out.append(f'<path class="backlog" d="{"".join(bars)}"/>')
    # contact strip: runs of consecutive hours with a heartbeat
    strip_y = TOP + PLOT_H + GAP
    out.append(f'<rect class="strip" x="{LEFT}" y="{strip_y}" width="{hours}" height="{STRIP_H}"/>')
    for run_start, run_len in _runs(sorted(by_hour)):
        out.append(f'<rect class="contact" x="{LEFT + run_start}" y="{strip_y}" width="{run_len}" height="{STRIP_H}"/>')
    out.append(f'<text class="label" x="{LEFT - 4}" y="{strip_y + STRIP_H - 3}" text-anchor="end">liên lạc</text>')
    # day ticks every 5 days, labelled with the date (Vietnam time)
    import datetime as dt

    from core.vntime import vn_date

    for d in range(0, days + 1, 5):
        x = LEFT + hours - d * 24
        label = vn_date(dt.datetime.fromtimestamp((end - d * DAY_MS) / 1000, dt.UTC)).strftime("%d/%m")
        out.append(f'<line class="tick" x1="{x}" x2="{x}" y1="{TOP}" y2="{strip_y + STRIP_H}"/>')
        out.append(f'<text class="label" x="{x}" y="{height - 4}" text-anchor="middle">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _nice(v: int) -> int:
    """A round top for the axis (1, 2, 5 × 10^n), even so that its half is whole."""
    n = 1
    while True:
        for m in (2, 4, 10):
            if m * n >= v:
                return m * n
        n *= 10


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for h in hours:
        if runs and runs[-1][0] + runs[-1][1] == h:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((h, 1))
    return runs
