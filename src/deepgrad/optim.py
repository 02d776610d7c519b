"""Optimizers and gradient clipping, update for update as torch.optim / torch.nn.utils.

    opt = deepgrad.optim.SGD(model, lr=0.1, momentum=0.9)     # or a list of Parameters
    opt.zero_grad(); model.backward(...); clip_grad_norm(model, 1.0); opt.step()

Every update works in place on Parameter.data (layers see the new weights without
re-binding) with NumPy ufuncs writing into state and scratch arrays allocated at the
first step, so later steps allocate nothing. Arithmetic follows torch's single-tensor
(CPU, foreach=False) code path operation by operation, in the parameter's dtype.
Agreement is to a few ulps, not bit for bit: torch's CPU kernel for
`p.add_(d, alpha=-lr)` fuses the multiply-add (one rounding, FMA), NumPy rounds the
product and the sum separately (tests: 1e-10 relative in float64 after 20 steps).
"""
import math

import numpy as np

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm", "clip_grad_value"]


def _param_list(params, func):
    """A model (anything with .parameters()), a Parameter or an iterable of them -> list, no duplicates."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    elif hasattr(params, "data") and hasattr(params, "grad"):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{func}: params must be a model with .parameters() or an iterable of "
                        f"Parameters, got {type(params).__name__}") from None
    seen, unique = set(), []
    for i, p in enumerate(params):
        if not (isinstance(getattr(p, "data", None), np.ndarray) and isinstance(getattr(p, "grad", None), np.ndarray)):
            raise TypeError(f"{func}: params[{i}] must have .data and .grad NumPy arrays, got {type(p).__name__}")
        if id(p) not in seen:            # a shared parameter is updated once, as in torch
            seen.add(id(p))
            unique.append(p)
    return unique


def _nonneg(value, name, func):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not value >= 0.0 or math.isinf(value):
        raise ValueError(f"{func}: {name} must be finite and >= 0, got {value}")
    return value


class Optimizer:
    """Shared parts: the parameter list, zero_grad, lazily allocated per-parameter state."""

    def __init__(self, params, lr):
        name = type(self).__name__
        self.params = _param_list(params, name)
        if not self.params:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        self.lr = _nonneg(lr, "lr", name)
        self.state = [None] * len(self.params)     # per-parameter dict of arrays, made at first step
        self.step_count = 0

    def zero_grad(self):
        """Set every gradient to zero (in place: layers keep writing into the same arrays)."""
        for p in self.params:
            p.grad.fill(0)

    def _check(self, i, p):
        if p.grad.shape != p.data.shape or p.grad.dtype != p.data.dtype:
            raise ValueError(f"{type(self).__name__}.step: params[{i}] has grad {p.grad.dtype}{p.grad.shape} "
                             f"but data {p.data.dtype}{p.data.shape}; they must match")

    def _scratch(self, st, key, like):
        a = st.get(key)
        if a is None or a.shape != like.shape or a.dtype != like.dtype:
            a = st[key] = np.empty_like(like)
        return a

    def step(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD.

        d = g + weight_decay * p
        b = d                                      (first step)
        b = momentum * b + (1 - dampening) * d     (later steps)
        d = d + momentum * b  if nesterov  else  b
        p = p - lr * d
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr)
        self.momentum = _nonneg(momentum, "momentum", "SGD")
        self.dampening = float(dampening)
        if not math.isfinite(self.dampening):
            raise ValueError(f"SGD: dampening must be finite, got {dampening}")
        self.weight_decay = _nonneg(weight_decay, "weight_decay", "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def step(self):
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        for i, p in enumerate(self.params):
            st = self.state[i]
            if st is None:
                self._check(i, p)
                st = self.state[i] = {}
            g, w = p.grad, p.data
            s = self._scratch(st, "scratch", w)
            d = g
            if wd != 0:
                np.multiply(w, wd, out=s)            # s = g + wd * p
                np.add(g, s, out=s)
                d = s
            if mu != 0:
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = d.copy()
                else:
                    np.multiply(buf, mu, out=buf)
                    if self.dampening != 0:          # no nesterov here, so d may be overwritten
                        np.multiply(d, 1.0 - self.dampening, out=s)
                        np.add(buf, s, out=buf)
                    else:
                        np.add(buf, d, out=buf)
                if self.nesterov:
                    if d is s:
                        t = self._scratch(st, "scratch2", w)
                        np.multiply(buf, mu, out=t)
                        np.add(s, t, out=s)
                    else:
                        np.multiply(buf, mu, out=s)
                        np.add(d, s, out=s)
                    d = s
                else:
                    d = buf
            np.multiply(d, lr, out=s)                # p = p - lr * d
            np.subtract(w, s, out=w)
        self.step_count += 1


def _betas(betas, func):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{func}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    b1 = _nonneg(b1, "betas[0]", func)
    b2 = _nonneg(b2, "betas[1]", func)
    if not (b1 < 1.0 and b2 < 1.0):
        raise ValueError(f"{func}: betas must lie in [0, 1), got {betas!r}")
    return b1, b2


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) as torch.optim.Adam, L2 weight decay added to the gradient.

        g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    amsgrad=True uses the running maximum of v in the denominator.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr)
        name = type(self).__name__
        self.betas = _betas(betas, name)
        self.eps = _nonneg(eps, "eps", name)
        self.weight_decay = _nonneg(weight_decay, "weight_decay", name)
        self.amsgrad = bool(amsgrad)

    def step(self):
        lr, eps, wd = self.lr, self.eps, self.weight_decay
        b1, b2 = self.betas
        t = self.step_count + 1
        bias_correction1 = 1 - b1 ** t
        bias_correction2_sqrt = math.sqrt(1 - b2 ** t)
        step_size = lr / bias_correction1
        for i, p in enumerate(self.params):
            st = self.state[i]
            if st is None:
                self._check(i, p)
                st = self.state[i] = {"exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
                if self.amsgrad:
                    st["max_exp_avg_sq"] = np.zeros_like(p.data)
            g, w = p.grad, p.data
            m, v = st["exp_avg"], st["exp_avg_sq"]
            s = self._scratch(st, "scratch", w)
            s2 = self._scratch(st, "scratch2", w)
            if wd != 0:
                if self._decoupled:
                    np.multiply(w, 1 - lr * wd, out=w)          # AdamW: p *= 1 - lr * wd
                else:
                    np.multiply(w, wd, out=s2)                  # Adam: g = g + wd * p
                    np.add(g, s2, out=s2)
                    g = s2
            # m.lerp_(g, 1 - b1): torch's lerp picks the form by the weight
            weight = 1 - b1
            np.subtract(g, m, out=s)
            if weight < 0.5:
                np.multiply(s, weight, out=s)
                np.add(m, s, out=m)
            else:
                np.multiply(s, 1 - weight, out=s)
                np.subtract(g, s, out=m)
            # v = v * b2 + (1 - b2) * g * g
            np.multiply(g, 1 - b2, out=s)
            np.multiply(s, g, out=s)
            np.multiply(v, b2, out=v)
            np.add(v, s, out=v)
            if self.amsgrad:
                vmax = st["max_exp_avg_sq"]
                np.maximum(vmax, v, out=vmax)
                np.sqrt(vmax, out=s)
            else:
                np.sqrt(v, out=s)
            np.divide(s, bias_correction2_sqrt, out=s)          # denom
            np.add(s, eps, out=s)
            np.multiply(m, step_size, out=s2)                   # p = p - step_size * m / denom
            np.divide(s2, s, out=s2)
            np.subtract(w, s2, out=w)
        self.step_count = t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019) as torch.optim.AdamW.

    p = p * (1 - lr * weight_decay) first, then the Adam step without L2 term.
    The default weight_decay is 0.01, as torch's.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


# ---------------------------------------------------------------------------- clipping

def _grad_norm(g, norm_type):
    """The norm of one gradient in its own dtype (as torch.linalg.vector_norm), as a float."""
    flat = g.reshape(-1)
    if flat.size == 0:
        return 0.0
    if norm_type == 2.0:
        return float(np.sqrt(np.einsum("i,i->", flat, flat)))  # not np.dot: no BLAS threads
    if math.isinf(norm_type):
        return float(np.max(np.abs(flat)) if norm_type > 0 else np.min(np.abs(flat)))
    return float(np.linalg.norm(flat, norm_type))


def grad_norms(params, norm_type=2.0):
    """The norm of each parameter's gradient (floats, in the order of params)."""
    return [_grad_norm(p.grad, float(norm_type)) for p in _param_list(params, "grad_norms")]


def _total_norm(norms, norm_type):
    if not norms:
        return 0.0
    a = np.asarray(norms, dtype=np.float64)
    if math.isinf(norm_type):
        return float(a.max() if norm_type > 0 else a.min())
    return float(np.linalg.norm(a, norm_type))


def clip_grad_norm(params, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their total norm is at most max_norm; return the norm before.

    As torch.nn.utils.clip_grad_norm_: total = norm of the per-gradient norms;
    coef = max_norm / (total + 1e-6); gradients are multiplied by coef when coef < 1
    (below max_norm nothing is touched). A non-finite total scales by 0 (inf) or NaN
    (NaN), as torch does, unless error_if_nonfinite raises RuntimeError first.
    Returns the total norm as a Python float.
    """
    params = _param_list(params, "clip_grad_norm")
    max_norm = float(max_norm)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm: max_norm must be >= 0, got {max_norm}")
    norm_type = float(norm_type)
    total = _total_norm([_grad_norm(p.grad, norm_type) for p in params], norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm: the total norm of order {norm_type} of the gradients is "
                           f"non-finite ({total}), so it cannot be clipped; pass error_if_nonfinite=False "
                           f"to scale them anyway (by 0 or NaN, as torch)")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        with np.errstate(invalid="ignore"):        # inf * 0 -> NaN, as in torch, without a warning
            for p in params:
                np.multiply(p.grad, coef, out=p.grad)
    return total


def clip_grad_value(params, clip_value):
    """Clamp every gradient element to [-clip_value, clip_value] in place (NaN stays NaN).

    As torch.nn.utils.clip_grad_value_; clip_value must be >= 0 (torch does not check).
    """
    params = _param_list(params, "clip_grad_value")
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value: clip_value must be >= 0, got {clip_value}")
    for p in params:
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
