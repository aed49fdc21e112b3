#!/usr/bin/env python3
"""Kioku's encoder against ONNX Runtime, and Kioku's exact vector scan against
numpy and the machine's memory-bandwidth floor, in one run, interleaved round
by round (the machine is shared and noisy: ratios from the same round are the
figures that count). Prints one JSON document.

Run through bench/peers/encoder_scan_peers.sh, which builds Kioku, fetches the
real all-MiniLM-L6-v2 weights, sets up the peer venv and exports the ONNX file.

Encoder: the same sentences (LoCoMo dialogue turns when the shared data is
there, else sentences of this repository's docs), tokenised once by Kioku and
fed as the same token ids to both; sorted by length as sentence-transformers
does before batching, batches of 32, 1 and 2 threads. Kioku concatenates a
batch without padding; ONNX Runtime gets the batch padded to its longest
sentence with an attention mask, as it is normally used.
Scan: 100k x 384 clustered unit vectors (float32), top 10 by inner product,
the same rows and queries for Kioku and numpy (matrix-vector product on 2
BLAS threads + argpartition). Floor: a STREAM-like read of the same number of
bytes on 2 threads.
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import time

THREADS_SCAN = 2
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS_SCAN))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS_SCAN))

import numpy as np  # noqa: E402  (after the thread settings)
import onnxruntime as ort  # noqa: E402


def log(*a):
    print("encoder_scan_peers:", *a, file=sys.stderr, flush=True)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def sentences(repo, shared, count):
    locomo = os.path.join(shared, "data", "locomo", "locomo-dev.json") if shared else ""
    found = []
    if locomo and os.path.exists(locomo):
        data = json.load(open(locomo))
        for sample in data:
            conv = sample.get("conversation", {})
            for key in sorted(k for k in conv if re.fullmatch(r"session_\d+", k)):
                for turn in conv[key]:
                    text = turn.get("text", "").strip()
                    if text:
                        found.append(text)
            if len(found) >= count:
                break
        source = "LoCoMo dialogue turns"
    if len(found) < count:
        found = []
        for path in sorted(glob.glob(os.path.join(repo, "docs", "*.md"))) + [os.path.join(repo, "README.md")]:
            for line in open(path, encoding="utf-8"):
                line = line.strip()
                if len(line) > 30 and not line.startswith(("|", "```", "#")):
                    found.append(line)
        source = "sentences of the repository's docs"
    return found[:count], source


def clustered(n, dim, seed):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((1000, dim), dtype=np.float32)
    v = centers[rng.integers(0, 1000, n)] + 0.7 * rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True, help="build/bench/encoder_scan_bench")
    p.add_argument("--model", required=True, help="Kioku model folder of all-MiniLM-L6-v2")
    p.add_argument("--onnx", required=True, help="the same model exported by export_minilm_onnx.py")
    p.add_argument("--work", required=True, help="scratch folder (data files)")
    p.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    p.add_argument("--shared", default=os.environ.get("KIOKU_SHARED_DIR", ""))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--sentences", type=int, default=512)
    p.add_argument("--passes", type=int, default=1, help="passes over the sentences per encoder measurement")
    p.add_argument("--scan-n", type=int, default=100000)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--int8-n", type=int, default=1000000, help="0 skips the int8 recall/RSS run")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if not a.shared:
        a.shared = os.path.join(a.repo, "..", "shared")

    # Encoder inputs: the same token ids for both.
    texts, source = sentences(a.repo, a.shared, a.sentences)
    sent_path = os.path.join(a.work, "sentences.json")
    ids_path = os.path.join(a.work, "ids.json")
    json.dump(texts, open(sent_path, "w"))
    run_json([a.bench, "tokenize", "--model", a.model, "--sentences", sent_path, "--out", ids_path])
    ids = json.load(open(ids_path))
    ids.sort(key=len, reverse=True)
    json.dump(ids, open(ids_path, "w"))
    batches = []
    for i in range(0, len(ids), 32):
        chunk = ids[i:i + 32]
        width = max(len(s) for s in chunk)
        arr = np.zeros((len(chunk), width), dtype=np.int64)
        mask = np.zeros((len(chunk), width), dtype=np.int64)
        for r, s in enumerate(chunk):
            arr[r, :len(s)] = s
            mask[r, :len(s)] = 1
        batches.append({"input_ids": arr, "attention_mask": mask})
    tokens = sum(len(s) for s in ids)
    padded = sum(b["input_ids"].size for b in batches)

    sessions = {}
    for t in (1, 2):
        o = ort.SessionOptions()
        o.intra_op_num_threads = t
        o.inter_op_num_threads = 1
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sessions[t] = ort.InferenceSession(a.onnx, o, providers=["CPUExecutionProvider"])
        sessions[t].run(None, batches[0])  # warm-up

    def ort_rate(t):
        times = []
        for _ in range(a.passes):
            t0 = time.perf_counter()
            for b in batches:
                sessions[t].run(None, b)
            times.append(time.perf_counter() - t0)
        return len(ids) / statistics.median(times)

    # Scan data, shared by Kioku and numpy through files.
    dim = 384
    data = clustered(a.scan_n, dim, 1)
    queries = clustered(a.queries, dim, 2)
    data_path = os.path.join(a.work, "scan-data.f32")
    query_path = os.path.join(a.work, "scan-queries.f32")
    data.tofile(data_path)
    queries.tofile(query_path)
    scan_mb = data.nbytes / (1 << 20)

    def numpy_scan():
        times, first = [], None
        for q in queries[:2]:
            np.argpartition(data @ q, -10)[-10:]
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            scores = data @ q
            top = np.argpartition(scores, -10)[-10:]
            top = top[np.argsort(-scores[top])]
            times.append((time.perf_counter() - t0) * 1000)
            if i == 0:
                first = top.tolist()
        return statistics.median(times), first

    # Kioku stays loaded in one process and the peers in this one, so the
    # harness alternates them every few seconds.
    kioku = subprocess.Popen([a.bench, "serve", "--model", a.model, "--ids", ids_path, "--data", data_path, "--queries",
                              query_path, "--dim", str(dim)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(command):
        kioku.stdin.write(command + "\n")
        kioku.stdin.flush()
        line = kioku.stdout.readline()
        if not line:
            raise SystemExit(f"encoder_scan_bench serve died on: {command}")
        return json.loads(line)

    rounds = []
    try:
        for r in range(a.rounds):
            log(f"round {r + 1}/{a.rounds}")
            row = {}
            for t in (1, 2):
                k = ask(f"encode {t} {a.passes}")
                o = ort_rate(t)
                row[f"encoder_{t}t"] = {"kioku_sentences_per_s": k["sentences_per_s"],
                                        "onnxruntime_sentences_per_s": o, "ratio": k["sentences_per_s"] / o}
            ks = ask(f"scan {THREADS_SCAN}")
            nms, nfirst = numpy_scan()
            bw = ask(f"bandwidth {THREADS_SCAN}")
            row["scan"] = {"kioku_p50_ms": ks["p50_ms"], "kioku_p95_ms": ks["p95_ms"], "kernel": ks["kernel"],
                           "numpy_p50_ms": nms, "floor_ms": bw["p50_ms"], "floor_gb_per_s": bw["gb_per_s"],
                           "floor_best_ms": bw["best_ms"], "ratio_vs_best_floor": ks["p50_ms"] / bw["best_ms"],
                           "ratio_vs_numpy": ks["p50_ms"] / nms, "ratio_vs_floor": ks["p50_ms"] / bw["p50_ms"],
                           "same_top10_as_numpy": ks["first_query_top"] == nfirst}
            rounds.append(row)
    finally:
        kioku.stdin.close()
        kioku.wait(timeout=60)

    def med(path):
        vals = [r[path[0]][path[1]] for r in rounds]
        return statistics.median(vals), min(vals), max(vals)

    summary = {}
    for key in ("encoder_1t", "encoder_2t"):
        summary[key] = {f: {"median": m, "min": lo, "max": hi} for f in rounds[0][key]
                        for m, lo, hi in [med((key, f))]}
    summary["scan"] = {f: {"median": m, "min": lo, "max": hi} for f in rounds[0]["scan"]
                       if isinstance(rounds[0]["scan"][f], float) for m, lo, hi in [med(("scan", f))]}
    summary["scan"]["kernel"] = rounds[0]["scan"]["kernel"]
    summary["scan"]["same_top10_as_numpy"] = all(r["scan"]["same_top10_as_numpy"] for r in rounds)

    int8 = None
    if a.int8_n > 0:
        log(f"int8 at {a.int8_n} vectors (float32 run, then int8 run)")
        f32 = run_json([a.bench, "int8", "--n", str(a.int8_n), "--dim", str(dim), "--encoding", "float"])
        i8 = run_json([a.bench, "int8", "--n", str(a.int8_n), "--dim", str(dim), "--encoding", "int8", "--queries", "200"])
        int8 = {"float32": f32, "int8": i8,
                "vector_bytes_ratio": i8["vector_bytes"] / f32["vector_bytes"],
                "index_rss_mb_float32": f32["rss_mb_with_index"] - f32["rss_mb_before"],
                "index_rss_mb_int8": i8["rss_mb_with_index"] - i8["rss_mb_before"],
                "recall_loss_at_10": 1.0 - i8["recall_at_10_int8_rescored"]}

    goals = {
        "encoder_1t_at_or_above_onnxruntime": summary["encoder_1t"]["ratio"]["median"] >= 1.0,
        "encoder_2t_at_or_above_onnxruntime": summary["encoder_2t"]["ratio"]["median"] >= 1.0,
        "scan_within_1.3x_of_floor": summary["scan"]["ratio_vs_floor"]["median"] <= 1.3,
    }
    if int8:
        goals["int8_quarter_memory"] = int8["vector_bytes_ratio"] <= 0.26
        goals["int8_recall_loss_under_0.005"] = int8["recall_loss_at_10"] < 0.005
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpu": open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(),
                    "cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0]},
        "peers": {"onnxruntime": ort.__version__, "numpy": np.__version__},
        "encoder_input": {"source": source, "sentences": len(ids), "tokens": tokens,
                          "onnxruntime_padded_tokens": padded, "batch": 32},
        "rounds": rounds,
        "summary": summary,
        "int8": int8,
        "goals_met": goals,
    }
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
