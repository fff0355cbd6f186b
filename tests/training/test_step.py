"""The training step, against SGD written out by hand: a linear classifier in float64, whose
cross-entropy gradient is (softmax(z) - onehot(y)) x / B, updated and stepped twice (the second
step's gradient must start from zero), under plain labels, mixup and cutmix. Every expected
number here is computed in plain Python floats from that formula, never by torch's autograd.
tools/mutate holds these tests to killing every mutant of ``train_step``."""

from __future__ import annotations

import math

import pytest

import torch

from flopcalc.training.loop import train_step
from flopcalc.training.mix import cutmix, mixup

W0 = [[0.2, -0.1, 0.4, 0.0], [-0.3, 0.5, 0.1, 0.2], [0.1, 0.1, -0.2, 0.3]]
B0 = [0.05, -0.02, 0.0]
X = [[1.0, 0.5, -0.5, 2.0], [0.0, 1.0, 1.0, -1.0], [2.0, -1.0, 0.5, 0.0], [-1.0, 0.0, 1.5, 1.0],
     [0.5, 0.5, 0.5, 0.5]]
Y = [2, 1, 0, 2, 0]
LR = 0.5


def _factor(step: int) -> float:
    return 1.0 / (step + 1)  # the schedule: lr, lr/2, lr/3, ...


def _net():
    net = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        net.weight.copy_(torch.tensor(W0, dtype=torch.float64))
        net.bias.copy_(torch.tensor(B0, dtype=torch.float64))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _factor)
    return net, opt, sched


def _logits(w, b, x):
    return [[sum(wi * xi for wi, xi in zip(row, xs)) + bj for row, bj in zip(w, b)] for xs in x]


def _softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return [v / sum(e) for v in e]


def _by_hand(w, b, x, targets):
    """Mean cross-entropy against ``targets`` (a list of (weight, labels) pairs whose weights sum
    to 1: plain labels are [(1, y)]), its gradients, and the hits, all in plain floats."""
    z = _logits(w, b, x)
    n, k = len(x), len(b)
    loss, gw, gb = 0.0, [[0.0] * len(x[0]) for _ in range(k)], [0.0] * k
    hits = 0.0
    for share, labels in targets:
        for i in range(n):
            p = _softmax(z[i])
            loss += share * -math.log(p[labels[i]]) / n
            hits += share * (max(range(k), key=lambda j: z[i][j]) == labels[i])
            for j in range(k):
                d = share * (p[j] - (j == labels[i])) / n
                gb[j] += d
                for c in range(len(x[0])):
                    gw[j][c] += d * x[i][c]
    return loss, gw, gb, hits


def _update(w, b, gw, gb, lr):
    return ([[wv - lr * g for wv, g in zip(row, grow)] for row, grow in zip(w, gw)],
            [bv - lr * g for bv, g in zip(b, gb)])


def _assert_params(net, w, b):
    for got, want in zip(net.weight.tolist(), w):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert net.bias.tolist() == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_a_step_is_one_sgd_update_and_two_steps_start_each_gradient_from_zero():
    net, opt, sched = _net()
    x, y = torch.tensor(X, dtype=torch.float64), torch.tensor(Y)
    loss_fn = torch.nn.CrossEntropyLoss()

    loss1, gw, gb, hits1 = _by_hand(W0, B0, X, [(1.0, Y)])
    w1, b1 = _update(W0, B0, gw, gb, LR)
    got_loss, got_hits = train_step(net, x, y, loss_fn, opt, sched)
    assert got_loss == pytest.approx(loss1 * len(Y), rel=1e-12)  # the batch's summed loss
    assert got_hits == hits1 and isinstance(got_hits, int) and 0 < hits1 < len(Y)  # neither none nor all
    _assert_params(net, w1, b1)
    assert opt.param_groups[0]["lr"] == LR * _factor(1)  # the schedule stepped once

    loss2, gw2, gb2, hits2 = _by_hand(w1, b1, X, [(1.0, Y)])
    w2, b2 = _update(w1, b1, gw2, gb2, LR * _factor(1))
    got_loss, got_hits = train_step(net, x, y, loss_fn, opt, sched)
    assert got_loss == pytest.approx(loss2 * len(Y), rel=1e-12) and got_hits == hits2
    _assert_params(net, w2, b2)  # a gradient accumulated over both steps would miss this
    assert opt.param_groups[0]["lr"] == LR * _factor(2)
    assert loss2 < loss1  # one step on this batch lowered its loss


@pytest.mark.parametrize("augment, mix", [("mixup", mixup), ("cutmix", cutmix)])
def test_a_mixed_step_weighs_both_label_sets_by_lam(augment, mix):
    """The same step on a mixed batch: the loss and the hits are lam parts the first labels and
    1 - lam parts the second. The mixed images, labels and lam are drawn again here from the same
    seed (the mixing itself is tested in test_data.py)."""
    x = torch.tensor(X, dtype=torch.float64).view(5, 1, 2, 2)  # images, so that cutmix can cut a box
    y = torch.tensor(Y)
    for seed in range(20):  # a draw whose two label sets score differently, so lam and 1 - lam differ
        torch.manual_seed(seed)
        xm, y_a, y_b, lam = mix(x, y)
        flat = xm.reshape(5, 4).tolist()
        _, _, _, hits_a = _by_hand(W0, B0, flat, [(1.0, y_a.tolist())])
        _, _, _, hits_b = _by_hand(W0, B0, flat, [(1.0, y_b.tolist())])
        if hits_a != hits_b and abs(lam - 0.5) > 0.05 and 0 < lam < 1:
            break
    else:
        raise AssertionError("no draw tells lam from 1 - lam")
    targets = [(lam, y_a.tolist()), (1 - lam, y_b.tolist())]
    loss, gw, gb, hits = _by_hand(W0, B0, flat, targets)
    w1, b1 = _update(W0, B0, gw, gb, LR)

    net, opt, sched = _net()
    model = torch.nn.Sequential(torch.nn.Flatten(), net)
    torch.manual_seed(seed)
    got_loss, got_hits = train_step(model, x, y, torch.nn.CrossEntropyLoss(), opt, sched, augment)
    assert got_loss == pytest.approx(loss * 5, rel=1e-12)
    assert got_hits == pytest.approx(hits, rel=1e-12)
    _assert_params(net, w1, b1)
