"""A small SVG of records written and indexed over time, with the faults marked."""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD = 720, 300, 40


def svg(report: dict[str, Any]) -> str:
    points = report["timeline"]
    if not points:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    t_max = max(p["t"] for p in points) or 1.0
    y_max = max(max(p["written"], p["indexed"]) for p in points) or 1

    def x(t: float) -> float:
        return PAD + (WIDTH - 2 * PAD) * t / t_max

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / y_max

    def line(key: str, colour: str) -> str:
        coords = " ".join(f"{x(p['t']):.1f},{y(p[key]):.1f}" for p in points if p[key] >= 0)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'

    marks = []
    for event in report["events"]:
        t = float(event.split("s ", 1)[0].removeprefix("t=").strip())
        if any(v in event for v in ("SIGKILL", "SIGSTOP", "stop Elasticsearch")) and t <= t_max:
            marks.append(
                f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{PAD}" y2="{HEIGHT - PAD}" '
                f'stroke="#d33" stroke-dasharray="3,3"><title>{event}</title></line>'
            )
    title = (
        f"seed {report['seed']}: written {report['written']}, lost {report['lost']}, "
        f"duplicated {report['duplicated']}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{PAD}" y="20">{title}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#333"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#333"/>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 10}" text-anchor="end">{t_max:.0f} s</text>'
        f'<text x="{PAD + 4}" y="{PAD + 12}">{y_max} records</text>'
        + "".join(marks)
        + line("written", "#1f77b4")
        + line("indexed", "#2ca02c")
        + f'<text x="{WIDTH - PAD}" y="{PAD + 12}" text-anchor="end" fill="#1f77b4">written</text>'
        f'<text x="{WIDTH - PAD}" y="{PAD + 28}" text-anchor="end" fill="#2ca02c">indexed</text>'
        f'<text x="{WIDTH - PAD}" y="{PAD + 44}" text-anchor="end" fill="#d33">faults</text>'
        "</svg>"
    )
