/* Freestanding assert for the wasm2c output: a failed assertion is a bug in
 * the glue, so it panics. */
#ifndef HV_ASSERT_H
#define HV_ASSERT_H
void hv_assert_failed(const char *expr, const char *file, int line) __attribute__((noreturn));
#define assert(e) ((e) ? (void)0 : hv_assert_failed(#e, __FILE__, __LINE__))
#endif
