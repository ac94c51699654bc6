#!/usr/bin/env python3
"""The Python binding against Python's own sqlite3 reading the same rows,
in one run (`make bench-python`; issue 25, item 7).

A store of N conversations (realistic fields: a name, an avatar, a last
message, unread counts, marks) is written through imconv; then, in
alternating rounds, the same reads are timed both ways:

- a page of 1,000 conversations: `Sdk.get_conversation_page(count=1000)`
  (thread delivery, blocking; host delivery; `AsyncSdk`) against
  sqlite3's `SELECT` of the store's own columns for the first 1,000 rows
  in list order, `fetchall()`;
- the same, then reading two fields (show_name, unread_count) of each;
- one lookup by ID: `Sdk.get_conversation` against one `SELECT ... WHERE
  conversation_id = ?`, `fetchone()` (timed over 50 in a row, as a loop of
  lookups runs).

Prints medians (and p90) in microseconds and each ratio against sqlite3
measured in the same round; writes a JSON line per figure to OUT when
given.

    python3 benches/python/bench_python.py [N] [ROUNDS] [OUT]
"""
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import imconv

COLUMNS = ("conversation_id, conv_type, group_type, show_name, face_url, unread_count, recv_opt, "
           "last_message, group_at_info, draft_text, draft_timestamp, is_pinned, order_key, "
           "mark_list, custom_data, conversation_groups, c2c_read_timestamp, "
           "group_read_sequence, read_ms")
PAGE_SQL = (f"SELECT {COLUMNS} FROM conversation "
            "ORDER BY is_pinned DESC, sort_order DESC, conversation_id DESC LIMIT 1000")
ONE_SQL = f"SELECT {COLUMNS} FROM conversation WHERE conversation_id = ?"


def sample(n: int) -> List[Dict[str, object]]:
    out = []
    for i in range(n):
        c2c = i % 3 != 0
        cid = f"c2c_user{i}" if c2c else f"group_g{i}"
        out.append({
            "conversationID": cid, "showName": f"Name {i}",
            "faceUrl": f"https://cdn.example/avatars/{i}.png",
            "unreadCount": i % 7, "markList": [1] if i % 11 == 0 else [],
            "lastMessage": {"msgID": f"m{i}", "timestamp": 1_700_000_000 + i,
                            "sender": f"user{i}", "text": f"hello number {i}, see you"},
            **({} if c2c else {"groupType": "Work", "groupReadSequence": i}),
        })
    return out


#: Calls per timing: a lookup is timed over this many in a row (its time is
#: the mean of them), so that the clock's own cost is not the figure.
LOOKUPS_PER_TIMING = 50


def timed(fn: Callable[[], object], reps: int) -> float:
    """Microseconds per call of `reps` calls in a row."""
    start = time.perf_counter_ns()
    inner = 0.0
    for _ in range(reps):
        result = fn()
        if isinstance(result, float):  # an async call timed inside its loop
            inner += result
    elapsed = (time.perf_counter_ns() - start) / 1000.0
    return (inner if inner else elapsed) / reps


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    out_path = sys.argv[3] if len(sys.argv) > 3 else None
    folder = tempfile.mkdtemp(prefix="imconv-bench-python-")
    options = {"cache_capacity": 2 * n}
    with imconv.Sdk("me", data_dir=folder, **options) as sdk:
        sdk.import_conversations(sample(n))
    store = next(os.path.join(folder, d, "conversations.db") for d in os.listdir(folder)
                 if os.path.exists(os.path.join(folder, d, "conversations.db")))
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, check_same_thread=False)
    lookup_id = "c2c_user1234" if n > 1234 else "c2c_user1"

    blocking = imconv.Sdk("me", data_dir=folder, read_only=True, **options)
    host = imconv.Sdk("me", data_dir=folder, read_only=True, delivery="host", **options)
    loop = asyncio.new_event_loop()
    aio = imconv.AsyncSdk("me", data_dir=folder, read_only=True, **options)

    def timed_async(call: Callable[[], Any]) -> float:
        """Awaited inside a running loop (the loop's own start-up is not
        the call's): returns the await's time in us, which `timed` uses
        instead of its own."""
        async def once() -> float:
            start = time.perf_counter_ns()
            await call()
            return (time.perf_counter_ns() - start) / 1000.0
        return loop.run_until_complete(once())

    def read_two(conversations: List[imconv.Conversation]) -> int:
        total = 0
        for c in conversations:
            total += len(c.show_name) + c.unread_count
        return total

    def read_two_rows(rows: List[tuple]) -> int:
        total = 0
        for r in rows:
            total += len(r[3]) + r[5]
        return total

    ops: Dict[str, Callable[[], object]] = {
        "page_1000.sqlite3": lambda: db.execute(PAGE_SQL).fetchall(),
        "page_1000.sdk": lambda: blocking.get_conversation_page(count=1000),
        "page_1000.sdk_host": lambda: host.get_conversation_page(count=1000),
        "page_1000.async": lambda: timed_async(lambda: aio.get_conversation_page(count=1000)),
        "page_1000_two_fields.sqlite3": lambda: read_two_rows(db.execute(PAGE_SQL).fetchall()),
        "page_1000_two_fields.sdk": lambda: read_two(
            blocking.get_conversation_page(count=1000).conversations),
        "lookup.sqlite3": lambda: db.execute(ONE_SQL, (lookup_id,)).fetchone(),
        "lookup.sdk": lambda: blocking.get_conversation(lookup_id),
        "lookup.sdk_host": lambda: host.get_conversation(lookup_id),
        "lookup.async": lambda: timed_async(lambda: aio.get_conversation(lookup_id)),
    }
    # Warm: every page cached by the library, every page in SQLite's cache.
    for fn in ops.values():
        for _ in range(3):
            fn()
    times: Dict[str, List[float]] = {name: [] for name in ops}
    ratios: Dict[str, List[float]] = {name: [] for name in ops if not name.endswith(".sqlite3")}
    for _ in range(rounds):
        now = {name: timed(fn, LOOKUPS_PER_TIMING if name.startswith("lookup") else 1)
               for name, fn in ops.items()}
        for name, t in now.items():
            times[name].append(t)
            if name in ratios:
                base = now[name.split(".")[0] + ".sqlite3"]
                ratios[name].append(t / base)
    blocking.close()
    host.close()
    loop.run_until_complete(aio.aclose())
    loop.close()
    db.close()

    lines = []
    print(f"== Python binding against Python's sqlite3, {n} conversations, "
          f"{rounds} alternating rounds (us: median, p90; ratio: median of each round's)")
    for name, ts in times.items():
        ts.sort()
        med, p90 = statistics.median(ts), ts[int(len(ts) * 0.9)]
        ratio = statistics.median(ratios[name]) if name in ratios else 1.0
        print(f"{name:32} {med:10.1f} {p90:10.1f}   {ratio:5.2f}x")
        lines.append({"bench": "python", "name": name, "n": n, "median_us": med,
                      "p90_us": p90, "ratio_vs_sqlite3": ratio})
    if out_path:
        with open(out_path, "a") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
    import shutil
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
