"""Train the ensemble's members and the distilled CNN ahead of time, one at a time, so the notebook loads them.

    python scripts/train_ensemble.py [--data dataset] [--models models] [--limit N] [--commit]

Uses the notebook's own functions and parameters (seed, validation split, CNN recipe, bag fraction,
ensemble size), so every member trains on exactly the split the notebook validates on, each on its own
random share of the training digits; the notebook checks that by fingerprints of the validation set and
the recipe. Members already trained for this recipe are kept, so the script resumes where it stopped: run
it again, as often as you like, until the ensemble is complete. When it is, the distilled CNN is trained on
the ensemble's probabilities. `--commit` commits each model to git as soon as it is saved, together with
its refitted "not a digit" statistics (scripts/fit_novelty.py --only ensemble / distilled), so that every
commit's models/novelty.npz belongs to its models.
"""

import argparse
import subprocess
import time
from pathlib import Path

from fit_novelty import fit_and_save
from notebook_helpers import ROOT, add_data_and_models_arguments, load_notebook_helpers


def commit(paths: list[Path], message: str) -> None:
    """Commit these files (and nothing else that is staged) to the repository."""
    names = [str(path.relative_to(ROOT)) for path in paths]
    subprocess.run(["git", "add", "--", *names], cwd=ROOT, check=True)
    subprocess.run(["git", "commit", "--quiet", "-m", message, "--", *names], cwd=ROOT, check=True)


def main() -> None:
    params = load_notebook_helpers(("parameters",))  # the defaults, without waiting for TensorFlow
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_and_models_arguments(parser)
    parser.add_argument("--members", type=int, default=params.ENSEMBLE_SIZE, help="ensemble size")
    parser.add_argument("--limit", type=int, help="train at most this many models in this run")
    parser.add_argument("--commit", action="store_true", help="git-commit each model as soon as it is saved")
    args = parser.parse_args()

    nb = load_notebook_helpers()
    x_train, x_val, y_train, y_val = nb.training_split(args.data, nb.VALIDATION_SIZE, nb.SEED)
    settings = nb.member_settings()
    recipe = nb.member_recipe(x_val, y_val, settings, nb.BAG_FRACTION)
    member_dir = args.models / "ensemble"
    seeds = range(nb.SEED + 1, nb.SEED + 1 + args.members)
    members, infos, missing = nb.load_members(member_dir, recipe, seeds)
    print(
        f"{len(x_train):,} training digits, validation split {recipe['split']}; {len(members)} members found"
    )

    budget = len(missing) + 1 if args.limit is None else args.limit
    for seed in missing[:budget]:
        start = time.perf_counter()
        member, info = nb.train_member(
            seed, x_train, y_train, x_val, y_val, settings, nb.BAG_FRACTION, recipe
        )
        path = nb.save_member(member, info, member_dir)
        members.append(member)
        infos.append(info)
        budget -= 1
        print(
            f"member seed {seed}: validation accuracy {info['val_accuracy']:.4f}, {info['epochs']} epochs "
            f"({time.perf_counter() - start:.0f} s) -> {path}",
            flush=True,
        )
        if args.commit:
            novelty = fit_and_save(args.data, args.models, only=["ensemble"])
            commit(
                [path, path.with_suffix(".json"), novelty],
                f"Ensemble member seed {seed} ({info['val_accuracy']:.2%}), with the ensemble's refitted statistics",
            )
    if len(members) < args.members:
        print(f"{args.members - len(members)} members still to train: run this script again")
        return

    distill_recipe = nb.distilled_recipe(recipe, infos, nb.DISTILL_WEIGHT)
    distilled, info = nb.load_matching(args.models / "distilled.keras", distill_recipe)
    if distilled is not None:
        print(f"the distilled CNN for these {len(members)} members is there already")
        return
    if budget < 1:
        print("the distilled CNN is still to train: run this script again")
        return
    ensemble = nb.build_ensemble(members)
    distilled, info = nb.train_distilled(ensemble, x_train, y_train, x_val, y_val, settings, distill_recipe)
    path = nb.save_member(distilled, info, args.models, name="distilled")
    print(f"distilled CNN: validation accuracy {info['val_accuracy']:.4f} -> {path}")
    if args.commit:
        novelty = fit_and_save(args.data, args.models, only=["distilled"])
        commit(
            [path, path.with_suffix(".json"), novelty],
            f"Distilled CNN ({info['val_accuracy']:.2%}), with its refitted statistics",
        )


if __name__ == "__main__":
    main()
