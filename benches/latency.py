"""The latency table of `make bench` (benches/c/bench_latency.c): one call at
a time, both deliveries, both callers, beside the floor measured in the same
run, and issue 30's targets judged against that floor.

bench_latency writes one result line per figure, named
latency_<call>_<delivery>_<caller>_<spacing>_<p50|p99> (call: single,
batch100; delivery: thread, host; caller: spin, block; spacing: b2b, idle),
latency_floor_<wake|round_trip>_<spacing>_<p50|p99>,
latency_floor_cpu_round_trip (a cache line between the two CPUs, ns: where
the host placed them, see bench_placement.h) and
latency_idle_cpu_after_burst.
"""

CALLS = [("single", "single"), ("batch100", "batch of 100")]
SPACINGS = [("b2b", "back to back"), ("idle", "after 1 ms idle")]
ROWS = [
    ("thread", "spin", "thread, spinning"),
    ("thread", "block", "thread, blocking"),
    ("host", "spin", "host, spinning on dispatch"),
    ("host", "block", "host, blocking in poll"),
]
# The batch target of the second performance issue, by size (us, p50 back
# to back, both deliveries).
BATCH_P50 = {100_000: 20, 1_000_000: 30}


def _get(by_key, size, metric):
    r = by_key.get(("imconv", metric, size))
    return r["median"] if r else None


def figure(by_key, size, call, delivery, caller, spacing, pct="p50"):
    return _get(by_key, size, f"latency_{call}_{delivery}_{caller}_{spacing}_{pct}")


def floor(by_key, size, kind, spacing, pct="p50"):
    return _get(by_key, size, f"latency_floor_{kind}_{spacing}_{pct}")


def targets(by_key, size):
    """Issue 30's latency targets at `size`: (what, value, bound, met)."""
    out = []
    f = lambda *a: figure(by_key, size, *a)  # noqa: E731
    wake_idle = floor(by_key, size, "wake", "idle")
    if wake_idle is None:
        return out
    if size in BATCH_P50:
        for delivery in ("thread", "host"):
            v = f("batch100", delivery, "spin", "b2b")
            out.append((f"batch of 100, {delivery}, back to back, p50", v, f"<= {BATCH_P50[size]} us",
                        v is not None and v <= BATCH_P50[size]))
    for call, _ in CALLS:
        t, h = f(call, "thread", "spin", "idle"), f(call, "host", "spin", "idle")
        if t is not None and h is not None:
            out.append((f"{call} after 1 ms idle: thread - host delivery, p50", t - h, "<= 2 us",
                        t - h <= 2))
    v = f("single", "thread", "spin", "idle")
    if v is not None:
        out.append(("single after 1 ms idle, thread: above the bare wake, p50", v - wake_idle,
                    "<= 3 us", v - wake_idle <= 3))
    for spacing, label in SPACINGS:
        v = f("single", "thread", "block", spacing)
        if v is not None:
            out.append((f"single, blocking caller, {label}: x the bare wake after idle, p50",
                        v / wake_idle, "<= 2x", v / wake_idle <= 2))
    cpu = _get(by_key, size, "latency_idle_cpu_after_burst")
    if cpu is not None:
        # As the idle instance's target: 0.05% of a core.
        out.append(("idle CPU in the second after a burst (ms per s)", cpu, "<= 0.5", cpu <= 0.5))
    return out


def print_tables(by_key, sizes):
    """Prints the table and the targets per size; returns how many targets
    were judged, and the missed ones."""
    judged, missed = 0, []
    for size in sizes:
        if floor(by_key, size, "wake", "idle") is None:
            continue
        print(f"\nLatency of one call at a time, {size:,} conversations all cached "
              f"(us, p50 / p99, median of rounds)\n")
        heads = [f"{c}, {s}" for _, c in CALLS for _, s in SPACINGS]
        print("| delivery, caller | " + " | ".join(heads) + " |")
        print("|---" * (len(heads) + 1) + "|")
        for delivery, caller, label in ROWS:
            cells = []
            for call, _ in CALLS:
                for spacing, _ in SPACINGS:
                    p50 = figure(by_key, size, call, delivery, caller, spacing)
                    p99 = figure(by_key, size, call, delivery, caller, spacing, "p99")
                    cells.append("-" if p50 is None else f"{p50:.1f} / {p99:.1f}")
            print(f"| {label} | " + " | ".join(cells) + " |")
        for kind, label in (("wake", "bare wake of a parked thread"),
                            ("round_trip", "bare round trip (two wakes)")):
            cells = []
            for spacing, _ in SPACINGS:
                p50, p99 = floor(by_key, size, kind, spacing), floor(by_key, size, kind, spacing, "p99")
                cells.append("-" if p50 is None else f"{p50:.1f} / {p99:.1f}")
            print(f"| {label} | " + " | ".join(cells) + " | | |")
        placement = _get(by_key, size, "latency_floor_cpu_round_trip")
        if placement is not None:
            print(f"\nA cache line between the two CPUs: {placement:.0f} ns round trip "
                  "(50-80 near, 300-500 far on these machines)")
        print()
        for what, value, bound, met in targets(by_key, size):
            judged += 1
            shown = "-" if value is None else f"{value:.2f}"
            print(f"  {'met' if met else 'MISSED'}: {what}: {shown} (target {bound})")
            if not met:
                missed.append((size, what, shown, bound))
    return judged, missed
