/*
 * residual.c -- the residual connection y = x + f(x), forward and backward,
 * float32 and float64 (body: residual.inc, compiled once per dtype).
 *
 * Why this file exists at all: a residual block's Jacobian is dy/dx = I + df/dx.
 * However small df/dx becomes (a saturated sigmoid, a dead ReLU, a tiny weight),
 * the identity term passes the upstream gradient to the block's input unchanged.
 * Stacking L blocks multiplies (I + J_l) instead of J_l, so the gradient does not
 * shrink like 0.25^L. In code that is one add per element, in both directions.
 */
#include <omp.h>

#include "dg_internal.h"
#include "dg_isa3.h"

/* An add is memory-bound: a second thread pays only on arrays beyond the caches. */
#define DG_RES_PAR_MIN 262144
#define DG_RES_CHUNK 16384

/* The body, written once against `real`: residual.inc (float -> *_f32, double -> *_f64). */
#define DG_TEMPLATE "residual.inc"
#include "dg_instantiate.h"
