/*
 * dense.c -- the fully connected layer (PyTorch nn.Linear), forward and backward,
 * float32 and float64, every matrix product on the GEMM of gemm.c.
 *
 * Shapes: x (B, in), weight W (out, in), bias b (out), y (B, out); all row-major.
 * The body is written once in dense.inc against `real` and compiled twice here.
 */
#include <omp.h>

#include "dg_internal.h"

/* Columns of dbias per chunk of the bias-gradient reduction (a multiple of every vector
 * width; each thread owns whole chunks, so the summation order never depends on threads). */
#define DG_DBIAS_CHUNK 256
/* A second thread pays for the bias-gradient reduction from this many elements of dout. */
#define DG_DBIAS_PAR_MIN 65536

/* The body, written once against `real`: dense.inc (float -> *_f32, double -> *_f64). */
#define DG_TEMPLATE "dense.inc"
#include "dg_instantiate.h"
