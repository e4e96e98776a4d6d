// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "log.h"

static const char *log_prog = "sluice";
static enum log_level log_level = LOG_WARN;
static char lib_warning[256];

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Keeps the first warning line since the last clear; prints only at debug level (they are noisy). */
static void lib_print(int warn, const char *fmt, va_list ap)
{
	char line[sizeof(lib_warning)];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	/* The first warning names the cause; later ones are consequences */
	if (warn && !lib_warning[0]) {
		const char *p = line;

		while (*p == ' ')
			p++;
		snprintf(lib_warning, sizeof(lib_warning), "%s", p);
	}
	if (log_level >= LOG_DEBUG)
		fprintf(stderr, "%s: %s\n", log_prog, line);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	lib_print(level == LIBBPF_WARN, fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	lib_print(level == LIBXDP_WARN, fmt, ap);
	return 0;
}

void log_setup(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}

const char *log_last_lib_warning(void)
{
	return lib_warning;
}

void log_clear_lib_warning(void)
{
	lib_warning[0] = '\0';
}
