"""The linear-probe anchor of the "On real photos" table (benches/real_photos.sh).

A logistic regression on frozen `imagenet-lite0` features (the 1280-d pooled EfficientNet-Lite0
embedding Vitrine indexes, L2-normalised), fitted on the train split, its regularisation C
chosen on the validation split, reporting top-1 accuracy on the test split. The features are
read straight from Vitrine's index files (`LIB/index/imagenet-lite0.emb`, format documented in
src/index/store.rs); each item's category is the folder its image is in
(`…/<split>/<category>/<image>`, as `vitrine import folder` reads it). No PyTorch.

usage: python real_photos_probe.py TRAIN.emb VALIDATION.emb TEST.emb  (prints JSON)
"""

import hashlib
import json
import os
import struct
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

MAGIC = b"VTRNEMB\0"


def read_index(path):
    """(features N×dim, categories) of a Vitrine index file, its checksum checked."""
    data = open(path, "rb").read()
    body, digest = data[:-32], data[-32:]
    if not data.startswith(MAGIC):
        sys.exit(f"{path}: not a Vitrine embedding index")
    if hashlib.sha256(body).digest() != digest:
        sys.exit(f"{path}: checksum mismatch")
    pos = len(MAGIC)
    version, dim, count = struct.unpack_from("<IIQ", body, pos)
    if version != 1:
        sys.exit(f"{path}: index format version {version}, this script reads 1")
    pos += 16
    for _ in range(2):  # system name, system fingerprint
        (n,) = struct.unpack_from("<H", body, pos)
        pos += 2 + n
    categories = []
    for _ in range(count):
        pos += 8 + 8 + 8  # item id, image size, image mtime
        (n,) = struct.unpack_from("<I", body, pos)
        pos += 4
        image = body[pos : pos + n].decode("utf-8")
        pos += n
        categories.append(os.path.basename(os.path.dirname(image)))
    matrix = np.frombuffer(body, dtype="<f4", count=count * dim, offset=pos)
    return matrix.reshape(count, dim).astype(np.float64), np.array(categories)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        read_index(p) for p in sys.argv[1:4]
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val, x_test = (scaler.transform(x) for x in (x_train, x_val, x_test))
    tried = {}
    for c in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0):
        model = LogisticRegression(C=c, max_iter=3000).fit(x_train, y_train)
        tried[c] = float(model.score(x_val, y_val))
    best_c = max(tried, key=lambda c: (tried[c], -c))
    model = LogisticRegression(C=best_c, max_iter=3000).fit(x_train, y_train)
    report = {
        "method": "logistic regression on imagenet-lite0 features (standardised)",
        "train": int(len(y_train)),
        "validation": int(len(y_val)),
        "test": int(len(y_test)),
        "categories": sorted(set(y_train.tolist())),
        "validation_accuracy_by_c": {str(c): a for c, a in tried.items()},
        "c": best_c,
        "test_accuracy": float(model.score(x_test, y_test)),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
