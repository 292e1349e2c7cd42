/* SPDX-License-Identifier: MIT */
/* The named-object layer: names, atomic creation, validation, attachment, removal. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ipcx/ipcx.h>

#include "helpers.h"
#include "internal/obj.h"
#include "internal/sys.h"

/* A kind for testing the layer alone: a body of one counter and a size check. */
struct test_body {
	_Atomic uint32_t counter;
	uint32_t size_echo;
};

static int test_validate(const void *body, uint64_t size)
{
	const struct test_body *b = body;
	return size >= sizeof(*b) && b->size_echo == size ? 0 : -EBADMSG;
}

static int test_init(void *body, uint64_t size, const void *arg)
{
	struct test_body *b = body;
	b->size_echo = (uint32_t)size;
	atomic_store(&b->counter, arg ? *(const uint32_t *)arg : 0);
	return 0;
}

/* Uses the event kind's number, which the layer accepts when no event module is built. */
static const struct ipcx__kind test_kind = {IPCX_KIND_EVENT, "test", test_validate, NULL};

static int open_test(struct ipcx__obj *o, const char *name, unsigned flags)
{
	return ipcx__obj_open(o, &test_kind, name, flags, 0, 64, test_init, NULL);
}

IPCX_TEST(obj, names)
{
	char longest[IPCX_NAME_MAX + 2];

	cr_expect_eq(ipcx_name_check("a"), 0);
	cr_expect_eq(ipcx_name_check("A-z_0.9"), 0);
	cr_expect_eq(ipcx_name_check(".hidden"), 0);
	cr_expect_eq(ipcx_name_check(""), -EINVAL);
	cr_expect_eq(ipcx_name_check("."), -EINVAL);
	cr_expect_eq(ipcx_name_check(".."), -EINVAL);
	cr_expect_eq(ipcx_name_check("a/b"), -EINVAL);
	cr_expect_eq(ipcx_name_check("../x"), -EINVAL);
	cr_expect_eq(ipcx_name_check("sp ace"), -EINVAL);
	cr_expect_eq(ipcx_name_check("caf\xc3\xa9"), -EINVAL);
	cr_expect_eq(ipcx_name_check("~ipcx-tmp.1"), -EINVAL);
	cr_expect_eq(ipcx_name_check(NULL), -EINVAL);
	memset(longest, 'x', sizeof(longest));
	longest[IPCX_NAME_MAX] = '\0';
	cr_expect_eq(ipcx_name_check(longest), 0);
	longest[IPCX_NAME_MAX] = 'x';
	longest[IPCX_NAME_MAX + 1] = '\0';
	cr_expect_eq(ipcx_name_check(longest), -EINVAL);
}

IPCX_TEST(obj, create_open_close)
{
	struct ipcx__obj a, b;

	cr_assert_eq(open_test(&a, "o", 0), -ENOENT);
	cr_assert_eq(open_test(&a, "o", IPCX_CREATE), 1);
	cr_assert_eq(open_test(&b, "o", IPCX_CREATE), 0);
	cr_assert_neq(a.slot, b.slot);
	atomic_store(&((struct test_body *)a.body)->counter, 42);
	cr_assert_eq(atomic_load(&((struct test_body *)b.body)->counter), 42);
	cr_assert_eq(open_test(&b, "o", IPCX_CREATE | IPCX_EXCL), -EEXIST);
	cr_assert_eq(open_test(&b, "o", IPCX_EXCL), -EINVAL);
	cr_assert_eq(open_test(&b, "o", 0x100), -EINVAL);
	ipcx__obj_close(&a);
	ipcx__obj_close(&a); /* a closed handle is zeroed: closing again is harmless */
	ipcx__obj_close(NULL);
}
