#!/usr/bin/env python3
"""What the memory record's shape costs in SQLite, index by index (issue 15).

    python3 bench/peers/store_shape_floor.py [--n 50000] [--dir /tmp/kioku-shape]

Loads the same synthetic rows (the Zipf corpus of bench/synthetic.h, drawn
again here) into a series of hand-written SQLite schemas, in batches of 1000
with FTS5 filled once per batch as Kioku does, and prints one JSON document:
rows/s and bytes per row for each, from the raw peer of
store_search_peers.cpp (three columns, FTS5 over two) up to Kioku's columns,
its text id key and each of its secondary indexes. Python's sqlite3 module
adds the same per-row cost to every schema, so the ratios between schemas
are the figures: they bound what a faster add path or a smaller encoding of
the same record could reach.
"""
import argparse
import hashlib
import json
import os
import random
import sqlite3
import time
import uuid
from pathlib import Path

FTS_OPTIONS = "content='m', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'"
KIOKU_COLUMNS = (
    "id TEXT PRIMARY KEY, user_id TEXT NOT NULL, type TEXT NOT NULL, content TEXT NOT NULL, "
    "summary TEXT NOT NULL DEFAULT '', raw_content TEXT NOT NULL DEFAULT '', media_path TEXT NOT NULL DEFAULT '', "
    "content_hash BLOB NOT NULL, tier TEXT NOT NULL, truth_category TEXT NOT NULL, memory_type TEXT NOT NULL, "
    "confidence REAL NOT NULL, source_reliability REAL NOT NULL, corroboration_count INTEGER NOT NULL DEFAULT 0, "
    "contradiction_count INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL, importance REAL NOT NULL, "
    "approved INTEGER NOT NULL DEFAULT 1, tags TEXT NOT NULL DEFAULT '[]', domains TEXT NOT NULL DEFAULT '[]', "
    "entities TEXT NOT NULL DEFAULT '[]', provenance TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}', "
    "event_time INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, last_accessed INTEGER, "
    "access_count INTEGER NOT NULL DEFAULT 0, recency REAL NOT NULL DEFAULT 1.0")
KIOKU_INSERT = (
    "INSERT INTO m(id, user_id, type, content, content_hash, tier, truth_category, memory_type, confidence, "
    "source_reliability, source, importance, tags, event_time, created_at, updated_at) "
    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
FTS4 = "content, summary, tags, entities"
FTS2 = "content, tags"


def make_rows(n, seed=1):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(20000)]
    weights = [1 / (i + 1) ** 1.07 for i in range(20000)]
    rows = []
    for i in range(n):
        content = " ".join(rng.choices(words, weights, k=rng.randint(8, 40)))
        t = 1700000000000 + i * 1000
        rows.append((str(uuid.uuid4()), "local", "note", content, hashlib.sha256(content.encode()).digest(),
                     "short_term", "contextual", "context", 0.5, 0.5, "manual", 0.5, f'["t{i % 50}"]', t, t, t))
    return rows


def load(path, schema, insert, rows, fts_columns):
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-64000; " + schema)
    start = time.perf_counter()
    for at in range(0, len(rows), 1000):
        db.execute("BEGIN")
        db.executemany(insert, rows[at:at + 1000])
        db.execute(f"INSERT INTO f(rowid, {fts_columns}) SELECT rowid, {fts_columns} FROM m "
                   "WHERE rowid > (SELECT coalesce(max(id), 0) FROM f_docsize)")
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"rows_per_s": round(len(rows) / seconds), "bytes_per_row": round(os.path.getsize(path) / len(rows), 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--dir", default="/tmp/kioku-shape")
    a = ap.parse_args()
    Path(a.dir).mkdir(parents=True, exist_ok=True)
    rows = make_rows(a.n)
    raw_rows = [(r[3], r[12], r[13]) for r in rows]
    raw_table = "CREATE TABLE m(id INTEGER PRIMARY KEY, content TEXT, tags TEXT, event_time INTEGER, " \
                "summary TEXT DEFAULT '', entities TEXT DEFAULT '');"
    raw_insert = "INSERT INTO m(content, tags, event_time) VALUES (?,?,?)"
    kioku = f"CREATE TABLE m({KIOKU_COLUMNS});"
    no_key = f"CREATE TABLE m({KIOKU_COLUMNS.replace('id TEXT PRIMARY KEY', 'id TEXT NOT NULL')});"
    fts4 = f"CREATE VIRTUAL TABLE f USING fts5({FTS4}, {FTS_OPTIONS});"
    hash_index = "CREATE UNIQUE INDEX h ON m(user_id, content_hash);"
    time_indexes = "CREATE INDEX t ON m(user_id, event_time); CREATE INDEX tt ON m(user_id, type, event_time);"
    steps = [
        ("raw: 3 columns, FTS5 over 2", raw_table + f"CREATE VIRTUAL TABLE f USING fts5({FTS2}, {FTS_OPTIONS});",
         raw_insert, raw_rows, FTS2),
        ("raw columns, FTS5 over Kioku's 4", raw_table + fts4, raw_insert, raw_rows, FTS4),
        ("Kioku's 29 columns, no id key", no_key + fts4, KIOKU_INSERT, rows, FTS4),
        ("+ text id PRIMARY KEY", kioku + fts4, KIOKU_INSERT, rows, FTS4),
        ("+ (user_id, content_hash) UNIQUE", kioku + fts4 + hash_index, KIOKU_INSERT, rows, FTS4),
        ("+ the two time indexes (Kioku's schema)", kioku + fts4 + hash_index + time_indexes, KIOKU_INSERT, rows, FTS4),
    ]
    out = {"rows": a.n, "sqlite": sqlite3.sqlite_version, "schemas": []}
    for round_ in range(2):  # twice, so each schema meets a warm and a cold machine alike
        for i, (name, schema, insert, data, fts) in enumerate(steps):
            r = load(Path(a.dir) / f"shape{i}.db", schema, insert, data, fts)
            if round_ == 0:
                out["schemas"].append({"schema": name, "rounds": [r]})
            else:
                out["schemas"][i]["rounds"].append(r)
    raw_rate = sum(r["rows_per_s"] for r in out["schemas"][0]["rounds"]) / 2
    for s in out["schemas"]:
        rate = sum(r["rows_per_s"] for r in s["rounds"]) / 2
        s["rows_per_s"] = round(rate)
        s["ratio_to_raw"] = round(rate / raw_rate, 3)
        s["bytes_per_row"] = s["rounds"][-1]["bytes_per_row"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
