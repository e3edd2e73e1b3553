#!/usr/bin/env python3
"""Turns bench/diff.sh's measurements into diff.md: medians, ratios measured in the same run, targets.

usage: diff_report.py RAW_TSV INFO_TSV OUT_MD
"""
import statistics
import sys
from collections import defaultdict


def main():
    raw, info_path, out = sys.argv[1:4]
    values = defaultdict(list)
    with open(raw) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 4:
                values[parts[0]].append(float(parts[3]))
    info = {}
    with open(info_path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            info[key] = value

    def med(metric):
        v = values.get(metric)
        return statistics.median(v) if v else None

    def runs(metric):
        return " / ".join(f"{x:.3f}" for x in values.get(metric, []))

    def ratio(a, b):
        return None if a is None or not b else a / b

    def verdict(r, target):
        return "n/a" if r is None else ("PASS" if r <= target else "FAIL")

    def mb(n):
        return "n/a" if n is None else f"{n / 1e6:,.1f} MB"

    def s(x):
        return "n/a" if x is None else f"{x:.3f} s"

    lines = ["# Restores that apply only the differences (bench/diff.sh)", ""]
    lines.append(f"{info.get('date', '')}, {info.get('machine', '')}; {info.get('postgres', '')}; commit "
                 f"{info.get('commit', '')}; scale {info.get('scale')}, variant {info.get('variant')}, "
                 f"{info.get('runs')} runs (medians; every run listed); load average {info.get('loadavg')}.")
    lines.append("")
    lines.append(f"Large tenant: {int(info['large_rows']):,} rows. Changed since the backup: "
                 f"{int(info.get('changed_1', 0)):,} rows (1%), then {int(info.get('changed_100', 0)):,} "
                 "(every row updated). Ratios are of medians measured in the same run, on a shared machine.")
    lines.append("")
    lines.append("| measurement | median | runs (s) |")
    lines.append("|---|---|---|")
    for metric, label in [
        ("floor_out", "backup floor: binary COPY of the tenant's rows to /dev/null"),
        ("backup", "backup_create"),
        ("diff_same_s", "backup_diff, nothing changed"),
        ("diff_1_s", "backup_diff, 1% changed"),
        ("floor_1_s", "restore floor (DELETE + COPY FROM), 1% changed"),
        ("restore_1_s", "backup_restore (no pre_restore), 1% changed"),
        ("undo_1_s", "backup_restore with its pre_restore backup, 1% changed"),
        ("floor_100_s", "restore floor, every row changed"),
        ("restore_100_s", "backup_restore (no pre_restore), every row changed"),
        ("undo_100_s", "backup_restore with its pre_restore backup, every row changed"),
        ("restore_migrated_s", "backup_restore (no pre_restore), every row changed, after order_lines.quantity int → bigint"),
    ]:
        lines.append(f"| {label} | {s(med(metric))} | {runs(metric)} |")
    lines.append("")
    lines.append("| WAL inserted | median |")
    lines.append("|---|---|")
    for metric, label in [("floor_1_wal", "restore floor, 1% changed"), ("restore_1_wal", "backup_restore, 1% changed"),
                          ("floor_100_wal", "restore floor, every row changed"),
                          ("restore_100_wal", "backup_restore, every row changed")]:
        lines.append(f"| {label} | {mb(med(metric))} |")
    lines.append("")
    targets = [
        ("restore after 1% changed / restore floor", ratio(med("restore_1_s"), med("floor_1_s")), 0.15),
        ("WAL of that restore / WAL of the floor's full replace", ratio(med("restore_1_wal"), med("floor_1_wal")), 0.1),
        ("restore after every row changed / restore floor", ratio(med("restore_100_s"), med("floor_100_s")), 1.2),
        ("backup_diff (nothing changed) / backup floor", ratio(med("diff_same_s"), med("floor_out")), 1.5),
        ("backup_diff (1% changed) / backup floor", ratio(med("diff_1_s"), med("floor_out")), 1.5),
        ("restore after a column's type changed / the same restore before (issue 20; our own limit)",
         ratio(med("restore_migrated_s"), med("restore_100_s")), 1.1),
    ]
    lines.append("| target | measured | limit | |")
    lines.append("|---|---|---|---|")
    for label, r, target in targets:
        lines.append(f"| {label} | {'n/a' if r is None else f'{r:.3f}x'} | {target}x | {verdict(r, target)} |")
    added = None if med("undo_1_s") is None or med("restore_1_s") is None else med("undo_1_s") - med("restore_1_s")
    lines.append("")
    share = "n/a" if added is None or not med("backup") else f"{added / med('backup'):.2f}x"
    lines.append(f"pre_restore's added cost (1% changed): {s(added)}, {share} a backup_create "
                 f"({s(med('backup'))}); target: at most one backup's cost.")
    lines.append("")
    lines.append("backup_diff after 1% changed (only in backup, only live, changed, unchanged):")
    lines.append("")
    for key, value in info.items():
        if key.startswith("diff_1 "):
            lines.append(f"- {key[7:]}: {value}")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
