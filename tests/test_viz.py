"""The training-curve picture: readable log-axis ticks and the kept epoch named."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from helpers import viz  # noqa: E402
from helpers.train import History  # noqa: E402


@pytest.mark.parametrize("loss", [[9.0, 3.0, 1.2, 0.7], [0.69, 0.66, 0.64, 0.62]])
def test_training_curve_writes_loss_ticks_as_plain_numbers(loss):
    history = History(loss=loss, valid={2: 0.1, 4: 0.2}, best_epoch=4)
    figure = viz.training_curve(history, "title")
    figure.canvas.draw()
    axis = figure.axes[0].yaxis
    labels = [t.get_text() for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True)]
    shown = [label for label in labels if label]
    assert shown, "the loss axis shows no number"
    for label in shown:
        float(label)  # "6×10⁰" or "$\\mathdefault{...}$" would raise


def test_training_curve_says_when_the_kept_epoch_is_the_last():
    history = History(loss=[1.0, 0.5, 0.4], valid={1: 0.1, 3: 0.2}, best_epoch=3)
    legend = viz.training_curve(history, "title").axes[1].get_legend()
    assert legend.get_texts()[0].get_text() == "kept: epoch 3 (the last trained)"
