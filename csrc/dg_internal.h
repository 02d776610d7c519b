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
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
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

/* -------------------------------------------------------------- memory --- */

/* dst[0, nbytes) = src[0, nbytes) with non-temporal 16-byte stores where dst is
 * 16-byte aligned (plain copies for the unaligned head and the tail). nbytes and dst
 * are multiples of the element size (4 or 8). Callers end with dg_stream_fence(). */
static inline __attribute__((always_inline)) void dg_stream_bytes(void *dst, const void *src,
                                                                  int64_t nbytes) {
    char *d = (char *)dst;
    const char *s = (const char *)src;
#if defined(__x86_64__)
    int64_t head = (int64_t)((16 - ((uintptr_t)d & 15)) & 15);
    if (head > nbytes) head = nbytes;
    memcpy(d, s, (size_t)head);
    int64_t i = head;
    for (; i + 16 <= nbytes; i += 16)
        _mm_stream_si128((__m128i *)(d + i), _mm_loadu_si128((const __m128i *)(s + i)));
    memcpy(d + i, s + i, (size_t)(nbytes - i));
#else
    memcpy(d, s, (size_t)nbytes);
#endif
}

#if defined(DG_X86_64)
/* dg_stream_bytes with 64-byte (whole cache line) non-temporal stores. */
static DG_TARGET_AVX512 void dg_stream_avx512(void *dst, const void *src, int64_t nbytes) {
    char *d = (char *)dst;
    const char *s = (const char *)src;
    int64_t head = (int64_t)((64 - ((uintptr_t)d & 63)) & 63);
    if (head > nbytes) head = nbytes;
    dg_stream_bytes(d, s, head);
    int64_t i = head;
    for (; i + 64 <= nbytes; i += 64)
        _mm512_stream_si512((void *)(d + i), _mm512_loadu_si512((const void *)(s + i)));
    dg_stream_bytes(d + i, s + i, nbytes - i);
}
#endif

/* 1 when the active ISA has 64-byte stores (the `wide` argument of dg_stream_lines) */
static inline int dg_stream_wide(void) {
#if defined(DG_X86_64)
    return dg_isa_active() == DG_ISA_AVX512;
#else
    return 0;
#endif
}

/* dg_stream_bytes in whole cache lines where the active ISA has 64-byte stores. Used by
 * the activations (16M float32 relu through an L1 buffer: 0.175 -> 0.153 ns/element) and
 * the LayerNorm/RMSNorm forward (4096x1024 float32: 890 -> 773 us), the BatchNorm apply
 * pass (one row at a time) and the norm backward dinp passes (with their in-loop prefetch;
 * BatchNorm 4096x1024 float32 dinp pass ~1320 -> ~1200 us). wide = dg_stream_wide(), read
 * once per call of a kernel (not per piece: ~2% of a DRAM-sized pass). */
static inline void dg_stream_lines(void *dst, const void *src, int64_t nbytes, int wide) {
#if defined(DG_X86_64)
    if (wide) {
        dg_stream_avx512(dst, src, nbytes);
        return;
    }
#endif
    dg_stream_bytes(dst, src, nbytes);
}

/* The elements (of elem bytes) before p's first 64-byte boundary, at most n; 0 when p is not
 * a whole number of elements away from one. A loop that takes these first and runs its vector
 * steps from there stores whole cache lines: NumPy puts arrays of 1 MiB and more 16 bytes past
 * a page boundary, where every 64-byte store straddles two lines (the BatchNorm row loops of
 * norm.inc, the relu and copy loops of activation_avx512.h). */
static inline int64_t dg_line_head(const void *p, size_t elem, int64_t n) {
    const uintptr_t a = (uintptr_t)p;
    if (a % elem != 0) return 0;
    const int64_t h = (int64_t)((64 - a % 64) % 64 / elem);
    return h < n ? h : n;
}

/* Order the streaming stores before the results are used (once per thread). */
static inline void dg_stream_fence(void) {
#if defined(__x86_64__)
    _mm_sfence();
#endif
}

/* ------------------------------------------------------- floating-point flags --- */

/* Watching for subnormal arithmetic around a stretch of loops (activation.inc, "special
 * inputs"): begin clears the underflow (UE) and denormal-operand (DE) flags of this thread's
 * MXCSR and returns its value, raised tells whether either was set since (clear_tiny clears
 * them again), end puts the caller's flags back. Where there is no MXCSR nothing is ever raised. */
#define DG_MXCSR_TINY 0x12u   /* UE | DE */
static inline unsigned dg_fp_watch_begin(void) {
#if defined(__x86_64__)
    unsigned csr = _mm_getcsr();
    _mm_setcsr(csr & ~DG_MXCSR_TINY);
    return csr;
#else
    return 0;
#endif
}
static inline int dg_fp_tiny_raised(void) {
#if defined(__x86_64__)
    return (_mm_getcsr() & DG_MXCSR_TINY) != 0;
#else
    return 0;
#endif
}
static inline void dg_fp_clear_tiny(void) {
#if defined(__x86_64__)
    _mm_setcsr(_mm_getcsr() & ~DG_MXCSR_TINY);
#endif
}
static inline void dg_fp_watch_end(unsigned csr) {
#if defined(__x86_64__)
    _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

#endif /* DG_INTERNAL_H */
