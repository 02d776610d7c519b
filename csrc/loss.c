/*
 * loss.c -- mean-squared error and softmax cross-entropy, forward (the mean loss)
 * and backward (its gradient), float32 and float64 (body: loss.inc).
 *
 * Sums run in double in chunks whose size depends only on the input size; the
 * chunk partials are added in chunk order, so the loss has the same bits for any
 * thread count. Cross-entropy uses log-sum-exp with the row maximum subtracted:
 * exp never sees a positive argument, so logits of +-1e4 neither overflow nor lose
 * the loss (the vector exp of dg_math.h; one libm log per row).
 */
/* -fno-trapping-math for this file, as in activation.c: the exp of the cross-entropy
 * (dg_math.h) selects between computed values (x > EXP_HI ? inf : e^x); under GCC's default
 * -ftrapping-math the vectorizer will not compute the arm it might not need (it could raise
 * an FP exception flag), so without AVX-512 masking (AVX2, SSE2) the loops with an exp stayed
 * scalar. Results are unchanged (IEEE arithmetic, no -ffast-math); nothing here reads the
 * flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <omp.h>

#include "dg_internal.h"
#include "dg_isa3.h"
#include "dg_math.h"

/* At most this many partial sums (a stack array): chunks grow with n beyond it. */
#define DG_LOSS_MAX_CHUNKS 1024
#define DG_LOSS_CHUNK_MIN 16384 /* elements per MSE chunk, at least */
#define DG_LOSS_PAR_MIN 65536   /* elements from which a second thread pays */
/* Independent running sums (powers of two) of the MSE chunk sum (four AVX-512 vectors of
 * double, enough to cover the adder's latency) and of a cross-entropy row's sum of exps
 * (one float32 vector of exps, two vectors of double). */
#define DG_MSE_LANES 32
#define DG_CE_LANES 16

/* v[0] + v[1] + ... + v[n-1] (n a power of two), added pairwise in a fixed order.
 * Overwrites v. */
static inline double dg_pairwise_total(double *v, int n) {
    for (int width = n / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; ++k) v[k] += v[k + width];
    return v[0];
}

/* ceil(n / max_chunks), at least min_len: the chunk length, a function of n only. */
static int64_t dg_loss_chunk_len(int64_t n, int64_t min_len) {
    int64_t len = (n + DG_LOSS_MAX_CHUNKS - 1) / DG_LOSS_MAX_CHUNKS;
    return len < min_len ? min_len : len;
}

/* The body, written once against `real`: loss.inc (float -> *_f32, double -> *_f64). */
#define DG_TEMPLATE "loss.inc"
#include "dg_instantiate.h"
