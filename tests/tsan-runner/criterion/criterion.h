/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for the part of Criterion's API that ipcx's tests use, for the ThreadSanitizer
 * build only. Criterion's runner cannot start under TSan: its shared arena must be mapped at
 * the same address in every worker, and TSan's shadow memory takes the ranges it probes
 * (Criterion issue #274). Tests compile unchanged against this header; runner.c runs each
 * test in its own forked process with its timeout, as Criterion does.
 */
#ifndef IPCX_TSAN_CRITERION_H
#define IPCX_TSAN_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct cr__test_opts {
	void (*init)(void);
	void (*fini)(void);
	double timeout;
	int signal;
	int exit_code;
	bool disabled;
	const char *description;
};

struct cr__test {
	const char *suite;
	const char *name;
	void (*fn)(void);
	struct cr__test_opts opts;
	struct cr__test *next;
};

void cr__register(struct cr__test *t);
void cr__check(bool ok, bool fatal, const char *file, int line, const char *expr, const char *fmt,
               ...) __attribute__((format(printf, 6, 7)));

#define Test(suite, name, ...)                                                                     \
	static void suite##_##name##_fn(void);                                                     \
	static struct cr__test suite##_##name##_test = {                                           \
	        #suite, #name, suite##_##name##_fn, {__VA_ARGS__}, NULL};                          \
	__attribute__((constructor)) static void suite##_##name##_reg(void)                        \
	{                                                                                          \
		cr__register(&suite##_##name##_test);                                              \
	}                                                                                          \
	static void suite##_##name##_fn(void)

#define cr__cmp(fatal, cond, expr, ...)                                                            \
	cr__check((cond), fatal, __FILE__, __LINE__, expr, "" __VA_ARGS__)

#define cr_assert(c, ...) cr__cmp(true, (c), #c, __VA_ARGS__)
#define cr_expect(c, ...) cr__cmp(false, (c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) cr__cmp(true, !(c), "!(" #c ")", __VA_ARGS__)
#define cr_expect_not(c, ...) cr__cmp(false, !(c), "!(" #c ")", __VA_ARGS__)
#define cr__op(fatal, a, op, b, ...) cr__cmp(fatal, (a)op(b), #a " " #op " " #b, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr__op(true, a, ==, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) cr__op(false, a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr__op(true, a, !=, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) cr__op(false, a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr__op(true, a, <, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) cr__op(false, a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr__op(true, a, <=, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) cr__op(false, a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr__op(true, a, >, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) cr__op(false, a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr__op(true, a, >=, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) cr__op(false, a, >=, b, __VA_ARGS__)
#define cr_assert_null(p, ...) cr__cmp(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...) cr__cmp(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr__cmp(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) cr__cmp(false, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr__cmp(true, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) cr__cmp(false, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) cr__cmp(true, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...)                                                               \
	cr__cmp(false, strcmp((a), (b)) != 0, #a " != " #b, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                                             \
	cr__cmp(true, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_arr_eq(a, b, n, ...)                                                             \
	cr__cmp(false, memcmp((a), (b), (n)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_assert_fail(...) cr__cmp(true, false, "fail", __VA_ARGS__)
#define cr_fail(...) cr_assert_fail(__VA_ARGS__)
void cr__log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define cr_log_info(...) cr__log("info", __VA_ARGS__)
#define cr_log_warn(...) cr__log("warn", __VA_ARGS__)
#define cr_log_error(...) cr__log("error", __VA_ARGS__)

#endif
