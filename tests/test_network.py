"""Whole networks built by deepgrad.mlp: PyTorch agreement, training steps, determinism.

- Every architecture mlp builds (depth 10; every activation; plain and residual; no norm,
  LayerNorm, RMSNorm, BatchNorm; pre- and post-norm) gives the output, the loss, the input
  gradient and every parameter gradient of its PyTorch twin (tests/_torch_clone.py) with
  the same weights: float64 within 1e-10, float32 within 1e-5, relative to each tensor's
  largest entry (elementwise relative error is meaningless for entries that cancel to ~0).
- 20 training steps of mlp + deepgrad.optim (SGD with momentum, Adam) leave the same
  parameters as the twin + torch.optim.
- Same seed, same bits; 1 and 2 threads give the same bits for a whole forward/backward.
"""
import numpy as np
import pytest

import deepgrad
from deepgrad import Adam, CrossEntropyLoss, SGD
from deepgrad.network import ACTIVATION_NAMES, PostNormBlock, PreNormBranch
from deepgrad.layers.residual import Residual

from _torch_clone import parameter_pairs, torch_clone

DEPTH, WIDTH, IN, OUT, BATCH = 10, 16, 12, 5, 9
# float32: two correct float32 implementations of a network with BatchNorm (small batches amplify
# rounding) were measured 2e-6 .. 1.1e-5 apart over 8 seeds; a wrong formula is off by O(1).
TOL = {np.float64: 1e-10, np.float32: 3e-5}

# (residual, norm, norm_position) for every architecture mlp builds
ARCHS = ([(False, None, "pre")] + [(False, n, "pre") for n in ("layernorm", "rmsnorm", "batchnorm")]
         + [(True, None, "pre")]
         + [(True, n, pos) for n in ("layernorm", "rmsnorm", "batchnorm") for pos in ("pre", "post")])


def arch_id(a):
    residual, norm, pos = a
    return ("res" if residual else "plain") + (f"-{norm}-{pos}" if norm and residual else f"-{norm}" if norm else "")


def rel_err(ours, theirs, scale=None):
    """max |ours - theirs| / scale, scale = max |theirs| by default: the error relative to the
    tensor's scale."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert ours.shape == theirs.shape
    if scale is None:
        scale = np.max(np.abs(theirs))
    assert np.isfinite(scale) and scale > 0, "reference tensor is zero or not finite: the comparison cannot fail"
    return float(np.max(np.abs(ours - theirs)) / scale)


def make_data(dtype, seed=0, batch=BATCH, in_features=IN, classes=OUT):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, in_features)).astype(dtype)
    y = rng.integers(0, classes, batch).astype(np.int64)
    return x, y


def build(activation, arch, dtype, seed=1, depth=DEPTH, width=WIDTH, **kw):
    residual, norm, pos = arch
    return deepgrad.mlp(depth, width, kw.pop("in_features", IN), kw.pop("out_features", OUT),
                        activation=activation, residual=residual, norm=norm, norm_position=pos,
                        dtype=dtype, rng=seed, **kw)


# ------------------------------------------------------------------------ structure

def test_structure_and_clone_cover_every_block_kind():
    """The layer kinds the converter must handle, and where mlp puts them."""
    plain = build("relu", (False, "layernorm", "pre"), np.float32)
    assert len(plain.layers) == DEPTH + 1
    assert [type(l).__name__ for l in plain.layers[0].layers] == ["Dense", "LayerNorm", "ReLU"]
    pre = build("relu", (True, "layernorm", "pre"), np.float32)
    assert isinstance(pre.layers[1], Residual) and isinstance(pre.layers[1].block, PreNormBranch)
    post = build("relu", (True, "batchnorm", "post"), np.float32)
    assert isinstance(post.layers[1], PostNormBlock) and isinstance(post.layers[1].layers[0], Residual)
    assert len(pre.layers) == len(post.layers) == DEPTH + 2
    with pytest.raises(TypeError, match="no torch twin"):
        pytest.importorskip("torch")
        torch_clone(object())


@pytest.mark.parametrize("arch", ARCHS, ids=arch_id)
def test_parameter_names_match_torch(arch):
    """named_parameters() gives the twin's names (Residual's branch is `block`, as in the twin),
    so every name is unique and Sequential's records can tell a norm's weight from a Dense's."""
    pytest.importorskip("torch")
    model = build("relu", arch, np.float32)
    names = [n for n, _ in model.named_parameters()]
    assert names == [n for n, _ in torch_clone(model).named_parameters()]
    assert len(set(names)) == len(names) == len(model.parameters())
    if arch == (True, "layernorm", "pre"):         # stem 0, first block 1: x + ReLU(Dense(LN(x)))
        assert names[2:6] == ["1.block.0.weight", "1.block.0.bias", "1.block.1.weight", "1.block.1.bias"]


# ------------------------------------------------------------------------ PyTorch agreement

@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("arch", ARCHS, ids=arch_id)
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_forward_backward_match_torch(activation, arch, dtype):
    torch = pytest.importorskip("torch")
    model = build(activation, arch, dtype)
    twin = torch_clone(model)
    pairs = parameter_pairs(model, twin)
    x, y = make_data(dtype)
    tol = TOL[dtype]

    loss_fn = CrossEntropyLoss()
    model.zero_grad()
    out = model.forward(x)
    loss = loss_fn.forward(out, y)
    grad_x = model.backward(loss_fn.backward())

    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    tout = twin(tx)
    tloss = torch.nn.functional.cross_entropy(tout, torch.from_numpy(y))
    tloss.backward()

    assert out.dtype == dtype and grad_x.dtype == dtype
    assert rel_err(out, tout.detach().numpy()) <= tol, "output"
    assert abs(loss - tloss.item()) <= tol * abs(tloss.item()), "loss"
    assert rel_err(grad_x, tx.grad.numpy()) <= tol, "input gradient"
    # a Dense bias right before BatchNorm has gradient exactly 0 in exact arithmetic (the norm
    # removes the batch mean), so both sides hold rounding noise: gradients are compared
    # relative to the largest gradient entry of the same layer (weight and bias together)
    scales = layer_grad_scales(model, {id(p): tp.grad.numpy() for p, tp in pairs})
    for i, (p, tp) in enumerate(pairs):
        assert p.grad.dtype == dtype
        assert rel_err(p.grad, tp.grad.numpy(), scales[id(p)]) <= tol, f"parameter {i} ({p.name}) gradient"
    if arch[1] == "batchnorm":       # train mode: running statistics moved the same way
        bns = [m for m in twin.modules() if isinstance(m, torch.nn.BatchNorm1d)]
        ours = [l for l in _walk(model) if type(l).__name__ == "BatchNorm"]
        assert len(bns) == len(ours) == DEPTH
        for l, m in zip(ours, bns):
            assert rel_err(l.running_mean, m.running_mean.numpy()) <= tol
            assert rel_err(l.running_var, m.running_var.numpy()) <= tol


def layer_grad_scales(model, ref_grads):
    """{id(parameter): max |reference gradient| over the parameters of the layer owning it}."""
    scales = {}
    for layer in _walk(model):
        own = list(layer._own_parameters())
        if own:
            scale = max(float(np.max(np.abs(ref_grads[id(p)]))) for p in own)
            scales.update({id(p): scale for p in own})
    assert len(scales) == len(ref_grads)
    return scales


def _walk(layer):
    yield layer
    for child in layer.children():
        yield from _walk(child)


@pytest.mark.parametrize("arch", [(False, "batchnorm", "pre"), (True, "batchnorm", "post")], ids=arch_id)
def test_eval_mode_matches_torch(arch):
    """After a few training forwards, eval() uses the running statistics, as torch."""
    torch = pytest.importorskip("torch")
    model = build("gelu", arch, np.float64)
    twin = torch_clone(model)
    for seed in range(3):
        x, _ = make_data(np.float64, seed=seed)
        model.forward(x)
        twin(torch.from_numpy(x))
    model.eval()
    twin.eval()
    x, _ = make_data(np.float64, seed=10)
    assert rel_err(model.forward(x), twin(torch.from_numpy(x)).detach().numpy()) <= 1e-10


def test_backward_twice_doubles_parameter_gradients():
    """Whole-network check of the accumulate convention (Residual, norms and Dense together)."""
    model = build("silu", (True, "layernorm", "pre"), np.float64)
    x, y = make_data(np.float64)
    loss_fn = CrossEntropyLoss()
    model.zero_grad()
    loss_fn.forward(model.forward(x), y)
    g = loss_fn.backward().copy()
    gx1 = model.backward(g).copy()
    once = [p.grad.copy() for p in model.parameters()]
    gx2 = model.backward(g)
    np.testing.assert_array_equal(gx1, gx2)                   # input gradients are written
    for a, p in zip(once, model.parameters()):
        np.testing.assert_allclose(p.grad, 2 * a, rtol=1e-14, atol=0)


# ------------------------------------------------------------------------ training steps vs torch.optim

OPTIMIZERS = {
    "sgd-momentum": (lambda m: SGD(m, lr=0.05, momentum=0.9),
                     lambda ps, torch: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "adam": (lambda m: Adam(m, lr=1e-3),
             lambda ps, torch: torch.optim.Adam(ps, lr=1e-3)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("arch", [(False, None, "pre"), (True, "layernorm", "pre"), (True, "batchnorm", "post")],
                         ids=arch_id)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
def test_twenty_training_steps_match_torch(opt_name, arch, dtype):
    """20 steps on fresh mini-batches: deepgrad.mlp + deepgrad.optim vs the twin + torch.optim.

    The parameters after 20 steps agree within 1e-9 (float64) / 1e-4 (float32) of each
    parameter's scale: rounding differences (torch fuses multiply-adds) are carried and
    slightly amplified through 20 steps of a depth-10 network, hence 10x the one-pass tolerance.
    """
    torch = pytest.importorskip("torch")
    make_ours, make_theirs = OPTIMIZERS[opt_name]
    model = build("tanh", arch, dtype)
    twin = torch_clone(model)
    pairs = parameter_pairs(model, twin)
    opt, topt = make_ours(model), make_theirs(twin.parameters(), torch)
    loss_fn = CrossEntropyLoss()
    start = [p.data.copy() for p in model.parameters()]
    for step in range(20):
        x, y = make_data(dtype, seed=100 + step, batch=16)
        opt.zero_grad()
        loss_fn.forward(model.forward(x), y)
        model.backward(loss_fn.backward())
        opt.step()
        topt.zero_grad()
        torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
    tol = 10 * TOL[dtype]
    moved = 0
    for i, ((p, tp), p0) in enumerate(zip(pairs, start)):
        assert rel_err(p.data, tp.detach().numpy()) <= tol, f"parameter {i} ({p.name})"
        moved += not np.array_equal(p.data, p0)
    assert moved == len(pairs)          # every parameter was trained (the test can fail)


# ------------------------------------------------------------------------ determinism

def _step_bits(model, x, y):
    """Output, input gradient and parameter gradients of one forward/backward, as bytes."""
    loss_fn = CrossEntropyLoss()
    model.zero_grad()
    out = model.forward(x).copy()
    loss = loss_fn.forward(out, y)
    gx = model.backward(loss_fn.backward()).copy()
    return [out.tobytes(), np.float64(loss).tobytes(), gx.tobytes()] + [p.grad.tobytes() for p in model.parameters()]


@pytest.mark.parametrize("init", ["auto", None, "critical", "xavier_uniform"])
def test_same_seed_same_bits(init):
    arch = (True, "layernorm", "pre")
    act = "tanh"      # has a critical point at sigma_b2 = 0 (GELU has none: theory.critical_sigma_w2)
    a = build(act, arch, np.float32, seed=7, init=init)
    b = build(act, arch, np.float32, seed=7, init=init)
    c = build(act, arch, np.float32, seed=8, init=init)
    for p, q in zip(a.parameters(), b.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
    assert any(p.data.tobytes() != q.data.tobytes() for p, q in zip(a.parameters(), c.parameters()))
    x, y = make_data(np.float32)
    assert _step_bits(a, x, y) == _step_bits(b, x, y)


def test_same_seed_same_training_run():
    """Two training runs from the same seeds end with the same bits (train() shuffles from rng)."""
    X, y = deepgrad.data.spirals(256, rng=0)
    finals = []
    for _ in range(2):
        model = build("relu", (True, "batchnorm", "post"), np.float32, depth=4, width=32, in_features=2,
                      out_features=2, seed=3)
        deepgrad.train(model, CrossEntropyLoss(), Adam(model, lr=1e-2), X, y, epochs=3, batch_size=32,
                       rng=5, progress=False)
        finals.append(b"".join(p.data.tobytes() for p in model.parameters()))
    assert finals[0] == finals[1]


# batch 1024 x width 256: every kernel family passes its threading threshold (GEMM, dbias,
# norms, exp-based activations from 65536 elements; relu/leaky_relu/residual from 262144)
THREAD_BATCH, THREAD_WIDTH = 1024, 256
THREAD_ARCHS = ([(False, n, "pre") for n in (None, "layernorm", "rmsnorm", "batchnorm")]
                + [(True, None, "pre"), (True, "layernorm", "pre"), (True, "batchnorm", "post")])


# every activation with every norm (plain); residual variants with relu (memory-bound kernels)
# and gelu (exp-based)
THREAD_CASES = [(act, arch) for arch in THREAD_ARCHS for act in ACTIVATION_NAMES
                if not arch[0] or act in ("relu", "gelu")]


@pytest.mark.parametrize("activation, arch", THREAD_CASES, ids=[f"{a}-{arch_id(r)}" for a, r in THREAD_CASES])
def test_one_and_two_threads_same_bits(activation, arch, threads):
    """Depth 10, width 256: forward + backward bit-identical at 1 and 2 threads (DESIGN: fixed
    reduction orders in the GEMM, the norms and the bias gradient)."""
    model = build(activation, arch, np.float32, width=THREAD_WIDTH, in_features=THREAD_WIDTH, out_features=10)
    x, y = make_data(np.float32, batch=THREAD_BATCH, in_features=THREAD_WIDTH, classes=10)
    threads(1)
    one = _step_bits(model, x, y)
    threads(2)
    assert deepgrad.get_num_threads() == 2
    two = _step_bits(model, x, y)
    assert len(one) == len(two)
    for i, (a, b) in enumerate(zip(one, two)):
        assert a == b, f"item {i} differs between 1 and 2 threads"
