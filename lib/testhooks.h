/* Hooks for the project's own tests (linked statically; hidden from the shared library). */
#ifndef OCTAVO_TESTHOOKS_H
#define OCTAVO_TESTHOOKS_H
/** Makes the allocation after the next n ones fail in this thread (-1: never); resets the count. */
void ov_test_alloc_fail_after(long n);
/** Allocations made through ov_malloc & co in this thread since the last reset. */
long ov_test_alloc_count(void);
#endif
