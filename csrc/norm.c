/*
 * norm.c -- LayerNorm, RMSNorm and BatchNorm, forward and backward, float32 and float64.
 *
 * The kernels are written once, in norm.inc, against the type `real`; this file
 * compiles that body twice:  real = float -> *_f32,  real = double -> *_f64.
 * Shapes, formulas and preconditions: deepgrad.h.
 *
 * Accuracy: every mean, variance and row/column sum is accumulated in double, for
 * float32 too, so a float32 row of 1e6 values around 1e4 keeps its variance (float
 * accumulation would lose it entirely). LayerNorm takes a row's statistics in one pass
 * around a shift taken from the row (two passes, from L1/L2, when that shift is far
 * from the mean). BatchNorm streams the rows through L1-resident per-column partials,
 * reduces sub-blocks of DG_BN_SUB rows per column in one pass around the sub-block's
 * first row (which bounds the cancellation, see bn_stats_block_body) and merges the
 * sub-block statistics in double with Chan's formula.
 *
 * Threads and determinism: a row (LayerNorm, RMSNorm) or a column (BatchNorm) is
 * always reduced by one thread, in index order. The parameter gradients of
 * LayerNorm/RMSNorm sum over rows: rows are cut into blocks whose number depends
 * only on the shape, each block sums into its own double buffer, and the buffers
 * are added in block order. BatchNorm's column statistics use the same fixed row
 * blocks (sub-block statistics merged with Chan's formula, blocks in block order). So the bits
 * never depend on the thread count.
 *
 * Memory: outputs of DG_NORM_NT_BYTES or more whose call touches more than the last-level
 * cache keeps (dg_norm_streams; LayerNorm/RMSNorm and BatchNorm, forward and backward) are
 * written with non-temporal stores.
 * A 1024-column float32 row is one 4 KiB page, where the hardware prefetcher stops: the
 * backward dinp passes prefetch the next rows two cache lines at a time along the pass.
 */
/* The build passes -fwrapv (Python's default CFLAGS). Under it GCC vectorizes the
 * LayerNorm backward row loops far worse (measured 2300 vs 1450 us at 4096x1024
 * float32); nothing here relies on signed overflow wrapping, so this file opts out. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-wrapv")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dg_internal.h"
#include "dg_isa3.h"
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Outputs of at least this many bytes are written with non-temporal stores when the call
 * touches at least dg_norm_stream_touch() bytes (a quarter of the last-level cache, see
 * deepgrad.h): such outputs cannot stay in the cache anyway, and the streaming stores skip
 * reading every destination line before it is overwritten (a third of the traffic of a row
 * kernel). On the AMD machine (32 MiB L3) that is every output of 8 MiB or more, as before
 * the cache-size rule. On the Intel Xeon (480 MiB L3 reported) the 4096x1024 float32 arrays
 * (16 MiB) stay in L3 between calls, and ordinary stores measured faster:
 * `python tools/ab_norm.py --rows 4096 --dir fwd|bwd [--norm bn] --trials 7 base
 * "stream=-DDG_NORM_STREAM_TOUCH=0"` (ordinary vs streaming, median us): LayerNorm forward
 * 1360 vs 1803, backward 2057 vs 2709, BatchNorm forward 2099 vs 3191, backward 3473
 * vs 3720. The activations keep their own rule (DG_STREAM_BYTES, activation.c): at 16M
 * float32 (128 MiB touched) streaming measured faster there too. */
#ifndef DG_NORM_NT_BYTES
#define DG_NORM_NT_BYTES ((int64_t)8 << 20)
#endif
/* 1 when a call whose output has out_bytes and that touches `arrays` arrays of that size
 * writes with non-temporal stores (see DG_NORM_NT_BYTES; -DDG_NORM_STREAM_TOUCH=0 builds
 * the old rule, every output of DG_NORM_NT_BYTES or more streaming). */
static int dg_norm_streams(int64_t out_bytes, int64_t arrays) {
#ifdef DG_NORM_STREAM_TOUCH /* a fixed figure instead of the runtime's (A/B builds) */
    const int64_t touch = DG_NORM_STREAM_TOUCH;
#else
    const int64_t touch = dg_norm_stream_touch();
#endif
    return out_bytes >= DG_NORM_NT_BYTES && arrays * out_bytes >= touch;
}
/* Elements per L1 buffer that a row kernel fills before streaming it out. */
#define DG_NT_CHUNK 512

/* Below this many elements a second thread costs more than it saves. */
#define DG_NORM_PAR_MIN 65536
/* Row blocks of the thread-independent column sums: at most this many, of at least
 * DG_NORM_BLOCK_MIN rows (LayerNorm/RMSNorm parameter gradients: each block costs the
 * zeroing and combining of its own partial rows, so short blocks cost more than they
 * split) or DG_BN_BLOCK_MIN rows (BatchNorm statistics and sums: each block has its own
 * double column arrays, merged at the end; 64 rather than 8 rows keeps that scratch out
 * of the cache x needs: (256, 1024) float32 forward 41 -> 38 us). */
#define DG_NORM_MAX_BLOCKS 16
#define DG_NORM_BLOCK_MIN 64
#define DG_BN_BLOCK_MIN 64

/* Row reductions (LayerNorm/RMSNorm statistics and backward sums): DG_LANES
 * independent partial sums in the input's type, each of which adds at most DG_CHUNK
 * terms before it is added into its own double total. For float32 that keeps the
 * float->double conversions (which halve the vector width) to 1 in DG_CHUNK elements
 * while a float partial never sums more than DG_CHUNK terms (relative error below
 * DG_CHUNK * 2^-24 of the sum of |terms| before the double total takes over); the
 * terms are differences from a shift near the mean, so the large offsets float32
 * cannot add accurately never enter the float partials. The order is fixed by this
 * code (not by the vector width or the thread count). */
#define DG_LANES 64
#define DG_CHUNK 16
/* LayerNorm forward: the shift of the one-pass statistics is the mean of this many
 * leading values of the row. */
#define DG_SHIFT_N 16
/* Double totals per reduction: lane k of a chunk goes to total k % DG_TOT. */
#define DG_TOT 8

/* tot[0] + ... + tot[DG_TOT-1], added pairwise in a fixed order. Overwrites tot. */
static inline double dg_tot_total(double *tot) {
    for (int width = DG_TOT / 2; width >= 1; width /= 2)
        for (int k = 0; k < width; ++k) tot[k] += tot[k + width];
    return tot[0];
}

/* BatchNorm column reductions: rows summed in the input's type before they are
 * added into the double sums, and rows per group (one load and store of the partials
 * per group). DG_BN_SUB also bounds the rounding amplification of the forward statistics
 * (at most DG_BN_SUB + 1, bn_stats_block_body). 32 would double that bound and measured
 * no faster on the BatchNorm forward 256x1024 float32 (`python tools/ab_norm.py --norm bn
 * --rows 256 --dir fwd base "s32=-DDG_BN_SUB=32"`: 67.7 vs 67.3 us). */
#ifndef DG_BN_SUB
#define DG_BN_SUB 16
#endif
#define DG_BN_GROUP 4 /* bn_rows_sums handles the shorter groups 1..3 */

/* BatchNorm backward dinp pass: rows before the current pair whose next two are
 * prefetched along it (2: the next pair). */
#ifndef DG_BN_DX_PF_AHEAD
#define DG_BN_DX_PF_AHEAD 2
#endif

/* LayerNorm/RMSNorm backward: rows whose parameter-gradient terms are summed in the
 * input's type before they join the block's double partials. */
#define DG_PARAM_ROWS 32
/* `real` scratch rows that are read and written beside the rows of x, dout and dinp are
 * placed this many elements apart: rows of 1024 float32 are 4 KiB, and arrays a multiple
 * of 4 KiB apart compete for the same L1 sets column by column. 80 elements (320 bytes
 * in float32) move each scratch row 5 of the 64 L1 sets away from the previous one.
 * 256x1024 float32, alternating processes with fresh arrays (an ad-hoc script):
 * LayerNorm backward median 59-61 -> 58-59 us, BatchNorm train 46-49 -> 41-43. */
#ifndef DG_SCRATCH_PAD
#define DG_SCRATCH_PAD 80
#endif
/* LayerNorm/RMSNorm backward: the row the dinp pass prefetches, this many rows ahead
 * (DRAM-sized inputs). 4096x1024 float32, 1 thread, interleaved in one process (fresh
 * arrays per trial; an ad-hoc script, not in the repository), median: 1 row 1477/1489 us,
 * 2 rows 1203/1284, 3 rows 1208/1286. */
#ifndef DG_NORM_PF_ROWS
#define DG_NORM_PF_ROWS 2
#endif
#ifndef DG_NORM_PF_ROWS_CACHE
#define DG_NORM_PF_ROWS_CACHE 1 /* the same for cache-sized inputs */
#endif
/* LayerNorm/RMSNorm backward, cache-sized arrays: the row sums of a row fetch its dinp row
 * for writing (__builtin_prefetch(p, 1, 3): prefetcht0 on the x86-64-v4 target, which has no
 * PRFCHW; a build with prefetchw measured the same), so that the dinp pass that follows
 * stores into lines already in L1. Without it every dinp line is a store miss; stores retire
 * in order, and on the Intel Xeon the store buffer then fills behind the misses (most with
 * the three stores per vector of the pass that also adds the parameter-gradient terms).
 * 256x1024 float32, 1 thread:
 * `python tools/ab_norm.py --rows 256 --dir bwd base "nopf=-DDG_NORM_PREFETCH_DINP=0"`
 * 151 vs 211 us; median of 300 calls of layernorm_backward_f32 from a C harness (not in the
 * repository): with dweight and dbias 186 -> 118-127 us, without 113 -> 103; 64x1024 (in L2)
 * 31 -> 21 us. The same prefetch of the output row in the LayerNorm forward (one store per
 * vector) measured slower (ab_norm --dir fwd against a variant not kept: 87 -> 93 us). */
#ifndef DG_NORM_PREFETCH_DINP
#define DG_NORM_PREFETCH_DINP 1
#endif
/* BatchNorm, cache-sized arrays: the apply pass (forward) and the dinp pass (backward)
 * fetch the next pair of output rows for writing while they compute this pair (as
 * DG_NORM_PREFETCH_DINP). `python tools/ab_norm.py --norm bn --rows 256 --dir fwd|bwd` against
 * -DDG_BN_PREFETCH_OUT=0: forward 124 vs 128 us, backward 211 vs 225 us. The value is how many
 * pairs ahead (0: no prefetch; two pairs ahead, =2, was slower than one). */
#ifndef DG_BN_PREFETCH_OUT
#define DG_BN_PREFETCH_OUT 1
#endif
/* LayerNorm/RMSNorm backward: rows per group (sums of each, then one pass over the
 * columns for the group's dinp and parameter-gradient terms; 2 measured slower). */
#ifndef DG_BWD_GROUP_ROWS
#define DG_BWD_GROUP_ROWS 1
#endif

/* a[j] += b[j], j < n (the block partials are combined with this, vectorized per ISA) */
static DG_ALWAYS_INLINE void dg_addv_body(double *a, const double *b, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) a[j] += b[j];
}
static DG_TARGET_AVX512 void dg_addv_avx512(double *a, const double *b, int64_t n) {
    dg_addv_body(a, b, n);
}
static DG_TARGET_AVX2 void dg_addv_avx2(double *a, const double *b, int64_t n) {
    dg_addv_body(a, b, n);
}
static DG_TARGET_PORTABLE void dg_addv_portable(double *a, const double *b, int64_t n) {
    dg_addv_body(a, b, n);
}

/* Rows per block: depends on `rows` (and the minimum) only, never on threads. */
static int64_t dg_norm_block_rows(int64_t rows, int64_t min_rows) {
    int64_t per = (rows + DG_NORM_MAX_BLOCKS - 1) / DG_NORM_MAX_BLOCKS;
    return per < min_rows ? min_rows : per;
}

/* The body, written once against `real`: norm.inc (float -> *_f32, double -> *_f64). */
#define DG_TEMPLATE "norm.inc"
#include "dg_instantiate.h"
