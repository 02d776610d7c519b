/*
 * runtime.c -- which instruction set the kernels use, and how many threads.
 *
 * The CPU's best level is found once with __builtin_cpu_supports. The active level
 * is min(best, requested); the request comes from dg_set_isa() or, at first use,
 * from the environment variable DEEPGRAD_SIMD=avx512|avx2|portable.
 */
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "dg_internal.h"

static int detected_best = -1;  /* -1: not yet detected */
static int requested = -1;      /* -1: no request, use the best */

static int detect_best_isa(void) {
#if defined(DG_X86_64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return DG_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2"))
        return DG_ISA_AVX2;
#endif
    return DG_ISA_PORTABLE;
}

static int isa_from_name(const char *name) {
    if (name == NULL) return -1;
    if (strcmp(name, "avx512") == 0) return DG_ISA_AVX512;
    if (strcmp(name, "avx2") == 0) return DG_ISA_AVX2;
    if (strcmp(name, "portable") == 0) return DG_ISA_PORTABLE;
    return -1;
}

int dg_isa_supported(void) {
    if (detected_best < 0) {
        detected_best = detect_best_isa();
        if (requested < 0) requested = isa_from_name(getenv("DEEPGRAD_SIMD"));
    }
    return detected_best;
}

int dg_isa_active(void) {
    int best = dg_isa_supported();
    return (requested >= 0 && requested < best) ? requested : best;
}

int dg_set_isa(int level) {
    dg_isa_supported();
    requested = level;
    return dg_isa_active();
}

/* ---------------------------------------------------------------- threads */

static int thread_count = 0; /* 0: not yet set, use omp_get_max_threads() */

int dg_num_threads(void) {
    if (thread_count <= 0) {
        int n = omp_get_max_threads();
        thread_count = n > 0 ? n : 1;
    }
    return thread_count;
}

void dg_set_num_threads(int n) { thread_count = n > 0 ? n : 0; }
