/*
 * activation_avx512.h -- hand-written AVX-512 float32 loops for the exp-based activations:
 * forward sigmoid, silu, tanh, gelu, gelu_tanh; backward silu, gelu_tanh. Included by
 * activation.c only; activation.inc routes the avx512 slot of those float32 kernels here
 * (DG_UNARY_LOOPS_FMA_X512 / DG_BINARY_LOOPS_FMA_X512), the AVX2 and portable slots (and all
 * float64 kernels) keep the auto-vectorized scalar formulas, which are also the reference.
 * (gelu backward stays auto-vectorized: a hand-written version measured no faster.)
 *
 * Measured (1 thread, 64K float32 in cache, ns/element, before -> after): sigmoid 0.24 ->
 * 0.21, silu 0.38 -> 0.24, gelu_tanh 0.79 -> 0.57, gelu 0.57 -> 0.53 (R in double dominates),
 * tanh 0.23 -> 0.23, silu' 0.46 -> 0.37, gelu_tanh' 1.65 -> 1.0 (tools/quick_speed.py --bw).
 *
 * Same algorithms as the scalar *_fma functions of activation.inc / dg_math.h, written with
 * the instructions the auto-vectorizer does not use:
 *   _mm512_roundscale_ps   n = round(x / ln2) without the magic-number trick
 *   _mm512_scalef_ps       y 2^n in one instruction, correctly rounded when the result is
 *                          subnormal and 0 / inf outside the range (no exponent bit building,
 *                          no two-step scaling)
 *   _mm512_rcp14_ps        1/d to 2^-14, refined by Newton steps with fma instead of vdivps
 *   masked loads / stores  for the tail (no scalar tail loop)
 * Error bounds (max ulp vs a float64 reference, measured by tests/test_activation_accuracy.py
 * on its dense float32 sweep) are given above each kernel.
 */
#ifndef DG_ACTIVATION_AVX512_H
#define DG_ACTIVATION_AVX512_H

#if defined(DG_X86_64)
#include <immintrin.h>
#include <stdint.h>

#include "dg_math.h"

#define DGV_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

/* ln2 in two parts (Cody-Waite): n * LN2_HI is exact for |n| < 2^12 (12-bit LN2_HI). */
#define DGV_LOG2E 1.44269504088896340736f
#define DGV_LN2_HI 0.693145751953125f
#define DGV_LN2_LO 1.42860682030941723e-06f
#define DGV_EXP_LO -120.0f      /* e^x below this times any |m| <= 2^20 rounds to 0 */
#define DGV_EXPM1_LO -30.0f     /* e^x - 1 rounds to -1 below this */
#define DGV_MMAX 1000.0f        /* silu: the negative multiplier is clamped here (as the scalar) */
#define DGV_ROUND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

static DGV_TARGET inline __m512 dgv_set1(float c) { return _mm512_set1_ps(c); }
/* -|x| (sets the sign bit; NaN stays NaN) */
static DGV_TARGET inline __m512 dgv_neg_abs(__m512 x) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN)));
}
/* max(lo, w) with NaN w propagated: vmaxps returns its second source when either is NaN. */
static DGV_TARGET inline __m512 dgv_clamp_below(__m512 w, float lo) {
    return _mm512_max_ps(dgv_set1(lo), w);
}

/* w = n ln2 + r, |r| <= ln2/2 (+ rounding); returns r, n as a float integer. */
static DGV_TARGET inline __m512 dgv_reduce_ln2(__m512 w, __m512 *n) {
    *n = _mm512_roundscale_ps(_mm512_mul_ps(w, dgv_set1(DGV_LOG2E)), DGV_ROUND);
    __m512 r = _mm512_fnmadd_ps(*n, dgv_set1(DGV_LN2_HI), w);
    return _mm512_fnmadd_ps(*n, dgv_set1(DGV_LN2_LO), r);
}

/* q = e^r - 1 = r + r^2 P(r), P of dg_exp_poly_f32 (deg 6 in all, 3.8e-9 relative). */
static DGV_TARGET inline __m512 dgv_exp_q(__m512 r) {
    __m512 p = dgv_set1(dg_exp_poly_f32[4]);
    p = _mm512_fmadd_ps(p, r, dgv_set1(dg_exp_poly_f32[3]));
    p = _mm512_fmadd_ps(p, r, dgv_set1(dg_exp_poly_f32[2]));
    p = _mm512_fmadd_ps(p, r, dgv_set1(dg_exp_poly_f32[1]));
    p = _mm512_fmadd_ps(p, r, dgv_set1(dg_exp_poly_f32[0]));
    return _mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r);
}

/* 1/d for d in [1, 2]: rcp14 (rel. error <= 2^-14) + one Newton step y += y (1 - d y):
 * error 2^-28 + the final rounding, <= 0.56 ulp. */
static DGV_TARGET inline __m512 dgv_recip(__m512 d) {
    __m512 y = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(y, _mm512_fnmadd_ps(d, y, dgv_set1(1.0f)), y);
}

/* s = 1 / (1 + e) for e in [0, 1]. refine (a compile-time 0/1): the Newton step is taken
 * against the unrounded 1 + e = d + dl (Fast2Sum, 1 >= e): y += y (1 - d y - dl y), so s is
 * within ~0.5 ulp of 1 / (1 + e) instead of 1 / d (3 more instructions; for the kernels
 * that multiply s by 1 - s, as logistic_fma in activation.inc). */
static DGV_TARGET inline __m512 dgv_recip_1pe(__m512 e, int refine) {
    __m512 d = _mm512_add_ps(dgv_set1(1.0f), e);
    if (!refine) return dgv_recip(d);
    __m512 dl = _mm512_sub_ps(e, _mm512_sub_ps(d, dgv_set1(1.0f)));
    __m512 y = _mm512_rcp14_ps(d);
    __m512 res = _mm512_fnmadd_ps(dl, y, _mm512_fnmadd_ps(d, y, dgv_set1(1.0f)));
    return _mm512_fmadd_ps(y, res, y);
}

/* The loop over an array: full vectors with plain loads / stores (masked stores are slow on
 * some cores, e.g. Zen 4), the last 1-15 elements with a masked load and store. No `restrict`:
 * out may be x. */
#define DGV_UNARY_LOOP(name, vecfn)                                                          \
    static DGV_TARGET void name(float *out, const float *x, int64_t n, float p) {            \
        (void)p;                                                                             \
        int64_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, vecfn(_mm512_loadu_ps(x + i))); \
        if (i < n) {                                                                         \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                  \
            _mm512_mask_storeu_ps(out + i, m, vecfn(_mm512_maskz_loadu_ps(m, x + i)));       \
        }                                                                                    \
    }

/* The same for backward kernels dinp[i] = f(dout[i], x[i]). */
#define DGV_BINARY_LOOP(name, vecfn)                                                         \
    static DGV_TARGET void name(float *out, const float *a, const float *b, int64_t n, float p) { \
        (void)p;                                                                             \
        int64_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16)                                                         \
            _mm512_storeu_ps(out + i, vecfn(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))); \
        if (i < n) {                                                                         \
            __mmask16 m = (__mmask16)((1u << (n - i)) - 1);                                  \
            _mm512_mask_storeu_ps(out + i, m,                                                \
                                  vecfn(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i))); \
        }                                                                                    \
    }

/*
 * The fast path: for moderate arguments the exp-based kernels need neither the |x| / blend
 * symmetry, nor scalef, nor rcp14 + Newton steps. With w the argument of the exponential,
 *   e^w = 2^n e^r,  n = round(w / ln2),  r = w - n ln2 (Cody-Waite, |r| <= ln2/2),
 *   e^r = (E + rO) / (E - rO),  E = 1 + r^2/10,  O = 1/2 + r^2/120
 * (the [3/3] Pade approximant of e^r; relative error <= 6e-9 for |r| <= ln2/2, 0.1 ulp), so
 * that each activation is ONE quotient of such terms, and one vdivps (2.5 cycles per vector on
 * Zen 4/5, on its own unit) replaces rcp14 + 2-3 FMA-pipe Newton instructions.
 * n is rounded by adding 1.5 2^23 (DGV_MAGIC): the low mantissa bits of t = w/ln2 + MAGIC are
 * n in two's complement, so slli(t, 23) is n << 23, the exponent increment of 2^n, added to a
 * float's bits with one integer add (valid while the result stays normal: |w| <= DGV_PADE_MAX
 * keeps |n| <= 125 and A 2^n normal). Measured on Zen 5 (64K float32 in L1/L2, cycles per 16
 * elements): sigmoid 11.1 -> 6.2, silu 13.0 -> 6.9, tanh 10.4 -> 8.0.
 * Lanes beyond the limit (and inf, NaN) take the general kernel, which handles every float
 * (DGV_UNARY_LOOP_PADE).
 */
#define DGV_MAGIC 12582912.0f   /* 1.5 2^23 */
#define DGV_PADE_MAX 86.0f      /* |w| <= 86: |n| <= 125 */
#define DGV_PADE_BLOCK 256

/* e^w = 2^n (E + rO) / (E - rO), for u = -w with |u| <= DGV_PADE_MAX; *nbits = n << 23.
 * short_range (a compile-time 0/1): for |u| <= DGV_PADE_SHORT, r = w - n ln2 in ONE fma with
 * ln2 rounded to float (error 1.9e-9 |n| relative in e^w, <= 0.74 ulp for |n| <= 23) instead
 * of the two-step Cody-Waite reduction: one FMA-pipe instruction fewer, 11% of sigmoid
 * (max error 2.4 -> 2.9 ulp there). */
#define DGV_PADE_SHORT 16.0f
static DGV_TARGET inline void dgv_exp_pade(__m512 u, __m512 *E, __m512 *rO, __m512i *nbits,
                                           int short_range) {
    __m512 t = _mm512_fmadd_ps(u, dgv_set1(-DGV_LOG2E), dgv_set1(DGV_MAGIC));
    __m512 n = _mm512_sub_ps(t, dgv_set1(DGV_MAGIC));
    __m512 r;
    if (short_range) {
        r = _mm512_fnmsub_ps(n, dgv_set1(0.693147180559945309f), u);
    } else {
        r = _mm512_fnmsub_ps(n, dgv_set1(DGV_LN2_HI), u);            /* -n ln2_hi - u, exact */
        r = _mm512_fnmadd_ps(n, dgv_set1(DGV_LN2_LO), r);
    }
    __m512 r2 = _mm512_mul_ps(r, r);
    *E = _mm512_fmadd_ps(r2, dgv_set1(0.1f), dgv_set1(1.0f));
    *rO = _mm512_mul_ps(r, _mm512_fmadd_ps(r2, dgv_set1(1.0f / 120), dgv_set1(0.5f)));
    *nbits = _mm512_slli_epi32(_mm512_castps_si512(t), 23);
}

/* a 2^n for a and a 2^n normal: an integer add to the exponent field */
static DGV_TARGET inline __m512 dgv_times_2n(__m512 a, __m512i nbits) {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), nbits));
}

/* Lanes of v with |v| > limit, inf or NaN (an integer compare of the bit patterns without the
 * sign: NaN and inf compare above every finite value). */
static DGV_TARGET inline __mmask16 dgv_beyond(__m512 v, float limit) {
    __m512i a = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MAX));
    return _mm512_cmpgt_epi32_mask(a, _mm512_castps_si512(dgv_set1(limit)));
}

/* Whether any of x[0, DGV_PADE_BLOCK) is beyond limit: one integer max per vector. */
static DGV_TARGET inline int dgv_block_beyond(const float *x, float limit) {
    __m512i big = _mm512_setzero_si512();
    for (int j = 0; j < DGV_PADE_BLOCK; j += 16)
        big = _mm512_max_epi32(big, _mm512_and_si512(_mm512_loadu_si512(x + j), _mm512_set1_epi32(INT32_MAX)));
    return _mm512_cmpgt_epi32_mask(big, _mm512_castps_si512(dgv_set1(limit))) != 0;
}

/* The loop of a kernel with a fast path valid for |x| <= limit. Every lane with |x| <= limit gets the fast formula
 * and every other lane (|x| > limit, inf, NaN) the general one, so the bits of an element
 * never depend on its neighbours or its position in the array; per block of DGV_PADE_BLOCK
 * elements one check decides whether the per-lane choice is needed at all. The inputs of a
 * block are read before its outputs are written (out may be x). A silu backward on the same
 * plan (dout B (den + x S) / den^2, one division) measured 4.2 ulp: not used. */
#define DGV_UNARY_LOOP_PADE(name, fastfn, generalfn, limit)                                  \
    static DGV_TARGET inline __m512 name##_lanes(__m512 v) {                                 \
        __m512 r = fastfn(v);                                                                \
        __mmask16 beyond = dgv_beyond(v, limit);                                             \
        return beyond ? _mm512_mask_mov_ps(r, beyond, generalfn(v)) : r;                     \
    }                                                                                        \
    DGV_UNARY_LOOP(name##_lanes_loop, name##_lanes)                                          \
    static DGV_TARGET void name(float *out, const float *x, int64_t n, float p) {            \
        int64_t i = 0;                                                                       \
        for (; i + DGV_PADE_BLOCK <= n; i += DGV_PADE_BLOCK) {                               \
            if (__builtin_expect(dgv_block_beyond(x + i, limit), 0)) {                       \
                name##_lanes_loop(out + i, x + i, DGV_PADE_BLOCK, p);                        \
                continue;                                                                    \
            }                                                                                \
            for (int j = 0; j < DGV_PADE_BLOCK; j += 16)                                     \
                _mm512_storeu_ps(out + i + j, fastfn(_mm512_loadu_ps(x + i + j)));           \
        }                                                                                    \
        name##_lanes_loop(out + i, x + i, n - i, p);                                         \
    }

/*
 * The logistic at x: e = e^{-|x|} = (1 + q) 2^n, s = 1 / (1 + e) = sigmoid(|x|).
 * Returns s; q, n for the caller's negative side (sigmoid(x) m = (1 + q) s m 2^n, x < 0).
 * The denominator uses e = fma(q, 2^n, 2^n): for n < -126 (2^n subnormal) e < 2^-126 and
 * 1 + e rounds to 1 anyway. NaN propagates through the clamp (dgv_clamp_below).
 */
static DGV_TARGET inline __m512 dgv_logistic(__m512 x, __m512 *q, __m512 *n, int refine) {
    __m512 w = dgv_clamp_below(dgv_neg_abs(x), DGV_EXP_LO);
    __m512 r = dgv_reduce_ln2(w, n);
    *q = dgv_exp_q(r);
    __m512 p2 = _mm512_scalef_ps(dgv_set1(1.0f), *n);
    return dgv_recip_1pe(_mm512_fmadd_ps(*q, p2, p2), refine);
}

/* sigmoid(x): x >= 0: s;  x < 0: e s = scalef(fma(s, q, s), n), rounded once before the
 * (exact unless subnormal) scaling. sigmoid(+-1000) = 1 / 0 exactly. */
static DGV_TARGET inline __m512 dgv_sigmoid(__m512 v) {
    __m512 q, k;
    __m512 s = dgv_logistic(v, &q, &k, 0);
    __m512 neg = _mm512_scalef_ps(_mm512_fmadd_ps(s, q, s), k);
    __mmask16 is_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_neg, s, neg);
}
/* fast path (|x| <= 16, one-step reduction): e^{-x} = 2^n A / B, A = E + rO, B = E - rO:
 * sigmoid(x) = B / (B + A 2^n). Max error 2.4 ulp (measured). */
static DGV_TARGET inline __m512 dgv_sigmoid_pade(__m512 v) {
    __m512 E, rO;
    __m512i nb;
    dgv_exp_pade(v, &E, &rO, &nb, 1);
    __m512 B = _mm512_sub_ps(E, rO);
    return _mm512_div_ps(B, _mm512_add_ps(B, dgv_times_2n(_mm512_add_ps(E, rO), nb)));
}
DGV_UNARY_LOOP_PADE(dg_sigmoid_forward_avx512_f32, dgv_sigmoid_pade, dgv_sigmoid, DGV_PADE_SHORT)

/* silu(x) = x sigmoid(x): x >= 0: x s;  x < 0: scalef(fma(xs, q, xs), n) with
 * xs = max(x, -MMAX) s (one rounding before the scaling; silu(-inf) = -0). */
static DGV_TARGET inline __m512 dgv_silu(__m512 v) {
    __m512 q, k;
    __m512 s = dgv_logistic(v, &q, &k, 0);
    __m512 xs = _mm512_mul_ps(_mm512_max_ps(v, dgv_set1(-DGV_MMAX)), s);
    __m512 neg = _mm512_scalef_ps(_mm512_fmadd_ps(xs, q, xs), k);
    __mmask16 is_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_neg, _mm512_mul_ps(v, s), neg);
}
/* fast path (|x| <= 86): silu(x) = x B / (B + A 2^n) (as dgv_sigmoid_pade, but with the
 * two-step reduction: the one-step one measured 3.4 ulp here, too close to the bound). */
static DGV_TARGET inline __m512 dgv_silu_pade(__m512 v) {
    __m512 E, rO;
    __m512i nb;
    dgv_exp_pade(v, &E, &rO, &nb, 0);
    __m512 B = _mm512_sub_ps(E, rO);
    __m512 den = _mm512_add_ps(B, dgv_times_2n(_mm512_add_ps(E, rO), nb));
    return _mm512_div_ps(_mm512_mul_ps(v, B), den);
}
DGV_UNARY_LOOP_PADE(dg_silu_forward_avx512_f32, dgv_silu_pade, dgv_silu, DGV_PADE_MAX)

/*
 * tanh(x) = sign(x) (-m / (2 + m)),  m = e^w - 1,  w = -2a,  a = min(|x|, 15) (w >= EXPM1_LO).
 * expm1: w = n ln2 + r, q = e^r - 1 = r + r^2 (1/2 + r P(r)) (dg_expm1_poly_f32),
 *   m = 2^n q + (2^n - 1)   (2^n - 1 exact for n >= -24)
 * which keeps full relative accuracy near 0 (n = 0: m = q; subnormal x: m = w exactly).
 * Evaluated in r' = -r/2 = a + n ln2/2 (w = -2a is never formed; from q' on every
 * intermediate is the one of the form above times an exact power of two):
 *   q' = -q/2 = r' - r'^2 S(r'),  S(r') = 2 (1/2 + r P(r)) = 1 - 4 c3 r' + 8 c4 r'^2 - 16 c5 r'^3 + 32 c6 r'^4
 *   -m = (1 - 2^n) - (-2 2^n) q'   with -2 2^n = scalef(-2, n) and 1 - 2^n = fma(-2 2^n, 1/2, 1).
 * r' in ONE fma with ln2 rounded to float (no Cody-Waite split): n = 0 is exact, and for
 * n != 0 the error |n| (ln2_f - ln2)/2 <= |n| 1e-9 moves m by <= 2^n |n| 3e-9 <= 1.5e-9,
 * under 0.1 ulp of |t| >= 0.17 (|n| <= 22 since a <= 15). Measured: max error unchanged.
 * The quotient t = num / d, num = -m >= 0, d = 2 - num in [1, 2]: t0 = num y, y = rcp14(d)
 * (relative error <= 2^-14), then one residual correction t = t0 + y (num - d t0) (error
 * 2^-28 + the final rounding). Max error 2.51 ulp (tests/test_activation_accuracy.py).
 * tanh(+-inf) = +-1, tanh(-0) = -0, NaN propagates (the clamp keeps NaN; the sign is
 * copied bitwise).
 */
static DGV_TARGET inline __m512 dgv_tanh(__m512 v) {
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    __m512 ax = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(v)));
    /* vminps returns its second source when either is NaN */
    __m512 a = _mm512_min_ps(dgv_set1(-0.5f * DGV_EXPM1_LO), ax);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(a, dgv_set1(-2.0f * DGV_LOG2E)), DGV_ROUND);
    __m512 rp = _mm512_fmadd_ps(n, dgv_set1(0.5f * 0.693147180559945309f), a);
    __m512 s = dgv_set1(32.0f * dg_expm1_poly_f32[3]);
    s = _mm512_fmadd_ps(s, rp, dgv_set1(-16.0f * dg_expm1_poly_f32[2]));
    s = _mm512_fmadd_ps(s, rp, dgv_set1(8.0f * dg_expm1_poly_f32[1]));
    s = _mm512_fmadd_ps(s, rp, dgv_set1(-4.0f * dg_expm1_poly_f32[0]));
    s = _mm512_fmadd_ps(s, rp, dgv_set1(1.0f));
    __m512 qh = _mm512_fnmadd_ps(_mm512_mul_ps(rp, rp), s, rp);          /* q' = -q/2 */
    __m512 p2n = _mm512_scalef_ps(dgv_set1(-2.0f), n);                    /* -2 2^n */
    __m512 omp = _mm512_fmadd_ps(p2n, dgv_set1(0.5f), dgv_set1(1.0f));    /* 1 - 2^n */
    __m512 num = _mm512_fnmadd_ps(p2n, qh, omp);                         /* -m >= 0 */
    __m512 d = _mm512_sub_ps(dgv_set1(2.0f), num);                       /* in [1, 2] */
    __m512 y = _mm512_rcp14_ps(d);
    __m512 t0 = _mm512_mul_ps(num, y);
    __m512 t = _mm512_fmadd_ps(_mm512_fnmadd_ps(d, t0, num), y, t0);
    /* copysign(t, x): bit select, sign from x, the rest from t */
    __m512i res = _mm512_ternarylogic_epi32(sign, _mm512_castps_si512(v), _mm512_castps_si512(t), 0xCA);
    return _mm512_castsi512_ps(res);
}
/* fast path (|x| <= 43): e^{-2x} = P A / B, P = 2^n, and
 *   tanh(x) = (B - P A) / (B + P A) = (E (1 - P) - rO (1 + P)) / (E (1 + P) - rO (1 - P)),
 * the second form free of cancellation: for n = 0 the numerator is -2 rO, accurate to the
 * last bit for tiny x (tanh(x) = x there); for n != 0, |rO (1 + P)| <= E (1 - P) / 2.
 * 1 - P and 1 + P are exact. tanh(-0) = -0. Max error 3.1 ulp (measured). */
static DGV_TARGET inline __m512 dgv_tanh_pade(__m512 v) {
    __m512 E, rO;
    __m512i nb;
    dgv_exp_pade(_mm512_add_ps(v, v), &E, &rO, &nb, 0);
    __m512 P = dgv_times_2n(dgv_set1(1.0f), nb);
    __m512 pm1 = _mm512_sub_ps(P, dgv_set1(1.0f)), opp = _mm512_add_ps(P, dgv_set1(1.0f));
    /* num = -(E (P - 1)) - rO (1 + P): at x = -0 (r = +0) that is -0 - +0 = -0, at x = +0
     * (r = -0) -0 - -0 = +0, so tanh(+-0) = +-0 without a sign fix-up. */
    __m512 num = _mm512_fnmsub_ps(E, pm1, _mm512_mul_ps(rO, opp));
    __m512 den = _mm512_fmadd_ps(E, opp, _mm512_mul_ps(rO, pm1));
    return _mm512_div_ps(num, den);
}
DGV_UNARY_LOOP_PADE(dg_tanh_forward_avx512_f32, dgv_tanh_pade, dgv_tanh, 0.5f * DGV_PADE_MAX)

/*
 * gelu(x) = x Phi(x), the formula of gelu_fma_scalar (activation.inc):
 *   xc = clamp(x, +-GELU_XMAX), a = |xc|, a^2 = hi + lo exactly (lo by fma),
 *   Phi(-a) = e^{-hi/2 - lo/2} R(a/sqrt2) / 2,  R = e^{z^2} erfc(z) = N(z)/D(z) (dg_erfcx_*_f32),
 *   x < 0:  x Phi(x) = scalef(fma(m, q, m), n),  m = xc fl(R/2), e^{r} = 1 + q
 *   x >= 0: x - xc Phi(-a) = fma(-xc, Phi(-a), x)
 * R is evaluated in double as in the scalar (in float the two Horner chains cost ~5 ulp), on
 * two 8-lane halves, with the division replaced by rcp14pd + one Newton step (relative error
 * 2^-28: ~0.06 ulp of the float result). The 1/2 is folded into N's coefficients (exact).
 * Unlike the scalar, R/2 is rounded to float before the product with xc (two roundings
 * instead of one: +0.5 ulp, for 4 fewer double conversions/products, 8% faster).
 * Max error 2.97 ulp (measured; 2.51 with the product in double).
 */
#define DGV_GELU_XMAX 14.5f   /* = DG_GELU_XMAX for float */

/* e^{-a^2/2} = (1 + q) 2^n for a = |xc| >= 0, with a^2 = hi + lo exactly (lo by fma) and the
 * low part added to the reduced argument; returns q. */
static DGV_TARGET inline __m512 dgv_exp_neg_half_sq(__m512 ax, __m512 *k) {
    __m512 hi = _mm512_mul_ps(ax, ax);
    __m512 lo = _mm512_fmsub_ps(ax, ax, hi);
    __m512 r = _mm512_fmadd_ps(lo, dgv_set1(-0.5f), dgv_reduce_ln2(_mm512_mul_ps(hi, dgv_set1(-0.5f)), k));
    return dgv_exp_q(r);
}
/* R(z)/2 = N(z)/(2 D(z)) in double for 8 lanes (the 1/2 folded into N's coefficients). */
static DGV_TARGET inline __m512d dgv_half_erfcx_pd(__m256 z) {
    __m512d a = _mm512_cvtps_pd(z);
    __m512d nm = _mm512_set1_pd(0.5 * dg_erfcx_num_f32[5]);
    for (int k = 4; k >= 0; --k) nm = _mm512_fmadd_pd(nm, a, _mm512_set1_pd(0.5 * dg_erfcx_num_f32[k]));
    __m512d dn = _mm512_set1_pd(dg_erfcx_den_f32[6]);
    for (int k = 5; k >= 0; --k) dn = _mm512_fmadd_pd(dn, a, _mm512_set1_pd(dg_erfcx_den_f32[k]));
    __m512d y = _mm512_rcp14_pd(dn);
    y = _mm512_fmadd_pd(y, _mm512_fnmadd_pd(dn, y, _mm512_set1_pd(1.0)), y);
    return _mm512_mul_pd(nm, y);
}
/* R(a/sqrt2)/2 for 16 lanes (two double halves), rounded once to float */
static DGV_TARGET inline __m512 dgv_half_erfcx(__m512 ax) {
    __m512 z = _mm512_mul_ps(ax, dgv_set1(0.70710678118654752440f));
    __m512d m_lo = dgv_half_erfcx_pd(_mm512_castps512_ps256(z));
    __m512d m_hi = dgv_half_erfcx_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z), 1)));
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(m_lo)), _mm512_cvtpd_ps(m_hi), 1);
}

static DGV_TARGET inline __m512 dgv_gelu(__m512 v) {
    __m512 xc = _mm512_min_ps(dgv_set1(DGV_GELU_XMAX), _mm512_max_ps(dgv_set1(-DGV_GELU_XMAX), v));
    __m512 ax = _mm512_abs_ps(xc);
    __mmask16 is_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 m = dgv_half_erfcx(ax);
    m = _mm512_mask_mul_ps(m, is_neg, m, xc);
    __m512 k;
    __m512 q = dgv_exp_neg_half_sq(ax, &k);
    __m512 phi_neg = _mm512_scalef_ps(_mm512_fmadd_ps(m, q, m), k);
    /* -xc: x = inf gives inf, not NaN */
    return _mm512_mask_blend_ps(is_neg, _mm512_fnmadd_ps(xc, phi_neg, v), phi_neg);
}
DGV_UNARY_LOOP(dg_gelu_forward_avx512_f32, dgv_gelu)

/*
 * gelu_tanh(x) = x sigmoid(w), w = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3), the formula of
 * gelu_tanh_fma_scalar: w is formed in double (e^{-|w|} is sensitive to its rounding) and
 * split into hi + lo (floats), then the logistic at hi + lo in float:
 *   e^{-|w|} = (1 + q) 2^n from r = reduce(-|hi|) - sign(hi) lo,  s = 1 / (1 + e)
 *   w >= 0: m s;  w < 0: scalef(fma(m s, q, m s), n);  m = xc (x < 0) or x.
 * |x| is clamped at GELU_TANH_XMAX = 15 (|w| <= 265: e^{-|w|} is 0 through scalef).
 * Max error 2.6 ulp (measured).
 */
#define DGV_GELU_TANH_XMAX 15.0f

/* w = 2 sqrt(2/pi) x (1 + kappa x^2) in double for 8 lanes, returned as hi + lo floats */
static DGV_TARGET inline void dgv_gelu_tanh_arg(__m256 x, __m256 *hi, __m256 *lo) {
    __m512d xd = _mm512_cvtps_pd(x);
    __m512d t = _mm512_fmadd_pd(_mm512_mul_pd(xd, xd), _mm512_set1_pd(0.044715), _mm512_set1_pd(1.0));
    __m512d w = _mm512_mul_pd(_mm512_mul_pd(xd, _mm512_set1_pd(1.59576912160573071176)), t);
    *hi = _mm512_cvtpd_ps(w);
    *lo = _mm512_cvtpd_ps(_mm512_sub_pd(w, _mm512_cvtps_pd(*hi)));
}

/* The logistic at w = hi + lo for xc (clamped x): returns s = sigmoid(|w|) (<= 0.56 ulp),
 * with q, n (e^{-|w|} = (1 + q) 2^n) and hi for the sides. */
static DGV_TARGET inline __m512 dgv_gelu_tanh_logistic(__m512 xc, __m512 *q, __m512 *k, __m512 *hi,
                                                       int refine) {
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    __m256 h0, l0, h1, l1;
    dgv_gelu_tanh_arg(_mm512_castps512_ps256(xc), &h0, &l0);
    dgv_gelu_tanh_arg(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xc), 1)), &h1, &l1);
    *hi = _mm512_insertf32x8(_mm512_castps256_ps512(h0), h1, 1);
    __m512 lo = _mm512_insertf32x8(_mm512_castps256_ps512(l0), l1, 1);
    /* c = -sign(hi) lo: lo with its sign flipped unless hi < 0 (bitwise: lo ^ (~hi & sign)) */
    __m512i c = _mm512_ternarylogic_epi32(_mm512_castps_si512(lo), _mm512_castps_si512(*hi), sign, 0xD2);
    __m512 w = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(*hi), sign));   /* -|hi| */
    __m512 r = _mm512_add_ps(dgv_reduce_ln2(w, k), _mm512_castsi512_ps(c));
    *q = dgv_exp_q(r);
    __m512 p2 = _mm512_scalef_ps(dgv_set1(1.0f), *k);
    return dgv_recip_1pe(_mm512_fmadd_ps(*q, p2, p2), refine);
}

static DGV_TARGET inline __m512 dgv_gelu_tanh(__m512 v) {
    __m512 xc = _mm512_min_ps(dgv_set1(DGV_GELU_TANH_XMAX), _mm512_max_ps(dgv_set1(-DGV_GELU_TANH_XMAX), v));
    __m512 q, k, hi;
    __m512 s = dgv_gelu_tanh_logistic(xc, &q, &k, &hi, 0);
    __mmask16 x_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 sm = _mm512_mul_ps(s, _mm512_mask_blend_ps(x_neg, v, xc));
    __mmask16 w_neg = _mm512_cmp_ps_mask(hi, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_scalef_ps(sm, w_neg, _mm512_fmadd_ps(sm, q, sm), k);
}
DGV_UNARY_LOOP(dg_gelu_tanh_forward_avx512_f32, dgv_gelu_tanh)

/*
 * gelu_tanh'(x) dout = dout s (1 + xc (1 - s) 2u'),  s = sigmoid(w),  2u' = 2 sqrt(2/pi) (1 + 3 kappa x^2)
 * (gelu_tanh_grad_fma_scalar): the factor in double (xc 2u' reaches ~-35 where s(w) is
 * small and 1 + ... must keep its digits), rounded once; s (1 - s) from the logistic parts:
 *   w >= 0: s(w) = s, 1 - s(w) = scalef(fma(s, q, s), n);  w < 0: the two swapped.
 * Max error 3.0 ulp (measured).
 */
static DGV_TARGET inline __m256 dgv_gelu_tanh_factor(__m256 x, __m256 comp) {
    __m512d xd = _mm512_cvtps_pd(x);
    __m512d two_du = _mm512_fmadd_pd(_mm512_mul_pd(xd, xd), _mm512_set1_pd(1.59576912160573071176 * 3 * 0.044715),
                                     _mm512_set1_pd(1.59576912160573071176));
    __m512d t = _mm512_mul_pd(_mm512_mul_pd(xd, _mm512_cvtps_pd(comp)), two_du);
    return _mm512_cvtpd_ps(_mm512_add_pd(t, _mm512_set1_pd(1.0)));
}

static DGV_TARGET inline __m512 dgv_gelu_tanh_grad(__m512 dout, __m512 v) {
    __m512 xc = _mm512_min_ps(dgv_set1(DGV_GELU_TANH_XMAX), _mm512_max_ps(dgv_set1(-DGV_GELU_TANH_XMAX), v));
    __m512 q, k, hi;
    __m512 s = dgv_gelu_tanh_logistic(xc, &q, &k, &hi, 1);
    __mmask16 w_neg = _mm512_cmp_ps_mask(hi, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 es = _mm512_scalef_ps(_mm512_fmadd_ps(s, q, s), k);
    __m512 comp = _mm512_mask_blend_ps(w_neg, es, s);                   /* 1 - sigmoid(w) */
    __m256 f0 = dgv_gelu_tanh_factor(_mm512_castps512_ps256(xc), _mm512_castps512_ps256(comp));
    __m256 f1 = dgv_gelu_tanh_factor(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xc), 1)),
                                     _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(comp), 1)));
    __m512 factor = _mm512_insertf32x8(_mm512_castps256_ps512(f0), f1, 1);
    __m512 sm = _mm512_mul_ps(s, factor);
    return _mm512_mul_ps(dout, _mm512_mask_scalef_ps(sm, w_neg, _mm512_fmadd_ps(sm, q, sm), k));
}
DGV_BINARY_LOOP(dg_gelu_tanh_backward_avx512_f32, dgv_gelu_tanh_grad)

/* silu'(x) dout = dout s (1 + xc (1 - s)), s = sigmoid(x), xc = clamp(x, +-MMAX)
 * (silu_grad_fma_scalar): s refined, 1 - s = e s (x >= 0) or s (x < 0), the product
 * s factor on the x < 0 side rounded once before the scaling. Max error 2.9 ulp (measured). */
static DGV_TARGET inline __m512 dgv_silu_grad(__m512 dout, __m512 v) {
    __m512 q, k;
    __m512 s = dgv_logistic(v, &q, &k, 1);
    __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 comp = _mm512_mask_blend_ps(neg, _mm512_scalef_ps(_mm512_fmadd_ps(s, q, s), k), s);
    __m512 xc = _mm512_min_ps(dgv_set1(DGV_MMAX), _mm512_max_ps(dgv_set1(-DGV_MMAX), v));
    __m512 sm = _mm512_mul_ps(s, _mm512_fmadd_ps(xc, comp, dgv_set1(1.0f)));
    return _mm512_mul_ps(dout, _mm512_mask_scalef_ps(sm, neg, _mm512_fmadd_ps(sm, q, sm), k));
}
DGV_BINARY_LOOP(dg_silu_backward_avx512_f32, dgv_silu_grad)

#endif /* DG_X86_64 */
#endif /* DG_ACTIVATION_AVX512_H */
