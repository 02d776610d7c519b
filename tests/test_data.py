"""Built-in data sets: spirals, teacher network, scikit-learn's digits (optional extra), splitting."""
import sys

import numpy as np
import pytest

from deepgrad import data


def test_spirals_shapes_labels_and_geometry():
    X, y = data.spirals(301, n_classes=3, noise=0.0, rng=0)
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [101, 100, 100]
    r = np.hypot(X[:, 0], X[:, 1]).astype(np.float64)
    assert r.max() <= 1 + 1e-6 and r.min() > 0
    # noise-free points lie on their arm: angle = 2 pi (turns * r + c / 3)  (mod 2 pi)
    angle = np.arctan2(X[:, 1], X[:, 0]).astype(np.float64)
    expected = 2 * np.pi * (1.5 * r + y / 3)
    assert np.allclose(np.angle(np.exp(1j * (angle - expected))), 0, atol=1e-4)


def test_spirals_deterministic_and_dtype():
    a = data.spirals(50, rng=3, dtype=np.float64)
    b = data.spirals(50, rng=np.random.default_rng(3), dtype=np.float64)
    assert a[0].tobytes() == b[0].tobytes() and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], data.spirals(50, rng=4, dtype=np.float64)[0])
    with pytest.raises(ValueError):
        data.spirals(10, n_classes=1)
    with pytest.raises(ValueError):
        data.spirals(10, noise=-1.0)
    with pytest.raises(TypeError):
        data.spirals(10, dtype=np.int32)


def test_teacher_regression_is_the_teacher_network():
    X, y, layers = data.teacher(64, 5, 2, hidden=(7, 6), activation="relu", rng=0, dtype=np.float64,
                                return_teacher=True)
    assert X.shape == (64, 5) and y.shape == (64, 2) and [W.shape for W, _ in layers] == [(7, 5), (6, 7), (2, 6)]
    h = X
    for k, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if k < 2:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(y, h, rtol=1e-12, atol=1e-14)
    assert y.std() > 0.1                       # He init keeps the signal alive through the layers


def test_teacher_classification_and_noise():
    X, y = data.teacher(500, 4, 3, task="classification", rng=0)
    assert y.dtype == np.int64 and set(np.unique(y)) <= {0, 1, 2} and len(np.unique(y)) == 3
    _, clean = data.teacher(100, 4, 1, rng=1)
    _, noisy = data.teacher(100, 4, 1, noise=0.5, rng=1)
    assert np.std(noisy - clean) == pytest.approx(0.5, rel=0.25)
    with pytest.raises(ValueError):
        data.teacher(10, 3, 1, task="classification")
    with pytest.raises(ValueError):
        data.teacher(10, 3, activation="softplus")


def test_train_test_split():
    X = np.arange(40.0).reshape(20, 2)
    y = np.repeat([0, 1], 10)
    (Xtr, ytr), (Xte, yte) = data.train_test_split(X, y, test_size=0.25, rng=0)
    assert len(Xte) == 5 and len(Xtr) == 15
    assert sorted(np.concatenate([Xtr[:, 0], Xte[:, 0]]).tolist()) == X[:, 0].tolist()
    np.testing.assert_array_equal(Xte[:, 0] // 2 >= 10, yte == 1)     # rows stay with their labels
    (_, ytr), (_, yte) = data.train_test_split(X, y, test_size=0.2, rng=0, stratify=True)
    assert np.bincount(yte).tolist() == [2, 2] and np.bincount(ytr).tolist() == [8, 8]
    (_, _), (Xte, _) = data.train_test_split(X, y, test_size=3, rng=0)
    assert len(Xte) == 3
    for bad in (0.0, 1.0, 20):
        with pytest.raises(ValueError):
            data.train_test_split(X, y, test_size=bad)
    with pytest.raises(ValueError):
        data.train_test_split(X, y[:5])


def test_load_digits():
    pytest.importorskip("sklearn", reason="needs the optional extra deepgrad[data]")
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1 and set(y.tolist()) == set(range(10))
    X16, _ = data.load_digits(dtype=np.float64, scale=False)
    assert X16.max() == 16 and np.array_equal(X16 / 16, X.astype(np.float64))


def test_load_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'deepgrad\[data\]'"):
        data.load_digits()
