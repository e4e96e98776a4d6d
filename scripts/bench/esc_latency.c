// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * esc_latency: how long from a request that gets its source blocked to the
 * first packet of that source the data plane drops (scripts/bench/limits.sh).
 *
 *   esc_latency probe SRC GW HTTP_PORT UDP_PORT
 *       From SRC, UDP probes to GW:UDP_PORT every 50 us, each carrying its
 *       sequence number and send time (CLOCK_REALTIME); after 100 ms one
 *       HTTP request with a key nobody has to GW:HTTP_PORT; probes go on
 *       for 300 ms more. Prints
 *       "PROBE sent_ns=T answer_ns=T status=N gap_ns=50000 probes=N":
 *       when the request's first byte left, when the answer's first byte
 *       came, its status.
 *   esc_latency sink ADDR UDP_PORT
 *       Receives the probes until none came for 1 s. Prints
 *       "SINK last_ns=T first_lost=N after=N received=N": the send time of
 *       the last probe before the first one lost, and how many probes sent
 *       after that one still arrived (0 when the drop holds).
 *
 * Both ends run on one host (network namespaces share the clock), so the
 * times compare. Exit 0, 1 on a runtime error, 2 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#define GAP_NS		50000ULL
#define MAX_PROBES	(1u << 20)

struct probe {
	uint32_t seq;
	uint64_t ts;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "esc_latency: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int sock_at(int type, const char *addr, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, type, 0), one = 1;

	if (fd < 0)
		die("socket");
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "esc_latency: '%s' is not an IPv4 address\n", addr);
		exit(2);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die(addr);
	return fd;
}

static void connect_to(int fd, const char *addr, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "esc_latency: '%s' is not an IPv4 address\n", addr);
		exit(2);
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
}

static atomic_bool stop;
static atomic_uint sent;

static void *sender(void *arg)
{
	int fd = *(int *)arg;
	uint64_t next = now_ns();
	struct probe p = { 0 };

	while (!atomic_load(&stop) && p.seq < MAX_PROBES) {
		while (now_ns() < next)
			;
		p.ts = now_ns();
		(void)send(fd, &p, sizeof(p), MSG_DONTWAIT);
		p.seq++;
		atomic_store(&sent, p.seq);
		next += GAP_NS;
	}
	return NULL;
}

static int probe(const char *src, const char *gw, uint16_t hport, uint16_t uport)
{
	static const char req[] = "GET /v1/models HTTP/1.1\r\nHost: gw\r\n"
				  "Authorization: Bearer sk-nobody-0000000000000000000000000000\r\n"
				  "Connection: close\r\n\r\n";
	int ufd = sock_at(SOCK_DGRAM, src, 0), tfd = sock_at(SOCK_STREAM, src, 0);
	uint64_t t_sent, t_answer = 0;
	char buf[512];
	unsigned int status = 0;
	pthread_t th;
	ssize_t n;

	connect_to(ufd, gw, uport);
	if (pthread_create(&th, NULL, sender, &ufd))
		die("pthread_create");
	usleep(100000);
	connect_to(tfd, gw, hport);
	t_sent = now_ns();
	if (write(tfd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		die("write");
	n = read(tfd, buf, sizeof(buf) - 1);
	t_answer = now_ns();
	if (n > 0) {
		buf[n] = '\0';
		sscanf(buf, "HTTP/1.%*c %u", &status);
	}
	close(tfd);
	usleep(300000);
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	printf("PROBE sent_ns=%llu answer_ns=%llu status=%u gap_ns=%llu probes=%u\n",
	       (unsigned long long)t_sent, (unsigned long long)t_answer, status,
	       (unsigned long long)GAP_NS, atomic_load(&sent));
	return status ? 0 : 1;
}

static int sink(const char *addr, uint16_t port)
{
	int fd = sock_at(SOCK_DGRAM, addr, port), rcvbuf = 8 << 20;
	uint64_t *ts = calloc(MAX_PROBES, sizeof(*ts));
	uint32_t max = 0, first_lost, after = 0, received = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct probe p;

	if (!ts)
		die("calloc");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* 5 s for the first probe, then until 1 s passes without one */
	while (poll(&pfd, 1, received ? 1000 : 5000) == 1) {
		if (recv(fd, &p, sizeof(p), 0) != sizeof(p) || p.seq >= MAX_PROBES)
			continue;
		if (!ts[p.seq])
			received++;
		ts[p.seq] = p.ts;
		if (p.seq > max)
			max = p.seq;
	}
	if (!received) {
		fprintf(stderr, "esc_latency: sink: no probe arrived\n");
		return 1;
	}
	for (first_lost = 0; first_lost <= max && ts[first_lost]; first_lost++)
		;
	for (uint32_t i = first_lost + 1; i <= max; i++)
		after += ts[i] != 0;
	printf("SINK last_ns=%llu first_lost=%u after=%u received=%u\n",
	       (unsigned long long)(first_lost ? ts[first_lost - 1] : 0), first_lost, after, received);
	free(ts);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "probe"))
		return probe(argv[2], argv[3], (uint16_t)atoi(argv[4]), (uint16_t)atoi(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "sink"))
		return sink(argv[2], (uint16_t)atoi(argv[3]));
	fprintf(stderr, "usage: esc_latency probe SRC GW HTTP_PORT UDP_PORT\n"
			"       esc_latency sink ADDR UDP_PORT\n");
	return 2;
}
