"""helpers.train.fit: early stopping, and the weight average that keeps a model from swinging."""

import torch
from torch import nn

from helpers.train import fit


def _walk(average: float | None, epochs: int = 40) -> tuple[list[float], list[float], float]:
    """One weight pushed up by a constant gradient (Adam moves it about ``lr`` an epoch),
    validated by its own value. Returns the weight each step starts from, the validated
    weights, and the weight ``fit`` keeps."""
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    stepped, validated = [], []

    def step() -> float:
        stepped.append(model.weight.item())
        model.weight.grad = -torch.ones_like(model.weight)
        return 0.0

    def validate() -> float:
        validated.append(model.weight.item())
        return validated[-1]

    fit(model, step, validate, epochs=epochs, lr=0.1, check_every=1, average=average)
    return stepped, validated, model.weight.item()


def test_without_an_average_the_best_checked_weights_are_kept():
    stepped, validated, kept = _walk(None)
    assert validated == stepped[1:] + [kept]  # each check sees that epoch's weights
    assert kept == max(validated)


def test_the_average_of_the_weights_is_validated_and_kept_while_training_goes_on():
    plain, after_each_epoch, _ = _walk(None)
    stepped, validated, kept = _walk(0.9)
    assert stepped == plain  # the steps themselves are not averaged
    expected = after_each_epoch[0]
    for weight in after_each_epoch[1:]:
        expected = 0.9 * expected + 0.1 * weight
    assert abs(validated[-1] - expected) < 1e-5  # an exponential moving average
    assert abs(kept - expected) < 1e-5
    assert kept < after_each_epoch[-1] - 0.5  # it lags the walk: not the last step's weight


def test_a_budget_no_longer_than_the_averaging_window_keeps_the_weights():
    """0.9 averages about 10 epochs, 0.99 about 100: a budget of 5 or 10 epochs at 0.9 (the star
    models' at 25M), or of 100 at 0.99, keeps its own weights, not mostly the first ones,
    however the window's product rounds (100 x 0.01 is a hair over 1 in floating point); one
    epoch more averages."""
    for average, epochs in ((0.9, 5), (0.9, 10), (0.99, 100)):
        plain, _, kept_plain = _walk(None, epochs=epochs)
        stepped, _, kept = _walk(average, epochs=epochs)
        assert stepped == plain and kept == kept_plain
    for average, epochs in ((0.9, 11), (0.99, 101)):
        assert _walk(average, epochs=epochs)[2] < _walk(None, epochs=epochs)[2]
