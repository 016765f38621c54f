"""The training pipeline: each epoch of batches is one reshuffled pass over every image."""

import numpy as np
import pytest


def test_each_epoch_is_one_full_reshuffled_pass(nb):
    x = np.arange(10 * 4, dtype=np.float32).reshape(10, 4)
    y = np.eye(10, dtype=np.float32)
    steps = nb.batches_per_epoch(len(x), 4)
    assert steps == 3
    batches = [
        labels.numpy().argmax(axis=1)
        for _, labels in nb.make_dataset(x, y, 4, shuffle_seed=0).take(3 * steps)
    ]
    assert [len(b) for b in batches] == [4, 4, 2] * 3, "the last batch of each pass is the smaller one"
    passes = [np.concatenate(batches[i * steps : (i + 1) * steps]) for i in range(3)]
    for order in passes:
        assert sorted(order) == list(range(10))
    assert len({tuple(order) for order in passes}) > 1, "every pass is shuffled anew"


def test_validation_pipeline_is_one_pass_in_order(nb):
    x, y = np.zeros((5, 784), np.float32), np.eye(10, dtype=np.float32)[[3, 1, 4, 1, 5]]
    labels = np.concatenate([batch_y.numpy().argmax(axis=1) for _, batch_y in nb.make_dataset(x, y, 2)])
    assert labels.tolist() == [3, 1, 4, 1, 5]


@pytest.mark.slow
def test_without_patience_the_whole_schedule_runs_and_the_last_weights_stay(nb, real_digits):
    pixels, labels = real_digits
    x = pixels[:64].astype(np.float32) / 255
    y = np.eye(10, dtype=np.float32)[labels[:64]]
    model = nb.build_tuned_mlp()
    history, _ = nb.train_scheduled(model, x, y, x, y, 4, 32, 1e-3, None, seed=0)
    assert history.epoch == [0, 1, 2, 3]
    last_loss = history.history["val_loss"][-1]  # the weights kept are the last epoch's, not the best one's
    assert nb.evaluate_model(model, x, y)[0] == pytest.approx(last_loss, rel=1e-3)
