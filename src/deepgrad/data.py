"""Small data sets: synthetic tasks built in, and scikit-learn's bundled digits (no download).

    X, y = deepgrad.data.spirals(1000, rng=0)              # 2 interleaved spirals, labels 0/1
    X, y = deepgrad.data.teacher(2000, 20, rng=0)          # targets from a random "teacher" MLP
    X, y = deepgrad.data.load_digits()                     # 1797 8x8 images; pip install 'deepgrad[data]'
    (Xtr, ytr), (Xte, yte) = deepgrad.data.train_test_split(X, y, test_size=0.2, rng=0)

Every function returns X of shape (n_samples, n_features) in the requested float
dtype (float32 by default, the layers' default) and y as int64 class labels or as a
float (n_samples, n_outputs) regression target; the same rng gives the same arrays.
"""
import math

import numpy as np

from . import _validate as v
from .init import as_generator, auto_initializer

__all__ = ["load_digits", "spirals", "teacher", "train_test_split"]


def spirals(n_samples=1000, n_classes=2, noise=0.1, turns=1.5, rng=None, dtype=np.float32):
    """`n_classes` interleaved spiral arms in the plane (the classic two-spirals task).

    Arm c is the curve r = t, angle = 2 pi (turns * t + c / n_classes) for t in (0, 1],
    with Gaussian noise of std `noise` (relative to the outer radius 1) added to x and y.
    Samples are split evenly between the arms (the first n_samples % n_classes arms get
    one more) and returned shuffled. Linearly inseparable: a depth test, not a width test.
    Returns X (n_samples, 2) and y (n_samples,) int64.
    """
    func = "spirals"
    n_samples = v.positive_int(n_samples, "n_samples", func)
    n_classes = v.positive_int(n_classes, "n_classes", func)
    if not n_classes >= 2:
        raise ValueError(f"{func}: n_classes must be >= 2, got {n_classes}")
    noise = v.finite_float(noise, "noise", func)
    turns = v.finite_float(turns, "turns", func)
    if noise < 0 or turns <= 0:
        raise ValueError(f"{func}: need noise >= 0 and turns > 0, got noise={noise}, turns={turns}")
    dtype = v.check_dtype_arg(dtype, func)
    gen = as_generator(rng, func)
    counts = [n_samples // n_classes + (c < n_samples % n_classes) for c in range(n_classes)]
    y = np.repeat(np.arange(n_classes, dtype=np.int64), counts)
    t = 1.0 - gen.uniform(0.0, 1.0, size=n_samples)          # (0, 1]: no point exactly at the origin
    angle = 2.0 * math.pi * (turns * t + y / n_classes)
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    X += gen.normal(0.0, noise, size=X.shape)
    order = gen.permutation(n_samples)
    return X[order].astype(dtype), y[order]


_TEACHER_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda h: np.maximum(h, 0.0),
    "sigmoid": lambda h: 0.5 * (1.0 + np.tanh(0.5 * h)),
    "linear": lambda h: h,
}


def teacher(n_samples=1000, in_features=10, out_features=1, hidden=(32, 32), activation="tanh",
            task="regression", noise=0.0, rng=None, dtype=np.float32, return_teacher=False):
    """Inputs X ~ N(0, I) and targets from a random MLP (the teacher), computed in float64.

    The teacher is in_features -> hidden... -> out_features with `activation` between
    the layers, weights drawn with auto_initializer(activation) (so its signal neither
    dies nor explodes with depth) and zero biases. task="regression": y = teacher(X) +
    N(0, noise^2), float (n_samples, out_features); task="classification": y =
    argmax of teacher(X) + noise over out_features >= 2 classes, int64 (n_samples,).
    A student of the teacher's shape can reach zero loss: failures to learn are the
    optimisation's fault, not the model's. return_teacher=True also returns the
    teacher's [(W, b), ...] (W of shape (out, in), float64).
    """
    func = "teacher"
    n_samples = v.positive_int(n_samples, "n_samples", func)
    in_features = v.positive_int(in_features, "in_features", func)
    out_features = v.positive_int(out_features, "out_features", func)
    hidden = tuple(v.positive_int(h, "hidden[i]", func) for h in hidden)
    if activation not in _TEACHER_ACTIVATIONS:
        raise ValueError(f"{func}: activation must be one of {sorted(_TEACHER_ACTIVATIONS)}, got {activation!r}")
    if task not in ("regression", "classification"):
        raise ValueError(f"{func}: task must be 'regression' or 'classification', got {task!r}")
    if task == "classification" and out_features < 2:
        raise ValueError(f"{func}: classification needs out_features >= 2 classes, got {out_features}")
    noise = v.finite_float(noise, "noise", func)
    if noise < 0:
        raise ValueError(f"{func}: noise must be >= 0, got {noise}")
    dtype = v.check_dtype_arg(dtype, func)
    gen = as_generator(rng, func)
    sizes = (in_features, *hidden, out_features)
    init = auto_initializer(activation)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = np.empty((fan_out, fan_in))
        init(W, gen)
        layers.append((W, np.zeros(fan_out)))
    X = gen.standard_normal((n_samples, in_features))
    phi = _TEACHER_ACTIVATIONS[activation]
    h = X
    for k, (W, b) in enumerate(layers):
        h = h @ W.T + b
        if k < len(layers) - 1:
            h = phi(h)
    if noise > 0:
        h = h + gen.normal(0.0, noise, size=h.shape)
    y = np.argmax(h, axis=1).astype(np.int64) if task == "classification" else h.astype(dtype)
    out = (X.astype(dtype), y)
    return (*out, layers) if return_teacher else out


def load_digits(dtype=np.float32, scale=True):
    """scikit-learn's handwritten digits: 1797 images of 8x8 pixels, 10 classes (UCI optdigits test set).

    The data ship inside scikit-learn (no download); install it with
    `pip install 'deepgrad[data]'`. Returns X (1797, 64) — pixel values 0..16, divided
    by 16 when scale=True — and y (1797,) int64 labels 0..9, in the file's order.
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise ImportError("deepgrad.data.load_digits needs scikit-learn, which ships the digits data "
                          "set: pip install 'deepgrad[data]' (or pip install scikit-learn)") from exc
    dtype = v.check_dtype_arg(dtype, "load_digits")
    X, y = _sk_load_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float64)
    if scale:
        X = X / 16.0
    return np.ascontiguousarray(X, dtype=dtype), np.asarray(y, dtype=np.int64)


def train_test_split(X, y, test_size=0.2, rng=None, stratify=False):
    """Shuffle and split: returns (X_train, y_train), (X_test, y_test).

    test_size: a fraction in (0, 1) or a number of samples. stratify=True keeps each
    class's share (y must be int labels): every class contributes round(test_size * its count).
    """
    func = "train_test_split"
    X, y = np.asarray(X), np.asarray(y)
    n = X.shape[0] if X.ndim else 0
    if X.ndim == 0 or y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"{func}: X and y need the same number of samples along axis 0, "
                         f"got shapes {X.shape} and {y.shape}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"{func}: a float test_size must lie in (0, 1), got {test_size}")
        frac = float(test_size)
    else:
        n_test = v.positive_int(test_size, "test_size", func)
        if n_test >= n:
            raise ValueError(f"{func}: test_size={n_test} leaves no training samples out of {n}")
        frac = n_test / n
    gen = as_generator(rng, func)
    if stratify:
        if y.dtype.kind not in "iu" or y.ndim != 1:
            raise TypeError(f"{func}: stratify=True needs 1-d integer labels y, got {y.dtype} {y.shape}")
        test_idx = []
        for c in np.unique(y):
            idx = gen.permutation(np.flatnonzero(y == c))
            test_idx.append(idx[:int(round(frac * idx.size))])
        test_idx = np.sort(np.concatenate(test_idx))
        mask = np.zeros(n, dtype=bool)
        mask[test_idx] = True
        train_idx = gen.permutation(np.flatnonzero(~mask))
        test_idx = gen.permutation(test_idx)
    else:
        perm = gen.permutation(n)
        n_test = int(round(frac * n))
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    return (X[train_idx], y[train_idx]), (X[test_idx], y[test_idx])
