"""Choose the ensemble members' recipe by measurement, on training digits only.

    python benchmarks/cnn_recipe.py train NAME [--seed 43] [--epochs 45] [--degrees 15] [--zoom 0.15]
                                    [--shift 0.1] [--stroke-width-rate 0.25] [--ema 0.999]
    python benchmarks/cnn_recipe.py table

`train` trains one CNN exactly as the notebook trains an ensemble member (its bag of the training digits,
its seed, the schedule without early stopping), changing only what the options say, and scores it on the
member's out-of-bag training digits: 20% of the training split that this CNN never saw. The 4,200
validation digits are not touched, so the recipe chosen here can still be reported on them honestly.
The model goes to benchmarks/results/recipes/NAME/cnn.keras (with a JSON record), where
bench_stroke_width.py can read it (`--models benchmarks/results/recipes/NAME`).
`table` prints every trained variant. One run per variant is noisy: compare the out-of-bag loss as well as
the mistakes, and trust only differences of several digits.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from notebook_helpers import ROOT, load_notebook_helpers

RESULTS = ROOT / "benchmarks" / "results" / "recipes"


def train(args, nb) -> None:
    nb.MEMBER_EPOCHS, nb.EMA_MOMENTUM = args.epochs, args.ema
    nb.AUGMENT_DEGREES, nb.AUGMENT_ZOOM, nb.AUGMENT_SHIFT = args.degrees, args.zoom, args.shift
    nb.STROKE_WIDTH_RATE = args.stroke_width_rate
    settings = nb.member_settings()
    x_train, _, y_train, _ = nb.training_split(args.data, nb.VALIDATION_SIZE, nb.SEED)
    bag = nb.bag_indices(len(x_train), nb.BAG_FRACTION, args.seed)
    out_of_bag = np.setdiff1d(np.arange(len(x_train)), bag)
    x_oob, y_oob = x_train[out_of_bag], y_train[out_of_bag]
    model, history, seconds = nb.train_cnn(
        args.seed, x_train[bag], y_train[bag], x_oob, y_oob, settings, name="cnn"
    )
    probabilities = model.predict(x_oob, batch_size=1024, verbose=0)
    loss, accuracy = nb.scores(probabilities, y_oob)
    record = settings | {
        "name": args.name,
        "seed": args.seed,
        "bag_fraction": nb.BAG_FRACTION,
        "train_seconds": round(seconds, 1),
        "out_of_bag_digits": len(out_of_bag),
        "out_of_bag_wrong": int(round((1 - accuracy) * len(out_of_bag))),
        "out_of_bag_loss": round(loss, 5),
    }
    folder = RESULTS / args.name
    folder.mkdir(parents=True, exist_ok=True)
    nb.save_member(model, record, folder, name="cnn")
    print(
        f"{args.name}: {record['out_of_bag_wrong']} wrong of {len(out_of_bag):,} out-of-bag digits, "
        f"loss {loss:.4f}, {seconds / 60:.1f} min"
    )


def table() -> None:
    """The variants trained here and the committed members (whose records say the same things)."""
    paths = sorted(RESULTS.glob("*/cnn.json")) + sorted((ROOT / "models" / "ensemble").glob("*.json"))
    records = [json.loads(path.read_text()) for path in paths]
    records = [record for record in records if "out_of_bag_loss" in record]
    if not records:
        raise SystemExit(f"no variants in {RESULTS}: train one first")
    print(
        "| variant | seed | epochs | rotation / zoom / shift | stroke width | EMA | wrong (out of bag) | loss | minutes |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in records:
        a = r["augmentation"]
        wrong = r.get("out_of_bag_wrong") or round((1 - r["out_of_bag_accuracy"]) * r["out_of_bag_digits"])
        print(
            f"| {r.get('name', 'member')} | {r['seed']} | {r['epochs']} | {a['degrees']}° / {a['zoom']} / {a['shift']} | "
            f"{a['stroke_width_rate']} | {r['ema_momentum'] or 'off'} | {wrong} of "
            f"{r['out_of_bag_digits']:,} | {r['out_of_bag_loss']:.4f} | {r['train_seconds'] / 60:.0f} |"
        )


def main() -> None:
    defaults = load_notebook_helpers(("parameters",))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=ROOT / defaults.DATA_DIR, help="as the notebook's DATA_DIR"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("train", help="train one variant of the members' recipe")
    one.add_argument("name")
    one.add_argument("--seed", type=int, default=defaults.SEED + 1)
    one.add_argument("--epochs", type=int, default=defaults.MEMBER_EPOCHS)
    one.add_argument("--degrees", type=float, default=defaults.AUGMENT_DEGREES)
    one.add_argument("--zoom", type=float, default=defaults.AUGMENT_ZOOM)
    one.add_argument("--shift", type=float, default=defaults.AUGMENT_SHIFT)
    one.add_argument("--stroke-width-rate", type=float, default=defaults.STROKE_WIDTH_RATE)
    one.add_argument("--ema", type=float, default=defaults.EMA_MOMENTUM, help="0: no weight averaging")
    commands.add_parser("table", help="print the variants trained so far")
    args = parser.parse_args()
    if args.command == "table":
        table()
    else:
        train(args, load_notebook_helpers())


if __name__ == "__main__":
    main()
