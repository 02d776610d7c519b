/*
 * dg_isa3.h -- stamping one always-inline kernel body out once per instruction set
 * (used by the .inc templates of norm.c, residual.c, loss.c; not part of the API).
 *
 *   static DG_ALWAYS_INLINE void DG_T(foo_body)(params) { ... }
 *   DG_ISA3(foo, (params), (args))   ->  DG_T(foo)_avx512 / _avx2 / _portable
 *   DG_SELECT(DG_T(foo))             ->  the one of the active instruction set
 *
 * The body is compiled inside each target function, so its `omp simd` loops are
 * vectorized for that ISA (GCC inlines a generic callee into a wider target).
 */
#ifndef DG_ISA3_H
#define DG_ISA3_H

#include "dg_internal.h"

#define DG_ALWAYS_INLINE inline __attribute__((always_inline))

#define DG_ISA3(name, params, args)                                                             \
    static DG_TARGET_AVX512 void DG_CAT(DG_T(name), _avx512) params { DG_T(name##_body) args; }   \
    static DG_TARGET_AVX2 void DG_CAT(DG_T(name), _avx2) params { DG_T(name##_body) args; }       \
    static DG_TARGET_PORTABLE void DG_CAT(DG_T(name), _portable) params { DG_T(name##_body) args; }

#endif /* DG_ISA3_H */
