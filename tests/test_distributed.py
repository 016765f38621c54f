"""The notebook's several-devices path (tf.distribute.MirroredStrategy, what Colab's multi-GPU runtimes take),
run on two logical CPU devices: members and the distilled CNN trained under the strategy (batches split
between replicas, weights averaged, batch-norm statistics recomputed), saved, loaded back and averaged.

Logical devices must be set up before TensorFlow starts, so the run happens in a fresh process.
"""

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, tempfile
    from pathlib import Path
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from testdata.mnist import mnist_digits
    from notebook_helpers import load_notebook_helpers

    nb = load_notebook_helpers()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    images, labels = mnist_digits()
    pixels = images.reshape(len(images), -1)
    order = np.random.default_rng(0).permutation(len(labels))
    x = (pixels[order] / 255).astype("float32")
    y = np.eye(10, dtype="float32")[labels[order]]
    x_train, y_train, x_val, y_val = x[:2400], y[:2400], x[4000:], y[4000:]
    nb.MEMBER_EPOCHS = 3
    settings = nb.member_settings() | {"batch_size": 64}
    recipe = nb.member_recipe(x_val, y_val, settings, nb.BAG_FRACTION)
    folder = Path(tempfile.mkdtemp())
    members = []
    with strategy.scope():
        for seed in (43, 44):
            member, info = nb.train_member(seed, x_train, y_train, x_val, y_val, settings, nb.BAG_FRACTION, recipe)
            members.append(nb.load_matching(nb.save_member(member, info, folder), recipe)[0])
        ensemble = nb.build_ensemble(members)
        distill = nb.distilled_recipe(recipe, [{"seed": 43}, {"seed": 44}], nb.DISTILL_WEIGHT)
        distilled, info = nb.train_distilled(ensemble, x_train, y_train, x_val, y_val, settings, distill)
    loaded = nb.load_matching(nb.save_member(distilled, info, folder, name="distilled"), distill)[0]
    same = float(np.abs(loaded.predict(x_val, verbose=0) - distilled.predict(x_val, verbose=0)).max())
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "runtime": nb.describe_runtime(strategy),
        "members": [nb.evaluate_model(m, x_val, y_val)[1] for m in members],
        "ensemble": nb.evaluate_model(ensemble, x_val, y_val)[1],
        "distilled": info["val_accuracy"],
        "reloaded_difference": same,
    }))
    """
)


@pytest.mark.slow
def test_members_and_distillation_train_save_and_load_under_a_mirrored_strategy():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and "MirroredStrategy (2 replicas)" in result["runtime"]
    # 3 epochs on 1,900 digits: far from MNIST's best, far above chance (a broken average of weights, or
    # batch-norm statistics of other weights, fall to 10-20%)
    assert min(result["members"]) > 0.8 and result["ensemble"] > 0.8 and result["distilled"] > 0.8, result
    assert result["reloaded_difference"] < 1e-5
