"""Plots the colour <-> shape dial sweep of `vitrine eval retrieval --colour-weights ... --json`.

Usage: plot_dial.py OUT.png LABEL=SWEEP.json [LABEL=SWEEP.json ...]
Draws colour, category and subtype precision@K against the colour weight, one line style per
library. A precision that is 0 at every weight is left out: the library has no such labels
(the JSON reports 0 there; the text output says n/a).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MEASURES = [
    ("colour_precision", "same colour", "tab:red"),
    ("category_precision", "same category", "tab:blue"),
    ("subtype_precision", "same subtype", "tab:green"),
]
STYLES = ["-", "--", ":"]


def main() -> None:
    out, sources = sys.argv[1], sys.argv[2:]
    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    for style, source in zip(STYLES, sources):
        label, path = source.split("=", 1)
        with open(path) as f:
            sweep = json.load(f)
        k = sweep["k"]
        for key, name, colour in MEASURES:
            points = [
                (p["colour_weight"], p["in_shop"][key])
                for p in sweep["points"]
                if p["in_shop"].get(key) is not None
            ]
            if points and any(y > 0 for _, y in points):
                xs, ys = zip(*points)
                ax.plot(xs, ys, style, marker="o", color=colour, label=f"{label}: {name}")
    ax.set_xlabel("colour weight W (0: shape only, 1: colour only)")
    ax.set_ylabel(f"precision@{k}, in-shop")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    main()
