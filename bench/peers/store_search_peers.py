#!/usr/bin/env python3
"""Kioku's store and search path against its peers, on the same data, in one run.

Peers: hnswlib (PyPI) searching the very graph Kioku built and saved; raw
SQLite + FTS5 (the same library Kioku links) on the same rows, inside
store_search_peers (C++). Rounds alternate Kioku and hnswlib; inside the C++
binary every query alternates Kioku and raw FTS5. Prints one JSON document:
absolute figures, ratios (Kioku / peer) and each goal of issue 15, and
(vector_path_parts) the vector path against its read floor: the reads its
design cannot avoid, written by hand, with hnswlib beside them.

Run it through store_search_peers.sh (builds, sets up the venv). Wall and
thread-CPU times are both reported: on a loaded shared machine the CPU
figures are the comparable ones.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values, p):
    v = sorted(values)
    return v[int(p * (len(v) - 1))]


def hnswlib_round(index_path, queries_path, dim, ef, k=10):
    import hnswlib
    import numpy as np

    index = hnswlib.Index(space="ip", dim=dim)
    index.load_index(index_path, max_elements=0)
    index.set_ef(ef)
    index.set_num_threads(1)
    queries = np.fromfile(queries_path, dtype=np.float32).reshape(-1, dim)
    for q in queries[:20]:
        index.knn_query(q, k=k)
    wall, cpu = [], []
    for q in queries:
        t0, c0 = time.perf_counter(), time.thread_time()
        index.knn_query(q, k=k)
        cpu.append((time.thread_time() - c0) * 1e3)
        wall.append((time.perf_counter() - t0) * 1e3)
    return {
        "elements": index.get_current_count(),
        "p50_ms": percentile(wall, 0.5),
        "p95_ms": percentile(wall, 0.95),
        "cpu_p50_ms": percentile(cpu, 0.5),
        "cpu_p95_ms": percentile(cpu, 0.95),
    }


def median_of(rounds, *path):
    values = []
    for r in rounds:
        v = r
        for p in path:
            v = v[p]
        values.append(v)
    return statistics.median(values)


def goal(kioku, peer, limit, kind, unit="ms"):
    """kind 'ratio_max': kioku/peer <= limit; 'max': kioku <= limit; 'ratio_min': kioku/peer >= limit."""
    g = {"kioku": round(kioku, 4), "unit": unit}
    if peer is not None:
        g["peer"] = round(peer, 4)
        g["ratio"] = round(kioku / peer, 3) if peer else None
    value = g.get("ratio", kioku) if kind.startswith("ratio") else kioku
    met = value <= limit if kind.endswith("max") else value >= limit
    g["goal"] = ("<= " if kind.endswith("max") else ">= ") + str(limit) + (" x" if kind.startswith("ratio") else " " + unit)
    g["met"] = bool(met)
    if not met:
        g["missed_by"] = f"{value / limit:.2f}x" if kind.endswith("max") else f"{limit / value:.2f}x"
    return g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="store_search_peers binary")
    ap.add_argument("--kioku", required=True, help="kioku binary (for `kioku index`)")
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--index-n", type=int, default=100000, help="memories for the `kioku index` timing (0 = skip)")
    ap.add_argument("--dir", default="")
    args = ap.parse_args()

    work = args.dir or tempfile.mkdtemp(prefix="kioku-peers-")
    data = os.path.join(work, "data")
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "platform": platform.platform()},
        "n": args.n,
        "dim": args.dim,
    }
    try:
        report["bulk"] = run_json([args.bin, "bulk", "--dir", data, "--n", str(args.n), "--dim", str(args.dim)])
        report["first_search"] = run_json([args.bin, "first-search", "--dir", data, "--n", str(args.n), "--dim", str(args.dim)])
        graph = [p for p in glob.glob(os.path.join(data, "index", "*.hnsw"))]
        kioku_rounds, peer_rounds = [], []
        for r in range(args.rounds):
            order = ["kioku", "peer"] if r % 2 == 0 else ["peer", "kioku"]
            for who in order:
                if who == "kioku":
                    kioku_rounds.append(run_json([args.bin, "search", "--dir", data, "--n", str(args.n), "--dim",
                                                  str(args.dim), "--queries", str(args.queries)]))
                elif graph and os.path.exists(os.path.join(data, "queries.f32")):
                    peer_rounds.append(hnswlib_round(graph[0], os.path.join(data, "queries.f32"), args.dim, 128))
        if not peer_rounds and graph:  # queries.f32 is written by the first Kioku round
            peer_rounds.append(hnswlib_round(graph[0], os.path.join(data, "queries.f32"), args.dim, 128))
        report["search_rounds"] = kioku_rounds
        report["hnswlib_rounds"] = peer_rounds
        if args.index_n > 0:
            home = os.path.join(work, "index-home")
            run_json([args.bin, "populate", "--dir", home, "--n", str(args.index_n)])
            env = dict(os.environ, KIOKU_HOME=home, KIOKU_EMBED_PROVIDER="hashing")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            indexed = run_json([args.kioku, "index", "--json"], env=env)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            report["kioku_index"] = {
                "memories": args.index_n,
                "embedded": indexed.get("embedded"),
                "wall_s": wall,
                "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            }
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)

    # The goals, on medians over rounds; CPU time is the comparable figure on
    # a shared machine, wall time is given beside it.
    g = {}
    if kioku_rounds and peer_rounds:
        for clock, key in (("cpu", "cpu_p50_ms"), ("wall", "p50_ms")):
            peer = median_of(peer_rounds, key)
            g[f"vector_path_vs_hnswlib_{clock}"] = goal(median_of(kioku_rounds, "kioku_vector_path", key), peer, 1.5, "ratio_max")
            g[f"hnsw_index_alone_vs_hnswlib_{clock}"] = goal(median_of(kioku_rounds, "kioku_hnsw_index_alone", key), peer, 1.5,
                                                             "ratio_max")
            if all("kioku_hnsw_index_alone_back_to_back" in r for r in kioku_rounds):
                g[f"hnsw_index_alone_back_to_back_vs_hnswlib_{clock}"] = goal(
                    median_of(kioku_rounds, "kioku_hnsw_index_alone_back_to_back", key), peer, 1.5, "ratio_max")
    if kioku_rounds and peer_rounds and all("vector_read_floor" in r for r in kioku_rounds):
        # Not goals: where the vector path's time goes. The read floor is the
        # index's candidates plus two bare statements reading what the path
        # must read (RowReadFloor in store_search_peers.cpp).
        parts = {}
        for clock, key in (("cpu", "cpu_p50_ms"), ("wall", "p50_ms")):
            path = median_of(kioku_rounds, "kioku_vector_path", key)
            floor = median_of(kioku_rounds, "vector_read_floor", key)
            peer = median_of(peer_rounds, key)
            parts[clock] = {"vector_path_ms": round(path, 4), "read_floor_ms": round(floor, 4),
                            "hnswlib_ms": round(peer, 4), "path_over_floor": round(path / floor, 3),
                            "floor_over_hnswlib": round(floor / peer, 3)}
        report["vector_path_parts"] = parts
    if kioku_rounds:
        for clock, key in (("cpu", "cpu_p50_ms"), ("wall", "p50_ms")):
            g[f"lexical_vs_raw_fts5_{clock}"] = goal(median_of(kioku_rounds, "kioku_lexical", key),
                                                     median_of(kioku_rounds, "raw_fts5_top10", key), 1.2, "ratio_max")
            g[f"hybrid_p50_{clock}"] = goal(median_of(kioku_rounds, "kioku_hybrid", key), None, 5.0, "max")
    b = report["bulk"]
    g["bulk_add_vs_raw_sqlite_fts5"] = goal(b["kioku_rows_per_s"], b["raw_rows_per_s"], 0.8, "ratio_min", "rows/s")
    g["bytes_per_memory"] = goal(b["kioku_bytes_per_memory"], b["raw_bytes_per_row"], 400, "max", "B")
    g["bytes_per_memory_with_vector"] = goal(b["kioku_bytes_per_memory_with_vector"], None, 2048, "max", "B")
    f = report["first_search"]
    g["first_vector_search_ms"] = goal(f["first_search_ms"], None, 1000, "max")
    g["peak_memory_over_vector_data"] = goal(f["peak_over_vector_data"], None, 2.0, "max", "x")
    if "peak_anon_over_vector_data" in f:  # heap alone, without SQLite's mmap of memory.db
        g["peak_heap_over_vector_data"] = goal(f["peak_anon_over_vector_data"], None, 2.0, "max", "x")
    if "kioku_index" in report:
        g["kioku_index_100k_hashing_cpu"] = goal(report["kioku_index"]["cpu_s"], None, 10.0, "max", "s")
        g["kioku_index_100k_hashing_wall"] = goal(report["kioku_index"]["wall_s"], None, 10.0, "max", "s")
    report["goals"] = g
    report["machine"]["load_average_at_end"] = os.getloadavg()
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
