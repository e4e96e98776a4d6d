/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Input placed against a guard page (as picohttpparser's tests do): a
 * parser that reads one byte past its input faults at once.
 * Include after <cmocka.h>, <string.h>, <sys/mman.h> and <unistd.h>.
 */
#ifndef SLUICE_TEST_GUARD_H
#define SLUICE_TEST_GUARD_H

/* s[0, n) copied to the end of a page that an inaccessible page follows. */
struct guard {
	char *map;
	size_t len;
};

static const char *guard_copy(struct guard *g, const char *s, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (n + pg - 1) / pg * pg;
	char *p;

	g->len = data + pg;
	g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + data, pg, PROT_NONE), 0);
	p = g->map + data - n;
	memcpy(p, s, n);
	return p;
}

static void guard_free(struct guard *g)
{
	munmap(g->map, g->len);
}

#endif
