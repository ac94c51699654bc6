#!/usr/bin/env python3
"""Conversation marks and groups as relations instead of JSON text scanned
with instr(): what it would cost and gain (issue 18, item 7).

usage: python3 benches/relations.py [conversations] [runs]

A measurement, not a test: it runs on Python's own SQLite, with the store's
columns that matter (the rest stand in as 300 bytes of padding), and prints
the median time of each step for three ways to keep the lists:

- instr:     today's store: JSON text, filtered with instr() per row;
- triggers:  relation tables kept by SQLite triggers on the conversation
             table, filtered with EXISTS;
- by writer: the same tables, written by the writer only where a list is
             not empty (what a Rust writer that knows each row's lists
             before and after would do), filtered with EXISTS.

Pages are walked to the end, 100 at a time, by the cursor the store uses,
with the store's form of a filter (each condition "?n IS NULL OR ...").
"join" pages drive the query from the relation (then sort), which only
pays when few conversations pass. The data set is the benchmark's: a mark
on one conversation in 7, a group on one in 3; "sparse" marks one in 1,000.
"""
import sqlite3
import statistics
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3

TABLE = """CREATE TABLE conversation (
    conversation_id TEXT PRIMARY KEY NOT NULL, is_pinned INTEGER NOT NULL,
    sort_order INTEGER NOT NULL, unread_count INTEGER NOT NULL,
    mark_list TEXT NOT NULL, conversation_groups TEXT NOT NULL, pad TEXT
) WITHOUT ROWID;
CREATE INDEX conversation_order ON conversation (is_pinned, sort_order, conversation_id);"""

RELATIONS = """CREATE TABLE conversation_mark (
    mark INTEGER NOT NULL, conversation_id TEXT NOT NULL,
    PRIMARY KEY (mark, conversation_id)) WITHOUT ROWID;
CREATE TABLE group_member (
    name TEXT NOT NULL, conversation_id TEXT NOT NULL,
    PRIMARY KEY (name, conversation_id)) WITHOUT ROWID;"""

TRIGGERS = """CREATE TRIGGER lists_insert AFTER INSERT ON conversation
    WHEN new.mark_list <> '[]' OR new.conversation_groups <> '[]' BEGIN
  INSERT OR IGNORE INTO conversation_mark SELECT value, new.conversation_id FROM json_each(new.mark_list);
  INSERT OR IGNORE INTO group_member SELECT value, new.conversation_id FROM json_each(new.conversation_groups);
END;
CREATE TRIGGER marks_update AFTER UPDATE OF mark_list ON conversation
    WHEN old.mark_list IS NOT new.mark_list BEGIN
  DELETE FROM conversation_mark WHERE conversation_id = old.conversation_id
    AND mark IN (SELECT value FROM json_each(old.mark_list));
  INSERT OR IGNORE INTO conversation_mark SELECT value, new.conversation_id FROM json_each(new.mark_list);
END;
CREATE TRIGGER groups_update AFTER UPDATE OF conversation_groups ON conversation
    WHEN old.conversation_groups IS NOT new.conversation_groups BEGIN
  DELETE FROM group_member WHERE conversation_id = old.conversation_id
    AND name IN (SELECT value FROM json_each(old.conversation_groups));
  INSERT OR IGNORE INTO group_member SELECT value, new.conversation_id FROM json_each(new.conversation_groups);
END;"""

UPSERT = """INSERT INTO conversation VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (conversation_id) DO UPDATE SET is_pinned = excluded.is_pinned,
  sort_order = excluded.sort_order, unread_count = excluded.unread_count,
  mark_list = excluded.mark_list, conversation_groups = excluded.conversation_groups,
  pad = excluded.pad"""

PAGE = """SELECT conversation_id, is_pinned, sort_order FROM conversation
WHERE (?1 IS NULL OR {filter}) AND (?5 = 0 OR unread_count <> 0) AND (is_pinned, sort_order, conversation_id) < (?2, ?3, ?4)
ORDER BY is_pinned DESC, sort_order DESC, conversation_id DESC LIMIT 100"""

INSTR_MARK = "instr(',' || substr(mark_list, 2, length(mark_list) - 2) || ',', ',' || ?1 || ',') > 0"
INSTR_GROUP = ("instr(',' || substr(conversation_groups, 2, length(conversation_groups) - 2) || ',', "
               "',' || ?1 || ',') > 0")
EXISTS_MARK = ("EXISTS (SELECT 1 FROM conversation_mark m WHERE m.mark = ?1 "
               "AND m.conversation_id = conversation.conversation_id)")
EXISTS_GROUP = ("EXISTS (SELECT 1 FROM group_member g WHERE g.name = ?1 "
                "AND g.conversation_id = conversation.conversation_id)")
JOIN_MARK = """SELECT c.conversation_id, c.is_pinned, c.sort_order
FROM conversation_mark m JOIN conversation c ON c.conversation_id = m.conversation_id
WHERE m.mark = ?1 AND (c.is_pinned, c.sort_order, c.conversation_id) < (?2, ?3, ?4)
ORDER BY c.is_pinned DESC, c.sort_order DESC, c.conversation_id DESC LIMIT 100"""


def rows(sparse=False):
    for i in range(N):
        marks = ("[8]" if i % 1000 == 0 else "[]") if sparse else ("[1]" if i % 7 == 0 else "[]")
        groups = "[]" if sparse else ('["Work"]' if i % 3 == 0 else "[]")
        yield (f"c2c_user{i:07}", 0, i, i % 5, marks, groups, "x" * 300)


def open_store(kind):
    db = sqlite3.connect(":memory:")
    db.executescript(TABLE)
    if kind != "instr":
        db.executescript(RELATIONS)
    if kind == "triggers":
        db.executescript(TRIGGERS)
    return db


def write(db, kind, data):
    with db:
        db.executemany(UPSERT, data)
        if kind == "by writer":
            for r in data:
                if r[4] != "[]":
                    db.execute("INSERT OR IGNORE INTO conversation_mark VALUES (?1, ?2)",
                               (int(r[4][1:-1]), r[0]))
                if r[5] != "[]":
                    db.execute("INSERT OR IGNORE INTO group_member VALUES (?1, ?2)", ("Work", r[0]))


def walk(db, sql, arg):
    cursor, seen = (2, 1 << 62, ""), 0
    while True:
        page = db.execute(sql, (arg,) + cursor + ((0,) if "?5" in sql else ())).fetchall()
        seen += len(page)
        if len(page) < 100:
            return seen
        cursor = (page[-1][1], page[-1][2], page[-1][0])


def timed(f):
    start = time.perf_counter()
    result = f()
    return time.perf_counter() - start, result


def main():
    kinds = ["instr", "triggers", "by writer"]
    results = {}
    data = list(rows())
    sparse = list(rows(sparse=True))
    # Every later write of a row leaves its lists alone (a message does).
    again = [(r[0], r[1], r[2] + N, r[3] + 1) + r[4:] for r in data]
    for _ in range(RUNS):
        for kind in kinds:
            db = open_store(kind)
            got = results.setdefault(kind, {})
            got.setdefault("import", []).append(timed(lambda: write(db, kind, data))[0])
            got.setdefault("rewrite, lists unchanged", []).append(
                timed(lambda: write(db, "instr", again))[0])
            by_text = kind == "instr"
            mark_sql = PAGE.format(filter=INSTR_MARK if by_text else EXISTS_MARK)
            group_sql = PAGE.format(filter=INSTR_GROUP if by_text else EXISTS_GROUP)
            t, n = timed(lambda: walk(db, mark_sql, "1" if by_text else 1))
            assert n == len([r for r in data if r[4] != "[]"])
            got.setdefault("pages, mark (1 in 7)", []).append(t)
            t, n = timed(lambda: walk(db, group_sql, '"Work"' if by_text else "Work"))
            assert n == len([r for r in data if r[5] != "[]"])
            got.setdefault("pages, group (1 in 3)", []).append(t)
            db = open_store(kind)
            write(db, kind, sparse)
            t, n = timed(lambda: walk(db, mark_sql, "8" if by_text else 8))
            assert n == len([r for r in sparse if r[4] != "[]"])
            got.setdefault("pages, sparse mark (1 in 1,000)", []).append(t)
            if not by_text:
                t, n = timed(lambda: walk(db, JOIN_MARK, 8))
                got.setdefault("pages, sparse mark, join", []).append(t)
    steps = list(results["triggers"].keys())
    print(f"{N} conversations, SQLite {sqlite3.sqlite_version}, medians of {RUNS} runs (ms)\n")
    print("| step | " + " | ".join(kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    for step in steps:
        cells = []
        for kind in kinds:
            v = results[kind].get(step)
            cells.append(f"{statistics.median(v) * 1000:.1f}" if v else "")
        print(f"| {step} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
