/*
 * dg_math.h -- elementary functions written so that a loop calling them vectorizes.
 *
 * Every function here is `static inline`, branch-free (selects, not jumps) and uses
 * only +, *, /, compares and 32/64-bit integer adds, ands and shifts (no libm call, no
 * int64<->double conversion, which AVX2 lacks), so GCC turns a loop over them into
 * AVX-512 / AVX2 / SSE2 code under `#pragma omp simd`. The same functions are the
 * scalar reference the tail loops use.
 *
 * The algorithms are written once, in dg_math_body.inc, against DGM_REAL and the
 * per-dtype parameters below; this header includes that body for float (dg_*_f32)
 * and double (dg_*_f64). Polynomial / rational coefficients come from
 * tools/fit_math.py (own near-minimax fits; rerun it to reproduce every table).
 *
 *   function            what                        error (measured, whole range)
 *   dg_exp_*(x)         e^x                         f32 <= 1 ulp (0.97 measured)
 *   dg_expmul_*(x, m)   m e^x, rounded once at the end (correct underflow)
 *   dg_expm1_*(x)       e^x - 1                     f32 <= 1.5 ulp (1.41 measured)
 *   dg_erfc_*(z)        1 - erf(z), relative        f32 <= 1.2 ulp (1.17 measured)
 *   dg_erfcx_*(a)       e^{a^2} erfc(a), 0 <= a <= DG_ERFC_AMAX: f32 <= 0.9 ulp
 * (f32 figures: dense grids against double libm; float64 versions are checked through the
 * activations against mpmath, all <= 1e-15 relative.)
 *   dg_sqr_split_*(a)   a^2 = hi + lo exactly (f32) / to 2^-105 relative (f64)
 *   dg_exp_parts_fma_*, dg_expmul_fma_*  e^{x+c} (x <= 0) in parts / m e^{x+c} with one fused
 *                       rounding, for loops compiled for an FMA target (AVX2, AVX-512)
 * (tests/test_activation_accuracy.py measures the activations built on them.)
 */
#ifndef DG_MATH_H
#define DG_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* |a| above which erfc(a) (and x Phi(x) for x = -sqrt2 a) underflows to 0: the end of the
 * fitted range of the rational e^{a^2} erfc(a) in the tables below. */
#define DG_ERFC_AMAX_F32 10.5f
#define DG_ERFC_AMAX_F64 27.5

/* ---------------------------------------------------------------- coefficient tables */
/* Output of `python tools/fit_math.py` (coefficients of the lowest power first).
 * Approximation errors of the rounded tables (relative, exact arithmetic):
 *   exp   e^r = 1 + r + r^2 P(r), |r| <= ln2/2:      f32 deg 6: 3.8e-9   f64 deg 11: 1.1e-17
 *   expm1 = r + r^2/2 + r^3 P(r), |r| <= ln2/2:      f32 deg 6: 1.5e-8   f64 deg 11: 2.4e-17
 *   e^{a^2} erfc(a) = N(a)/D(a), 0 <= a <= AMAX:     f32 5/6:   2.2e-8   f64 10/11:  2.8e-17 */

/* powers 2..6 */
static const float dg_exp_poly_f32[] = {
    0.4999999403953552f,
    0.1666652113199234f,
    0.04166838899254799f,
    0.008368710055947304f,
    0.0013814608100801706f};
/* powers 3..6 */
static const float dg_expm1_poly_f32[] = {
    0.16666549444198608f,
    0.04166685417294502f,
    0.008366035297513008f,
    0.0013898232718929648f};
/* powers 0..5 */
static const float dg_erfcx_num_f32[] = {
    1.0f,
    1.436995267868042f,
    1.0041346549987793f,
    0.4044913649559021f,
    0.09350059926509857f,
    0.010116295889019966f};
/* powers 0..6 */
static const float dg_erfcx_den_f32[] = {
    1.0f,
    2.5653743743896484f,
    2.8988499641418457f,
    1.8623695373535156f,
    0.7259293794631958f,
    0.1657244712114334f,
    0.017930688336491585f};

/* powers 2..11 */
static const double dg_exp_poly_f64[] = {
    0.5000000000000011,
    0.16666666666666413,
    0.04166666666653025,
    0.008333333333494335,
    0.001388888894360135,
    0.00019841269506790167,
    2.4801493132648138e-05,
    2.755758624818342e-06,
    2.7630235104061275e-07,
    2.500008006494479e-08};
/* powers 3..11 */
static const double dg_expm1_poly_f64[] = {
    0.16666666666666602,
    0.041666666666620035,
    0.008333333333388355,
    0.0013888888920482092,
    0.0001984126970939093,
    2.4801516388079776e-05,
    2.7557425060313148e-06,
    2.762220877063918e-07,
    2.5045893918375442e-08};
/* powers 0..10 */
static const double dg_erfcx_num_f64[] = {
    1.0,
    2.3417468814001254,
    2.71848974855476,
    2.0215115063420943,
    1.0564168621778633,
    0.40355938063764984,
    0.1139747650381642,
    0.023528298294938223,
    0.0034107126553731223,
    0.0003157385125550979,
    1.4349984506063156e-05};
/* powers 0..11 */
static const double dg_erfcx_den_f64[] = {
    1.0,
    3.470126048495638,
    5.634107688872695,
    5.661047977207048,
    3.9205297349222725,
    1.9704667281606587,
    0.7358619761101353,
    0.20502495914308735,
    0.041982638892622194,
    0.0060580481229255195,
    0.0005596319424584217,
    2.543468529820029e-05};

/* ------------------------------------------------------------------- float */
#define DGM_REAL float
#define DGM_INT int32_t
#define DGM_UINT uint32_t
#define DGM(name) dg_##name##_f32
#define DGM_TAB(name) dg_##name##_f32
#define DGM_MANT_BITS 23
#define DGM_EXP_BIAS 127
#define DGM_ROUND_MAGIC 12582912.0f              /* 1.5 * 2^23: x + magic rounds x to an integer */
#define DGM_LN2_HI 0.693145751953125f            /* ln2 to 12 bits: n * LN2_HI is exact for |n| < 2^12 */
#define DGM_LN2_LO 1.42860682030941723e-06f      /* ln2 - LN2_HI */
#define DGM_EXP_LO -120.0f   /* below: e^x * m rounds to 0 for |m| <= 2^20 (e^-120 = 7.7e-53) */
#define DGM_EXP_HI 89.0f     /* above: +inf (e^88.73 = FLT_MAX) */
#define DGM_EXPM1_LO -30.0f  /* below: e^x - 1 rounds to -1 */
#define DGM_SPLIT_MASK ((int32_t)0xFFFFF000)     /* keep 12 of the 24 significand bits */
#define DGM_ERFC_AMAX DG_ERFC_AMAX_F32
#define DGM_NMIN (-126)                          /* smallest normal exponent */
#define DGM_FMA(a, b, c) fmaf(a, b, c)
#include "dg_math_body.inc"

/* ------------------------------------------------------------------ double */
#define DGM_REAL double
#define DGM_INT int64_t
#define DGM_UINT uint64_t
#define DGM(name) dg_##name##_f64
#define DGM_TAB(name) dg_##name##_f64
#define DGM_MANT_BITS 52
#define DGM_EXP_BIAS 1023
#define DGM_ROUND_MAGIC 6755399441055744.0       /* 1.5 * 2^52 */
#define DGM_LN2_HI 6.93147180369123816490e-01    /* ln2 to 32 bits */
#define DGM_LN2_LO 1.90821492927058770002e-10    /* ln2 - LN2_HI */
#define DGM_EXP_LO -760.0    /* below: e^x * m rounds to 0 for |m| <= 2^20 */
#define DGM_EXP_HI 710.0     /* above: +inf (e^709.78 = DBL_MAX) */
#define DGM_EXPM1_LO -40.0
#define DGM_SPLIT_MASK ((int64_t)0xFFFFFFFFF8000000LL) /* keep 26 of the 53 significand bits */
#define DGM_ERFC_AMAX DG_ERFC_AMAX_F64
#define DGM_NMIN (-1022)
#define DGM_FMA(a, b, c) fma(a, b, c)
#include "dg_math_body.inc"

#endif /* DG_MATH_H */
