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
    """0.9 averages about 10 epochs: 5 or 10 epochs (the warm star models' budget at 25M) keep
    their own weights, not mostly the first; 11 average."""
    for epochs in (5, 10):
        plain, _, kept_plain = _walk(None, epochs=epochs)
        stepped, _, kept = _walk(0.9, epochs=epochs)
        assert stepped == plain and kept == kept_plain
    _, _, kept_plain = _walk(None, epochs=11)
    assert _walk(0.9, epochs=11)[2] < kept_plain
