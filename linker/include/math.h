/* The core uses no floating point (the build refuses f32/f64), so the float
 * helpers wasm2c always emits are never called; they only need to parse. */
#ifndef HV_MATH_H
#define HV_MATH_H
#define isnan(x) __builtin_isnan(x)
#define signbit(x) __builtin_signbit(x)
#define INFINITY __builtin_inff()
#define NAN __builtin_nanf("")
double sqrt(double); float sqrtf(float);
double ceil(double); float ceilf(float);
double floor(double); float floorf(float);
double trunc(double); float truncf(float);
double nearbyint(double); float nearbyintf(float);
double fabs(double); float fabsf(float);
double copysign(double, double); float copysignf(float, float);
double fmin(double, double); float fminf(float, float);
double fmax(double, double); float fmaxf(float, float);
#endif
