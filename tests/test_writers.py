"""The writers' test data (testdata.writers): slanted real digits, handwriting styles, sets kept apart."""

import numpy as np
import pytest
from digitkit.marks import slant as mark_slant
from digitkit.novelty import Clusters, DigitClusters, with_prototypes
from digitkit.preprocess import to_model_input
from testdata.writers import (
    FITTING_SEEDS,
    PEN_WIDTHS,
    REPORTING_SEEDS,
    STYLES,
    TUNING_SEEDS,
    first_seed,
    slant,
    slanted_number,
    slanted_pool,
    style_drawing,
    style_pool,
    validation_half,
)


def test_the_slanted_pool_keeps_only_the_most_slanted_1s_and_7s(real_digits):
    pixels, labels = real_digits
    images = pixels.reshape(-1, 28, 28)
    pool, pool_labels = slanted_pool(images, labels, share=0.05)
    for digit in (1, 7):
        everyone = np.abs([slant(image) for image in images[labels == digit]])
        kept = np.abs([slant(image) for image in pool[pool_labels == digit]])
        assert len(kept) == pytest.approx(0.05 * len(everyone), abs=1)
        assert kept.min() >= np.quantile(everyone, 0.94)
    assert (pool_labels == 3).sum() == (labels == 3).sum()  # other digits are all kept
    assert slant(images[0]) == pytest.approx(mark_slant(images[0]))  # the reader measures slant alike


def test_a_slanted_number_holds_a_1_or_a_7():
    rng = np.random.default_rng(0)
    numbers = [slanted_number(rng) for _ in range(50)]
    assert all(set(n) & {"1", "7"} and 3 <= len(n) <= 6 for n in numbers)


@pytest.mark.parametrize("style", list(STYLES))
def test_style_drawings_are_deterministic_varied_and_as_wide_as_the_pen(style):
    first, again, other = (style_drawing(style, seed) for seed in (3, 3, 4))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    thin, thick = (style_drawing(style, 3, pen) for pen in (PEN_WIDTHS["thin"], PEN_WIDTHS["marker"]))
    assert (thick > 127).sum() > 2 * (thin > 127).sum()
    assert first.shape == (280, 280) and first.dtype == np.uint8
    to_model_input(first)  # it has ink the apps can read


def test_a_style_pool_writes_that_digit_in_the_style_only(real_digits):
    pixels, labels = real_digits
    images = pixels.reshape(-1, 28, 28)
    pool, pool_labels = style_pool("crossed 7", 5, 0, (images, labels))
    assert (pool_labels == 7).sum() == 5 and (pool_labels == 3).sum() == (labels == 3).sum()
    assert pool.shape[1:] == (28, 28) and pool.dtype == np.uint8


def test_tuning_reporting_and_fitting_data_never_overlap():
    seeds = [set(TUNING_SEEDS), set(REPORTING_SEEDS), set(FITTING_SEEDS)]
    assert not (seeds[0] & seeds[1] or seeds[0] & seeds[2] or seeds[1] & seeds[2])
    assert first_seed("tuning") in TUNING_SEEDS and first_seed("reporting") in REPORTING_SEEDS
    images, labels = np.arange(10)[:, None] * np.ones((10, 4)), np.arange(10)
    tuning, reporting = (
        validation_half(images, labels, "tuning"),
        validation_half(images, labels, "reporting"),
    )
    assert set(tuning[1]).isdisjoint(reporting[1]) and len(tuning[1]) + len(reporting[1]) == 10
    with pytest.raises(ValueError, match="tuning"):
        first_seed("test")


def test_a_style_prototype_brings_its_drawings_near_the_digits():
    rng = np.random.default_rng(0)
    means = rng.normal(0, 1, (10, 4))
    clusters = DigitClusters((Clusters(means, np.eye(4), 1.0),), threshold=1.0, model_sha256="")
    style = rng.normal(6, 0.1, (20, 4))  # a style far from every digit's mean
    assert clusters.distances([style]).min() > 5
    with_style = with_prototypes(clusters, [style], np.array(["style"] * 20))
    assert with_style.layers[0].means.shape == (11, 4)
    assert with_style.distances([style]).max() < 1
    assert np.allclose(
        with_style.distances([means]), clusters.distances([means])
    )  # digits stay where they were
