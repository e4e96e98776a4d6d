/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* sluiced --scan: what a config's detectors and pattern sets flag in a file of texts. */
#ifndef SLUICE_GW_SCAN_H
#define SLUICE_GW_SCAN_H

#include <stdbool.h>

struct runtime;

/*
 * Scans path ("-": stdin), one text a line (\n, \t and \\ decoded; empty
 * lines and lines starting with '#' skipped), printing each flagged text's
 * line number with the sets and detectors that fired, then a summary.
 * Returns the exit status: 0, 1 (I/O), 2 (the config inspects nothing).
 */
int scan_texts(const struct runtime *rt, const char *path, bool json);

#endif
