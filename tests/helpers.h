/* SPDX-License-Identifier: MIT */
/*
 * What every test shares: a fresh namespace directory per test, real child processes, a
 * barrier in shared memory, and a way to run the ipcx tool as a user would.
 */
#ifndef IPCX_TEST_HELPERS_H
#define IPCX_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Every test gets its own IPCX_DIR (made in .init, removed in .fini) and a timeout. */
void test_setup(void);
void test_teardown(void);
#define IPCX_TEST(suite, name, ...)                                                                \
	Test(suite, name, .init = test_setup, .fini = test_teardown, .timeout = 30, ##__VA_ARGS__)

/* The namespace directory of the running test. */
const char *test_dir(void);

/* Runs fn(arg) in a forked child that exits with fn's return value. */
pid_t test_fork(int (*fn)(void *arg), void *arg);

/* Waits for a child; returns its exit status, or 128 + the signal that killed it. */
int test_wait(pid_t pid);

/* Kills a child with SIGKILL and reaps it. */
void test_kill(pid_t pid);

/* A barrier in an anonymous shared mapping, usable across fork. */
struct test_barrier {
	_Atomic uint32_t arrived;
	_Atomic uint32_t generation;
	uint32_t count;
};
struct test_barrier *test_barrier_new(uint32_t count);
void test_barrier_wait(struct test_barrier *b);

/* Shared memory for results from children (anonymous, MAP_SHARED, zeroed). */
void *test_shared_alloc(size_t size);

/*
 * Maps the object file called name in the test's directory read-write, as a hostile peer
 * with write access would, and returns the mapping (header included) with its size.
 */
void *test_map_object(const char *name, size_t *ret_size);

/* The result of running the ipcx tool. */
struct tool_result {
	int status; /* exit status, or 128 + signal */
	char *out;  /* stdout, NUL-terminated; freed by tool_result_free */
	char *err;  /* stderr */
};

/*
 * Runs the ipcx tool with the given arguments (NULL-terminated), feeding stdin_data (may be
 * NULL) on its standard input, in the test's namespace directory.
 */
struct tool_result tool_run(const char *stdin_data, const char *arg0, ...)
        __attribute__((sentinel));
void tool_result_free(struct tool_result *r);

/* Runs the program at path with argv (NULL-terminated, argv[0] included), the same way. */
struct tool_result test_run_program(const char *path, const char *stdin_data,
                                    const char *const *argv);

#endif
