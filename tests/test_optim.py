"""SGD / Adam / AdamW and gradient clipping against torch.optim / torch.nn.utils, step for step."""
import json
import math
import tracemalloc

import numpy as np
import pytest

from deepgrad.layers import Parameter
from deepgrad.optim import SGD, Adam, AdamW, clip_grad_norm, clip_grad_value, grad_norms

SHAPES = [(7, 13), (13,), (3, 1, 5), (1,)]
# relative tolerances; the small atol (rtol/10 of the parameters' O(1) scale) covers elements that
# cancel to near 0, where torch's fused multiply-add and NumPy's two roundings differ by an ulp of
# the operands, not of the result
TOL = {np.float64: dict(rtol=1e-10, atol=1e-11), np.float32: dict(rtol=1e-5, atol=1e-6)}
N_STEPS = 20


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(s).astype(dtype), name=f"p{i}") for i, s in enumerate(SHAPES)]


def grad_sequence(dtype, seed=1):
    """N_STEPS lists of gradients of varied scale (so Adam's denominators differ by element)."""
    rng = np.random.default_rng(seed)
    return [[(rng.standard_normal(s) * rng.choice([1e-3, 1.0, 10.0])).astype(dtype) for s in SHAPES]
            for _ in range(N_STEPS)]


def run_pair(make_ours, make_theirs, dtype, lr_change=None):
    torch = pytest.importorskip("torch")
    ours = make_params(dtype)
    theirs = [torch.nn.Parameter(torch.from_numpy(p.data.copy())) for p in ours]
    opt, topt = make_ours(ours), make_theirs(theirs)
    for step, grads in enumerate(grad_sequence(dtype)):
        if lr_change is not None and step == N_STEPS // 2:
            opt.lr = lr_change
            for group in topt.param_groups:
                group["lr"] = lr_change
        for p, tp, g in zip(ours, theirs, grads):
            p.grad[...] = g
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for p, tp, g in zip(ours, theirs, grads):
            assert p.data.dtype == dtype
            np.testing.assert_allclose(p.data, tp.detach().numpy(), **TOL[dtype],
                                       err_msg=f"step {step}, {p.name}")
            np.testing.assert_array_equal(p.grad, g)       # the gradient is not modified
    return opt


DTYPES = [np.float64, np.float32]

SGD_CONFIGS = [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.5, nesterov=True, weight_decay=0.05),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", SGD_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_sgd_matches_torch(cfg, dtype):
    torch = pytest.importorskip("torch")
    run_pair(lambda ps: SGD(ps, **cfg), lambda ps: torch.optim.SGD(ps, **cfg), dtype)


ADAM_CONFIGS = [
    dict(lr=1e-2),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, amsgrad=True),
    dict(lr=3e-3, betas=(0.3, 0.9), weight_decay=0.05, amsgrad=True),   # 1 - beta1 >= 0.5: lerp's other form
    dict(lr=1e-2, betas=(0.0, 0.0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", ADAM_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_matches_torch(name, cfg, dtype):
    torch = pytest.importorskip("torch")
    ours, theirs = {"Adam": (Adam, torch.optim.Adam), "AdamW": (AdamW, torch.optim.AdamW)}[name]
    run_pair(lambda ps: ours(ps, **cfg), lambda ps: theirs(ps, **cfg), dtype)


def test_adamw_default_weight_decay_matches_torch():
    torch = pytest.importorskip("torch")
    assert AdamW(make_params(np.float64)).weight_decay == torch.optim.AdamW([torch.zeros(1)]).defaults["weight_decay"]
    run_pair(lambda ps: AdamW(ps, lr=1e-2), lambda ps: torch.optim.AdamW(ps, lr=1e-2), np.float64)


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.01, weight_decay=0.1)], ids=["SGD", "Adam"])
def test_learning_rate_change_mid_run_matches_torch(make):
    torch = pytest.importorskip("torch")
    topt = {SGD: lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
            Adam: lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1)}
    kind = type(make(make_params(np.float64)))
    run_pair(make, topt[kind], np.float64, lr_change=0.003)


def test_adam_bias_correction_first_step_is_lr_times_sign():
    # bias-corrected m^ = g and v^ = g^2 at step 1, so the step is lr * g / (|g| + eps) ~ lr * sign(g)
    # (uncorrected it would be lr * 0.1 g / (0.0316 |g|) ~ 3.16 lr: the test tells them apart)
    g = np.array([3.0, -2.0, 1e-3, -1e-3, 5.0])
    p = Parameter(np.zeros(5))
    p.grad[...] = g
    Adam([p], lr=0.1, eps=1e-12).step()
    np.testing.assert_allclose(p.data, -0.1 * g / (np.abs(g) + 1e-12), rtol=1e-12)


def test_adamw_decay_is_decoupled():
    # zero gradient: Adam's L2 term still moves p through m/v; AdamW only shrinks p by (1 - lr wd)
    p = Parameter(np.full(4, 2.0))
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_array_equal(p.data, np.full(4, 2.0 * (1 - 0.1 * 0.5)))
    q = Parameter(np.full(4, 2.0))
    Adam([q], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(q.data, 2.0 - 0.1, rtol=1e-7)


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True),
    lambda ps: AdamW(ps, lr=0.1)], ids=["sgd", "nesterov-wd", "dampening-wd", "adam-amsgrad", "adamw"])
def test_step_updates_in_place_and_allocates_nothing(make):
    rng = np.random.default_rng(0)
    params = [Parameter(rng.standard_normal((256, 512))), Parameter(rng.standard_normal(512))]
    data_ids = [id(p.data) for p in params]
    opt = make(params)
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape)
    opt.step()
    opt.step()                                   # state (momentum buffer) now exists
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(3):
            opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 16 * 1024, f"step allocated {peak - before} bytes (a parameter is {params[0].data.nbytes})"
    assert [id(p.data) for p in params] == data_ids


def test_accepts_model_and_deduplicates_shared_parameters():
    shared = Parameter(np.ones(3))

    class Model:
        def parameters(self):
            return [shared, Parameter(np.ones(2)), shared]

    opt = SGD(Model(), lr=1.0)
    assert len(opt.params) == 2
    shared.grad[...] = 1.0
    opt.step()
    np.testing.assert_array_equal(shared.data, 0.0)    # updated once, not twice
    opt2 = SGD(shared, lr=1.0)                          # a single Parameter
    assert opt2.params == [shared]


def test_zero_grad_keeps_the_arrays():
    params = make_params(np.float64)
    ids = [id(p.grad) for p in params]
    for p in params:
        p.grad[...] = 1.0
    Adam(params).zero_grad()
    assert all(not p.grad.any() for p in params)
    assert [id(p.grad) for p in params] == ids


@pytest.mark.parametrize("call, exc", [
    (lambda: SGD([], lr=0.1), ValueError),
    (lambda: SGD(make_params(np.float64), lr=-0.1), ValueError),
    (lambda: SGD(make_params(np.float64), lr=math.nan), ValueError),
    (lambda: SGD(make_params(np.float64), lr="0.1"), TypeError),
    (lambda: SGD(make_params(np.float64), lr=0.1, momentum=-0.5), ValueError),
    (lambda: SGD(make_params(np.float64), lr=0.1, nesterov=True), ValueError),
    (lambda: SGD(make_params(np.float64), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError),
    (lambda: SGD(make_params(np.float64), lr=0.1, weight_decay=-1.0), ValueError),
    (lambda: Adam(make_params(np.float64), betas=(1.0, 0.9)), ValueError),
    (lambda: Adam(make_params(np.float64), betas=0.9), TypeError),
    (lambda: Adam(make_params(np.float64), eps=-1e-8), ValueError),
    (lambda: Adam([np.zeros(3)]), TypeError),
    (lambda: Adam(42), TypeError),
])
def test_invalid_arguments(call, exc):
    with pytest.raises(exc):
        call()


def test_mismatched_grad_raises_at_first_step():
    p = Parameter(np.zeros(3))
    p.grad = np.zeros(4)
    with pytest.raises(ValueError, match="params\\[0\\]"):
        SGD([p], lr=0.1).step()


# ---------------------------------------------------------------------------- clipping

def grads_params(dtype, scale, seed=3):
    rng = np.random.default_rng(seed)
    params = make_params(dtype, seed)
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape) * scale
    return params


def torch_copy(params):
    torch = pytest.importorskip("torch")
    out = []
    for p in params:
        tp = torch.nn.Parameter(torch.from_numpy(p.data.copy()))
        tp.grad = torch.from_numpy(p.grad.copy())
        out.append(tp)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm):
    torch = pytest.importorskip("torch")
    params = grads_params(dtype, 2.0)
    tparams = torch_copy(params)
    before = [p.grad.copy() for p in params]
    total = clip_grad_norm(params, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, float(ttotal), **TOL[dtype])
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), **TOL[dtype])
    if max_norm > total:                       # below max_norm nothing is scaled: the bits stay
        for p, b in zip(params, before):
            np.testing.assert_array_equal(p.grad, b)
    else:                                      # clipped to max_norm (up to torch's 1e-6 in the coefficient)
        after = clip_grad_norm(params, math.inf, norm_type=norm_type)
        np.testing.assert_allclose(after, max_norm, rtol=1e-5)


def test_clip_grad_norm_returns_the_norm_before_clipping():
    params = grads_params(np.float64, 1.0)
    expected = math.sqrt(sum(float(np.sum(p.grad ** 2)) for p in params))
    assert clip_grad_norm(params, 0.1) == pytest.approx(expected, rel=1e-12)
    assert math.sqrt(sum(float(np.sum(p.grad ** 2)) for p in params)) == pytest.approx(0.1, rel=1e-5)
    assert grad_norms(params)[0] == pytest.approx(float(np.linalg.norm(params[0].grad)), rel=1e-12)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_clip_grad_norm_nonfinite_behaves_as_torch(bad):
    torch = pytest.importorskip("torch")
    params = grads_params(np.float64, 1.0)
    params[1].grad[2] = bad
    tparams = torch_copy(params)
    total = clip_grad_norm(params, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, 1.0, error_if_nonfinite=False)
    np.testing.assert_array_equal(total, float(ttotal))          # inf or nan, as torch
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())   # 0 / NaN where torch has them
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm(grads_params(np.float64, 1.0) + [params[1]], 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_edge_cases():
    assert clip_grad_norm([], 1.0) == 0.0
    p = Parameter(np.zeros(3))
    assert clip_grad_norm([p], 1.0) == 0.0 and not p.grad.any()
    with pytest.raises(ValueError):
        clip_grad_norm([p], -1.0)
    with pytest.raises(ValueError):
        clip_grad_norm([p], math.nan)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_value_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    params = grads_params(dtype, 3.0)
    params[0].grad[0, 0] = math.nan
    params[0].grad[0, 1] = math.inf
    params[0].grad[0, 2] = -math.inf
    tparams = torch_copy(params)
    assert clip_grad_value(params, 0.7) is None
    torch.nn.utils.clip_grad_value_(tparams, 0.7)
    for p, tp in zip(params, tparams):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
    assert np.isnan(params[0].grad[0, 0]) and params[0].grad[0, 1] == dtype(0.7)
    with pytest.raises(ValueError):
        clip_grad_value(params, -1.0)


def test_state_is_plain_arrays():
    opt = Adam(make_params(np.float64), lr=0.1)
    opt.step()
    assert opt.step_count == 1
    assert set(opt.state[0]) >= {"exp_avg", "exp_avg_sq"}
    json.dumps({"lr": opt.lr, "steps": opt.step_count})
