#!/usr/bin/env python3
"""Writes bench/scale.sh's measurements as a Markdown table and an SVG plot (no plotting library
needed): cost per tenant against tenants, where a flat line means linear scaling.

usage: scale_report.py ROWS_FILE OUT_MD OUT_SVG MACHINE COMMAND"""
import math
import sys

FIELDS = ("tenants run_s per_minute sched_cpu_s sched_peak_kb longest_xact_s stop_fast_s status_one_ms "
          "schedules_one_ms list_one_ms status_all_ms catalog_rows catalog_bytes audit_rows audit_bytes failed "
          "log_lines").split()


def read_rows(path):
    rows = []
    with open(path) as f:
        for line in f:
            values = line.split()
            if len(values) == len(FIELDS):
                rows.append({k: float(v) for k, v in zip(FIELDS, values)})
    return rows


def markdown(rows, machine, command):
    out = ["# Scale benchmark (bench/scale.sh)", "", f"Machine: {machine}.", f"Command: `{command}`.", "",
           "| tenants | nightly run | backups/min | run per tenant | scheduler CPU | scheduler CPU per tenant "
           "| scheduler peak RSS | longest transaction | `pg_ctl stop -m fast` mid-run | backup_status (1 tenant) "
           "| backup_schedules(tenant) | backup_list (1 tenant) | backup_status (all) | catalog rows | catalog size "
           "| audit rows | failed (interrupted by the stop) | log lines |",
           "|" + "---|" * 18]
    for r in rows:
        n = r["tenants"]
        out.append(
            f"| {n:,.0f} | {r['run_s']:.1f} s | {r['per_minute']:,.0f} | {1000 * r['run_s'] / n:.2f} ms "
            f"| {r['sched_cpu_s']:.2f} s | {1000 * r['sched_cpu_s'] / n:.3f} ms | {r['sched_peak_kb'] / 1024:.0f} MB "
            f"| {r['longest_xact_s']:.1f} s | {r['stop_fast_s']:.1f} s | {r['status_one_ms']:.2f} ms "
            f"| {r['schedules_one_ms']:.2f} ms | {r['list_one_ms']:.2f} ms | {r['status_all_ms']:,.0f} ms "
            f"| {r['catalog_rows']:,.0f} | {r['catalog_bytes'] / 1048576:.0f} MB | {r['audit_rows']:,.0f} "
            f"| {r['failed']:.0f} | {r['log_lines']:.0f} |")
    if rows:
        r = rows[-1]
        out += ["", f"Catalog: {r['catalog_bytes'] / r['catalog_rows']:.0f} bytes per backup row (tables and "
                f"indexes, every catalog table counted); audit: {r['audit_bytes'] / max(r['audit_rows'], 1):.0f} "
                "bytes per row."]
    out += ["", "![cost per tenant](scale.svg)", ""]
    return "\n".join(out)


def svg(rows):
    w, h, left, right, top, bottom = 640, 400, 70, 170, 30, 50
    series = [("run per tenant (ms)", "#1f77b4", [1000 * r["run_s"] / r["tenants"] for r in rows]),
              ("scheduler CPU per tenant (ms)", "#d62728", [1000 * r["sched_cpu_s"] / r["tenants"] for r in rows])]
    xs = [math.log10(r["tenants"]) for r in rows]
    xmin, xmax = (min(xs) - 0.2, max(xs) + 0.2) if xs else (0, 1)
    ymax = max([max(v) for _, _, v in series if v] + [1e-9]) * 1.2
    px = lambda x: left + (x - xmin) / (xmax - xmin) * (w - left - right)
    py = lambda y: h - bottom - y / ymax * (h - top - bottom)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
             'font-size="12">', f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="18" text-anchor="middle">Cost per tenant against tenants (flat: linear)</text>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>']
    for r, x in zip(rows, xs):
        parts.append(f'<text x="{px(x)}" y="{h - bottom + 18}" text-anchor="middle">{r["tenants"]:,.0f}</text>')
    parts.append(f'<text x="{(left + w - right) / 2}" y="{h - 10}" text-anchor="middle">tenants (log scale)</text>')
    for i in range(6):
        y = ymax * i / 5
        parts.append(f'<text x="{left - 6}" y="{py(y) + 4}" text-anchor="end">{y:.2f}</text>')
        parts.append(f'<line x1="{left}" y1="{py(y)}" x2="{w - right}" y2="{py(y)}" stroke="#ddd"/>')
    parts.append(f'<text x="16" y="{(top + h - bottom) / 2}" transform="rotate(-90 16 {(top + h - bottom) / 2})" '
                 'text-anchor="middle">ms per tenant</text>')
    for k, (name, color, values) in enumerate(series):
        points = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in zip(xs, values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, v in zip(xs, values):
            parts.append(f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"/>')
        parts.append(f'<rect x="{w - right + 10}" y="{top + 20 * k}" width="12" height="3" fill="{color}"/>')
        parts.append(f'<text x="{w - right + 26}" y="{top + 20 * k + 5}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    rows_file, out_md, out_svg, machine, command = sys.argv[1:6]
    rows = read_rows(rows_file)
    with open(out_md, "w") as f:
        f.write(markdown(rows, machine, command))
    with open(out_svg, "w") as f:
        f.write(svg(rows))


if __name__ == "__main__":
    main()
