#!/usr/bin/env python3
"""Draws the open-loop sweep as an SVG: events/s answered (linear, left) and p99
acknowledgement latency (logarithmic, right) against the offered rate. No plotting library.

    python3 bench/plot_sweep.py SWEEP.jsonl OUT.svg
"""
import json
import math
import sys

WIDTH, HEIGHT = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 80, 90, 50, 60


def nice_ceiling(value):
    if value <= 0:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def main(source, target):
    points = [json.loads(line) for line in open(source) if line.strip()]
    points.sort(key=lambda p: p["offered"])
    x_max = nice_ceiling(max(p["offered"] for p in points))
    rate_max = nice_ceiling(max(max(p["events_per_second"], p["offered"]) for p in points))
    decades = max(1, math.ceil(math.log10(max(p["p99_ms"] for p in points))))  # 1 ms .. 10^decades ms
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(v):
        return LEFT + plot_w * v / x_max

    def y_rate(v):
        return TOP + plot_h * (1 - v / rate_max)

    def y_p99(v):
        return TOP + plot_h * (1 - math.log10(max(v, 1)) / decades)

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">flowd, open loop: answered rate and p99 latency against offered load</text>']
    for i in range(6):
        gy = TOP + plot_h * i / 5
        svg.append(f'<line x1="{LEFT}" y1="{gy:.1f}" x2="{LEFT + plot_w}" y2="{gy:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 8}" y="{gy + 4:.1f}" text-anchor="end" fill="#1f4e9c">{rate_max * (1 - i / 5):,.0f}</text>')
    for d in range(decades + 1):
        gy = y_p99(10 ** d)
        svg.append(f'<text x="{LEFT + plot_w + 8}" y="{gy + 4:.1f}" fill="#b3361b">{10 ** d:,} ms</text>')
    for i in range(6):
        gx = LEFT + plot_w * i / 5
        svg.append(f'<text x="{gx:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{x_max * i / 5:,.0f}</text>')
    svg.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>')
    svg.append(f'<line x1="{x(0):.1f}" y1="{y_rate(0):.1f}" x2="{x(min(x_max, rate_max)):.1f}" y2="{y_rate(min(x_max, rate_max)):.1f}" '
               'stroke="#999" stroke-dasharray="4 4"/>')
    for key, scale, colour in (("events_per_second", y_rate, "#1f4e9c"), ("p99_ms", y_p99, "#b3361b")):
        path = " ".join(f'{x(p["offered"]):.1f},{scale(p[key]):.1f}' for p in points)
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in points:
            svg.append(f'<circle cx="{x(p["offered"]):.1f}" cy="{scale(p[key]):.1f}" r="3" fill="{colour}"/>')
    svg.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 18}" text-anchor="middle">offered events/s</text>')
    svg.append(f'<text transform="translate(20 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle" fill="#1f4e9c">answered events/s (dashed: offered)</text>')
    svg.append(f'<text transform="translate({WIDTH - 20} {TOP + plot_h / 2}) rotate(90)" text-anchor="middle" fill="#b3361b">p99 acknowledgement latency (log scale)</text>')
    svg.append('</svg>')
    with open(target, "w") as out:
        out.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
