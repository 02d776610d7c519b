/*
 * dg_internal.h -- shared machinery for the kernel files (not part of the public API).
 *
 *  - run-time SIMD dispatch: every hot loop is compiled three times (AVX-512,
 *    AVX2+FMA, portable x86-64 / any CPU) and DG_SELECT picks one per call from
 *    dg_isa_active(), which the user can lower with dg_set_isa() or the
 *    DEEPGRAD_SIMD environment variable (so tests can force every path).
 *  - threads: dg_num_threads() is the count every OpenMP region uses.
 *  - dtype templates: a family's kernels are written once in "<family>.inc"
 *    against the type `real` and the name macro DG_T(); the family's .c file
 *    includes it once for float (suffix _f32) and once for double (_f64).
 */
#ifndef DG_INTERNAL_H
#define DG_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include "deepgrad.h"

/* ---------------------------------------------------------------- SIMD --- */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DG_X86_64 1
/* x86-64-v4 = AVX-512 F/BW/CD/DQ/VL; x86-64-v3 = AVX2 + FMA + BMI. */
#define DG_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#define DG_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#elif defined(__x86_64__) && defined(__clang__)
#define DG_X86_64 1
#define DG_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define DG_TARGET_AVX2 __attribute__((target("avx2,fma")))
#else
#define DG_TARGET_AVX512
#define DG_TARGET_AVX2
#endif
#define DG_TARGET_PORTABLE

#define DG_CAT_(a, b) a##b
#define DG_CAT(a, b) DG_CAT_(a, b)

/* DG_SELECT(fn) -> fn_avx512, fn_avx2 or fn_portable, whichever dg_isa_active() names.
 * The three must have the same signature. */
#define DG_SELECT(fn) DG_SELECT_(fn)
#define DG_SELECT_(fn)                                   \
    (dg_isa_active() == DG_ISA_AVX512 ? fn##_avx512      \
     : dg_isa_active() == DG_ISA_AVX2 ? fn##_avx2        \
                                      : fn##_portable)

/* ------------------------------------------------------------- threads --- */

/* Threads for a region of `work` units when parallelism pays from `min_work` on. */
static inline int dg_threads_for(int64_t work, int64_t min_work) {
    return work >= min_work ? dg_num_threads() : 1;
}

#endif /* DG_INTERNAL_H */
