"""How does the ensemble's error fall as members are added, against the CPU time their training took?

    python benchmarks/bench_ensemble.py [--data dataset] [--models models] [--draws 30]

Loads the members trained for the notebook's split and recipe (models/ensemble/, by their fingerprints;
members trained for anything else are not used) and the distilled CNN, predicts the 4,200 validation
digits that none of them trained on, as they are and with test-time augmentation (the notebook's
`predict_shifted`: the digit and four 1-pixel shifts), and prints, for ensembles of 1, 2, 4, 8, ... members,
the number of mistakes (median and range over random draws of that many members, and the first k members),
with the CPU-hours of training they took (from each member's training record).
"""

from __future__ import annotations

import argparse

import numpy as np
from notebook_helpers import add_data_and_models_arguments, load_notebook_helpers


def sizes_up_to(count: int) -> list[int]:
    """1, 2, 4, 8, ... and the count itself."""
    sizes = [1]
    while sizes[-1] * 2 < count:
        sizes.append(sizes[-1] * 2)
    return sorted(set(sizes + [count]))


def wrong(probabilities: np.ndarray, true: np.ndarray) -> int:
    """Mistakes of averaged probabilities."""
    return int(np.sum(probabilities.argmax(axis=-1) != true))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument("--draws", type=int, default=30, help="random draws of members per ensemble size")
    args = parser.parse_args()

    nb = load_notebook_helpers()
    _, x_val, _, y_val = nb.training_split(args.data, nb.VALIDATION_SIZE, nb.SEED)
    true = y_val.argmax(axis=1)
    settings = nb.member_settings()
    recipe = nb.member_recipe(x_val, y_val, settings, nb.BAG_FRACTION)
    seeds = range(nb.SEED + 1, nb.SEED + 1 + 100)
    members, infos, _ = nb.load_members(args.models / "ensemble", recipe, seeds)
    if not members:
        raise SystemExit(f"no member in {args.models / 'ensemble'} was trained for this split and recipe")
    print(f"{len(members)} members for split {recipe['split']}; predicting {len(true):,} validation digits")
    plain = np.stack([m.predict(x_val, batch_size=1024, verbose=0) for m in members])
    shifted = np.stack([nb.predict_shifted(m, x_val, 1) for m in members])
    hours = np.array([info["train_seconds"] for info in infos]) / 3600

    print(
        "\nmembers | CPU-hours | wrong, first k members (TTA) | wrong over random draws: median [min-max] (TTA median)"
    )
    rng = np.random.default_rng(0)
    for size in sizes_up_to(len(members)):
        draws = [rng.choice(len(members), size, replace=False) for _ in range(args.draws)]
        if size == len(members):
            draws = [np.arange(size)]
        drawn = [wrong(plain[d].mean(axis=0), true) for d in draws]
        drawn_tta = [wrong(shifted[d].mean(axis=0), true) for d in draws]
        first, first_tta = wrong(plain[:size].mean(axis=0), true), wrong(shifted[:size].mean(axis=0), true)
        print(
            f"{size:7d} | {hours[:size].sum():9.2f} | {first:5d} ({first_tta:3d})                  | "
            f"{np.median(drawn):5.1f} [{min(drawn)}-{max(drawn)}] ({np.median(drawn_tta):.1f})"
        )
    alone = [wrong(p, true) for p in plain]
    print(f"\neach member alone: {min(alone)}-{max(alone)} wrong (median {np.median(alone):.0f})")

    distill_recipe = nb.distilled_recipe(recipe, infos, nb.DISTILL_WEIGHT)
    distilled, info = nb.load_matching(args.models / "distilled.keras", distill_recipe)
    if distilled is None:
        print("no distilled CNN trained on these members (scripts/train_ensemble.py trains it)")
        return
    print(
        f"distilled CNN: {wrong(distilled.predict(x_val, batch_size=1024, verbose=0), true)} wrong, "
        f"{wrong(nb.predict_shifted(distilled, x_val, 1), true)} with TTA ({info['train_seconds'] / 3600:.2f} CPU-hours)"
    )


if __name__ == "__main__":
    main()
