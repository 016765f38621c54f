"""The one prediction result both apps show: sure or "Not sure", the candidates, the percentages."""

import numpy as np
import pytest
from digitkit.prediction import UNSURE_THRESHOLD, Status, percent, prediction_from


def probabilities_with(**share: float) -> np.ndarray:
    """Ten probabilities: digit d gets share[f"d{d}"], the rest share what is left evenly."""
    row = np.zeros(10)
    for key, value in share.items():
        row[int(key[1:])] = value
    rest = [d for d in range(10) if f"d{d}" not in share]
    row[rest] = (1 - row.sum()) / len(rest)
    return row


def test_sure_only_from_the_threshold_up():
    at = prediction_from(probabilities_with(d6=UNSURE_THRESHOLD), None)
    assert at.sure and at.status is Status.SURE and at.digit == 6
    assert at.headline == "Prediction: 6" and at.label == "6"
    below = prediction_from(probabilities_with(d6=UNSURE_THRESHOLD - 0.001, d2=0.04), None)
    assert not below.sure and below.status is Status.UNSURE and below.digit == 6
    assert below.label == "6?"


def test_not_sure_lists_two_candidates_and_a_third_only_if_likely():
    three = prediction_from(probabilities_with(d4=0.5, d9=0.42, d7=0.08), None)
    assert three.headline == "Not sure: 4 (50%) or 9 (42%) or 7 (8%)"
    assert three.candidates == ((4, 0.5), (9, pytest.approx(0.42)), (7, pytest.approx(0.08)))
    two = prediction_from(probabilities_with(d4=0.6, d9=0.37), None)
    assert two.headline == "Not sure: 4 (60%) or 9 (37%)"


def test_percentages_round_down_so_unsure_never_reads_as_the_threshold():
    prediction = prediction_from(probabilities_with(d1=UNSURE_THRESHOLD - 0.003, d7=0.03), None)
    assert not prediction.sure
    assert prediction.headline == f"Not sure: 1 ({round(UNSURE_THRESHOLD * 100) - 1}%) or 7 (3%)"
    assert percent(0.999) == "99%" and percent(0.07) == "7%" and percent(1.0) == "100%"


def test_ranked_gives_the_likeliest_first():
    prediction = prediction_from(probabilities_with(d3=0.7, d8=0.2, d5=0.06), None)
    assert [digit for digit, _ in prediction.ranked(3)] == [3, 8, 5]
    assert prediction.ranked(1) == [(3, pytest.approx(0.7))]


def test_the_model_input_and_probabilities_travel_with_the_prediction():
    field = np.zeros((28, 28), np.float32)
    row = probabilities_with(d0=0.99)
    prediction = prediction_from(row, field)
    assert prediction.model_input is field
    np.testing.assert_allclose(prediction.probabilities, row)
