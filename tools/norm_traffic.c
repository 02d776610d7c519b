/*
 * norm_traffic.c -- the normalization backwards against bare loops that move the same bytes
 * (built and run by tools/norm_traffic.py; not part of the library).
 *
 *   norm_traffic ROWS TRIALS
 *
 * float32 (ROWS, 1024), one thread, the arrays placed as NumPy places large ones (16 bytes
 * past a page). Every case runs on the same x, dout and out, so the caches hold the same
 * bytes for all of them. A trial runs each case (in rotated order) 10 times and keeps the
 * median of the last 7; the output is, per case, the median over the trials and the
 * quartiles, microseconds:
 *
 *   add                 out = x + dout: a LayerNorm backward's traffic (two arrays read,
 *                       one written) with one addition per element
 *   bn-traffic          the BatchNorm backward's traffic: a pass that reads x and dout (two
 *                       sums), then out = x * dout + s with the rows taken last first (the
 *                       order of the kernel's second pass, which finds the last rows of the
 *                       first pass still in L2)
 *   residual_forward    deepgrad's entry point for the add (the library's own loop)
 *   layernorm_backward  deepgrad's, with dweight and dbias (as benches/bench_norm.py)
 *   batchnorm_backward  deepgrad's, training mode, with dweight and dbias
 *
 * The bare loops are AVX-512 (the CPU must have it); the library selects its own code path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <immintrin.h>

#include "deepgrad.h"

#define COLS 1024
#define CALLS 10 /* per case and trial; the first CALLS - KEEP warm the caches */
#define KEEP 7

__attribute__((target("avx512f"))) static void bare_add(float *out, const float *x,
                                                        const float *g, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(g + i)));
    for (; i < n; ++i) out[i] = x[i] + g[i];
}

__attribute__((target("avx512f"))) static float bare_bn_traffic(float *out, const float *x,
                                                                const float *g, int64_t rows) {
    __m512 sx = _mm512_setzero_ps(), sg = _mm512_setzero_ps();
    for (int64_t i = 0; i < rows * COLS; i += 16) {
        sx = _mm512_add_ps(sx, _mm512_loadu_ps(x + i));
        sg = _mm512_add_ps(sg, _mm512_loadu_ps(g + i));
    }
    for (int64_t r = rows - 1; r >= 0; --r)
        for (int64_t i = r * COLS; i < (r + 1) * COLS; i += 16)
            _mm512_storeu_ps(out + i, _mm512_fmadd_ps(_mm512_loadu_ps(x + i),
                                                      _mm512_loadu_ps(g + i), sx));
    return _mm512_reduce_add_ps(sg); /* keeps the first pass's second sum alive */
}

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* an array of n floats 16 bytes past a page boundary; *base: what to free */
static float *numpy_placed(int64_t n, void **base) {
    *base = aligned_alloc(4096, (size_t)n * sizeof(float) + 4096);
    if (*base == NULL) {
        perror("aligned_alloc");
        exit(1);
    }
    return (float *)((char *)*base + 16);
}

enum { ADD, BN_TRAFFIC, RESIDUAL, LN_BWD, BN_BWD, NCASES };
static const char *const names[NCASES] = {"add", "bn-traffic", "residual_forward",
                                          "layernorm_backward", "batchnorm_backward"};

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ROWS TRIALS\n", argv[0]);
        return 2;
    }
    const int64_t rows = atoll(argv[1]), n = rows * COLS;
    const int trials = atoi(argv[2]);
    if (rows < 2 || trials < 1) {
        fprintf(stderr, "ROWS >= 2 and TRIALS >= 1\n");
        return 2;
    }
    dg_set_num_threads(1);
    void *bx, *bg, *bo;
    float *x = numpy_placed(n, &bx), *g = numpy_placed(n, &bg), *out = numpy_placed(n, &bo);
    for (int64_t i = 0; i < n; ++i) {
        x[i] = (float)(i % 97) * 0.03f - 1.0f;
        g[i] = (float)(i % 13) * 0.1f - 0.6f;
        out[i] = 0.0f;
    }
    float *w = malloc(COLS * sizeof(float)), *dw = malloc(COLS * sizeof(float)),
          *db = malloc(COLS * sizeof(float)), *row_mean = malloc((size_t)rows * sizeof(float)),
          *row_rstd = malloc((size_t)rows * sizeof(float)), *col_stats = malloc(2 * COLS * sizeof(float));
    if (!w || !dw || !db || !row_mean || !row_rstd || !col_stats) {
        perror("malloc");
        return 1;
    }
    for (int c = 0; c < COLS; ++c) w[c] = 1.0f, dw[c] = db[c] = 0.0f;
    layernorm_forward_f32(out, row_mean, row_rstd, x, w, NULL, 1e-5, rows, COLS);
    batchnorm_forward_f32(out, col_stats, col_stats + COLS, NULL, NULL, x, w, NULL, 1, 0.1, 1e-5,
                          rows, COLS);

    double *med = malloc((size_t)NCASES * (size_t)trials * sizeof(double));
    volatile float sink = 0.0f;
    for (int t = 0; t < trials; ++t) {
        for (int q = 0; q < NCASES; ++q) {
            const int k = (q + t) % NCASES;
            double ts[CALLS];
            for (int c = 0; c < CALLS; ++c) {
                const double t0 = now_us();
                switch (k) {
                    case ADD: bare_add(out, x, g, n); break;
                    case BN_TRAFFIC: sink += bare_bn_traffic(out, x, g, rows); break;
                    case RESIDUAL: residual_forward_f32(out, x, g, n); break;
                    case LN_BWD:
                        layernorm_backward_f32(out, dw, db, g, x, row_mean, row_rstd, w, rows, COLS);
                        break;
                    default:
                        batchnorm_backward_f32(out, dw, db, g, x, col_stats, col_stats + COLS, w,
                                               1, rows, COLS);
                }
                ts[c] = now_us() - t0;
            }
            qsort(ts + CALLS - KEEP, KEEP, sizeof(double), by_value);
            med[k * trials + t] = ts[CALLS - KEEP + KEEP / 2];
        }
    }
    for (int k = 0; k < NCASES; ++k) {
        double *v = med + k * trials;
        qsort(v, (size_t)trials, sizeof(double), by_value);
        printf("%s %.2f %.2f %.2f\n", names[k], v[trials / 2], v[trials / 4], v[(3 * trials) / 4]);
    }
    free(med);
    free(bx), free(bg), free(bo);
    free(w), free(dw), free(db), free(row_mean), free(row_rstd), free(col_stats);
    return 0;
}
