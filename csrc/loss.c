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
#include <math.h>
#include <omp.h>

#include "dg_internal.h"
#include "dg_isa3.h"
#include "dg_math.h"

/* At most this many partial sums (a stack array): chunks grow with n beyond it. */
#define DG_LOSS_MAX_CHUNKS 1024
#define DG_LOSS_CHUNK_MIN 16384 /* elements per MSE chunk, at least */
#define DG_LOSS_PAR_MIN 65536   /* elements from which a second thread pays */

/* ceil(n / max_chunks), at least min_len: the chunk length, a function of n only. */
static int64_t dg_loss_chunk_len(int64_t n, int64_t min_len) {
    int64_t len = (n + DG_LOSS_MAX_CHUNKS - 1) / DG_LOSS_MAX_CHUNKS;
    return len < min_len ? min_len : len;
}

/* The body, written once against `real`: loss.inc (float -> *_f32, double -> *_f64). */
#define DG_TEMPLATE "loss.inc"
#include "dg_instantiate.h"
