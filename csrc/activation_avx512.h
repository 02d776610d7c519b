/*
 * activation_avx512.h -- hand-written AVX-512 float32 loops for the exp-based activations:
 * forward sigmoid, silu, tanh, gelu, gelu_tanh; backward silu, gelu, gelu_tanh. Included by
 * activation.c only; activation.inc routes the avx512 slot of those float32 kernels here
 * (DG_UNARY_LOOPS_FMA_X512 / DG_BINARY_LOOPS_FMA_X512), the AVX2 and portable slots (and all
 * float64 kernels) keep the auto-vectorized scalar formulas, which are also the reference.
 *
 * Three kinds of kernel live here:
 *  - general kernels, valid for every float: the algorithms of the scalar *_fma functions of
 *    activation.inc / dg_math.h, written with the instructions the auto-vectorizer does not use:
 *      _mm512_roundscale_ps   n = round(x / ln2) without the magic-number trick
 *      _mm512_scalef_ps       y 2^n in one instruction, correctly rounded when the result is
 *                             subnormal and 0 / inf outside the range (no exponent bit building,
 *                             no two-step scaling)
 *      _mm512_rcp14_ps        1/d to 2^-14, refined by Newton steps with fma instead of vdivps
 *      masked loads / stores  for the tail (no scalar tail loop)
 *  - fast paths of sigmoid and silu for moderate |x| ("The fast path" below): one Pade
 *    quotient and one vdivps per element; lanes out of their range use the general kernel.
 *  - piecewise polynomials, coefficients picked per lane by vpermt2ps (dgv_piecewise): tanh
 *    (all of it: no exp), and parts of the GELUs (the functions of a in Phi, dg_gelu_table.h).
 * These kernels are float only (no double halves).
 * Speed before -> after each step: the comments above the kernels and the commit messages;
 * today's figures: docs/activations.md ("What an activation costs").
 *
 * Error bounds (max ulp vs a float64 reference, measured by tests/test_activation_accuracy.py
 * on its dense float32 sweep) are given above each kernel.
 */
#ifndef DG_ACTIVATION_AVX512_H
#define DG_ACTIVATION_AVX512_H

#if defined(DG_X86_64)
#include <immintrin.h>
#include <stdint.h>

#include "dg_internal.h"
#include "dg_math.h"

#define DGV_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,fma")))

/* ln2 in two parts (Cody-Waite): n * LN2_HI is exact for |n| < 2^12 (12-bit LN2_HI). */
#define DGV_LOG2E 1.44269504088896340736f
#define DGV_LN2_HI 0.693145751953125f
#define DGV_LN2_LO 1.42860682030941723e-06f
#define DGV_EXP_LO -120.0f      /* e^x below this times any |m| <= 2^20 rounds to 0 */
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

/* The loop with four vectors per iteration. For a kernel of one instruction per vector or
 * none (relu, copy) the loop's own instructions held ReLU to 0.82x the speed of the (equally
 * plain) copy on an Intel Xeon, 64K float32 in L2; unrolled both run at L2 speed (ops.relu
 * 8.96 -> 7.35 us per 64K call, ops.copy 7.48 us before; ad-hoc timing loop). The GELUs, whose
 * long dependency chains gain from four independent vectors in flight: 0.526 -> 0.477 (gelu)
 * and 0.750 -> 0.688 ns/element (gelu_tanh), medians of 8 alternating processes of
 * `tools/quick_speed.py --n 65536`, same machine. The Pade loops (sigmoid, tanh, silu)
 * measured no change (-1% to +3%) and keep one vector. */
#define DGV_UNARY_LOOP_X4(name, vecfn)                                                       \
    DGV_UNARY_LOOP(name##_x1, vecfn)                                                         \
    static DGV_TARGET void name(float *out, const float *x, int64_t n, float p) {            \
        int64_t i = 0;                                                                       \
        for (; i + 64 <= n; i += 64) {                                                       \
            __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);              \
            __m512 c = _mm512_loadu_ps(x + i + 32), d = _mm512_loadu_ps(x + i + 48);         \
            _mm512_storeu_ps(out + i, vecfn(a));                                             \
            _mm512_storeu_ps(out + i + 16, vecfn(b));                                        \
            _mm512_storeu_ps(out + i + 32, vecfn(c));                                        \
            _mm512_storeu_ps(out + i + 48, vecfn(d));                                        \
        }                                                                                    \
        name##_x1(out + i, x + i, n - i, p);                                                 \
    }

/* DGV_UNARY_LOOP_X4 for the kernels of one instruction or none (relu, copy), bound by their
 * loads and stores: the elements before out's first 64-byte boundary (dg_line_head) go
 * through one masked vector first, so that the stores of the unrolled loop are whole cache
 * lines. 64K float32 NumPy arrays, `python tools/quick_speed.py --n 65536 --no-ref` against
 * the build before, alternating: copy 0.084 -> 0.078, relu 0.091-0.093 -> 0.084 ns/element.
 * The exp-based kernels, bound by their arithmetic and called per guard block of 256
 * elements (a head would add a vector per block), keep DGV_UNARY_LOOP_X4. */
#define DGV_UNARY_LOOP_X4_ALIGNED(name, vecfn)                                               \
    DGV_UNARY_LOOP_X4(name##_from_line, vecfn)                                               \
    static DGV_TARGET void name(float *out, const float *x, int64_t n, float p) {            \
        const int64_t h = dg_line_head(out, sizeof(float), n);                               \
        if (h > 0) {                                                                         \
            __mmask16 m = (__mmask16)((1u << h) - 1);                                        \
            _mm512_mask_storeu_ps(out, m, vecfn(_mm512_maskz_loadu_ps(m, x)));               \
        }                                                                                    \
        name##_from_line(out + h, x + h, n - h, p);                                          \
    }

/* The same for the backward kernels dinp[i] = f(dout[i], x[i]): silu' 0.612 -> 0.555, gelu'
 * 0.582 -> 0.568, gelu_tanh' 1.063 -> 1.033 ns/element (medians of 7 alternating processes of
 * `tools/quick_speed.py --n 65536 --bw`; the unchanged kernels of the same runs moved by up to
 * 4%, so the last two are within noise). */
#define DGV_BINARY_LOOP_X4(name, vecfn)                                                      \
    DGV_BINARY_LOOP(name##_x1, vecfn)                                                        \
    static DGV_TARGET void name(float *out, const float *a, const float *b, int64_t n, float p) { \
        int64_t i = 0;                                                                       \
        for (; i + 64 <= n; i += 64) {                                                       \
            __m512 r0 = vecfn(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));               \
            __m512 r1 = vecfn(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));     \
            __m512 r2 = vecfn(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));     \
            __m512 r3 = vecfn(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));     \
            _mm512_storeu_ps(out + i, r0);                                                   \
            _mm512_storeu_ps(out + i + 16, r1);                                              \
            _mm512_storeu_ps(out + i + 32, r2);                                              \
            _mm512_storeu_ps(out + i + 48, r3);                                              \
        }                                                                                    \
        name##_x1(out + i, a + i, b + i, n - i, p);                                          \
    }

/*
 * Streaming variants (name##_nt) of the forward loops, for outputs too large for the cache
 * (activation.inc, unary_piece): the same vector functions, so the same bits, but each group
 * of four vectors goes to memory with non-temporal stores (no read of the destination line,
 * no eviction of useful lines) and the input DGV_NT_AHEAD elements ahead is prefetched as the
 * loop goes. The stores need 64-byte alignment: the elements before out's first line boundary
 * and the last 0-63 go through the plain loop, which also takes an out that is not a whole
 * number of floats from a boundary. Stores and prefetches thus spread over the arithmetic
 * instead of coming in bursts; the loop they replace computed 256 elements into an L1 buffer,
 * then streamed the buffer out and prefetched 16 lines, and the core waited at each burst
 * (its time at 16M was about the arithmetic's plus the copy's). On the Intel Xeon of
 * 2026-12-02, 16M float32, `python tools/quick_speed.py --n 16777216 --no-ref` in a clean
 * build of the code before and of this, alternating, two runs each, ns/element: copy
 * 0.31-0.39 -> 0.28, relu 0.31 -> 0.28, sigmoid 0.37-0.38 -> 0.29-0.30, tanh 0.37-0.38 ->
 * 0.29-0.30, silu 0.39 -> 0.30, gelu 0.54 -> 0.40-0.43, gelu_tanh 0.52-0.55 -> 0.43-0.47; on
 * two threads (--threads 2) copy 0.170 -> 0.154, sigmoid 0.199 -> 0.156, gelu 0.272 -> 0.222.
 * The prefetch distance: a C harness of these loops over aligned 16M arrays on 4 KiB pages
 * (ad hoc) gave gelu 0.41 at 512 elements ahead, 0.42 at 256, 0.42-0.45 at 1024 and 2048,
 * 0.47-0.55 with none, and 0.49 with the same prefetches as a burst of 16 lines before each
 * block of 256; on transparent huge pages, where NumPy puts its large arrays, copy 0.32 at
 * 512 and 0.28-0.29 at 1024 and 2048, gelu 0.35-0.37 at any of the three. In the library
 * (quick_speed, alternating builds, three runs each): 1024 against 512, sigmoid 0.29-0.30
 * against 0.31-0.32, tanh 0.30-0.31 against 0.32, gelu 0.40-0.42 against 0.42; 2048 the same
 * as 1024. The plain loop is not called for an empty head or tail: five calls per block of
 * 256 had cost ~3% at 16M.
 * The prefetch address may lie past the end of x: a prefetch never faults, and the address is
 * formed as an integer (no pointer past the array). When x is a copy of the inputs on the
 * stack (activation.inc: in place), the prefetches there are wasted, not wrong.
 */
#define DGV_NT_AHEAD 1024
#define DGV_NT_STEP(vecfn, o, xi)                                                            \
    do {                                                                                     \
        const uintptr_t ahead = (uintptr_t)(xi) + DGV_NT_AHEAD * sizeof(float);              \
        for (int pk = 0; pk < 256; pk += 64) _mm_prefetch((const char *)(ahead + pk), _MM_HINT_T0); \
        __m512 a = _mm512_loadu_ps(xi), b = _mm512_loadu_ps((xi) + 16);                      \
        __m512 c = _mm512_loadu_ps((xi) + 32), d = _mm512_loadu_ps((xi) + 48);               \
        _mm512_stream_ps(o, vecfn(a));                                                       \
        _mm512_stream_ps((o) + 16, vecfn(b));                                                \
        _mm512_stream_ps((o) + 32, vecfn(c));                                                \
        _mm512_stream_ps((o) + 48, vecfn(d));                                                \
    } while (0)
/* The elements of out before its first 64-byte boundary; -1 when out is not a whole number
 * of floats from one (the streaming stores cannot be used). */
static inline int64_t dgv_nt_head(const float *out, int64_t n) {
    const int64_t h = dg_line_head(out, sizeof(float), n);
    return h < n && (uintptr_t)(out + h) % 64 != 0 ? -1 : h;
}
/* plain: the loop of the same vector function with ordinary stores (head, tail, fallback) */
#define DGV_UNARY_LOOP_NT(name, vecfn, plain)                                                \
    static DGV_TARGET void name(float *out, const float *x, int64_t n, float p) {            \
        const int64_t h = dgv_nt_head(out, n);                                               \
        if (h < 0) {                                                                         \
            plain(out, x, n, p);                                                             \
            return;                                                                          \
        }                                                                                    \
        if (h > 0) plain(out, x, h, p);                                                      \
        int64_t i = h;                                                                       \
        for (; i + 64 <= n; i += 64) DGV_NT_STEP(vecfn, out + i, x + i);                     \
        if (i < n) plain(out + i, x + i, n - i, p);                                          \
    }

/* relu(x) = max(0, x) in one instruction: vmaxps returns its second source when either is NaN
 * and when both are zeros, so this is x < 0 ? 0 : x bit for bit (relu(-0) = -0, NaN stays
 * NaN); the auto-vectorized loop spent a compare and a masked move on it. */
static DGV_TARGET inline __m512 dgv_relu(__m512 v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
DGV_UNARY_LOOP_X4_ALIGNED(dg_relu_forward_avx512_f32, dgv_relu)
DGV_UNARY_LOOP_NT(dg_relu_forward_avx512_f32_nt, dgv_relu, dg_relu_forward_avx512_f32)
static DGV_TARGET inline __m512 dgv_copy(__m512 v) { return v; }
DGV_UNARY_LOOP_X4_ALIGNED(dg_copy_forward_avx512_f32, dgv_copy)
DGV_UNARY_LOOP_NT(dg_copy_forward_avx512_f32_nt, dgv_copy, dg_copy_forward_avx512_f32)
/* leaky_relu(x) = x > 0 ? x : x slope, as leaky_relu_scalar (NaN and -0 times the slope, so
 * the same bits); dgv_leaky_relu_p takes the slope from the loops' parameter p. It had only the
 * auto-vectorized loop: 64K float32 7.3 -> 5.8 us per call (relu 5.7), and 16M 5.6 -> 4.9-5.0
 * ms with the streaming variant (timeit, alternating with the build before). */
static DGV_TARGET inline __m512 dgv_leaky_relu(__m512 v, float slope) {
    __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_mov_ps(_mm512_mul_ps(v, dgv_set1(slope)), pos, v);
}
#define dgv_leaky_relu_p(v) dgv_leaky_relu(v, p)
DGV_UNARY_LOOP_X4_ALIGNED(dg_leaky_relu_forward_avx512_f32, dgv_leaky_relu_p)
DGV_UNARY_LOOP_NT(dg_leaky_relu_forward_avx512_f32_nt, dgv_leaky_relu_p, dg_leaky_relu_forward_avx512_f32)

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
 * keeps |n| <= 125 and A 2^n normal). The addition rounds to nearest by the rounding embedded
 * in the instruction (DGV_ROUND), whatever the caller's MXCSR asks: under another mode n
 * would be the floor or the ceiling and r up to twice as long, off the approximation's
 * interval (the same for k in dgv_piecewise, where the wrong piece cost up to 4e-2 relative
 * in tanh; tests/test_activation_accuracy.py sets each mode with fesetround). Measured on Zen 5 with a C timing harness calling the
 * loops directly (64K float32 in L1/L2, cycles per 16 elements; not in the repository, the
 * Python-level figures are in docs/activations.md): sigmoid 11.1 -> 5.4 (with the one-step
 * reduction below), silu 13.0 -> 6.9, tanh 10.4 -> 8.0.
 * Lanes beyond the limit (and inf, NaN) take the general kernel, which handles every float
 * (DGV_UNARY_LOOP_PADE).
 */
#define DGV_MAGIC 12582912.0f   /* 1.5 2^23 */
#define DGV_PADE_MAX 86.0f      /* |w| <= 86: |n| <= 125 */
/* Elements per range check: one branch per 16 vectors, a block small enough (1 KiB) to stay in
 * L1 between the check and the computation, and a rare out-of-range value sends only its
 * block through the per-lane choice. */
#define DGV_PADE_BLOCK 256

/* e^w = 2^n (E + rO) / (E - rO), for u = -w with |u| <= DGV_PADE_MAX; *nbits = n << 23.
 * short_range (a compile-time 0/1): for |u| <= DGV_PADE_SHORT, r = w - n ln2 in ONE fma with
 * ln2 rounded to float (error 1.9e-9 |n| relative in e^w, <= 0.74 ulp for |n| <= 23) instead
 * of the two-step Cody-Waite reduction: one FMA-pipe instruction fewer, 11% of sigmoid
 * (max error 2.4 -> 2.9 ulp there). */
#define DGV_PADE_SHORT 16.0f
static DGV_TARGET inline void dgv_exp_pade(__m512 u, __m512 *E, __m512 *rO, __m512i *nbits,
                                           int short_range) {
    __m512 t = _mm512_fmadd_round_ps(u, dgv_set1(-DGV_LOG2E), dgv_set1(DGV_MAGIC), DGV_ROUND);
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

/* The class of x[0, n) for a kernel with the given limits (activation.inc, "special inputs"):
 * 2 if it holds a special input (nonzero |x| < tiny, |x| > limit, inf, NaN), else 1 if some
 * |x| > fast_limit, else 0. From the largest |x| and the smallest |x| - 1 as unsigned
 * integers (0 wraps to the top): four instructions per vector, compared once at the end. */
static DGV_TARGET int dgv_block_class(const float *x, int64_t n, float limit, float fast_limit, float tiny) {
    const __m512i abs_mask = _mm512_set1_epi32(INT32_MAX), one = _mm512_set1_epi32(1);
    __m512i hi = _mm512_setzero_si512(), lo_m1 = _mm512_set1_epi32(-1);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i a = _mm512_and_si512(_mm512_loadu_si512(x + i), abs_mask);
        hi = _mm512_max_epu32(hi, a);
        lo_m1 = _mm512_min_epu32(lo_m1, _mm512_sub_epi32(a, one));
    }
    if (i < n) {   /* the tail: absent lanes read as 0, which is not special */
        __m512i a = _mm512_and_si512(_mm512_maskz_loadu_epi32((__mmask16)((1u << (n - i)) - 1), x + i), abs_mask);
        hi = _mm512_max_epu32(hi, a);
        lo_m1 = _mm512_min_epu32(lo_m1, _mm512_sub_epi32(a, one));
    }
    __m512i tiny_m1 = _mm512_sub_epi32(_mm512_castps_si512(dgv_set1(tiny)), one);
    if (_mm512_cmpgt_epu32_mask(hi, _mm512_castps_si512(dgv_set1(limit))) |
        _mm512_cmplt_epu32_mask(lo_m1, tiny_m1))
        return 2;
    return _mm512_cmpgt_epu32_mask(hi, _mm512_castps_si512(dgv_set1(fast_limit))) != 0;
}

/* The loop of a kernel with a fast path valid for |x| <= limit. Every lane with |x| <= limit
 * gets the fast formula and every other lane (|x| > limit, inf, NaN) the general one, so the bits of an element
 * never depend on its neighbours or its position in the array; per block of DGV_PADE_BLOCK
 * elements one check decides whether the per-lane choice is needed at all. The inputs of a
 * block are read before its outputs are written (out may be x). A silu backward on the same
 * plan (dout B (den + x S) / den^2, one division) measured 4.2 ulp: not used.
 * name##_fast is the fast formula alone, for blocks whose range activation.inc's guard has
 * already checked (dgv_block_class: no second check). */
#define DGV_UNARY_LOOP_PADE(name, fastfn, generalfn, limit)                                  \
    static DGV_TARGET inline __m512 name##_lanes(__m512 v) {                                 \
        __m512 r = fastfn(v);                                                                \
        __mmask16 beyond = dgv_beyond(v, limit);                                             \
        return beyond ? _mm512_mask_mov_ps(r, beyond, generalfn(v)) : r;                     \
    }                                                                                        \
    DGV_UNARY_LOOP(name##_lanes_loop, name##_lanes)                                          \
    DGV_UNARY_LOOP(name##_fast, fastfn)                                                      \
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
    }                                                                                        \
    /* name with streaming stores (DGV_UNARY_LOOP_NT): the same blocks, the fast ones stored \
     * by DGV_NT_STEP after a head up to out's first line boundary */                        \
    static DGV_TARGET void name##_nt(float *out, const float *x, int64_t n, float p) {       \
        const int64_t h = dgv_nt_head(out, n);                                               \
        if (h < 0) {                                                                         \
            name(out, x, n, p);                                                              \
            return;                                                                          \
        }                                                                                    \
        if (h > 0) name##_lanes_loop(out, x, h, p);                                          \
        int64_t i = h;                                                                       \
        for (; i + DGV_PADE_BLOCK <= n; i += DGV_PADE_BLOCK) {                               \
            if (__builtin_expect(dgv_block_beyond(x + i, limit), 0)) {                       \
                name##_lanes_loop(out + i, x + i, DGV_PADE_BLOCK, p);                        \
                continue;                                                                    \
            }                                                                                \
            for (int j = 0; j < DGV_PADE_BLOCK; j += 64) DGV_NT_STEP(fastfn, out + i + j, x + i + j); \
        }                                                                                    \
        if (i < n) name##_lanes_loop(out + i, x + i, n - i, p);                              \
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
/* The logistic of the fast paths as a quotient: e^{-x} = 2^n A / B, A = E + rO, B = E - rO
 * (dgv_exp_pade), so sigmoid(x) = B / den, den = B + A 2^n. Returns B, sets *den. */
static DGV_TARGET inline __m512 dgv_logistic_pade(__m512 v, __m512 *den, int short_range) {
    __m512 E, rO;
    __m512i nb;
    dgv_exp_pade(v, &E, &rO, &nb, short_range);
    __m512 B = _mm512_sub_ps(E, rO);
    *den = _mm512_add_ps(B, dgv_times_2n(_mm512_add_ps(E, rO), nb));
    return B;
}
/* fast path (|x| <= 16, one-step reduction): sigmoid(x) = B / den. Max error 2.9 ulp
 * (measured). */
static DGV_TARGET inline __m512 dgv_sigmoid_pade(__m512 v) {
    __m512 den, B = dgv_logistic_pade(v, &den, 1);
    return _mm512_div_ps(B, den);
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
/* fast path (|x| <= 80): silu(x) = x B / (B + A 2^n) (as dgv_sigmoid_pade, but with the
 * two-step reduction: the one-step one measured 3.4 ulp here, too close to the bound). The
 * formula holds to 86, but beyond 80 silu(x) is x and the quotient (x B) / den can miss it by
 * a bit; the general kernel gives x, as the closed form activation.inc writes there. */
#define DGV_SILU_PADE_MAX 80.0f
static DGV_TARGET inline __m512 dgv_silu_pade(__m512 v) {
    __m512 den, B = dgv_logistic_pade(v, &den, 0);
    return _mm512_div_ps(_mm512_mul_ps(v, B), den);
}
DGV_UNARY_LOOP_PADE(dg_silu_forward_avx512_f32, dgv_silu_pade, dgv_silu, DGV_SILU_PADE_MAX)

/*
 * Piecewise polynomials (tanh, and H and D of the GELUs below): f(a) for 0 <= a < 16 as
 * 32 pieces of width 1/2, piece k = round(2a) a polynomial of degree 6 in u = a - k/2
 * (|u| <= 1/4), its coefficients tab[j][k] picked by one vpermt2ps each from two registers
 * (no gather), evaluated by Estrin's scheme. k and u come from adding 1.5 2^22 (that rounds a
 * to a multiple of 1/2, to nearest whatever the caller's rounding mode: DGV_ROUND embedded,
 * see DGV_MAGIC; k sits in the low bits of the sum, and u is exact). The tables are the
 * output of tools/fit_math.py (fit_pieces).
 * These vector functions are large: GCC would call some of them out of line (reloading every
 * constant per call); always_inline keeps them in their loops.
 */
#define DGV_PIECES_INLINE static DGV_TARGET inline __attribute__((always_inline))
DGV_PIECES_INLINE __m512 dgv_piecewise(const float (*tab)[32], __m512 a) {
    const __m512 magic = dgv_set1(6291456.0f);   /* 1.5 2^22: ulp 1/2 */
    __m512 t = _mm512_add_round_ps(a, magic, DGV_ROUND);   /* k = round(2a) in the low bits */
    __m512i k = _mm512_castps_si512(t);
    __m512 u = _mm512_sub_ps(a, _mm512_sub_ps(t, magic));
#define DGV_PIECE_COEF(j) \
    _mm512_permutex2var_ps(_mm512_loadu_ps(&tab[j][0]), k, _mm512_loadu_ps(&tab[j][16]))
    __m512 u2 = _mm512_mul_ps(u, u);
    __m512 p01 = _mm512_fmadd_ps(DGV_PIECE_COEF(1), u, DGV_PIECE_COEF(0));
    __m512 p23 = _mm512_fmadd_ps(DGV_PIECE_COEF(3), u, DGV_PIECE_COEF(2));
    __m512 p45 = _mm512_fmadd_ps(DGV_PIECE_COEF(5), u, DGV_PIECE_COEF(4));
    __m512 p46 = _mm512_fmadd_ps(DGV_PIECE_COEF(6), u2, p45);
#undef DGV_PIECE_COEF
    return _mm512_fmadd_ps(_mm512_fmadd_ps(p46, u2, p23), u2, p01);
}

/*
 * tanh(x) = sign(x) T(a), a = min(|x|, 9.5), T the piecewise polynomial dg_tanh_f32
 * (dg_tanh_table.h: pieces 0-18 fitted to tanh on [0, 9.25], 7.7e-8 relative; pieces 19-31
 * the constant 1). No exp, no division, no branch: ~20 instructions per 16 elements, 7 of
 * them vpermt2ps (the table lookups).
 *   - Piece 0 is u + c2 u^2 + ... (constant 0, linear term exactly 1): tanh(x) = x where x^2 is
 *     negligible, tanh(+-0) = +-0 (the sign is copied bitwise, as for every x).
 *   - From a = 9.25 on the result is exactly 1 (tanh rounds to 1 beyond 9.01; between the two
 *     the polynomial may give 1 - 2^-24, one ulp), tanh(+-inf) = +-1.
 *   - NaN propagates: vminps returns its second source, |x|, when either is NaN.
 * Max error 2.5 ulp (measured on a dense grid of every 97th float in [2^-31, 11]; test:
 * tests/test_activation_accuracy.py). It replaced the expm1 formula with a Pade fast path
 * (one vdivps per vector), which cost 0.212 ns/element against this kernel's 0.170 on an
 * Intel Xeon (64K float32, a C harness calling the loops directly; not in the repository);
 * the Pade form had measured 8.0 cycles per 16 elements on Zen 5, where this one has not
 * been measured. Float64 and the AVX2 / portable slots keep the expm1 formula of
 * activation.inc (tanh_scalar).
 */
#include "dg_tanh_table.h"
DGV_PIECES_INLINE __m512 dgv_tanh(__m512 v) {
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    __m512 t = dgv_piecewise(dg_tanh_f32, _mm512_min_ps(dgv_set1(9.5f), _mm512_abs_ps(v)));
    /* copysign(t, x): bit select, sign from x, the rest from t */
    return _mm512_castsi512_ps(
        _mm512_ternarylogic_epi32(sign, _mm512_castps_si512(v), _mm512_castps_si512(t), 0xCA));
}
DGV_UNARY_LOOP_X4(dg_tanh_forward_avx512_f32, dgv_tanh)
DGV_UNARY_LOOP_NT(dg_tanh_forward_avx512_f32_nt, dgv_tanh, dg_tanh_forward_avx512_f32)

/*
 * gelu(x) = x Phi(x) in float only (no double, no division), from a = min(|x|, GELU_XMAX):
 *   a Phi(-a) = e^{-a^2/2} H(a),  H(a) = a h(a),  h(a) = Phi(-a) e^{a^2/2} = erfcx(a/sqrt2)/2
 *   H: piecewise polynomial (dgv_piecewise; dg_gelu_table.h, tools/fit_math.py gelu_ah_f32)
 *   e^{-a^2/2}: w = (-a/2) a rounded, lo = fma((-a/2), a, -w) exact, e^{w + lo} = (1 + q) 2^n
 *      (lo added to the reduced argument).
 *   p = a Phi(-a) = scalef(fma(H, q, H), n)   (one rounding before the scaling)
 *   gelu(x) = max(-0, x) - p:  x < 0: -a Phi(-a) = x Phi(x);  x >= 0: x - x Phi(-x) = x Phi(x).
 * No compare, no blend. gelu(-inf) = -0 - 0 = -0, gelu(inf) = inf - 0, NaN propagates (vminps
 * and vmaxps return their second source, |x| and x, for NaN), gelu(+-0) = +-0.
 * The chains are kept short (Estrin for both polynomials, n rounded from a in parallel with
 * a^2): these loops run faster the fewer dependent steps an element needs.
 * Max error 2.8 ulp (measured: tests/test_activation_accuracy.py and a dense grid).
 */
#define DGV_GELU_XMAX 14.6f   /* = DG_GELU_XMAX for float: a Phi(-a) and gelu'(-a) round to 0 beyond */
#include "dg_gelu_table.h"

/* The final scaling y 2^n of the GELU forwards' safe loops, without subnormal arithmetic.
 * Where y 2^n is below 2^-126 (gelu(x), x < -13.2; gelu_tanh(x), x < -9.9) vscalefps produces
 * a subnormal: on Intel cores a microcode assist, and the underflow flag, which sends the
 * block through the special-input guard of activation.inc (unary_guarded: such blocks now run
 * the safe loop). Here t = |y| 2^(n + 149) counts units of the smallest subnormal 2^-149, and
 * where t < 2^23 the result's bits are t rounded to an integer (vcvtps2dq rounds to nearest
 * even, as the scaling would; t = 2^23 after rounding is the bits of 2^-126). Bit for bit the
 * result of vscalefps, which the common case keeps: a vector takes the branch only if a lane
 * has n < -100 (|y| <= 16 in both kernels, so above that y 2^n is normal unless y itself is
 * tiny, as for a tiny x, which the guard takes out). */
DGV_PIECES_INLINE __mmask16 dgv_scale_may_underflow(__m512 n, __mmask16 lanes) {
    return _mm512_mask_cmp_ps_mask(lanes, n, dgv_set1(-100.0f), _CMP_LT_OQ);
}
/* y 2^n in the lanes of low where it is below 2^-126 (*tiny: those lanes), sign of y. n + 149
 * is kept >= -30: t below 2^-26 rounds to 0 either way, and t itself stays normal. */
DGV_PIECES_INLINE __m512 dgv_scale_tiny(__m512 y, __m512 n, __mmask16 low, __mmask16 *tiny) {
    __m512 e = _mm512_max_ps(_mm512_add_ps(n, dgv_set1(149.0f)), dgv_set1(-30.0f));
    __m512 t = _mm512_maskz_scalef_ps(low, _mm512_abs_ps(y), e);
    *tiny = _mm512_mask_cmp_ps_mask(low, t, dgv_set1(8388608.0f), _CMP_LT_OQ);
    __m512i bits = _mm512_cvt_roundps_epi32(t, DGV_ROUND);
    return _mm512_or_ps(_mm512_castsi512_ps(bits), _mm512_and_ps(y, dgv_set1(-0.0f)));
}

/* q = e^r - 1 = r + r^2 P(r), P of dg_exp_poly_f32 as dgv_exp_q, by Estrin's scheme (these
 * loops are bound by the length of their dependency chains: 3 fma deep instead of 5). */
DGV_PIECES_INLINE __m512 dgv_gelu_exp_q(__m512 r) {
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 p01 = _mm512_fmadd_ps(dgv_set1(dg_exp_poly_f32[1]), r, dgv_set1(dg_exp_poly_f32[0]));
    __m512 p23 = _mm512_fmadd_ps(dgv_set1(dg_exp_poly_f32[3]), r, dgv_set1(dg_exp_poly_f32[2]));
    __m512 p24 = _mm512_fmadd_ps(dgv_set1(dg_exp_poly_f32[4]), r2, p23);
    return _mm512_fmadd_ps(r2, _mm512_fmadd_ps(p24, r2, p01), r);
}

/* e^{-a^2/2} = (1 + q) 2^n (see above); returns q. n is rounded from (-a log2(e)/2) a, in
 * parallel with w, and the two small corrections (-n ln2_lo, lo) are summed off the chain. */
DGV_PIECES_INLINE __m512 dgv_gelu_exp(__m512 a, __m512 *n) {
    __m512 ha = _mm512_mul_ps(a, dgv_set1(-0.5f));
    __m512 w = _mm512_mul_ps(ha, a);
    __m512 lo = _mm512_fmsub_ps(ha, a, w);
    *n = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_mul_ps(a, dgv_set1(-0.5f * DGV_LOG2E)), a), DGV_ROUND);
    __m512 corr = _mm512_fnmadd_ps(*n, dgv_set1(DGV_LN2_LO), lo);
    return dgv_gelu_exp_q(_mm512_add_ps(_mm512_fnmadd_ps(*n, dgv_set1(DGV_LN2_HI), w), corr));
}

/* safe (a compile-time 0/1): the final scaling by dgv_scale_tiny where it underflows */
DGV_PIECES_INLINE __m512 dgv_gelu_body(__m512 v, int safe) {
    /* vminps returns its second source when either is NaN */
    __m512 a = _mm512_min_ps(dgv_set1(DGV_GELU_XMAX), _mm512_abs_ps(v));
    __m512 m = dgv_piecewise(dg_gelu_ah_f32, a);
    __m512 n;
    __m512 q = dgv_gelu_exp(a, &n);
    __m512 y = _mm512_fmadd_ps(m, q, m);
    __mmask16 low = safe ? dgv_scale_may_underflow(n, (__mmask16)0xFFFF) : 0;
    if (__builtin_expect(low == 0, 1))
        return _mm512_sub_ps(_mm512_max_ps(dgv_set1(-0.0f), v), _mm512_scalef_ps(y, n));
    /* p below 2^-126: gelu(x) = x for x > 0 (x > 13), -p for x < 0 */
    __mmask16 tiny;
    __m512 pt = dgv_scale_tiny(y, n, low, &tiny);
    __m512 p = _mm512_mask_scalef_ps(dgv_set1(0.0f), (__mmask16)~tiny, y, n);
    __m512 r = _mm512_sub_ps(_mm512_max_ps(dgv_set1(-0.0f), v), p);
    __mmask16 x_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    r = _mm512_mask_mov_ps(r, tiny & ~x_neg, v);
    return _mm512_mask_mov_ps(r, tiny & x_neg, _mm512_xor_ps(pt, dgv_set1(-0.0f)));
}
DGV_PIECES_INLINE __m512 dgv_gelu(__m512 v) { return dgv_gelu_body(v, 0); }
DGV_PIECES_INLINE __m512 dgv_gelu_safe(__m512 v) { return dgv_gelu_body(v, 1); }
DGV_UNARY_LOOP_X4(dg_gelu_forward_avx512_f32_safe, dgv_gelu_safe)
DGV_UNARY_LOOP_NT(dg_gelu_forward_avx512_f32_safe_nt, dgv_gelu_safe, dg_gelu_forward_avx512_f32_safe)
DGV_UNARY_LOOP_X4(dg_gelu_forward_avx512_f32, dgv_gelu)
DGV_UNARY_LOOP_NT(dg_gelu_forward_avx512_f32_nt, dgv_gelu, dg_gelu_forward_avx512_f32)

/*
 * gelu'(x) dout = dout (Phi(x) + x phi(x)), phi(x) = e^{-x^2/2} / sqrt(2 pi) (the formula of
 * gelu_grad_fma_scalar), with q, n as in dgv_gelu and D(a) = h(a) - a/sqrt(2 pi) piecewise
 * (dg_gelu_dh_f32, same pieces):  v = e^{-a^2/2} D(a) = scalef(fma(D, q, D), n)
 *   x < 0: Phi(-a) - a phi(a) = v;   x >= 0: 1 - Phi(-a) + a phi(a) = 1 - v.
 * Near the zero of gelu' (x = -0.7518) the error is absolute (of the size of Phi(x)), as the
 * scalar's. gelu'(+-inf) = 1 / 0, NaN propagates. Max error 2.9 ulp (measured).
 */
DGV_PIECES_INLINE __m512 dgv_gelu_grad(__m512 dout, __m512 v) {
    __m512 a = _mm512_min_ps(dgv_set1(DGV_GELU_XMAX), _mm512_abs_ps(v));
    __mmask16 not_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLT_UQ);   /* x >= 0 or NaN */
    __m512 d = dgv_piecewise(dg_gelu_dh_f32, a);
    __m512 n;
    __m512 q = dgv_gelu_exp(a, &n);
    __m512 g = _mm512_scalef_ps(_mm512_fmadd_ps(d, q, d), n);
    g = _mm512_mask_sub_ps(g, not_neg, dgv_set1(1.0f), g);
    return _mm512_mul_ps(dout, g);
}
DGV_BINARY_LOOP_X4(dg_gelu_backward_avx512_f32, dgv_gelu_grad)

/*
 * gelu_tanh(x) = x sigmoid(w), w = 2u = 2 sqrt(2/pi) (x + 0.044715 x^3), in float only.
 * e^{-|w|} is as accurate as |w| in absolute terms (|w| reaches ~110 before x sigmoid(w)
 * underflows), so |w| is reduced with compensated steps, from a = min(|x|, GELU_TANH_AMAX):
 *   |w| log2(e) = a B,  B = alpha + gamma a^2,  alpha = 2 sqrt(2/pi) log2(e),  gamma = 0.044715 alpha
 *   a^2 = p + pl exactly (fma);  B = Bh + Bl:  Bh = fma(gamma_h, p, alpha_h), Bl = its rounding
 *     error fma(gamma_h, p, alpha_h - Bh) (alpha_h - Bh is exact: alpha_h is a multiple of
 *     2^-20 >= ulp(Bh), Bh < 16) + gamma_h pl + gamma_l p + alpha_l  (constants split hi + lo)
 *   n = round(a Bh),  f = fma(a, Bh, -n) (exact to 2^-25: |f| <= 1/2),  f += a Bl
 *   e^{-|w|} = e^r 2^-n,  r = -f ln2,  e^r = 1 + q (dgv_gelu_exp_q)
 * then the logistic as dgv_logistic: s = 1 / (1 + e) = sigmoid(|w|), and
 *   x >= 0: x s;   x < 0: e s (-a) = scalef(fma(m, q, m), -n) with m = -a s (one rounding).
 * a <= GELU_TANH_AMAX = 11: beyond, |w| > 112 and x sigmoid(w) is x (x > 0) or rounds to -0.
 * The forward scales the e of its denominator by 2^max(-n, -64) (1 + e rounds to 1 long
 * before): for x > 9.9, e^{-|w|} would be subnormal, and computing it cost gelu_tanh(20) an
 * assist per vector, or the special-input guard (see activation.inc); now such x are ordinary
 * inputs, 64K of x = 20 take 23.7 us instead of 52 (275 with the guard off), clean inputs
 * 2% more (23.2 -> 23.7 us; ad-hoc timing of ops.gelu(x, approximate="tanh"), old and new
 * build alternating). The results of x < -9.9 are subnormal: the safe loop forms them without
 * subnormal arithmetic (dgv_scale_tiny). The backward keeps e exact (its 1 - s term for
 * x > 0 is e s).
 * gelu_tanh(-inf) = -0, gelu_tanh(inf) = inf, NaN propagates. Max error 2.7 ulp (measured).
 */
#define DGV_GELU_TANH_AMAX 11.0f
#define DGV_GELU_TANH_ALPHA_HI (2414040.0f / 1048576.0f)   /* 2 sqrt(2/pi) log2(e) to 2^-20 */
#define DGV_GELU_TANH_ALPHA_LO 2.513669699055754e-07f
#define DGV_GELU_TANH_GAMMA_HI 0.10294324159622192f       /* 0.044715 alpha */
#define DGV_GELU_TANH_GAMMA_LO -2.016198541454628e-09f

/* r and -n with e^{-|w|} = e^r 2^-n (see above) for a = min(|x|, AMAX); *p = a^2 rounded.
 * The small terms of Bl are summed in a chain of their own, a Bl ln2 is added last. */
DGV_PIECES_INLINE __m512 dgv_gelu_tanh_reduce(__m512 a, __m512 *nn, __m512 *p) {
    const __m512 ah = dgv_set1(DGV_GELU_TANH_ALPHA_HI), gh = dgv_set1(DGV_GELU_TANH_GAMMA_HI);
    *p = _mm512_mul_ps(a, a);
    __m512 pl = _mm512_fmsub_ps(a, a, *p);
    __m512 bh = _mm512_fmadd_ps(gh, *p, ah);
    __m512 small = _mm512_fmadd_ps(gh, pl, _mm512_fmadd_ps(dgv_set1(DGV_GELU_TANH_GAMMA_LO), *p,
                                                          dgv_set1(DGV_GELU_TANH_ALPHA_LO)));
    __m512 bl = _mm512_add_ps(_mm512_fmadd_ps(gh, *p, _mm512_sub_ps(ah, bh)), small);
    *nn = _mm512_roundscale_ps(_mm512_fnmadd_ps(a, bh, _mm512_setzero_ps()), DGV_ROUND);   /* -n */
    __m512 f = _mm512_fmadd_ps(a, bh, *nn);
    const __m512 mln2 = dgv_set1(-0.693147180559945309f);
    return _mm512_fmadd_ps(f, mln2, _mm512_mul_ps(_mm512_mul_ps(a, mln2), bl));
}

/* sigmoid(|w|) with q, -n (e^{-|w|} = (1 + q) 2^-n), e = e^{-|w|} rounded (0 or subnormal
 * below 2^-126), a and a^2 for the callers. */
DGV_PIECES_INLINE __m512 dgv_gelu_tanh_logistic(__m512 v, __m512 *q, __m512 *nn, __m512 *e, __m512 *a,
                                                       __m512 *p, int refine) {
    /* vminps returns its second source when either is NaN */
    *a = _mm512_min_ps(dgv_set1(DGV_GELU_TANH_AMAX), _mm512_abs_ps(v));
    *q = dgv_gelu_exp_q(dgv_gelu_tanh_reduce(*a, nn, p));
    __m512 p2 = _mm512_scalef_ps(dgv_set1(1.0f), *nn);
    *e = _mm512_fmadd_ps(*q, p2, p2);
    return dgv_recip_1pe(*e, refine);
}

DGV_PIECES_INLINE __m512 dgv_gelu_tanh_body(__m512 v, int safe) {
    __mmask16 x_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 a = _mm512_min_ps(dgv_set1(DGV_GELU_TANH_AMAX), _mm512_abs_ps(v)), nn, p;
    __m512 q = dgv_gelu_exp_q(dgv_gelu_tanh_reduce(a, &nn, &p));
    /* 1 + e: e below 2^-64 rounds away, so the scaling of the denominator stops there */
    __m512 p2 = _mm512_scalef_ps(dgv_set1(1.0f), _mm512_max_ps(nn, dgv_set1(-64.0f)));
    __m512 s = dgv_recip_1pe(_mm512_fmadd_ps(q, p2, p2), 0);
    __m512 sm = _mm512_mul_ps(s, _mm512_mask_sub_ps(v, x_neg, _mm512_setzero_ps(), a));
    __m512 y = _mm512_fmadd_ps(sm, q, sm);
    __mmask16 low = safe ? dgv_scale_may_underflow(nn, x_neg) : 0;
    if (__builtin_expect(low == 0, 1))
        return _mm512_mask_scalef_ps(sm, x_neg, y, nn);
    __mmask16 tiny;   /* x < -9.9: the result is subnormal or -0 */
    __m512 pt = dgv_scale_tiny(y, nn, low, &tiny);
    return _mm512_mask_mov_ps(_mm512_mask_scalef_ps(sm, x_neg & ~tiny, y, nn), tiny, pt);
}
DGV_PIECES_INLINE __m512 dgv_gelu_tanh(__m512 v) { return dgv_gelu_tanh_body(v, 0); }
DGV_PIECES_INLINE __m512 dgv_gelu_tanh_safe(__m512 v) { return dgv_gelu_tanh_body(v, 1); }
DGV_UNARY_LOOP_X4(dg_gelu_tanh_forward_avx512_f32_safe, dgv_gelu_tanh_safe)
DGV_UNARY_LOOP_NT(dg_gelu_tanh_forward_avx512_f32_safe_nt, dgv_gelu_tanh_safe, dg_gelu_tanh_forward_avx512_f32_safe)
DGV_UNARY_LOOP_X4(dg_gelu_tanh_forward_avx512_f32, dgv_gelu_tanh)
DGV_UNARY_LOOP_NT(dg_gelu_tanh_forward_avx512_f32_nt, dgv_gelu_tanh, dg_gelu_tanh_forward_avx512_f32)

/*
 * gelu_tanh'(x) dout = dout s(w) (1 + x (1 - s(w)) w'),  w' = 2 sqrt(2/pi) (1 + 3 0.044715 x^2)
 * (gelu_tanh_grad_fma_scalar), with s, q, n, e, a, a^2 from dgv_gelu_tanh_logistic (s refined):
 *   x >= 0: s(w) = s, 1 - s(w) = e s;  x < 0: s(w) = e s, 1 - s(w) = s
 *   factor = 1 + sign(x) (1 - s(w)) a w',  a w' = uh + ul (w' as dh + dl, see below), one
 *     rounding (the factor reaches ~-300 where it must keep its digits)
 *   x >= 0: s factor;  x < 0: scalef(fma(m, q, m), -n) with m = s factor.
 * Near the zero of gelu_tanh' (x = -0.7524) the factor cancels: the error is absolute there.
 * Max error 3.1 ulp (measured on a dense grid; 2.7 on the test's sweep).
 */
DGV_PIECES_INLINE __m512 dgv_gelu_tanh_grad(__m512 dout, __m512 v) {
    __m512 q, nn, e, a, p;
    __m512 s = dgv_gelu_tanh_logistic(v, &q, &nn, &e, &a, &p, 1);
    __mmask16 x_neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    /* sign(x) (1 - s(w)): x >= 0: e s (e rounded: it is the small term of the factor there);
     * x < 0: -s */
    __m512 comp = _mm512_mask_sub_ps(_mm512_mul_ps(e, s), x_neg, _mm512_setzero_ps(), s);
    /* w' = c + 3 kappa c a^2 as dh + dl: dh = fma(c3h, p, ch), dl = its rounding error (ch - dh
     * exact: ch is a multiple of 2^-19 >= ulp(dh), dh < 32) + c3h pl + cl (c = ch + cl; the
     * rounding of c3h = 3 kappa c to float, <= 1e-9 relative to w', is left out) */
    const __m512 c3h = dgv_set1(0.21406444907188416f), ch = dgv_set1(836643.0f / 524288.0f);
    __m512 pl = _mm512_fmsub_ps(a, a, p);
    __m512 dh = _mm512_fmadd_ps(c3h, p, ch);
    __m512 dl = _mm512_fmadd_ps(c3h, pl, dgv_set1(-7.605964356116601e-07f));
    dl = _mm512_add_ps(_mm512_fmadd_ps(c3h, p, _mm512_sub_ps(ch, dh)), dl);
    /* a w' = uh + ul (uh rounded, ul its error + a dl); factor = 1 + comp (uh + ul), rounded once */
    __m512 uh = _mm512_mul_ps(a, dh);
    __m512 ul = _mm512_fmadd_ps(a, dl, _mm512_fmsub_ps(a, dh, uh));
    __m512 sm = _mm512_mul_ps(s, _mm512_fmadd_ps(comp, uh, _mm512_fmadd_ps(comp, ul, dgv_set1(1.0f))));
    return _mm512_mul_ps(dout, _mm512_mask_scalef_ps(sm, x_neg, _mm512_fmadd_ps(sm, q, sm), nn));
}
DGV_BINARY_LOOP_X4(dg_gelu_tanh_backward_avx512_f32, dgv_gelu_tanh_grad)

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
DGV_BINARY_LOOP_X4(dg_silu_backward_avx512_f32, dgv_silu_grad)

#endif /* DG_X86_64 */
#endif /* DG_ACTIVATION_AVX512_H */
