#!/usr/bin/env bash
# The "On real photos" table of the README, reproduced on a folder of labelled photos laid out
# DIR/{train,validation,test}/<category>/<image> (e.g. ../shared/data/clothing-small).
#
#   lite0  the train split imported as the catalogue (`vitrine import folder DIR --split train`),
#          indexed with imagenet-lite0 (no training), the test split as held-out queries
#          (`vitrine eval retrieval --queries DIR/test`): same-category precision@10, kNN@10;
#   probe  the linear-probe anchor: a logistic regression on the same frozen Lite0 features
#          (read from Vitrine's own index files of the three splits; scikit-learn and numpy
#          in a throw-away virtualenv, no PyTorch), C chosen on validation, test accuracy;
#   train  `vitrine train` with its defaults on the catalogue (timed), then the same
#          held-out retrieval and the classifier's top-1 accuracy on the test split.
#
# usage: benches/real_photos.sh DIR [PARTS]   PARTS: comma-separated of lite0,probe,train
#        (default lite0,probe,train). Environment: VITRINE (the binary; default
#        target/release/vitrine, else target/debug/vitrine), WORK (where the libraries and the
#        JSON reports go; default a new temporary folder, kept), KEEP_VENV=1 keeps the venv.
set -euo pipefail
dir=$(cd "${1:?usage: benches/real_photos.sh DIR [lite0,probe,train]}" && pwd)
parts=${2:-lite0,probe,train}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${VITRINE:-}" ]; then
  if [ -x "$here/../target/release/vitrine" ]; then VITRINE="$here/../target/release/vitrine"
  else VITRINE="$here/../target/debug/vitrine"; fi
fi
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
echo "binary: $VITRINE; reports and libraries in $work" >&2
has() { case ",$parts," in *",$1,"*) return 0;; *) return 1;; esac; }
v() { "$VITRINE" "$@"; }
catalog="$work/catalog"

# The catalogue: the train split, indexed with imagenet-lite0 (needed by every part).
if [ ! -f "$catalog/index/imagenet-lite0.emb" ]; then
  v --library "$catalog" import folder "$dir" --split train --json > "$work/import-train.json"
  start=$(date +%s)
  v --library "$catalog" index --system imagenet-lite0 > /dev/null
  echo "indexed the train split in $(( $(date +%s) - start )) s" >&2
fi

if has lite0; then
  v --library "$catalog" eval retrieval --queries "$dir/test" -k 10 --json > "$work/lite0.json"
fi

if has probe; then
  for split in validation test; do
    if [ ! -f "$work/$split/index/imagenet-lite0.emb" ]; then
      v --library "$work/$split" import folder "$dir" --split "$split" --json > "$work/import-$split.json"
      v --library "$work/$split" index --system imagenet-lite0 > /dev/null
    fi
  done
  venv="$work/venv"
  [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q numpy scikit-learn; }
  "$venv/bin/python" "$here/real_photos_probe.py" "$catalog/index/imagenet-lite0.emb" \
    "$work/validation/index/imagenet-lite0.emb" "$work/test/index/imagenet-lite0.emb" > "$work/probe.json"
  [ "${KEEP_VENV:-0}" = 1 ] || rm -rf "$venv"
fi

if has train; then
  start=$(date +%s)
  v --library "$catalog" train --name real-default --json > "$work/train.json"
  echo $(( $(date +%s) - start )) > "$work/train-seconds.txt"
  v --library "$catalog" index --system real-default > /dev/null
  v --library "$catalog" eval retrieval --queries "$dir/test" --system real-default -k 10 --json > "$work/trained.json"
  v --library "$catalog" eval classify --queries "$dir/test" --system real-default --json > "$work/classify.json"
fi

# The table, from the JSON reports.
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
def load(name):
    path = os.path.join(work, name)
    return json.load(open(path)) if os.path.exists(path) else None
print("| system | same-category precision@10 | kNN@10 accuracy | classifier top-1 |")
print("|---|---|---|---|")
lite0 = load("lite0.json")
if lite0:
    c = lite0["category"]
    print(f"| imagenet-lite0 (no training) | {c['precision']:.3f} | {c['knn_accuracy']:.3f} | — |")
trained, classify = load("trained.json"), load("classify.json")
if trained:
    c = trained["category"]
    top1 = classify.get("top1_accuracy") if classify else None
    secs = open(os.path.join(work, "train-seconds.txt")).read().strip()
    print(f"| vitrine train defaults ({float(secs):.0f} s) | {c['precision']:.3f} | {c['knn_accuracy']:.3f} | "
          + (f"{top1:.3f}" if top1 is not None else "—") + " |")
probe = load("probe.json")
if probe:
    print(f"| logistic regression on Lite0 features (C={probe['c']}) | — | — | {probe['test_accuracy']:.3f} |")
if lite0:
    print(f"\n{lite0['queries']} test queries, {lite0['catalogue_items']} catalogue items")
PY
