"""train(): batching from the rng, losses/accuracy per epoch, grad-norm logging, clipping, determinism."""
import json
import math

import numpy as np
import pytest

import deepgrad
from _nets_helpers import CrossEntropyLoss, Linear, MSELoss, mlp
from deepgrad import Adam, History, Sequential, SGD, train
from deepgrad.data import spirals, teacher


class BatchSpy(Linear):
    """A Linear that remembers the rows (by their first feature, the sample index) it was fed."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.batches = []

    def forward(self, x):
        self.batches.append(x[:, 0].astype(int).copy())
        return super().forward(x)


def test_train_is_exported_as_function():
    assert deepgrad.train is train and callable(train)
    assert deepgrad.History is History


def test_batches_are_the_rng_permutation_of_each_epoch():
    n, bs, seed = 23, 5, 11
    X = np.column_stack([np.arange(n, dtype=float), np.ones(n)])
    y = np.zeros((n, 1))
    spy = BatchSpy(2, 1, rng=0)
    train(Sequential(spy), MSELoss(), SGD(spy, lr=0.0), X, y, epochs=3, batch_size=bs, rng=seed,
          progress=False)
    assert [len(b) for b in spy.batches] == [5, 5, 5, 5, 3] * 3
    gen = np.random.default_rng(seed)
    for epoch in range(3):
        seen = np.concatenate(spy.batches[5 * epoch:5 * epoch + 5])
        np.testing.assert_array_equal(seen, gen.permutation(n))


def test_regression_loss_decreases_and_accuracy_is_none():
    X, y = teacher(256, 8, 1, hidden=(16,), activation="tanh", rng=0, dtype=np.float64)
    model = mlp([8, 32, 1], "tanh", rng=1)
    hist = train(model, MSELoss(), Adam(model, lr=1e-2), X, y, epochs=30, batch_size=32, rng=2, progress=False)
    assert hist.epochs == 30 and len(hist.epoch_time) == 30
    assert hist.loss[-1] < 0.1 * hist.loss[0]
    assert hist.accuracy == [None] * 30
    assert hist.stopped is None


def test_spirals_classification_learns():
    X, y = spirals(400, noise=0.05, rng=0, dtype=np.float64)
    Xtr, ytr = X[:300], y[:300]
    model = mlp([2, 64, 64, 2], "tanh", rng=1)
    hist = train(model, CrossEntropyLoss(), Adam(model, lr=1e-2), Xtr, ytr, epochs=150, batch_size=32, rng=2,
                 progress=False, validation=(X[300:], y[300:]))
    assert hist.accuracy[-1] > 0.95
    assert hist.val_accuracy[-1] > 0.9
    assert len(hist.val_loss) == 150 and 0 <= min(hist.accuracy) <= max(hist.accuracy) <= 1


def test_first_epoch_loss_and_accuracy_are_the_models_before_a_full_batch_step():
    X, y = spirals(64, rng=0, dtype=np.float64)
    model = mlp([2, 8, 3], "relu", rng=0)
    pred = model.forward(X).copy()
    loss0 = CrossEntropyLoss().forward(pred, y)
    acc0 = np.mean(np.argmax(pred, 1) == y)
    hist = train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=1, batch_size=64, rng=0,
                 progress=False)
    assert hist.loss[0] == pytest.approx(loss0, rel=1e-12)
    assert hist.accuracy[0] == acc0


def test_same_seed_same_run_bit_for_bit():
    X, y = spirals(100, rng=0, dtype=np.float32)

    def run(seed):
        model = mlp([2, 16, 16, 2], "relu", rng=5, dtype=np.float32)
        h = train(model, CrossEntropyLoss(), Adam(model, lr=1e-2), X, y, epochs=4, batch_size=16, rng=seed,
                  clip=1.0, progress=False)
        return h, [p.data.copy() for p in model.parameters()]

    (h1, w1), (h2, w2), (_, w3) = run(7), run(7), run(8)
    assert h1.to_dict() | {"epoch_time": None} == h2.to_dict() | {"epoch_time": None}
    assert all(a.tobytes() == b.tobytes() for a, b in zip(w1, w2))
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3))


def test_grad_norms_logged_per_layer_every_log_every_steps():
    X, y = spirals(50, rng=0, dtype=np.float64)
    model = mlp([2, 6, 6, 2], "tanh", rng=0)
    norms_seen = []

    class Spy(SGD):
        def step(self):
            norms_seen.append({i: math.sqrt(sum(float(np.sum(p.grad ** 2)) for p in model[i].parameters()))
                               for i in (0, 2, 4)})
            super().step()

    hist = train(model, CrossEntropyLoss(), Spy(model, lr=0.1), X, y, epochs=3, batch_size=8, rng=0,
                 log_every=4, progress=False)
    steps_total = 3 * 7
    assert hist.steps == list(range(0, steps_total, 4))
    assert list(hist.grad_norms) == ["0.Linear", "2.Linear", "4.Linear"]
    for name, i in zip(hist.grad_norms, (0, 2, 4)):
        assert len(hist.grad_norms[name]) == len(hist.steps)
        for k, step in enumerate(hist.steps):
            assert hist.grad_norms[name][k] == pytest.approx(norms_seen[step][i], rel=1e-12)
    for k in range(len(hist.steps)):
        assert hist.grad_norm[k] == pytest.approx(math.sqrt(sum(hist.grad_norms[n][k] ** 2 for n in hist.grad_norms)))


def test_clip_bounds_the_update():
    X, y = spirals(40, rng=0, dtype=np.float64)
    model = mlp([2, 8, 2], "relu", rng=0)
    before = np.concatenate([p.data.ravel() for p in model.parameters()])
    hist = train(model, CrossEntropyLoss(), SGD(model, lr=1.0), X, y, epochs=1, batch_size=40, clip=1e-3,
                 rng=0, progress=False)
    after = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert hist.grad_norm[0] > 1e-2                         # logged before clipping
    assert np.linalg.norm(after - before) == pytest.approx(1e-3, rel=1e-3)


def test_model_in_train_mode_during_training_and_validation_in_eval():
    X, y = spirals(20, rng=0, dtype=np.float64)
    lin = Linear(2, 2, rng=0)
    model = Sequential(lin)
    model.eval()
    train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=2, batch_size=10, rng=0, progress=False,
          validation=(X, y))
    assert lin.modes == [True, True, False, False] * 2      # 2 training batches, then 2 validation batches
    assert model.training


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_stops_on_nonfinite_loss():
    X, y = teacher(32, 4, 1, rng=0, dtype=np.float64)
    model = mlp([4, 4, 1], "relu", rng=0)
    hist = train(model, MSELoss(), SGD(model, lr=1e6), X, y * 1e3, epochs=50, batch_size=8, rng=0, progress=False)
    assert hist.stopped is not None and "non-finite" in hist.stopped
    assert hist.epochs < 50 and math.isnan(hist.loss[-1])
    json.dumps(hist.to_dict())


def test_history_to_dict_is_json():
    X, y = spirals(30, rng=0, dtype=np.float64)
    model = mlp([2, 4, 2], "relu", rng=0)
    hist = train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=2, batch_size=10, rng=0, progress=False)
    d = json.loads(json.dumps(hist.to_dict()))
    assert set(d) >= {"loss", "accuracy", "grad_norms", "grad_norm", "steps"} and len(d["loss"]) == 2


def test_progress_bar(capsys):
    X, y = spirals(30, rng=0, dtype=np.float64)
    model = mlp([2, 4, 2], "relu", rng=0)
    train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=2, batch_size=10, rng=0)
    assert capsys.readouterr().out == ""                      # not a terminal: no bar
    pytest.importorskip("rich")
    train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=2, batch_size=10, rng=0, progress=True)
    assert "epoch 2/2" in capsys.readouterr().out


def test_batch_larger_than_data_and_zero_epochs():
    X, y = spirals(10, rng=0, dtype=np.float64)
    model = mlp([2, 3, 2], "relu", rng=0)
    hist = train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=1, batch_size=100, rng=0, progress=False)
    assert hist.steps == [0]
    assert train(model, CrossEntropyLoss(), SGD(model, lr=0.1), X, y, epochs=0, progress=False).epochs == 0


@pytest.mark.parametrize("kw, exc", [
    (dict(y=np.zeros(9, np.int64)), ValueError), (dict(X=[[0.0, 1.0]]), TypeError),
    (dict(epochs=-1), ValueError), (dict(epochs=True), TypeError), (dict(batch_size=0), ValueError),
    (dict(log_every=0), ValueError), (dict(clip=0.0), ValueError), (dict(clip=math.nan), ValueError),
    (dict(rng="seed"), TypeError), (dict(validation=np.zeros(3)), TypeError),
    (dict(loss=object()), TypeError)])
def test_invalid_arguments(kw, exc):
    X, y = spirals(10, rng=0, dtype=np.float64)
    model = mlp([2, 3, 2], "relu", rng=0)
    args = dict(model=model, loss=CrossEntropyLoss(), optimizer=SGD(model, lr=0.1), X=X, y=y, progress=False)
    args.update(kw)
    with pytest.raises(exc):
        train(**args)


def test_digits_trains_to_high_accuracy():
    pytest.importorskip("sklearn", reason="needs the optional extra deepgrad[data]")
    from deepgrad.data import load_digits, train_test_split
    X, y = load_digits(dtype=np.float64)
    (Xtr, ytr), (Xte, yte) = train_test_split(X, y, test_size=0.25, rng=0, stratify=True)
    model = mlp([64, 32, 10], "relu", rng=0)
    hist = train(model, CrossEntropyLoss(), Adam(model, lr=1e-2), Xtr, ytr, epochs=15, batch_size=32, rng=0,
                 progress=False, validation=(Xte, yte))
    assert hist.accuracy[-1] > 0.95 and hist.val_accuracy[-1] > 0.9
