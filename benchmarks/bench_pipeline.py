"""How much faster is this project's pipeline than the original one, on the full Kaggle data?

    python benchmarks/bench_pipeline.py [--data ../shared/data/digit-recognizer.zip] [--repeats 5]

Measures, in one run on one machine, and prints medians and ratios:
1. CSV to ready arrays: the original (pandas' default reader, astype/255, to_categorical,
   train_test_split) against the notebook's loader, cold (no cache) and cached;
2. time for the original MLP to reach the original pipeline's final accuracy: the original training
   (batch 32, 10 epochs) against this project's (larger batches, tf.data cache/prefetch, tuned rate);
3. seconds per training epoch and inference throughput for every model, and the fraction of the CPU's
   peak FLOP/s that CNN training reaches;
4. how long the CNN takes to reach 99.5% validation accuracy (limit: 10 minutes).
The notebook's own functions are used for "this project" (scripts/notebook_helpers.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from notebook_helpers import ROOT, load_notebook_helpers

nb = keras = tf = pd = None  # main() loads the notebook's functions (and TensorFlow) after the arguments


def median_seconds(function, repeats: int) -> float:
    """Median wall time of several calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- 1. CSV to arrays ----------------------------------------------------------------------------------


def original_load(csv: Path):
    """The original notebook's loading, as first written."""
    from sklearn.model_selection import train_test_split

    train = pd.read_csv(csv)
    y = keras.utils.to_categorical(train["label"].values, 10)
    x = train.drop("label", axis=1).values.astype("float32") / 255
    return train_test_split(x, y, test_size=0.1, random_state=42)


def project_load(csv: Path):
    """This project's loading: validated pyarrow parse (or the binary cache), then the stratified split."""
    labels, pixels = nb.load_digits_csv(csv, "train")
    return nb.split_for_training(pixels, labels, nb.VALIDATION_SIZE, nb.SEED)


# --- 2. time to the original's accuracy ------------------------------------------------------------------


def epoch_clock(target: float | None = None, limit_s: float | None = None):
    """A Keras callback that records the time and validation accuracy after every epoch (`marks`), stops at
    a target accuracy or a time limit, and tells when a given accuracy was first reached (`time_to`)."""

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks = []

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            elapsed = time.perf_counter() - self.start
            accuracy = logs.get("val_accuracy", float("nan"))  # nan when fit had no validation data
            self.marks.append((elapsed, accuracy))
            reached = target is not None and accuracy >= target
            if reached or (limit_s is not None and elapsed >= limit_s):
                self.model.stop_training = True

        def time_to(self, goal: float) -> float | None:
            return next((t for t, accuracy in self.marks if accuracy >= goal), None)

    return EpochClock()


def compiled(model: keras.Model, learning_rate) -> keras.Model:
    """The model compiled as the notebook does: Adam (a rate or a schedule), cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def train_original(x_train, y_train, x_val, y_val) -> keras.callbacks.Callback:
    """The original training: the MLP with Adam's defaults, batch 32, 10 epochs, numpy arrays."""
    keras.utils.set_random_seed(nb.SEED)
    model = compiled(nb.build_mlp(), 1e-3)
    clock = epoch_clock()
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        batch_size=32,
        epochs=10,
        verbose=0,
        callbacks=[clock],
    )
    return clock


def train_fast(
    x_train, y_train, x_val, y_val, target: float, batch: int, rate: float, jit: bool
) -> keras.callbacks.Callback:
    """The same MLP with a larger batch, a higher learning rate and a cached, prefetched tf.data pipeline."""
    keras.utils.set_random_seed(nb.SEED)
    model = nb.build_mlp()
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
    )
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train)).cache().shuffle(len(x_train), seed=nb.SEED)
    train = train.batch(batch).prefetch(tf.data.AUTOTUNE)
    val = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(2048).cache().prefetch(tf.data.AUTOTUNE)
    clock = epoch_clock(target=target)
    model.fit(train, validation_data=val, epochs=40, verbose=0, callbacks=[clock], shuffle=False)
    return clock


# --- 3. per-epoch seconds, throughput, FLOP/s --------------------------------------------------------------


def dense_and_conv_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of one forward pass over one image, summed over the Dense and Conv2D layers."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            flops += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2D):
            out_h, out_w = layer.output.shape[1:3]
            kh, kw, cin, cout = layer.kernel.shape
            flops += 2 * out_h * out_w * kh * kw * cin * cout
    return flops


def cpu_peak_flops() -> tuple[float, str]:
    """Theoretical fp32 peak of the cores this process may use: cores x GHz x FLOP per cycle."""
    flags = Path("/proc/cpuinfo").read_text()
    mhz = max(float(line.split(":")[1]) for line in flags.splitlines() if line.startswith("cpu MHz"))
    per_cycle = 64 if " avx512f " in flags else 32 if " avx2 " in flags else 8  # 2 FMA units x lanes x 2
    cores = len(os.sched_getaffinity(0))
    how = f"{cores} cores x {mhz / 1000:.2f} GHz x {per_cycle} FLOP/cycle (2 FMA units x {per_cycle // 4} fp32 lanes x 2)"
    return cores * mhz * 1e6 * per_cycle, how


def measured_matmul_flops() -> float:
    """What a large float32 matrix product reaches here: a practical ceiling for dense math."""
    a = tf.random.uniform((2048, 2048))
    tf.matmul(a, a).numpy()
    seconds = median_seconds(lambda: tf.matmul(a, a).numpy(), 5)
    return 2 * 2048**3 / seconds


def images_per_second(model: keras.Model, x: np.ndarray) -> float:
    """Inference throughput in batches of 1,000 (median of 5)."""
    model.predict(x[:1000], batch_size=1000, verbose=0)
    return len(x[:5000]) / median_seconds(lambda: model.predict(x[:5000], batch_size=1000, verbose=0), 5)


def epoch_seconds(model: keras.Model, dataset, steps: int) -> float:
    """Seconds of the second training epoch (the first also builds the training function), as the notebook trains."""
    clock = epoch_clock()
    model.fit(dataset, steps_per_epoch=steps, epochs=2, verbose=0, shuffle=False, callbacks=[clock])
    return clock.marks[1][0] - clock.marks[0][0]


# --- the run -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the original pipeline against this project's.")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "digit-recognizer.zip")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cnn-minutes", type=float, default=10.0)
    args = parser.parse_args()
    global nb, keras, tf, pd
    nb = load_notebook_helpers()
    keras, tf, pd = nb.keras, nb.tf, nb.pd
    if not args.data.is_file():
        sys.exit(f"{args.data}: not found (pass --data with the Kaggle digit-recognizer.zip)")

    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(args.data) as zf:
            zf.extract("train.csv", tmp)
        csv = Path(tmp) / "train.csv"
        print(
            f"Data: {args.data} (train.csv {csv.stat().st_size / 1e6:.0f} MB); {len(os.sched_getaffinity(0))} cores"
        )

        # 1. Loading.
        def project_cold():
            nb.cache_path_for(csv).unlink(missing_ok=True)
            return project_load(csv)

        original_s = median_seconds(lambda: original_load(csv), args.repeats)
        cold_s = median_seconds(project_cold, args.repeats)
        cached_s = median_seconds(lambda: project_load(csv), args.repeats)
        labels_only_s = median_seconds(lambda: nb.load_digits_csv(csv, "train"), args.repeats)
        print("\n1. CSV to ready arrays (median of", args.repeats, "runs)")
        print(f"   original (pandas read_csv, astype, to_categorical, split)  {original_s:7.3f} s")
        print(
            f"   this project, cold (pyarrow + validation, writes cache)      {cold_s:7.3f} s   {original_s / cold_s:5.1f}x faster"
        )
        print(
            f"   this project, cached reload + split                          {cached_s:7.3f} s   {original_s / cached_s:5.1f}x faster"
        )
        print(f"   this project, cached reload alone (arrays from the cache)    {labels_only_s:7.3f} s")

        x_train, x_val, y_train, y_val = project_load(csv)

    # 2. Time for the MLP to reach the original's final accuracy.
    original = train_original(x_train, y_train, x_val, y_val)
    original_total, target = original.marks[-1]
    print(f"\n2. MLP: time to the original's final validation accuracy ({target:.4f})")
    print(f"   original: batch 32, 10 epochs                                {original_total:7.1f} s")
    results = []
    for batch, rate, jit in [(256, 3e-3, False), (512, 4e-3, False), (256, 3e-3, True), (512, 4e-3, True)]:
        clock = train_fast(x_train, y_train, x_val, y_val, target, batch, rate, jit)
        reached = clock.time_to(target)
        results.append((reached if reached is not None else float("inf"), batch, rate, jit, len(clock.marks)))
        shown = f"{reached:7.1f} s   {original_total / reached:5.1f}x faster" if reached else "   not reached"
        print(
            f"   batch {batch}, Adam {rate:g}, tf.data cache/prefetch, XLA {'on ' if jit else 'off'} {shown} ({len(clock.marks)} epochs)"
        )
    best = min(results)
    print(
        f"   best: batch {best[1]}, rate {best[2]:g}, XLA {'on' if best[3] else 'off'}: {original_total / best[0]:.1f}x faster"
    )

    # 3. Per-epoch seconds and throughput for every model; FLOP/s of CNN training.
    print("\n3. Training seconds per epoch, inference images/s")
    steps = nb.batches_per_epoch(len(x_train), nb.CNN_BATCH_SIZE)
    keras.utils.set_random_seed(nb.SEED)
    trainable = {
        "mlp": (
            compiled(nb.build_mlp(), 1e-3),
            nb.make_dataset(x_train, y_train, nb.BATCH_SIZE, nb.SEED),
            nb.batches_per_epoch(len(x_train), nb.BATCH_SIZE),
        ),
        "tuned_mlp": (
            compiled(nb.build_tuned_mlp(), 1e-3),
            nb.make_dataset(x_train, y_train, 256, nb.SEED),
            nb.batches_per_epoch(len(x_train), 256),
        ),
        "cnn": (
            compiled(nb.build_cnn(), 1e-3),
            nb.make_dataset(
                x_train, y_train, nb.CNN_BATCH_SIZE, nb.SEED, augmentation=nb.augmentation_settings()
            ),
            steps,
        ),
    }
    per_epoch = {name: epoch_seconds(model, data, n) for name, (model, data, n) in trainable.items()}
    saved = {name: keras.models.load_model(ROOT / "models" / f"{name}.keras") for name in ("mlp", "cnn")}
    member_files = sorted((ROOT / "models" / "ensemble").glob("*.keras"))
    if member_files:
        saved["ensemble"] = nb.build_ensemble([keras.models.load_model(path) for path in member_files])
    members = len(member_files)
    per_epoch["ensemble"] = per_epoch["cnn"] * members
    throughput = {name: images_per_second(model, x_val) for name, model in saved.items()}
    for name in ("mlp", "tuned_mlp", "cnn", "ensemble"):
        shown = f"{throughput[name]:10,.0f} images/s" if name in throughput else "      (not saved)"
        note = f" ({members} CNNs)" if name == "ensemble" else ""
        print(f"   {name:10s} {per_epoch[name]:6.1f} s/epoch   {shown}{note}")
    peak, how = cpu_peak_flops()
    matmul = measured_matmul_flops()
    cnn_flops = (
        3 * dense_and_conv_flops(trainable["cnn"][0]) * len(x_train) / per_epoch["cnn"]
    )  # forward + 2x backward
    print(f"   CNN training: {cnn_flops / 1e9:.1f} GFLOP/s = {cnn_flops / peak:.1%} of the theoretical peak "
          f"{peak / 1e9:.0f} GFLOP/s ({how}); a 2048x2048 float32 matmul reaches {matmul / 1e9:.0f} GFLOP/s "
          f"({matmul / peak:.0%} of peak), so training runs at {cnn_flops / matmul:.0%} of that")  # fmt: skip

    # 4. CNN to 99.5%.
    keras.utils.set_random_seed(nb.SEED)
    schedule = nb.cosine_schedule(nb.CNN_LEARNING_RATE, steps, nb.CNN_EPOCHS)
    cnn = compiled(nb.build_cnn(), schedule)
    clock = epoch_clock(target=0.995, limit_s=args.cnn_minutes * 60)
    cnn.fit(
        nb.make_dataset(
            x_train, y_train, nb.CNN_BATCH_SIZE, nb.SEED, augmentation=nb.augmentation_settings()
        ),
        validation_data=nb.make_dataset(x_val, y_val, 1024),
        epochs=nb.CNN_EPOCHS,
        steps_per_epoch=steps,
        verbose=0,
        shuffle=False,
        callbacks=[clock],
    )
    reached = clock.time_to(0.995)
    best_accuracy = max(accuracy for _, accuracy in clock.marks)
    print(f"\n4. CNN to 99.5% validation accuracy (limit {args.cnn_minutes:.0f} min):", end=" ")
    if reached is not None:
        print(f"reached in {reached:.0f} s ({reached / 60:.1f} min, epoch {len(clock.marks)})")
    else:
        print(f"NOT reached: best {best_accuracy:.4f} after {clock.marks[-1][0]:.0f} s")


if __name__ == "__main__":
    main()
