/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rate limiting as GCRA (the virtual-scheduling form of a token bucket).
 * The whole state is one theoretical arrival time, so a bucket shared by
 * all CPUs is charged with a single compare-and-swap: no lock, and a source
 * whose packets are spread over several CPUs still gets exactly its rate.
 */
#ifndef SLUICE_BPF_GCRA_H
#define SLUICE_BPF_GCRA_H

#include <linux/types.h>
#include <sluice/abi.h>

#define GCRA_CAS_TRIES	4

/*
 * Charges one packet to *tat at rate r. Returns 0 when the packet conforms
 * (and was charged), -1 when it is over the rate (nothing charged).
 * A burst of b lets b packets through back to back from a full bucket.
 * Should the CAS lose GCRA_CAS_TRIES races in a row the packet conforms:
 * that takes more CPUs hammering one source than the bucket can misjudge.
 */
static __always_inline int gcra_take(__u64 *tat, const struct sluice_rate *r, __u64 now)
{
	__u64 tau = r->interval_ns * (r->burst ? r->burst : 1);

#pragma unroll
	for (int i = 0; i < GCRA_CAS_TRIES; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 next = (old > now ? old : now) + r->interval_ns;

		if (next - now > tau)
			return -1;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return 0;
	}
	return 0;
}

#endif
