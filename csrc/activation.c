/*
 * activation.c -- elementwise activations, forward and backward, float32 and float64.
 *
 * The kernels are written once, in activation.inc, against the type `real`; this file
 * compiles that body twice:  real = float  -> *_f32,  real = double -> *_f64.
 * Shapes, formulas and preconditions: deepgrad.h. Vector math: dg_math.h.
 *
 * Why ReLU and sigmoid cost nearly the same here: ReLU is one compare per element,
 * sigmoid one polynomial exp and one division -- about 20 vector instructions for 16
 * floats. From DRAM both are limited by memory bandwidth; in cache the exp shows.
 */
/* -fno-trapping-math for this file: the activations are branch-free selects between two
 * computed values (x < 0 ? a : b). Under GCC's default -ftrapping-math the vectorizer will
 * not execute the arm it "might not need" (it could raise an FP exception flag), so without
 * AVX-512 masking (AVX2, SSE2) those loops stay scalar. Results are unchanged (IEEE
 * arithmetic, no -ffast-math). The flags are read in one place only, as a hint: the
 * underflow / denormal flags after a block tell activation.inc that its special inputs cost
 * time there ("special inputs"); a flag raised by an arm not needed only costs that block a
 * second, guarded pass with the same results. */
#pragma GCC optimize("no-trapping-math")

#include <math.h>
#include <omp.h>

#include "dg_internal.h"
#include "dg_math.h"

/* Hand-written AVX-512 float32 forward loops (x86-64 GCC/clang only). DG_X512_PICK(f32, generic)
 * names the intrinsic loop in the float32 instantiation and the auto-vectorized one otherwise. */
#if defined(DG_X86_64)
#include "activation_avx512.h"
#define DG_X512_PICK(f32_loop, generic_loop) _Generic((real)0, float: f32_loop, default: generic_loop)
#else
#define DG_X512_PICK(f32_loop, generic_loop) generic_loop
#endif

/* When a second thread pays (elements; measured with 1 vs 2 threads on the 2-core shared
 * test machines, AVX-512, float32, ns/element):
 *   exp-based (sigmoid, tanh, gelu):  64K-4M: 2 threads 1.9x faster when the other core is
 *     idle, but 1.5-2x SLOWER when it is busy (the team's earlier report: 10x slower at 32K,
 *     a scheduling delay dwarfs 10 us of work). From 256K on (>= 50 us of work) the gain
 *     when it comes is worth the risk.
 *   relu / copy: 256K-4M (in L2/L3): 2 threads 1.6-3x faster.
 *   16M (64 MiB, DRAM): on the AMD VM 2 threads were slower for every kernel in 3 of 3 runs
 *     (copy 0.19 -> 0.36-0.57, sigmoid 0.21 -> 0.31-0.95), and the kernels ran on one thread
 *     above 8M elements. On the Intel Xeon VM of 2026-12-02 one core draws about half the
 *     bandwidth: `python tools/quick_speed.py --n 16777216 --threads 2`, two runs, a build
 *     with that cap against one without: copy 0.30 -> 0.17, relu 0.31 -> 0.17, sigmoid 0.35
 *     -> 0.19, gelu_tanh 0.48 -> 0.26 ns/element, and PyTorch on 2 threads (relu 0.18) ahead
 *     of the capped build. So there is no cap now (DG_PAR_MAX: -D to restore one); one thread
 *     is deepgrad.set_num_threads(1).
 * The constants can be overridden with -D for such measurements. */
#ifndef DG_PAR_MIN_CHEAP
#define DG_PAR_MIN_CHEAP 262144   /* relu, leaky_relu, copy, backward-from-output */
#endif
#ifndef DG_PAR_MIN_EXP
#define DG_PAR_MIN_EXP 262144     /* exp-based forward and backward */
#endif
#ifndef DG_PAR_MAX
#define DG_PAR_MAX INT64_MAX      /* above: one thread */
#endif
/* Elements per scheduling chunk: a multiple of every vector width, 64 KiB of float. */
#define DG_CHUNK 16384
/* Forward outputs of at least this many bytes (beyond what the cache keeps) are written with
 * non-temporal stores: on AVX-512 float32 by the kernels' own streaming loops
 * (activation_avx512.h, DGV_UNARY_LOOP_NT), otherwise (float64, AVX2, portable, leaky relu,
 * the libm sigmoid) as described here, DG_STREAM_PIECE elements (4 / 8 KiB, in L1, a multiple of the
 * AVX-512 fast-path block) at a time: no read of each destination line before it is
 * overwritten, a third less DRAM traffic. Measured with tools/quick_speed.py --n 16777216,
 * 1 thread, this build against one with DG_STREAM_BYTES raised out of reach, back to back:
 * copy 0.22-0.25 -> 0.17-0.19 ns/element, relu 0.23-0.29 -> 0.16-0.20.
 * Each sub-piece (DG_STREAM_SUB, 16 lines) goes out as soon as it is computed: written per
 * whole piece, the 64 streaming stores of a piece came in one burst that the core waited on
 * (more lines than it has write-combining buffers) instead of computing the next elements.
 * On the Intel Xeon of 2026-12-02, three alternating runs of `python tools/quick_speed.py
 * --n 16777216 --no-ref` against the build before: copy 0.33-0.34 -> 0.30, relu 0.34 ->
 * 0.30, tanh 0.40 -> 0.36, gelu 0.53-0.54 -> 0.48-0.51, gelu_tanh 0.75 -> 0.70-0.73
 * ns/element (the first pair of runs, in a slow state of the VM, left out). */
#ifndef DG_STREAM_BYTES
#define DG_STREAM_BYTES ((int64_t)8 << 20)
#endif
#define DG_STREAM_PIECE 1024
/* On the streaming path the input DG_STREAM_PF_PIECES pieces ahead is prefetched, a few
 * lines before each sub-piece of DG_STREAM_SUB elements (a multiple of the AVX-512
 * fast-path block; spread out rather than a whole piece at once, which measured slower
 * for the exp-based kernels than no prefetch). 16M float32, 1 thread, in one process (an
 * ad-hoc script toggling the prefetch; tools/quick_speed.py --n 16777216 shows the result)
 * against no prefetch, best / median ns/element: copy 0.166/0.168 -> 0.130/0.133,
 * sigmoid 0.160/0.164 -> 0.133/0.138, silu 0.175/0.179 -> 0.150/0.153, gelu
 * 0.249/0.272 -> 0.252/0.255, gelu_tanh 0.284/0.305 -> 0.284/0.288. */
#define DG_STREAM_PF_PIECES 2
#define DG_STREAM_SUB 256

/* The body, written once against `real`: activation.inc (float -> *_f32, double -> *_f64). */
#define DG_TEMPLATE "activation.inc"
#include "dg_instantiate.h"
