#!/usr/bin/env python3
"""Compares the write paths of two builds measured in one run.

usage: compare.py <results.jsonl> <base label> <base revision>

The runs alternate between the two builds (base, current, base, ...), so
both see the same machine. Each figure is the median over every round of
every run; the ratio is current / base (above 1: the current build is
faster). The issue's bar: no more than 10% slower (ratio >= 0.90).
"""
import json
import statistics
import sys

METRICS = ["import", "apply_messages", "apply_messages_pipelined"]


def main():
    src, base, rev = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = [json.loads(line) for line in open(src) if line.strip()]
    print(f"\nWrite paths, this build against {rev} (medians over alternating runs):\n")
    print(f"| metric                   |      size | {base + ' (' + rev + ')':>22} | {'this build':>12} | ratio | within 10% |")
    print("|--------------------------|-----------|------------------------|--------------|-------|------------|")
    runs = []
    for metric in METRICS:
        for size in sorted({r["size"] for r in rows if r["metric"] == metric}):
            def medians(impl):
                return [r["median"] for r in rows
                        if r["metric"] == metric and r["size"] == size and r["implementation"] == impl]
            b, c = medians(base), medians("imconv")
            if not b or not c:
                continue
            mb, mc = statistics.median(b), statistics.median(c)
            ratio = mc / mb
            unit = next(r["unit"] for r in rows if r["metric"] == metric)
            print(f"| {metric:<24} | {size:>9,} | {mb:>22,.0f} | {mc:>12,.0f} |"
                  f" {ratio:5.2f} | {'yes' if ratio >= 0.90 else 'NO':>10} |")
            runs.append(f"{metric} at {size:,} ({unit}): {base} {', '.join(f'{v:,.0f}' for v in b)}; "
                        f"this build {', '.join(f'{v:,.0f}' for v in c)}")
    print("\nPer run (each a median of its rounds):")
    for line in runs:
        print("  " + line)
    json.dump({"base": rev, "rows": rows}, open(src.replace(".jsonl", ".json"), "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
