/*
 * runtime.c -- which instruction set the kernels use, and how many threads.
 *
 * The CPU's best level is found once with __builtin_cpu_supports. The active level
 * is min(best, requested); the request comes from dg_set_isa() or, at first use,
 * from the environment variable DEEPGRAD_SIMD=avx512|avx2|portable.
 * Also: how the exp-based activations treat special inputs, and when the norm kernels
 * stream their outputs (deepgrad.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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

/* The two levels are relaxed atomics: set_simd() may run in one Python thread while a
 * kernel in another reads them (each kernel reads the level once per call). */
int dg_isa_supported(void) {
    int best = __atomic_load_n(&detected_best, __ATOMIC_RELAXED);
    if (best < 0) {
        best = detect_best_isa();
        int env = isa_from_name(getenv("DEEPGRAD_SIMD"));
        int none = -1;
        /* the environment request applies only if nobody asked for a level before */
        __atomic_compare_exchange_n(&requested, &none, env, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        __atomic_store_n(&detected_best, best, __ATOMIC_RELAXED);
    }
    return best;
}

int dg_isa_active(void) {
    int best = dg_isa_supported();
    int req = __atomic_load_n(&requested, __ATOMIC_RELAXED);
    return (req >= 0 && req < best) ? req : best;
}

int dg_set_isa(int level) {
    dg_isa_supported();
    __atomic_store_n(&requested, level, __ATOMIC_RELAXED);
    return dg_isa_active();
}

/* ---------------------------------------------------------------- threads */

/* Read and written from any Python thread (the GIL is released around kernels), so the
 * accesses are relaxed atomics: no data race, and a kernel reads the count once per call.
 * Clamped to DG_MAX_THREADS: libgomp crashes (SIGSEGV) when asked for ~10^5 threads it
 * cannot create, e.g. set_num_threads(200000) or OMP_NUM_THREADS=200000. */
static int thread_count = 0; /* 0: not yet set, use omp_get_max_threads() */

static int clamp_threads(int n) { return n < 1 ? 1 : (n > DG_MAX_THREADS ? DG_MAX_THREADS : n); }

int dg_num_threads(void) {
    int n = __atomic_load_n(&thread_count, __ATOMIC_RELAXED);
    if (n <= 0) {
        n = clamp_threads(omp_get_max_threads());
        __atomic_store_n(&thread_count, n, __ATOMIC_RELAXED);
    }
    return n;
}

void dg_set_num_threads(int n) {
    __atomic_store_n(&thread_count, n > 0 ? clamp_threads(n) : 0, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ special inputs */

static int special_mode = DG_SPECIAL_ADAPTIVE;   /* relaxed atomic, read once per kernel call */

int dg_special_mode(void) { return __atomic_load_n(&special_mode, __ATOMIC_RELAXED); }

void dg_set_special_mode(int mode) {
    if (mode >= DG_SPECIAL_ADAPTIVE && mode <= DG_SPECIAL_NEVER)
        __atomic_store_n(&special_mode, mode, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ streaming stores */

static int64_t stream_touch = -1;   /* relaxed atomic; -1: a quarter of the last-level cache */

/* A quarter of the L3 that sysconf reports (glibc: from cpuid; the L2 where it reports no
 * L3, 8 MiB where neither): on the 32 MiB L3 of the AMD machine the kernels were tuned on
 * that is their 8 MiB. */
static int64_t llc_quarter(void) {
    static int64_t cached = -1;
    int64_t q = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (q >= 0) return q;
    long llc = -1;
#if defined(_SC_LEVEL3_CACHE_SIZE)
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
    q = llc > 0 ? (int64_t)llc / 4 : ((int64_t)8 << 20);
    __atomic_store_n(&cached, q, __ATOMIC_RELAXED);
    return q;
}

int64_t dg_norm_stream_touch(void) {
    int64_t t = __atomic_load_n(&stream_touch, __ATOMIC_RELAXED);
    return t >= 0 ? t : llc_quarter();
}

void dg_set_norm_stream_touch(int64_t bytes) {
    __atomic_store_n(&stream_touch, bytes < 0 ? (int64_t)-1 : bytes, __ATOMIC_RELAXED);
}

int dg_fp_status_flags(int clear) {
#if defined(__x86_64__)
    unsigned int csr = _mm_getcsr();
    if (clear) _mm_setcsr(csr & ~0x3Fu);
    return (int)(csr & 0x3Fu);
#else
    (void)clear;
    return -1;
#endif
}
