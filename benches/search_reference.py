"""Exact top-10 cosine search in numpy (matmul + argpartition) and FAISS (IndexFlatIP), for
comparison with `vitrine bench search --json`: the same shapes (random unit rows, 1280 wide),
single queries (median and range of 10, after a warm-up) and batches of 100 (best of 3,
ms per query). Run through search_reference.sh, which makes the virtualenv.

usage: search_reference.py THREADS [SIZES]   (SIZES: comma-separated, default 100000,1000000)
Prints one JSON line per library: {"library", "threads", "results": [{"items", "single_ms",
"single_min_ms", "single_max_ms", "single_gb_per_s", "batch100_ms_per_query"}]}."""
import json
import statistics
import sys
import time

import numpy as np

threads = int(sys.argv[1])
sizes = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "100000,1000000").split(",")]
DIM, K, BATCH, RUNS = 1280, 10, 100, 10
rng = np.random.default_rng(1)


def unit(rows: int) -> np.ndarray:
    m = rng.uniform(-1, 1, (rows, DIM)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def numpy_top_k(index, q):
    scores = index @ q.T
    part = np.argpartition(-scores, K, axis=0)[:K]
    return part


def time_library(name, search):
    results = []
    for items in sizes:
        index = unit(items)
        queries = unit(BATCH)
        ready = search(index)
        ready(queries[:1])
        singles = []
        for i in range(RUNS):
            start = time.perf_counter()
            ready(queries[i:i + 1])
            singles.append(time.perf_counter() - start)
        ready(queries)
        batch = min(_timed(ready, queries) for _ in range(3))
        median = statistics.median(singles)
        results.append({
            "items": items, "single_ms": median * 1e3, "single_min_ms": min(singles) * 1e3,
            "single_max_ms": max(singles) * 1e3,
            "single_gb_per_s": items * DIM * 4 / median / 1e9,
            "batch100_ms_per_query": batch * 1e3 / BATCH,
        })
        del index
    print(json.dumps({"library": name, "threads": threads, "results": results}))


def _timed(f, q):
    start = time.perf_counter()
    f(q)
    return time.perf_counter() - start


time_library(f"numpy {np.__version__}", lambda index: (lambda q: numpy_top_k(index, q)))
try:
    import faiss

    faiss.omp_set_num_threads(threads)

    def flat(index):
        f = faiss.IndexFlatIP(DIM)
        f.add(index)
        return lambda q: f.search(q, K)

    time_library(f"faiss {faiss.__version__}", flat)
except ImportError:
    print(json.dumps({"library": "faiss", "skipped": "not installed"}))
