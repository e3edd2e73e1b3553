#!/usr/bin/env python3
"""Samples the private anonymous memory (RssAnon) of one process every ~20 ms.

usage: sample_mem.py PID OUTFILE STOPFILE

The first sample is the baseline (the backend idle, just before the measured call). Sampling
stops when STOPFILE appears, the process exits, or after 30 minutes; then OUTFILE gets
"baseline_kb peak_kb samples". Shared memory (shared_buffers) is RssShmem, not RssAnon, so it
does not pollute the number as VmHWM would.
"""
import os
import sys
import time


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/%s/status" % pid)


def main():
    pid, out, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    baseline = rss_anon_kb(pid)
    peak = baseline
    samples = 1
    deadline = time.monotonic() + 1800
    while not os.path.exists(stop) and time.monotonic() < deadline:
        time.sleep(0.02)
        try:
            peak = max(peak, rss_anon_kb(pid))
        except (OSError, RuntimeError):
            break
        samples += 1
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{baseline} {peak} {samples}\n")
    os.rename(tmp, out)


if __name__ == "__main__":
    main()
