/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Filling the GCRA rates of the ABI, so BPF never divides. */
#ifndef SLUICE_RATE_H
#define SLUICE_RATE_H

#include <sluice/abi.h>

/* rate 0: no limit. burst 0 is taken as 1. */
static inline void rate_set(struct sluice_rate *r, __u32 rate, __u32 burst)
{
	r->rate = rate;
	r->burst = rate ? (burst ? burst : 1) : 0;
	r->interval_ns = rate ? 1000000000ULL / rate : 0;
}

#endif
