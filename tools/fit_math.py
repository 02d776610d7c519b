"""Fit the polynomial / rational coefficients used in csrc/dg_math.h.

Every constant table in dg_math.h comes out of this script, so the numbers are
reproducible and nothing is copied from another library:

    python tools/fit_math.py            # all fits, C-ready constants + measured error
    python tools/fit_math.py exp_f32    # one fit (names: see FITS at the bottom)

Method: near-minimax fits by Lawson's iteratively reweighted least squares
(Lawson 1961) in mpmath at 60 digits. A rational P/Q is linearised as
P(z) - f(z) Q(z) ~ 0 and reweighted by 1 / Q_previous(z) (Sanathanan-Koerner),
so the minimised quantity converges to the relative error of P/Q. The
coefficients are then rounded to the working precision (float32 or float64) and
the *rounded* approximation is checked on a dense grid in exact arithmetic; that
approximation error (not counting the rounding of the floating-point evaluation)
is what the script prints and what dg_math.h quotes.
"""
import sys

import mpmath as mp
import numpy as np

mp.mp.dps = 60


def chebyshev_points(lo, hi, n):
    """n Chebyshev points of the first kind on [lo, hi] (never the end points)."""
    return [mp.mpf(lo) + (mp.mpf(hi) - lo) * (1 - mp.cos(mp.pi * (2 * k + 1) / (2 * n))) / 2
            for k in range(n)]


def lawson_fit(f, lo, hi, num_powers, den_powers=(), subtract=None, rel=True, npts=None,
               iters=40):
    """Fit f on [lo, hi] by sum(a_k z^k, k in num_powers) / (1 + sum(b_k z^k, k in den_powers)).

    subtract(z): a fixed part that is not fitted: the fitted function is f - subtract,
    but the error is weighted relative to f (rel=True) so leading terms (1 + r for
    exp) stay exact; rel may also be a function of z giving the error scale (for a
    function with a zero). Returns (a, b) as lists of mpf.
    """
    n_unknowns = len(num_powers) + len(den_powers)
    npts = npts or max(8 * n_unknowns, 200)
    zs = chebyshev_points(lo, hi, npts)
    fz = [f(z) for z in zs]
    gz = [fv - (subtract(z) if subtract else 0) for z, fv in zip(zs, fz)]
    scale = [1 / rel(z) if callable(rel) else 1 / abs(fv) if rel else mp.mpf(1) for z, fv in zip(zs, fz)]
    u = [mp.mpf(1)] * npts            # Lawson weights
    q_prev = [mp.mpf(1)] * npts       # Q of the previous iterate (SK reweighting)
    best = None
    for _ in range(iters):
        rows, rhs = [], []
        for i, z in enumerate(zs):
            w = mp.sqrt(u[i]) * scale[i] / q_prev[i]
            row = [w * z ** k for k in num_powers] + [-w * gz[i] * z ** k for k in den_powers]
            rows.append(row)
            rhs.append(w * gz[i])
        coef, _ = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))
        a = [coef[j] for j in range(len(num_powers))]
        b = [coef[len(num_powers) + j] for j in range(len(den_powers))]
        err = []
        for i, z in enumerate(zs):
            p = sum(ak * z ** k for ak, k in zip(a, num_powers))
            q = 1 + sum(bk * z ** k for bk, k in zip(b, den_powers))
            q_prev[i] = q
            err.append(abs(p / q - gz[i]) * scale[i])
        emax = max(err)
        if best is None or emax < best[0]:
            best = (emax, a, b)
        total = sum(ui * ei for ui, ei in zip(u, err))
        u = [ui * ei / total for ui, ei in zip(u, err)]
    return best[1], best[2]


def round_to(c, dtype):
    return [mp.mpf(float(dtype(float(ci)))) if dtype is np.float32 else mp.mpf(float(ci)) for ci in c]


def check(f, lo, hi, a, num_powers, b=(), den_powers=(), subtract=None, n=4000):
    """Max relative error of the fitted approximation (coefficients as given) on a grid."""
    worst = mp.mpf(0)
    for z in mp.linspace(mp.mpf(lo), mp.mpf(hi), n):
        fv = f(z)
        if fv == 0:
            continue
        p = sum(ak * z ** k for ak, k in zip(a, num_powers))
        q = 1 + sum(bk * z ** k for bk, k in zip(b, den_powers))
        approx = p / q + (subtract(z) if subtract else 0)
        worst = max(worst, abs(approx / fv - 1))
    return worst


def emit(name, coefs, powers, dtype, prefix):
    """Print a C table `static const T dg_<prefix>_<dtype>[] = {c_lowest_power, ...};`."""
    ctype, sfx, tag = ("float", "f", "f32") if dtype is np.float32 else ("double", "", "f64")
    body = ",\n    ".join(f"{float(dtype(float(c)))!r}{sfx}" for c in coefs)
    print(f"/* powers {powers[0]}..{powers[-1]} */")
    print(f"static const {ctype} dg_{prefix}_{tag}[] = {{\n    {body}}};")


# ---------------------------------------------------------------- the fits

LN2_HALF = mp.log(2) / 2


def fit_exp(dtype, degree):
    """e^r = 1 + r + sum_{k=2}^{degree} c_k r^k on |r| <= ln2/2, relative error."""
    powers = list(range(2, degree + 1))
    f = mp.exp
    sub = lambda r: 1 + r
    a, _ = lawson_fit(f, -LN2_HALF, LN2_HALF, powers, subtract=sub)
    a = round_to(a, dtype)
    print(f"exp {dtype.__name__} degree {degree}: max rel err {mp.nstr(check(f, -LN2_HALF, LN2_HALF, a, powers, subtract=sub), 3)}")
    emit("exp", a, powers, dtype, "exp_poly")


def fit_expm1(dtype, degree):
    """expm1(r) = r + r^2/2 + sum_{k=3}^{degree} c_k r^k on |r| <= ln2/2, relative error."""
    powers = list(range(3, degree + 1))
    f = mp.expm1
    sub = lambda r: r + r * r / 2
    a, _ = lawson_fit(f, -LN2_HALF, LN2_HALF, powers, subtract=sub, npts=400)
    a = round_to(a, dtype)
    print(f"expm1 {dtype.__name__} degree {degree}: max rel err {mp.nstr(check(f, -LN2_HALF, LN2_HALF, a, powers, subtract=sub), 3)}")
    emit("expm1", a, powers, dtype, "expm1_poly")


def erfc_scaled(z):
    """R(z) = exp(z^2) erfc(z)."""
    return mp.exp(z * z) * mp.erfc(z)


def fit_erfc(dtype, lo, hi, num_deg, den_deg, tag):
    """exp(z^2) erfc(z) = P(z) / Q(z) on [lo, hi], Q(z) = 1 + ..., relative error."""
    num_powers = list(range(0, num_deg + 1))
    den_powers = list(range(1, den_deg + 1))
    a, b = lawson_fit(erfc_scaled, lo, hi, num_powers, den_powers, npts=300, iters=30)
    a, b = round_to(a, dtype), round_to(b, dtype)
    err = check(erfc_scaled, lo, hi, a, num_powers, b, den_powers, n=3000)
    print(f"erfc {dtype.__name__} [{lo}, {hi}] P{num_deg}/Q{den_deg}: max rel err {mp.nstr(err, 3)}")
    emit("erfc", a, num_powers, dtype, f"{tag}num")
    emit("erfc", [mp.mpf(1)] + b, [0] + den_powers, dtype, f"{tag}den")


def gelu_h(a):
    """h(a) = Phi(-a) e^{a^2/2} = e^{z^2} erfc(z) / 2, z = a / sqrt2."""
    return erfc_scaled(a / mp.sqrt(2)) / 2


PIECEWISE_PARTS = {
    # name: (function of a, error scale of a): relative to the function, or for a difference
    # that crosses zero (gelu' at a = 0.7518) relative to the larger of its two terms
    "gelu_ah": (lambda a: a * gelu_h(a), lambda a: a * gelu_h(a)),
    "gelu_dh": (lambda a: gelu_h(a) - a / mp.sqrt(2 * mp.pi), lambda a: max(gelu_h(a), a / mp.sqrt(2 * mp.pi))),
    "tanh": (mp.tanh, mp.tanh),
}


def fit_pieces(dtype, name, pieces, width, degree, amax, saturate=None, unit_slope=False):
    """Piecewise polynomial of PIECEWISE_PARTS[name] for the AVX-512 float kernels: piece k is
    a polynomial of the given degree in u = a - k width on [k width - width/2, k width +
    width/2] (clipped to [0, amax]), near-minimax for the error scale. A function that is 0 at
    a = 0 gets no constant term on piece 0, and with unit_slope (tanh, whose slope there is 1)
    the linear term is exactly u, so that f(a) = a where a^2 is negligible; elsewhere the constant term is
    rounded first and the others refitted around it (it dominates the rounding error). Pieces
    past amax repeat the last one, or are the constant `saturate` (tanh: 1, exactly). Emits one
    row per power, entry k for piece k (the kernel selects them with vpermt2ps)."""
    f, scale = PIECEWISE_PARTS[name]
    powers = list(range(degree + 1))
    last = int(mp.nint(mp.mpf(amax) / width))
    tables = [[] for _ in powers]
    worst = mp.mpf(0)
    for k in range(pieces):
        if k > last and saturate is not None:
            for j in powers:
                tables[j].append(mp.mpf(saturate) if j == 0 else mp.mpf(0))
            continue
        kk = min(k, last)
        c = kk * mp.mpf(width)
        lo, hi = max(mp.mpf(0), c - mp.mpf(width) / 2), min(mp.mpf(amax), c + mp.mpf(width) / 2)
        fu = lambda u, c=c: f(c + u)
        su = lambda u, c=c: scale(c + u)
        fixed = [mp.mpf(0)]                    # the coefficients not fitted, lowest powers first
        if f(c) != 0:
            fixed = round_to(lawson_fit(fu, lo - c, hi - c, powers, rel=su, npts=60, iters=25)[0][:1], dtype)
        elif unit_slope:
            fixed = [mp.mpf(0), mp.mpf(1)]
        a, _ = lawson_fit(fu, lo - c, hi - c, powers[len(fixed):],
                          subtract=lambda u, fx=fixed: sum(cj * u ** j for j, cj in enumerate(fx)),
                          rel=su, npts=60, iters=25)
        a = fixed + round_to(a, dtype)
        if k == kk:
            for z in mp.linspace(lo - c, hi - c, 200):
                approx = sum(a[j] * z ** j for j in powers)
                if c + z > 0:
                    worst = max(worst, abs(approx - fu(z)) / scale(c + z))
        for j in powers:
            tables[j].append(a[j])
    print(f"{name} {dtype.__name__} {pieces} pieces of width {width}, degree {degree}: "
          f"max error {mp.nstr(worst, 3)} of the scale")
    ctype, sfx, tag = ("float", "f", "f32") if dtype is np.float32 else ("double", "", "f64")
    print(f"static const {ctype} dg_{name}_{tag}[{degree + 1}][{pieces}] = {{")
    for j in powers:
        body = ", ".join(f"{float(dtype(float(c)))!r}{sfx}" for c in tables[j])
        print(f"    {{{body}}},")
    print("};")


FITS = {
    "exp_f32": lambda: fit_exp(np.float32, 6),
    "exp_f64": lambda: fit_exp(np.float64, 11),
    "expm1_f32": lambda: fit_expm1(np.float32, 6),
    "expm1_f64": lambda: fit_expm1(np.float64, 11),
    "erfc_f32": lambda: fit_erfc(np.float32, 0, 10.5, 5, 6, "erfcx_"),
    "erfc_f64": lambda: fit_erfc(np.float64, 0, 27.5, 10, 11, "erfcx_"),
    "gelu_ah_f32": lambda: fit_pieces(np.float32, "gelu_ah", 32, 0.5, 6, 14.6),
    "gelu_dh_f32": lambda: fit_pieces(np.float32, "gelu_dh", 32, 0.5, 6, 14.6),
    "tanh_f32": lambda: fit_pieces(np.float32, "tanh", 32, 0.5, 6, 9.25, saturate=1, unit_slope=True),
}

if __name__ == "__main__":
    for name in sys.argv[1:] or FITS:
        FITS[name]()
