/*
 * gemm.c -- C = alpha * op(A) op(B) + beta * C (+ a per-column bias), float32 and float64,
 * row-major, written from scratch the way BLIS builds a GEMM. No BLAS is linked or called.
 *
 * The algorithm (the body is in gemm.inc, written once against `real`):
 *
 *   loop 5  jc: over n, NC columns at a time     B block  KC x NC  -> lives in L3
 *   loop 4  pc: over k, KC at a time               pack op(B)(pc:pc+KC, jc:jc+NC) into Bp
 *   loop 3  ic: over m, MC rows at a time          pack op(A)(ic:ic+MC, pc:pc+KC) into Ap  -> L2
 *   loop 2  jr: over NC, NR columns at a time      one B micro-panel KC x NR   -> stays in L1
 *   loop 1  ir: over MC, MR rows at a time         one A micro-panel MR x KC   -> streamed from L2
 *   micro-kernel: an MR x NR tile of C held in registers, k rank-1 updates with FMA,
 *                 then one write-back  C = alpha * acc + beta * C (+ bias)
 *
 * Packing copies a panel into the exact order the micro-kernel reads it (A: MR values
 * of one column of op(A) after another; B: NR values of one row of op(B) after another),
 * so the inner loop reads two contiguous streams whatever the transposes and leading
 * dimensions were. Panels at the bottom/right edge are padded with zeros, so the
 * micro-kernel always computes a full MR x NR tile; an edge tile is written to a small
 * temporary and only its valid part is copied to C (nothing outside C is read or written).
 *
 * Threads (OpenMP): C is cut into one block per thread (a grid whose edges fall on
 * multiples of MR and NR) and each thread runs the whole serial loop nest above on its
 * block, with its own pack buffers: no barrier and no shared buffer, so a thread that
 * the OS delays holds up nobody until the final join. The price is some repeated
 * packing (a column cut makes every thread pack all of op(A)), and the grid is chosen
 * to minimise it. k is never split and the tile grid and KC blocks are those of the
 * serial GEMM, so every element of C is summed in the same order by whichever thread
 * computes it: the result is bit-identical for any thread count.
 *
 * Micro-kernels: AVX-512 (32 zmm registers), AVX2+FMA (16 ymm), portable C; chosen per
 * call from dg_isa_active(). Tile shapes (float32 / float64):
 *   AVX-512  MR = 14, NR = 32 / 16  -> 28 accumulators + 2 B vectors + 1 broadcast = 31 of 32 zmm;
 *            per k step 2 loads + 14 broadcasts feed 28 FMAs (both FMA pipes busy,
 *            loads well under the 2/cycle limit). 28 independent chains hide the 4-cycle
 *            FMA latency of 2 pipes (8 in flight needed).
 *   AVX2     MR = 6,  NR = 16 / 8   -> 12 accumulators + 2 B + 1 broadcast = 15 of 16 ymm.
 *   portable MR = 4,  NR = 8        -> small enough for 16 SSE registers; correctness first.
 * Block sizes (elements), chosen for Zen 4/5 (L1d 48 KiB, L2 1 MiB per core, L3 32 MiB):
 *   KC: the B micro-panel KC x NR must stay in L1 with room for the streamed A panel:
 *       AVX-512: KC = 256 -> 256*32*4 = 32 KiB (f32) / 256*16*8 = 32 KiB (f64).
 *   MC: the packed A block MC x KC in about half of L2: 14*36 = 504 rows * 256 * 4 B = 504 KiB (f32),
 *       252 rows for f64 (504 KiB).
 *   NC: the packed B block KC x NC in L3 (one per thread): 4096 * 256 * 4 B = 4 MiB at most;
 *       a smaller GEMM allocates only what it uses.
 * (The AVX2 and portable kernels use the same KC/NC and an MC that is a multiple of their MR.)
 *
 * Epilogue: the write-back applies `bias` (one value per column of C, added to every row)
 * in the last k block, so y = x W^T + b needs no second pass over y. Later epilogues
 * (an activation, say) belong in the same place: it is the only point where a tile of C
 * holds its final sum.
 */
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dg_internal.h"

#if defined(DG_X86_64)
#include <immintrin.h>
#endif

/* ---------------------------------------------------------- tile shapes --- */
#define DG_GEMM_MR_AVX512 14
#define DG_GEMM_NV_AVX512 2 /* vectors per row of the tile: NR = NV * lanes */
#define DG_GEMM_MR_AVX2 6
#define DG_GEMM_NV_AVX2 2
#define DG_GEMM_MR_PORTABLE 4
#define DG_GEMM_NR_PORTABLE 8
/* Largest tile of any kernel (sizes the edge-tile temporary on the stack). */
#define DG_GEMM_MR_MAX 16
#define DG_GEMM_NR_MAX 32
_Static_assert(DG_GEMM_MR_AVX512 <= DG_GEMM_MR_MAX && DG_GEMM_MR_AVX2 <= DG_GEMM_MR_MAX &&
                   DG_GEMM_MR_PORTABLE <= DG_GEMM_MR_MAX,
               "edge-tile temporary too small for MR");
_Static_assert(DG_GEMM_NV_AVX512 * 16 <= DG_GEMM_NR_MAX && DG_GEMM_NV_AVX2 * 8 <= DG_GEMM_NR_MAX &&
                   DG_GEMM_NR_PORTABLE <= DG_GEMM_NR_MAX,
               "edge-tile temporary too small for NR (float32 has the most lanes)");

#ifndef DG_GEMM_KC
#define DG_GEMM_KC 256
#endif
#ifndef DG_GEMM_NC
#define DG_GEMM_NC 4096
#endif
/* Bytes of packed A per k block in L2 (MC = this / (KC * sizeof(real)), rounded to MR). */
#ifndef DG_GEMM_A_BYTES
#define DG_GEMM_A_BYTES (512 * 1024)
#endif
/* A second thread pays from about 1 MFLOP (m*n*k >= 80^3, ~3 us on one core): below
 * that the fork/join (~1-2 us) and the repeated packing eat the gain. */
#ifndef DG_GEMM_PAR_MIN_MNK
#define DG_GEMM_PAR_MIN_MNK (80 * 80 * 80)
#endif

/* Alignment of the pack buffers: one cache line, also the widest vector. */
#define DG_GEMM_ALIGN 64

static void *dg_gemm_alloc(size_t bytes) {
    void *p = NULL;
    bytes = (bytes + DG_GEMM_ALIGN - 1) / DG_GEMM_ALIGN * DG_GEMM_ALIGN;
    if (bytes == 0) bytes = DG_GEMM_ALIGN;
    if (posix_memalign(&p, DG_GEMM_ALIGN, bytes) != 0) return NULL;
    return p;
}

static inline int64_t dg_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t dg_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

#if defined(DG_X86_64)
/* In-register transposes for the AVX-512 packs (transpose_block_avx512 in gemm.inc): on
 * entry v[i] is row i of a square block, on return v[q] is its column q. Both end with a
 * 4 x 4 transpose of 128-bit lanes: x[g] holds in its lane L the piece of row group g that
 * belongs to the columns of lane L; out[L] gets lane L of x[0], x[1], x[2], x[3] in that
 * order (two rounds of lane shuffles: 0x88 takes lanes 0 and 2 of each source, 0xdd lanes
 * 1 and 3). */
DG_TARGET_AVX512 static inline void dg_transpose_lanes(__m512 out[4], const __m512 x[4]) {
    const __m512 a02 = _mm512_shuffle_f32x4(x[0], x[1], 0x88);
    const __m512 a13 = _mm512_shuffle_f32x4(x[0], x[1], 0xdd);
    const __m512 b02 = _mm512_shuffle_f32x4(x[2], x[3], 0x88);
    const __m512 b13 = _mm512_shuffle_f32x4(x[2], x[3], 0xdd);
    out[0] = _mm512_shuffle_f32x4(a02, b02, 0x88);
    out[1] = _mm512_shuffle_f32x4(a13, b13, 0x88);
    out[2] = _mm512_shuffle_f32x4(a02, b02, 0xdd);
    out[3] = _mm512_shuffle_f32x4(a13, b13, 0xdd);
}
/* float32, 16 x 16: unpack pairs of rows (per 128-bit lane: r0[4L+0] r1[4L+0] r0[4L+1]
 * r1[4L+1], and the high half), then pairs of those as doubles, which leaves each lane L of
 * u[4g + s] holding column 4L + s of rows 4g..4g+3; then the lanes of the four row groups. */
DG_TARGET_AVX512 static inline void dg_transpose16_ps(__m512 v[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        const __m512d a = _mm512_castps_pd(t[g]), b = _mm512_castps_pd(t[g + 1]);
        const __m512d c = _mm512_castps_pd(t[g + 2]), d = _mm512_castps_pd(t[g + 3]);
        u[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));     /* column 4L + 0 */
        u[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c)); /* column 4L + 1 */
        u[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d)); /* column 4L + 2 */
        u[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d)); /* column 4L + 3 */
    }
    for (int s = 0; s < 4; ++s) {
        const __m512 x[4] = {u[s], u[4 + s], u[8 + s], u[12 + s]};
        __m512 col[4];
        dg_transpose_lanes(col, x);
        for (int l = 0; l < 4; ++l) v[4 * l + s] = col[l]; /* column 4L + s */
    }
}
/* float64, 8 x 8: unpack pairs of rows (lane L of t[2g + s]: column 2L + s of rows 2g,
 * 2g + 1), then the lanes of the four row pairs. */
DG_TARGET_AVX512 static inline void dg_transpose8_pd(__m512d v[8]) {
    __m512d t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(v[i], v[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(v[i], v[i + 1]);
    }
    for (int s = 0; s < 2; ++s) {
        const __m512 x[4] = {_mm512_castpd_ps(t[s]), _mm512_castpd_ps(t[2 + s]),
                             _mm512_castpd_ps(t[4 + s]), _mm512_castpd_ps(t[6 + s])};
        __m512 col[4];
        dg_transpose_lanes(col, x);
        for (int l = 0; l < 4; ++l) v[2 * l + s] = _mm512_castps_pd(col[l]); /* column 2L + s */
    }
}
#endif

/* ------------------------------------------------------ float32 template --- */
#define real float
#define DG_T(name) name##_f32
#if defined(DG_X86_64)
#define DG_V512 __m512
#define DG_V512_LANES 16
#define DG_V512_LOADU _mm512_loadu_ps
#define DG_V512_STOREU _mm512_storeu_ps
#define DG_V512_FMADD _mm512_fmadd_ps
#define DG_V512_MUL _mm512_mul_ps
#define DG_V512_ADD _mm512_add_ps
#define DG_V512_SET1 _mm512_set1_ps
#define DG_V512_ZERO _mm512_setzero_ps
#define DG_V512_TRANSPOSE dg_transpose16_ps
#define DG_V512_MASK_STOREU(p, n, v) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (v))
#define DG_V256 __m256
#define DG_V256_LANES 8
#define DG_V256_LOADU _mm256_loadu_ps
#define DG_V256_STOREU _mm256_storeu_ps
#define DG_V256_FMADD _mm256_fmadd_ps
#define DG_V256_MUL _mm256_mul_ps
#define DG_V256_ADD _mm256_add_ps
#define DG_V256_SET1 _mm256_set1_ps
#define DG_V256_ZERO _mm256_setzero_ps
#endif
#include "gemm.inc"
#undef real
#undef DG_T
#undef DG_V512
#undef DG_V512_LANES
#undef DG_V512_LOADU
#undef DG_V512_STOREU
#undef DG_V512_FMADD
#undef DG_V512_MUL
#undef DG_V512_ADD
#undef DG_V512_SET1
#undef DG_V512_ZERO
#undef DG_V512_TRANSPOSE
#undef DG_V512_MASK_STOREU
#undef DG_V256
#undef DG_V256_LANES
#undef DG_V256_LOADU
#undef DG_V256_STOREU
#undef DG_V256_FMADD
#undef DG_V256_MUL
#undef DG_V256_ADD
#undef DG_V256_SET1
#undef DG_V256_ZERO

/* ------------------------------------------------------ float64 template --- */
#define real double
#define DG_T(name) name##_f64
#if defined(DG_X86_64)
#define DG_V512 __m512d
#define DG_V512_LANES 8
#define DG_V512_LOADU _mm512_loadu_pd
#define DG_V512_STOREU _mm512_storeu_pd
#define DG_V512_FMADD _mm512_fmadd_pd
#define DG_V512_MUL _mm512_mul_pd
#define DG_V512_ADD _mm512_add_pd
#define DG_V512_SET1 _mm512_set1_pd
#define DG_V512_ZERO _mm512_setzero_pd
#define DG_V512_TRANSPOSE dg_transpose8_pd
#define DG_V512_MASK_STOREU(p, n, v) _mm512_mask_storeu_pd((p), (__mmask8)((1u << (n)) - 1u), (v))
#define DG_V256 __m256d
#define DG_V256_LANES 4
#define DG_V256_LOADU _mm256_loadu_pd
#define DG_V256_STOREU _mm256_storeu_pd
#define DG_V256_FMADD _mm256_fmadd_pd
#define DG_V256_MUL _mm256_mul_pd
#define DG_V256_ADD _mm256_add_pd
#define DG_V256_SET1 _mm256_set1_pd
#define DG_V256_ZERO _mm256_setzero_pd
#endif
#include "gemm.inc"
#undef real
#undef DG_T
