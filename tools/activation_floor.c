/*
 * activation_floor.c -- what this core's arithmetic and memory allow the AVX-512 float32
 * activations, against what the kernels take. Built and run by tools/activation_floor.py
 * (which prints the table and explains the columns); a measuring aid, not part of the
 * package. One thread, one process, every case timed in each round, rounds interleaved;
 * per case the best round (a floor is what the machine can do, not what it usually does).
 *
 *   loop   the kernel's vector loop alone (activation_avx512.h), 64K float32 in L2, arrays
 *          64-byte aligned: the arithmetic, with no guard, no blocks, no call overhead
 *   call   the library's entry point (sigmoid_forward_f32, ...), arrays 16 bytes past a
 *          64-byte boundary as NumPy places them, at 64K (in L2) and 16M (DRAM)
 *
 * Two loops exist only here, as probes:
 *   quotient   one vdivps per 16 elements and nothing else: the division alone that the
 *              sigmoid and SiLU fast paths (one Pade quotient per element) must pay
 *   sigmoid_rcp  the sigmoid fast path with rcp14 and a correction step instead of vdivps
 *              (no division at all; its bits differ from the kernel's in the last place)
 */
#define DG_X86_64 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include <sys/mman.h>

#include "activation_avx512.h"
#include "deepgrad.h"

static DGV_TARGET inline __m512 probe_quotient(__m512 v) { return _mm512_div_ps(dgv_set1(1.0f), v); }
DGV_UNARY_LOOP(loop_quotient, probe_quotient)

/* dgv_sigmoid_pade with q = B / den as rcp14(den) and one correction, q + (B - den q) / den */
static DGV_TARGET inline __m512 probe_sigmoid_rcp(__m512 v) {
    __m512 den, B = dgv_logistic_pade(v, &den, 1);
    __m512 y = _mm512_rcp14_ps(den), q = _mm512_mul_ps(B, y);
    return _mm512_fmadd_ps(_mm512_fnmadd_ps(den, q, B), y, q);
}
DGV_UNARY_LOOP(loop_sigmoid_rcp, probe_sigmoid_rcp)

typedef void (*kernel_fn)(float *, const float *, int64_t, float);

/* the entry points with the loops' signature */
#define ENTRY(name) \
    static void call_##name(float *o, const float *x, int64_t n, float p) { (void)p; name##_forward_f32(o, x, n); }
ENTRY(copy) ENTRY(relu) ENTRY(sigmoid) ENTRY(tanh) ENTRY(gelu) ENTRY(gelu_tanh) ENTRY(silu)
static void call_leaky_relu(float *o, const float *x, int64_t n, float p) {
    (void)p;
    leaky_relu_forward_f32(o, x, 0.01f, n);
}

typedef struct {
    const char *name;
    kernel_fn loop;   /* NULL: no loop of its own here */
    kernel_fn call;   /* NULL: a probe */
} case_t;

static const case_t cases[] = {
    {"copy", dg_copy_forward_avx512_f32, call_copy},
    {"relu", dg_relu_forward_avx512_f32, call_relu},
    {"leaky_relu", NULL, call_leaky_relu},
    {"sigmoid", dg_sigmoid_forward_avx512_f32, call_sigmoid},
    {"tanh", dg_tanh_forward_avx512_f32, call_tanh},
    {"gelu", dg_gelu_forward_avx512_f32, call_gelu},
    {"gelu_tanh", dg_gelu_tanh_forward_avx512_f32, call_gelu_tanh},
    {"silu", dg_silu_forward_avx512_f32, call_silu},
    {"quotient", loop_quotient, NULL},
    {"sigmoid_rcp", loop_sigmoid_rcp, NULL},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* ns per element of one call of f on n elements: a warm call, then reps calls timed together */
static double time_case(kernel_fn f, float *out, const float *x, int64_t n) {
    const int reps = n >= (1 << 22) ? 3 : (int)(20000000 / n);
    f(out, x, n, 0.0f);
    const double t0 = now();
    for (int r = 0; r < reps; ++r) f(out, x, n, 0.0f);
    return (now() - t0) / reps / (double)n * 1e9;
}

/* N(0, 3^2) inputs, as in the benchmarks (Box-Muller on a fixed LCG) */
static void fill_normal(float *x, int64_t n) {
    uint64_t s = 12345;
    for (int64_t i = 0; i < n; i += 2) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u2 = (s >> 11) / 9007199254740992.0;
        double r = 3.0 * sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(6.283185307179586 * u2));
        if (i + 1 < n) x[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
}

/* A DRAM-sized array on transparent huge pages where the kernel offers them, as NumPy asks
 * for its large arrays (madvise): on 4 KiB pages the copy at 16M measured 0.41-0.45 ns/element
 * here against NumPy-allocated arrays' 0.28-0.32, the page walks in the way. */
static void *big_alloc(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    void *p = aligned_alloc(huge, (bytes + huge - 1) / huge * huge);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq") ||
        !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl")) {
        fprintf(stderr, "activation_floor: this CPU has no AVX-512; nothing to measure\n");
        return 2;
    }
    dg_set_num_threads(1);
    const int64_t small = 65536, big = (int64_t)1 << 24;
    /* loop arrays 64-byte aligned; call arrays 16 bytes past a boundary (NumPy's placement) */
    float *xa = aligned_alloc(64, small * 4), *oa = aligned_alloc(64, small * 4);
    float *xs = (float *)aligned_alloc(64, small * 4 + 64) + 4, *os = (float *)aligned_alloc(64, small * 4 + 64) + 4;
    float *xb = (float *)big_alloc(big * 4 + 64) + 4, *ob = (float *)big_alloc(big * 4 + 64) + 4;
    if (!xa || !oa || !xs || !os || !xb || !ob) return 1;
    fill_normal(xa, small);
    memcpy(xs, xa, small * 4);
    fill_normal(xb, big);
    memset(ob, 0, big * 4);
    double best[NCASES][3];
    for (int c = 0; c < NCASES; ++c) best[c][0] = best[c][1] = best[c][2] = INFINITY;
    for (int r = 0; r < rounds; ++r)
        for (int c = 0; c < NCASES; ++c) {
            double t;
            if (cases[c].loop && (t = time_case(cases[c].loop, oa, xa, small)) < best[c][0]) best[c][0] = t;
            if (cases[c].call && (t = time_case(cases[c].call, os, xs, small)) < best[c][1]) best[c][1] = t;
            if (cases[c].call && (t = time_case(cases[c].call, ob, xb, big)) < best[c][2]) best[c][2] = t;
        }
    for (int c = 0; c < NCASES; ++c)
        printf("%s %.4f %.4f %.4f\n", cases[c].name, best[c][0], best[c][1], best[c][2]);
    return 0;
}
