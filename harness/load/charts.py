"""``load.html``: the load test on one self-contained page (Jinja2, inline SVG, no script).

Five charts over the run, from ``load.json``'s ``timeline`` (:func:`harness.load.timeline.
load_timeline`): users (the load shape's plan and Locust's active users), throughput (requests
to the platform, requests the fakes answered, side effects), the 429 rate, the latency
percentiles p50/p95/p99 of each second, and the platform's queue depth; the storm's window is
shaded on each. Every chart is an ``<svg class="chart" id="chart-…">`` whose series are
``<polyline class="series" data-series="…" points="x,y …">``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from ..files import atomic_write

__all__ = ["CHARTS", "Series", "charts_of", "line_chart", "render_load_html", "write_load_html"]

TEMPLATES = Path(__file__).with_name("templates")
#: the charts of ``load.html``, by id
CHARTS = ("users", "throughput", "rate_429", "latency", "queue")

W, H, LEFT, RIGHT, TOP, BOTTOM = 820, 240, 52, 200, 26, 30


@dataclass(frozen=True)
class Series:
    """One line of a chart: its label, colour, dash pattern and (t, value) points (None: gap)."""

    label: str
    color: str
    points: Sequence[tuple[float, float | None]]
    dash: str = ""


def _nice(x: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at least ``x`` (axis maxima and tick steps)."""
    if x <= 0:
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * k >= x:
            return float(m * k)
    return float(10 * k)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v == int(v) else f"{v:g}"


def line_chart(
    chart_id: str,
    title: str,
    unit: str,
    series: Sequence[Series],
    *,
    x_max: float,
    storm: tuple[float, float] | None,
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """An inline SVG line chart, ``t`` seconds on the x axis, the storm's window shaded."""
    values = [v for s in series for _, v in s.points if v is not None]
    y_max = _nice(max([*values, 0.0]) * 1.05) if values and max(values) > 0 else 1.0
    x_max = max(x_max, 1.0)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + max(0.0, min(t, x_max)) / x_max * pw

    def y(v: float) -> float:
        return TOP + ph - v / y_max * ph

    e = markupsafe.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-{chart_id}" '
        f'viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>',
    ]
    if storm is not None:
        a, b = x(storm[0]), x(storm[1])
        parts.append(
            f'<rect class="storm" x="{a:.1f}" y="{TOP}" width="{max(1.0, b - a):.1f}" '
            f'height="{ph}" fill="#f5a623" fill-opacity="0.16"><title>429 storm: '
            f"{storm[0]:g}s–{storm[1]:g}s</title></rect>"
        )
    step = _nice(y_max / 4)
    v = 0.0
    while v <= y_max + 1e-9:
        parts.append(
            f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + pw}" y2="{y(v):.1f}" stroke="#eee"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{_fmt(v)}</text>"
        )
        v += step
    xstep = _nice(x_max / 8)
    t = 0.0
    while t <= x_max + 1e-9:
        parts.append(
            f'<text x="{x(t):.1f}" y="{H - BOTTOM + 14}" font-size="10" '
            f'text-anchor="middle">{_fmt(t)}s</text>'
        )
        t += xstep
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="#333"/>'
        f'<text x="{LEFT}" y="{TOP - 10}" font-size="10" fill="#555">{e(unit)}</text>'
    )
    for mt, label in marks:
        parts.append(
            f'<line class="mark" x1="{x(mt):.1f}" y1="{TOP}" x2="{x(mt):.1f}" y2="{TOP + ph}" '
            f'stroke="#555" stroke-dasharray="2 3"><title>{e(label)}</title></line>'
            f'<text x="{x(mt) + 3:.1f}" y="{TOP + 10}" font-size="10" fill="#555">{e(label)}</text>'
        )
    for k, s in enumerate(series):
        # a None value breaks the line: one polyline per unbroken run of points
        runs: list[list[tuple[float, float]]] = [[]]
        for pt, pv in s.points:
            if pv is None:
                runs.append([])
            else:
                runs[-1].append((pt, pv))
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        for run in (r for r in runs if r):
            pts = " ".join(f"{x(pt):.1f},{y(pv):.1f}" for pt, pv in run)
            parts.append(
                f'<polyline class="series" data-series="{e(s.label)}" fill="none" '
                f'stroke="{s.color}" stroke-width="1.6"{dash} points="{pts}">'
                f"<title>{e(s.label)}</title></polyline>"
            )
            if len(run) == 1:
                parts.append(
                    f'<circle cx="{x(run[0][0]):.1f}" cy="{y(run[0][1]):.1f}" r="2" '
                    f'fill="{s.color}"/>'
                )
        ly = TOP + 12 + 15 * k
        parts.append(
            f'<line x1="{W - RIGHT + 10}" y1="{ly - 4}" x2="{W - RIGHT + 28}" y2="{ly - 4}" '
            f'stroke="{s.color}" stroke-width="2"{dash}/>'
            f'<text x="{W - RIGHT + 32}" y="{ly}" font-size="11">{e(s.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def charts_of(rep: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The five charts of ``load.html`` for the report ``rep``: id → title, caption, SVG."""
    tl = rep["timeline"]
    storm = (float(tl["storm"][0]), float(tl["storm"][1]))
    x_max = float(tl["end"])
    loc, fakes, queue = tl["locust"], tl["fakes"], tl["queue"]
    marks: list[tuple[float, str]] = []
    shape = rep["options"].get("shape", "steady")
    surge = tl.get("surge_at")
    if surge is not None:
        marks.append((float(surge), "top of the hour" if shape == "evening_rush" else "spike"))
    marks.append((storm[1], "storm healed"))

    def pts(rows: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float | None]]:
        return [(float(r["t"]), None if r.get(key) is None else float(r[key])) for r in rows]

    def chart(cid: str, title: str, unit: str, series: list[Series], caption: str) -> None:
        svg = line_chart(cid, title, unit, series, x_max=x_max, storm=storm, marks=marks)
        out[cid] = {"title": title, "caption": caption, "svg": svg}

    out: dict[str, dict[str, str]] = {}
    chart(
        "users",
        "Users",
        "users",
        [
            Series(f"planned ({shape})", "#888", pts(tl["planned"], "users"), dash="5 4"),
            Series("active (Locust)", "#1d9bf0", pts(loc, "users")),
        ],
        f"The load shape {shape}: the users it asked for and those Locust had running.",
    )
    chart(
        "throughput",
        "Throughput",
        "per second",
        [
            Series("requests to the platform", "#1d9bf0", pts(loc, "rps")),
            Series("job intakes", "#7b61ff", pts(loc, "intake_ps")),
            Series("requests to the fakes", "#137333", pts(fakes, "requests")),
            Series("side effects", "#c13584", pts(fakes, "side_effects")),
        ],
        "Requests Locust sent to the platform each second (job intakes among them), requests "
        "the fakes answered and side effects on social accounts.",
    )
    chart(
        "rate_429",
        "429 rate",
        "429s per second",
        [
            Series("429s served", "#c5221f", pts(fakes, "served_429")),
            Series("by the storm", "#f5a623", pts(fakes, "storm_429"), dash="4 3"),
        ],
        "Rate-limit answers the fakes served each second.",
    )
    chart(
        "latency",
        "Latency percentiles",
        "ms",
        [
            Series("p50", "#137333", pts(loc, "p50_ms")),
            Series("p95", "#f5a623", pts(loc, "p95_ms")),
            Series("p99", "#c5221f", pts(loc, "p99_ms")),
        ],
        "Response times of the platform's answers to Locust, per sample interval (about 1 s).",
    )
    chart(
        "queue",
        "Queue depth",
        "jobs",
        [Series("jobs waiting", "#7b61ff", pts(queue, "depth"))],
        "Jobs queued, scheduled or waiting to retry on the platform (its queue_depth metric), "
        "sampled once a second through the run and the drain.",
    )
    return out


def render_load_html(rep: Mapping[str, Any]) -> str:
    """``load.html`` for the report ``rep`` (``load.json``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    charts = charts_of(rep)
    return env.get_template("load.html.j2").render(
        rep=rep,
        charts=[{**charts[c], "id": c, "svg": markupsafe.Markup(charts[c]["svg"])} for c in CHARTS],
    )


def write_load_html(out_dir: Path, rep: Mapping[str, Any]) -> Path:
    """Write ``out_dir/load.html``; its path."""
    path = out_dir / "load.html"
    atomic_write(path, render_load_html(rep))
    return path
