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
 * AVX-512 masking (AVX2, SSE2) those loops stay scalar. Nothing here reads FP exception
 * flags; results are unchanged (IEEE arithmetic, no -ffast-math). */
#pragma GCC optimize("no-trapping-math")

#include <math.h>
#include <omp.h>

#include "dg_internal.h"
#include "dg_math.h"

/* Below these sizes a second thread costs more (fork/join ~ 2-5 us) than it saves. */
#define DG_PAR_MIN_CHEAP 262144   /* relu, leaky_relu, copy: memory-bound from the start */
#define DG_PAR_MIN_EXP 32768      /* exp-based: ~1 ns/element of compute per core */
/* Elements per scheduling chunk: a multiple of every vector width, 64 KiB of float. */
#define DG_CHUNK 16384

#define real float
#define DG_T(name) name##_f32
#define DG_M(name) dg_##name##_f32
#define DG_FMA(a, b, c) fmaf(a, b, c)
#include "activation.inc"
#undef real
#undef DG_T
#undef DG_M
#undef DG_FMA

#define real double
#define DG_T(name) name##_f64
#define DG_M(name) dg_##name##_f64
#define DG_FMA(a, b, c) fma(a, b, c)
#include "activation.inc"
#undef real
#undef DG_T
#undef DG_M
#undef DG_FMA
