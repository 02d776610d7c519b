"""A small training loop: deepgrad.train(model, loss, optimizer, X, y, epochs, batch_size).

    hist = deepgrad.train(model, CrossEntropyLoss(), Adam(model, lr=1e-3), X, y,
                          epochs=20, batch_size=64, clip=1.0, rng=0)
    hist.loss[-1], hist.accuracy[-1], hist.grad_norms["0.Dense"]

Protocols it relies on: model.forward/backward/parameters/train/eval (deepgrad.layers),
loss.forward(pred, target) -> float and loss.backward() -> gradient wrt pred (mean
reduction), optimizer.zero_grad()/step() (deepgrad.optim).

(This module is deepgrad.training; deepgrad.train is the function, so that
`from deepgrad import train` and `import deepgrad; deepgrad.train(...)` both give it.)
"""
from dataclasses import dataclass, field
import math
import sys
import time

import numpy as np

from .init import as_generator
from .optim import clip_grad_norm

__all__ = ["History", "train"]


@dataclass
class History:
    """What train() measured.

    Per epoch: loss (sample-weighted mean of the batch losses), accuracy (share of
    argmax(pred) == y over the epoch's batches, as the model was during the epoch;
    None when y is not integer class labels), epoch_time (seconds), and val_loss /
    val_accuracy (eval mode, after the epoch) when validation data were given.
    Per logged step (every log_every optimizer steps, counted from 0): steps (the step
    index), grad_norm (total L2 norm of all gradients before clipping) and grad_norms
    {layer name: L2 norm of that layer's parameter gradients, before clipping}, layer
    names being "<index>.<class>" for each top-level layer that has parameters.
    stopped: None, or why training stopped early (a non-finite loss).
    """

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    grad_norm: list = field(default_factory=list)
    grad_norms: dict = field(default_factory=dict)
    stopped: object = None

    @property
    def epochs(self):
        return len(self.loss)

    def to_dict(self):
        """Plain lists, dicts, floats and None (json.dumps-able; NaN/inf stay floats)."""
        return {
            "loss": list(self.loss), "accuracy": list(self.accuracy),
            "val_loss": list(self.val_loss), "val_accuracy": list(self.val_accuracy),
            "epoch_time": list(self.epoch_time), "steps": list(self.steps),
            "grad_norm": list(self.grad_norm),
            "grad_norms": {k: list(v) for k, v in self.grad_norms.items()},
            "stopped": self.stopped,
        }


def _layer_groups(model):
    """[(name, [Parameter, ...]), ...]: one entry per top-level layer with parameters."""
    children = list(model.children()) if callable(getattr(model, "children", None)) else []
    if not children:
        params = list(model.parameters())
        return [(type(model).__name__, params)] if params else []
    groups = []
    for i, child in enumerate(children):
        params = list(child.parameters())
        if params:
            groups.append((f"{i}.{type(child).__name__}", params))
    return groups


def _sq_norm(params):
    """Sum of squared gradient entries, in float64."""
    total = 0.0
    for p in params:
        g = p.grad.reshape(-1).astype(np.float64, copy=False)
        total += float(np.einsum("i,i->", g, g))  # not np.dot: no BLAS threads
    return total


def _is_labels(y):
    return y.dtype.kind in "iu" and y.ndim == 1


class _Accuracy:
    """Running count of correct argmax predictions over batches. It stops counting (value()
    is None) when the targets are not class labels or a prediction has no class axis."""

    def __init__(self, labels):
        self.ok, self.correct = bool(labels), 0

    def add(self, pred, yb):
        if not self.ok:
            return
        pred = np.asarray(pred)
        if pred.ndim != 2 or pred.shape[1] < 2:
            self.ok = False
            return
        self.correct += int(np.count_nonzero(np.argmax(pred, axis=1) == yb))

    def value(self, n):
        return self.correct / n if self.ok and n else None


def _check_data(X, y, func, name_x="X", name_y="y"):
    if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"{func}: {name_x} and {name_y} must be numpy.ndarrays, got "
                        f"{type(X).__name__} and {type(y).__name__}")
    if X.ndim < 1 or y.ndim < 1 or X.shape[0] != y.shape[0]:
        raise ValueError(f"{func}: {name_x} and {name_y} need the same number of samples along axis 0, "
                         f"got shapes {X.shape} and {y.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{func}: {name_x} has no samples")


def _evaluate(model, loss, X, y, batch_size):
    was_training = getattr(model, "training", True)
    model.eval()
    total_loss, n = 0.0, X.shape[0]
    accuracy = _Accuracy(_is_labels(y))
    try:
        for start in range(0, n, batch_size):
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            pred = model.forward(xb)
            total_loss += float(loss.forward(pred, yb)) * xb.shape[0]
            accuracy.add(pred, yb)
    finally:
        model.train(was_training)
    return total_loss / n, accuracy.value(n)


def _progress_enabled(progress):
    if progress is not None:
        return bool(progress)
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def train(model, loss, optimizer, X, y, epochs=10, batch_size=32, clip=None, rng=None,
          log_every=1, progress=None, validation=None, shuffle=True, stop_on_nonfinite=True):
    """Train `model` with mini-batches; return a History.

    Each epoch draws a permutation of the samples from `rng` (None | int | Generator,
    see deepgrad.init.as_generator; the same seed gives the same run bit for bit at a
    given thread count) and walks it in batches of batch_size (the last one smaller).
    Each step: optimizer.zero_grad(); pred = model.forward(xb); loss.forward(pred, yb);
    model.backward(loss.backward()); gradient norms are logged every `log_every` steps
    (before clipping); clip_grad_norm(model, clip) when clip is given; optimizer.step().
    The model is in train mode during training and left in train mode.

    validation: (X_val, y_val) evaluated in eval mode after each epoch.
    progress: True/False, or None for a rich progress bar only when stdout is a terminal.
    stop_on_nonfinite: stop at the first NaN/inf batch loss (History.stopped says where).
    """
    func = "train"
    _check_data(X, y, func)
    for name, val, zero_ok in (("epochs", epochs, True), ("batch_size", batch_size, False),
                               ("log_every", log_every, False)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
            raise TypeError(f"{func}: {name} must be an int, got {type(val).__name__}")
        if val < 0 or (val == 0 and not zero_ok):
            raise ValueError(f"{func}: {name} must be {'>= 0' if zero_ok else '> 0'}, got {val}")
    if clip is not None:
        clip = float(clip)
        if not clip > 0:
            raise ValueError(f"{func}: clip (max gradient norm) must be > 0 or None, got {clip}")
    if validation is not None:
        try:
            Xv, yv = validation
        except (TypeError, ValueError):
            raise TypeError(f"{func}: validation must be a pair (X_val, y_val)") from None
        _check_data(Xv, yv, func, "validation[0]", "validation[1]")
    for name in ("forward", "backward"):
        if not callable(getattr(loss, name, None)):
            raise TypeError(f"{func}: loss must have forward(pred, target) and backward(), "
                            f"got {type(loss).__name__}")
    gen = as_generator(rng, func)
    n = X.shape[0]
    batch_size = min(int(batch_size), n)
    n_batches = -(-n // batch_size)
    labels = _is_labels(y)
    groups = _layer_groups(model)
    all_params = [p for _, ps in groups for p in ps]
    hist = History(grad_norms={name: [] for name, _ in groups})

    # batch buffers: gathered with np.take(out=...), allocated once per batch shape
    xbufs, ybufs = {}, {}

    def gather(src, idx, bufs):
        m = idx.shape[0]
        buf = bufs.get(m)
        if buf is None:
            buf = bufs[m] = np.empty((m,) + src.shape[1:], dtype=src.dtype)
        np.take(src, idx, axis=0, out=buf)
        return buf

    show = _progress_enabled(progress)
    bar = None
    if show:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[status]}"), TimeElapsedColumn(), transient=False)
        bar.start()
        task = bar.add_task("training", total=epochs * n_batches, status="")

    model.train()
    step = 0
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            order = gen.permutation(n) if shuffle else np.arange(n)
            total_loss, accuracy = 0.0, _Accuracy(labels)
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = gather(X, idx, xbufs), gather(y, idx, ybufs)
                optimizer.zero_grad()
                pred = model.forward(xb)
                batch_loss = float(loss.forward(pred, yb))
                if not math.isfinite(batch_loss) and stop_on_nonfinite:
                    hist.stopped = f"non-finite loss ({batch_loss}) at epoch {epoch}, step {step}"
                    break
                accuracy.add(pred, yb)
                total_loss += batch_loss * idx.shape[0]
                model.backward(loss.backward())
                if step % log_every == 0:
                    hist.steps.append(step)
                    total_sq = 0.0
                    for name, ps in groups:
                        sq = _sq_norm(ps)
                        total_sq += sq
                        hist.grad_norms[name].append(math.sqrt(sq))
                    hist.grad_norm.append(math.sqrt(total_sq))
                if clip is not None:
                    clip_grad_norm(all_params, clip)
                optimizer.step()
                step += 1
                if bar is not None:
                    bar.advance(task)
            if hist.stopped is None:
                hist.loss.append(total_loss / n)
                hist.accuracy.append(accuracy.value(n))
            else:                                   # the epoch's loss is what went non-finite
                seen = b * batch_size
                hist.loss.append(math.nan)
                hist.accuracy.append(accuracy.value(seen))
            if validation is not None and hist.stopped is None:
                vl, va = _evaluate(model, loss, Xv, yv, batch_size)
                hist.val_loss.append(vl)
                hist.val_accuracy.append(va)
            hist.epoch_time.append(time.perf_counter() - t0)
            if bar is not None:
                status = f"epoch {epoch + 1}/{epochs} loss {hist.loss[-1]:.4g}"
                if hist.accuracy[-1] is not None:
                    status += f" acc {hist.accuracy[-1]:.3f}"
                bar.update(task, status=status)
            if hist.stopped is not None:
                break
    finally:
        if bar is not None:
            bar.stop()
    return hist
