#!/usr/bin/env python3
"""Turns the benchmark's raw measurements into results.md (table, targets) and results.png.

usage: report.py RESULTS_TSV INFO_TSV OUTDIR

RESULTS_TSV: "metric subject run value" per line (whitespace separated); INFO_TSV: "key<TAB>value".
Every number in the report, PASS/FAIL included, is computed here from those measurements.
"""
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict


def load(results_path, info_path):
    values = defaultdict(list)
    with open(results_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue
            metric, subject, run, value = parts
            values[(metric, subject)].append((int(run), float(value)))
    info = {}
    with open(info_path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            info[key] = value
    return values, info


def fmt_s(seconds):
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_mem(mb):
    return "n/a" if mb is None else f"{mb:.1f} MB"


def fmt_n(n):
    return f"{n:,.0f}"


def fmt_mb(nbytes):
    return f"{nbytes / 1e6:,.1f} MB" if nbytes >= 1e5 else f"{nbytes / 1e3:,.1f} kB"


def main():
    results_path, info_path, outdir = sys.argv[1:4]
    values, info = load(results_path, info_path)

    def runs(metric, subject):
        return [v for _, v in sorted(values.get((metric, subject), []))]

    def med(metric, subject):
        v = runs(metric, subject)
        return statistics.median(v) if v else None

    def spread(metric, subject):
        v = runs(metric, subject)
        if not v:
            return ""
        return " / ".join(fmt_s(x) for x in v)

    large_rows = int(info["large_rows"])
    small_rows = int(info["small_rows"])
    total_rows = int(info["total_rows"])
    rows = {"large": large_rows, "small": small_rows}
    nbytes = {"large": int(info["large_bytes"]), "small": int(info["small_bytes"])}

    m = {}
    for who in ("large", "small"):
        d = {}
        d["floor_out"] = med("floor_out", who)
        d["backup"] = med("backup", who)
        d["floor_restore"] = med("floor_restore", who)
        d["restore"] = med("restore", who)
        d["dba"] = med("dba", who)
        d["archive"] = med("archive_bytes", who)
        d["dba_bytes"] = med("dba_bytes", who)
        m[who] = d
    mem_growth = {}
    for what in ("backup", "restore", "restore_wm4", "floor_out", "floor_restore"):
        base, peak = med(f"mem_{what}_base", "large"), med(f"mem_{what}_peak", "large")
        mem_growth[what] = (peak - base) / 1024 if base is not None else None  # MB (MiB)
    all_backups = med("all_backups", "all")
    all_parallel = med("all_backups_parallel", "all")
    pg_dump = med("pg_dump", "all")

    def ratio(a, b):
        return a / b if a is not None and b else None

    L, S = m["large"], m["small"]
    path = info.get("variant") == "path"
    options = (" --variant path" if path else "") + (f" --pg-bindir {info['pg_bindir']}" if info.get("pg_bindir") else "")
    big_enough = large_rows >= 1_000_000 and total_rows >= 10_000_000
    cond = "" if big_enough else " (below the target's size at this scale)"

    targets = [
        # name, measured text, value, limit, pass?, budget used (<1 is PASS)
        ("backup_create of the large tenant (≥ 1M rows) ≤ 1.25× floor (1)" + ("" if large_rows >= 1_000_000 else cond),
         ratio(L["backup"], L["floor_out"]), 1.25, "le", "{:.2f}×"),
        ("backup_restore of the large tenant ≤ 1.5× its floor (3)",
         ratio(L["restore"], L["floor_restore"]), 1.5, "le", "{:.2f}×"),
        ("small tenant (~1,000 rows) in a ≥ 10M-row database: backup < 20 ms" + ("" if total_rows >= 10_000_000 else cond),
         S["backup"] * 1000 if S["backup"] is not None else None, 20, "lt", "{:.1f} ms"),
        ("small tenant (~1,000 rows) in a ≥ 10M-row database: restore < 50 ms" + ("" if total_rows >= 10_000_000 else cond),
         S["restore"] * 1000 if S["restore"] is not None else None, 50, "lt", "{:.1f} ms"),
        ("backend memory growth during backup and restore of the large tenant < 64 MB",
         max(mem_growth["backup"], mem_growth["restore"]) if None not in (mem_growth["backup"], mem_growth["restore"]) else None,
         64, "lt", "{:.1f} MB"),
        (f"all tenants via backup_create ({info['parallel_sessions']} parallel sessions) faster than pg_dump -Fc",
         ratio(all_parallel, pg_dump), 1.0, "lt", "{:.2f}× pg_dump's time"),
        ("backup_create ≥ 4× faster than the hand-rolled pipeline (4), large tenant",
         ratio(L["dba"], L["backup"]), 4.0, "ge", "{:.1f}× faster"),
    ]
    target_rows = []
    for name, value, limit, op, f in targets:
        if value is None:
            target_rows.append((name, "n/a", "FAIL", None, name))
            continue
        ok = {"le": value <= limit, "lt": value < limit, "ge": value >= limit}[op]
        used = limit / value if op == "ge" else value / limit
        target_rows.append((name, f.format(value), "PASS" if ok else "FAIL", used, name))

    out = []
    w = out.append
    w("# tenant_backup benchmark" + (", path variant: order_lines without the tenant column" if path else ""))
    w("")
    w(f"- **Date**: {info.get('date')}; **machine**: {info.get('machine')}; load average {info.get('loadavg')}")
    w(f"- **PostgreSQL**: {info.get('postgres')}; **tenant_backup** commit {info.get('commit')}, {info.get('build')}")
    w(f"- **Command**: `bash bench/run.sh --scale {info.get('scale')} --runs {info.get('runs')}{options}`; "
      f"total run time {float(info['total_seconds']):.0f} s, of which data generation {float(info['gen_seconds']):.0f} s")
    w(f"- **Database**: {fmt_n(total_rows)} rows, {fmt_mb(int(info['db_bytes']))} on disk; "
      + ", ".join(f"{t} {fmt_n(int(info['rows_' + t]))}" for t in
                  ("tenants", "customers", "products", "orders", "order_lines", "events")))
    w(f"- **Tenants**: {info['tenants']} ({info['tenants_by_kind']}); every tenant's rows are interleaved "
      f"with the others' (order_lines heap pages holding rows of the large tenant: {info['pages_large']}, "
      f"of the small tenant: {info['pages_small']})")
    w(f"- **Backups**: {info.get('backup_settings')} (AES-256-GCM, SHA-256), master key from "
      "`tenant_backup.encryption_key_command`")
    if path:
        w("- **Path variant**: `order_lines` has no `tenant_id`; its rows are the tenant's through "
          "`order_lines.order_id → orders(id)`, declared with `backup_register_table('order_lines', via_foreign_key => "
          "'order_lines_order_id_fkey')` (its second foreign key, to products, makes the path ambiguous otherwise), "
          "index `order_lines (order_id)`. The same rows as the direct variant's, without that column. "
          f"Plan of the floor's order_lines query, large tenant: {info.get('plan_large')}; small tenant: "
          f"{info.get('plan_small')}")
    w("")
    w(f"Medians of {info['runs']} runs (every run's value in the last table). Times are measured inside the server "
      "with `clock_timestamp()` around the operation (a PL/pgSQL function or procedure), except (4) and (5), "
      "which are client programs timed from the shell.")
    w("")
    head_l = f"large tenant {info['large_tid']}: {fmt_n(large_rows)} rows, {fmt_mb(nbytes['large'])}"
    head_s = f"small tenant {info['small_tid']}: {fmt_n(small_rows)} rows, {fmt_mb(nbytes['small'])}"
    w(f"| item | {head_l} | {head_s} |")
    w("|---|---:|---:|")

    def row(label, fn):
        w(f"| {label} | {fn('large')} | {fn('small')} |")

    row("(1) floor: `COPY (SELECT * … WHERE tenant_id = X) TO '/dev/null' (FORMAT binary)`, all 6 tables, one REPEATABLE READ transaction"
        + ("; order_lines through the join: `COPY (SELECT r.* FROM order_lines r JOIN orders o ON o.id = r.order_id "
           "WHERE o.tenant_id = X)`" if path else ""),
        lambda k: fmt_s(m[k]["floor_out"]))
    row("(2) `backup_create(X)`: zstd level 3, AES-256-GCM, SHA-256, fsync, commit",
        lambda k: fmt_s(m[k]["backup"]))
    row("&nbsp;&nbsp;rows/s · MB/s of binary row data",
        lambda k: f"{fmt_n(rows[k] / m[k]['backup'])} · {nbytes[k] / 1e6 / m[k]['backup']:,.0f}")
    row("&nbsp;&nbsp;archive size (`size_bytes`) · compression ratio",
        lambda k: f"{fmt_mb(m[k]['archive'])} · {nbytes[k] / m[k]['archive']:.1f}:1")
    row("&nbsp;&nbsp;**(2) / (1)**", lambda k: f"**{ratio(m[k]['backup'], m[k]['floor_out']):.2f}×**")
    row("(3) floor: `DELETE` + binary `COPY FROM` per table, `session_replication_role = replica`, rolled back"
        + ("; order_lines deleted first, `DELETE … USING orders o WHERE o.id = r.order_id AND o.tenant_id = X`, "
           "loaded after orders" if path else ""),
        lambda k: fmt_s(m[k]["floor_restore"]))
    row("(3) `backup_restore(id)`, rolled back", lambda k: fmt_s(m[k]["restore"]))
    row("&nbsp;&nbsp;**restore / its floor**", lambda k: f"**{ratio(m[k]['restore'], m[k]['floor_restore']):.2f}×**")
    row("(4) hand-rolled: `psql -c \"\\copy … TO STDOUT\"` per table \\| `zstd -3` \\| `openssl enc -aes-256-ctr -pbkdf2` \\| `tee` \\| `sha256sum`",
        lambda k: f"{fmt_s(m[k]['dba'])} ({fmt_mb(m[k]['dba_bytes'])})")
    row("&nbsp;&nbsp;**(4) / (2)**: how much faster `backup_create` is",
        lambda k: f"**{ratio(m[k]['dba'], m[k]['backup']):.1f}×**")
    row("&nbsp;&nbsp;(4) / (1): the most any tool that reads the rows could be faster than (4)",
        lambda k: f"{ratio(m[k]['dba'], m[k]['floor_out']):.1f}×")
    w(f"| (6) backend memory growth (`RssAnon` peak − idle baseline, sampled every 20 ms): backup · restore | "
      f"{fmt_mem(mem_growth['backup'])} · {fmt_mem(mem_growth['restore'])} | |")
    w(f"| &nbsp;&nbsp;for comparison: `backup_restore` with work_mem = 4MB (PostgreSQL's default; the cluster has 64MB) · "
      f"floor (1) · floor (3) | {fmt_mem(mem_growth['restore_wm4'])} · {fmt_mem(mem_growth['floor_out'])} · "
      f"{fmt_mem(mem_growth['floor_restore'])} | |")
    w("")
    nt = info["tenants"]
    w(f"| (5) whole database ({fmt_n(total_rows)} rows, {nt} tenants) | time | output |")
    w("|---|---:|---:|")
    w(f"| `pg_dump -Fc` to a file | {fmt_s(pg_dump)} | {fmt_mb(med('pg_dump_bytes', 'all'))} |")
    w(f"| `backup_create` of all {nt} tenants one after another, in one statement | {fmt_s(all_backups)} | "
      f"{fmt_mb(med('all_backups_bytes', 'all'))} in {nt} archives |")
    w(f"| &nbsp;&nbsp;all tenants, one session / pg_dump | {ratio(all_backups, pg_dump):.2f}× | |")
    w(f"| `backup_create` of all {nt} tenants in {info['parallel_sessions']} parallel sessions (one per core), "
      f"each one statement over its share | {fmt_s(all_parallel)} | |")
    w(f"| **all tenants in parallel / pg_dump** | **{ratio(all_parallel, pg_dump):.2f}×** | |")
    if med("all_backups_txn", "all") is not None:
        w(f"| for reference (once): the same with one transaction per tenant (psql script, one call per line) | "
          f"{fmt_s(med('all_backups_txn', 'all'))} | |")
    w("")
    w("## Targets")
    w("")
    w("| target | measured | result |")
    w("|---|---:|:---:|")
    for name, measured, verdict, _, _ in target_rows:
        w(f"| {name} | {measured} | **{verdict}** |")
    passed = sum(1 for t in target_rows if t[2] == "PASS")
    w("")
    w(f"{passed} of {len(target_rows)} targets met.")
    w("")
    w("## How it was measured")
    w("")
    w("- Throwaway cluster as user `postgres`: shared_buffers 2GB, work_mem 64MB (hash_mem_multiplier 2), max_wal_size 8GB, "
      "checkpoint_timeout 30min, random_page_cost 1.1, jit off; **fsync, synchronous_commit and full_page_writes on**. "
      "Autovacuum is off so that no worker runs during a measurement; the benchmark runs `VACUUM` itself "
      "after data generation and after each rolled-back restore of the large tenant (not timed). One untimed restore floor of the "
      "large tenant precedes the measured restores (the first load into the indexes splits pages, which a rollback "
      "keeps).")
    w("- Before every measured restore (either kind) the benchmark runs `CHECKPOINT` (not timed): each run then pays "
      "the full-page images of the pages it changes first, as the first change after a checkpoint does in production, "
      "instead of only the first run paying them.")
    w("- Data: `setseed` fixes every random value; each row's tenant is drawn at random with the tenant's share, so "
      "a tenant's rows are spread over the whole table. Foreign keys: every table " + ("but order_lines " if path else "")
      + "→ tenants, orders → customers, order_lines → orders and products; each table with tenant_id has an index "
      "leading with it, and the foreign-key columns are indexed.")
    w("- Each session first runs one untimed warm-up of the operation on another small tenant (library load, caches); "
      "(1) and (2) alternate which runs first.")
    w("- (1): `bench.floor_copy_out()` as the first statement of a REPEATABLE READ transaction. (2): a procedure around "
      "`backup_create()` that COMMITs, so the time includes publishing the archive. MB/s and the compression ratio refer "
      "to the tenant's binary row data: the size of its binary COPY of all tables.")
    w("- (3): both restores run inside `BEGIN … ROLLBACK`, so every run starts from the same data. The floor loads "
      "the binary COPY files written once beforehand, with `session_replication_role = replica` as `backup_restore` "
      "uses (no triggers, FK triggers included, fire); `backup_restore` additionally verifies the archive's SHA-256, "
      "decrypts, decompresses, advances sequences and checks foreign keys set-wise.")
    w("- (4): what a DBA would script, timed from the shell for the whole tenant: one `psql` per table (so no common "
      "snapshot), text COPY, `zstd -3`, `openssl enc -aes-256-ctr -pbkdf2` (openssl enc has no GCM), `tee` to a file "
      "and `sha256sum`. Its files are not fsync'ed.")
    w("- (5): `SELECT count(tenant_backup.backup_create(tenant_id::text, 'all')) FROM tenants` (one statement, one "
      "transaction, its commit included) and `pg_dump -Fc -f file` (default compression, fsync'ed), both timed from "
      "the shell with `psql -c` / `pg_dump`; the archives are deleted after each run. The parallel variant runs the "
      "same statement in one session per core, each over the tenants whose id modulo the number of sessions is its "
      "own (the two large tenants land in different sessions); `pg_dump -Fc` cannot run in parallel (only `-Fd` "
      "can).")
    w("- (6): separate runs, each in a fresh session after a warm-up on a small tenant; `/proc/<backend pid>/status` "
      "RssAnon (private memory: shared_buffers is RssShmem) sampled every 20 ms from a background process; "
      "growth = peak − the sample taken just before the call. The same for the floors, and for the restore with "
      "work_mem = 4MB, to tell memory that PostgreSQL's executor takes within work_mem (hash tables of the "
      "queries a restore runs) from the extension's own.")
    w("")
    w("## Every run")
    w("")
    w("| measurement | large | small |")
    w("|---|---|---|")
    for metric, label in (("floor_out", "(1) floor"), ("backup", "(2) backup_create"),
                          ("floor_restore", "(3) restore floor"), ("restore", "(3) backup_restore"),
                          ("dba", "(4) hand-rolled pipeline"), ("checkpoint", "CHECKPOINT before a restore (untimed)"),
                          ("vacuum", "VACUUM after a large restore (untimed)")):
        w(f"| {label} | {spread(metric, 'large')} | {spread(metric, 'small')} |")
    w(f"| (5) pg_dump -Fc | {spread('pg_dump', 'all')} | |")
    w(f"| (5) backup_create of all tenants | {spread('all_backups', 'all')} | |")
    w(f"| (5) backup_create of all tenants, parallel sessions | {spread('all_backups_parallel', 'all')} | |")
    text = "\n".join(out) + "\n"
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(text)

    plot(outdir, m, pg_dump, all_backups, all_parallel, target_rows, info)


def plot(outdir, m, pg_dump, all_backups, all_parallel, target_rows, info):
    L = m["large"]
    tmp = tempfile.mkdtemp(prefix="tb_plot.")
    bars = [("(1) floor:\\nCOPY out", L["floor_out"], "#7f7f7f"),
            ("(2) backup\\\\_\\ncreate", L["backup"], "#1f77b4"),
            ("(3) floor:\\nDELETE +\\nCOPY in", L["floor_restore"], "#7f7f7f"),
            ("(3) backup\\\\_\\nrestore", L["restore"], "#1f77b4"),
            ("(4) psql |\\nzstd |\\nopenssl |\\nsha256sum", L["dba"], "#ff7f0e")]
    whole = [("pg\\\\_dump -Fc", pg_dump, "#ff7f0e"), ("backup\\\\_create\\nall tenants", all_backups, "#1f77b4"),
             ("backup\\\\_create\\nall tenants,\\nparallel", all_parallel, "#1f77b4")]
    short = ["backup ≤ 1.25× floor", "restore ≤ 1.5× floor", "small backup < 20 ms", "small restore < 50 ms",
             "memory < 64 MB", "all tenants < pg\\\\_dump", "≥ 4× faster than (4)"]

    def write(name, rows):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            for i, (label, value, color) in enumerate(rows):
                f.write(f'{i} {value if value is not None else 0} 0x{color[1:]} "{label}"\n')
        return path

    f1 = write("large.dat", bars)
    f2 = write("whole.dat", whole)
    f3 = write("targets.dat", [(short[i], t[3] if t[3] is not None else 0,
                                "#2ca02c" if t[2] == "PASS" else "#d62728") for i, t in enumerate(target_rows)])
    png = os.path.join(outdir, "results.png")
    title = (f"tenant\\\\_backup{', path variant' if info.get('variant') == 'path' else ''}, scale {info['scale']}, medians of {info['runs']} runs, "
             f"large tenant {int(info['large_rows']):,} rows, database {int(info['total_rows']):,} rows")
    script = f"""
set terminal pngcairo size 1600,640 font "sans,10"
set output '{png}'
set multiplot layout 1,3 title "{title}"
set style fill solid 0.85 border -1
set bmargin 7
set boxwidth 0.6
set grid ytics
set xtics rotate by 0 font "sans,8"
unset key
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set title "large tenant: seconds"
plot '{f1}' using 1:2:3:xtic(4) with boxes lc rgb variable, \\
     '' using 1:2:(sprintf("%.2f", $2)) with labels offset 0,0.7
set title "whole database: seconds"
plot '{f2}' using 1:2:3:xtic(4) with boxes lc rgb variable, \\
     '' using 1:2:(sprintf("%.1f", $2)) with labels offset 0,0.7
set title "targets: share of the limit used (below 1 = PASS)"
set xtics rotate by 30 right font "sans,8"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 2 lc rgb "black"
plot '{f3}' using 1:2:3:xtic(4) with boxes lc rgb variable, \\
     '' using 1:2:(sprintf("%.2f", $2)) with labels offset 0,0.7
unset multiplot
"""
    gp = os.path.join(tmp, "plot.gp")
    with open(gp, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", gp], check=True)
    for name in os.listdir(tmp):
        os.remove(os.path.join(tmp, name))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
