"""The degradation experiment of He et al. 2016 (Deep Residual Learning), at MLP scale on digits.

    PYTHONPATH=src python benches/degradation.py                 # the default table, a few minutes
    PYTHONPATH=src python benches/degradation.py --depths 2 8 32 --epochs 10 --csv out.csv

He et al. observed that deeper *plain* networks end with a higher training error than
shallower ones -- although a deeper net could copy the shallow one and add identity
layers -- and that the same networks with residual connections do not: the deeper
residual net trains to a lower loss. It is an optimisation problem, not overfitting
(the training loss is what degrades) and, with BatchNorm, not a vanishing-gradient one.

Setup (every row, every column): scikit-learn's digits (1797 x 64 pixels scaled to [0, 1],
10 classes; needs scikit-learn), the whole set as training set; deepgrad.mlp(depth, width=64,
64 -> 10, ReLU, init="auto" (He)) -- plain: depth x [Dense, norm, ReLU]; residual: a stem,
depth x (x + ReLU(Dense(norm(x)))) (pre-norm), the head; SGD(lr=0.01, momentum=0.9), batch 64,
global gradient norm clipped to 1 (without it both kinds of deep net have loss spikes at this
lr and the last epoch's loss is noise), 20 epochs, model seed 0, shuffle seed 0, float32. Reported: the mean training loss of
the last epoch (History.loss[-1]) and the training accuracy after training (eval mode).
Columns: plain and residual with BatchNorm (as in the paper) and, with --no-norm, without
any norm (plain He-init vs residual: there vanishing/exploding gradients are in play too).
"""
import argparse
import csv
import math
import sys
import time

import numpy as np

import deepgrad
from deepgrad import CrossEntropyLoss, SGD


def run(depth, residual, norm, X, y, epochs, lr, width, clip=None):
    model = deepgrad.mlp(depth, width, X.shape[1], 10, activation="relu", residual=residual, norm=norm,
                         norm_position="pre", init="auto", rng=0)
    t = time.perf_counter()
    hist = deepgrad.train(model, CrossEntropyLoss(), SGD(model, lr=lr, momentum=0.9), X, y,
                          epochs=epochs, batch_size=64, rng=0, progress=False, clip=clip)
    seconds = time.perf_counter() - t
    model.eval()
    pred = model.forward(X)
    acc = float(np.mean(np.argmax(pred, axis=1) == y))
    final = hist.loss[-1] if hist.stopped is None else math.nan
    return dict(depth=depth, net=("residual" if residual else "plain") + ("" if norm is None else f"+{norm}"),
                final_loss=final, first_epoch_loss=hist.loss[0], train_acc=acc, seconds=seconds,
                stopped=hist.stopped)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8, 16, 32, 48, 64])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--clip", type=float, default=1.0, help="clip the global gradient norm (0: no clipping)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-norm", action="store_true", help="also run plain and residual nets without a norm")
    p.add_argument("--csv", help="also write the rows to this CSV file")
    args = p.parse_args(argv)
    deepgrad.set_num_threads(args.threads)
    X, y = deepgrad.data.load_digits()
    variants = [(False, "batchnorm"), (True, "batchnorm")]
    if args.no_norm:
        variants += [(False, None), (True, None)]
    rows = []
    print(f"digits {X.shape}, width {args.width}, SGD(lr={args.lr}, momentum=0.9), batch 64, "
          f"{args.epochs} epochs, clip={args.clip}; final training loss (training accuracy)", flush=True)
    header = f"{'depth':>5} " + " ".join(f"{('residual' if r else 'plain') + ('+' + n if n else ''):>22}"
                                         for r, n in variants)
    print(header, flush=True)
    for depth in args.depths:
        cells = []
        for residual, norm in variants:
            r = run(depth, residual, norm, X, y, args.epochs, args.lr, args.width, args.clip or None)
            rows.append(r)
            loss = "diverged" if math.isnan(r["final_loss"]) else f"{r['final_loss']:.4f}"
            cells.append(f"{loss:>12} ({r['train_acc']:.3f})")
        print(f"{depth:>5} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    total = sum(r["seconds"] for r in rows)
    print(f"\ntraining time {total:.0f} s, {args.threads} thread(s)")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
