/*
 * dg_instantiate.h -- compile a family's dtype-generic body (its .inc file) once for float
 * and once for double. A family file says:
 *
 *     #define DG_TEMPLATE "norm.inc"
 *     #include "dg_instantiate.h"
 *
 * and the body is written against:
 *     real          the element type                      float       | double
 *     DG_T(name)    a function name for this dtype        name_f32    | name_f64
 *     DG_M(fn)      the dtype's dg_math.h function        dg_fn_f32   | dg_fn_f64
 *     DG_FMA(a,b,c) fused multiply-add of this dtype      fmaf        | fma
 * No include guard: it is included once per family file, after that file's own macros.
 */
#include <math.h>

#define real float
#define DG_T(name) name##_f32
#define DG_M(name) dg_##name##_f32
#define DG_FMA(a, b, c) fmaf(a, b, c)
#include DG_TEMPLATE
#undef real
#undef DG_T
#undef DG_M
#undef DG_FMA

#define real double
#define DG_T(name) name##_f64
#define DG_M(name) dg_##name##_f64
#define DG_FMA(a, b, c) fma(a, b, c)
#include DG_TEMPLATE
#undef real
#undef DG_T
#undef DG_M
#undef DG_FMA

#undef DG_TEMPLATE
