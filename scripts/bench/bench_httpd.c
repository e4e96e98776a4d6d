// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_httpd: the legitimate side of the flood benchmark. One thread,
 * epoll, HTTP/1.1 keep-alive: every request (anything ending in an empty
 * line; pipelining allowed) gets the same small 200 response. It parses
 * nothing else, so its CPU per request is mostly the kernel's TCP work,
 * which is what a flood steals from.
 *
 * Usage: bench_httpd ADDR PORT   (runs until SIGTERM/SIGINT)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define MAX_EVENTS	64
#define BUF_SIZE	8192

static const char response[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";

/* Per connection: how much of "\r\n\r\n" the last read ended in. */
struct conn {
	int fd;
	int match;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Counts requests ended in buf, carrying a split terminator across reads. */
static int count_requests(struct conn *c, const char *buf, ssize_t n)
{
	static const char end[] = "\r\n\r\n";
	int reqs = 0;

	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == end[c->match])
			c->match++;
		else
			c->match = buf[i] == '\r';
		if (c->match == 4) {
			reqs++;
			c->match = 0;
		}
	}
	return reqs;
}

/* Reads what is there and answers; 0 to keep the connection, -1 to close it. */
static int serve(struct conn *c)
{
	static char buf[BUF_SIZE], out[BUF_SIZE];
	const size_t rlen = sizeof(response) - 1;

	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		int reqs, fit;

		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		reqs = count_requests(c, buf, n);
		while (reqs > 0) {
			fit = reqs < (int)(sizeof(out) / rlen) ? reqs : (int)(sizeof(out) / rlen);
			for (int i = 0; i < fit; i++)
				memcpy(out + i * rlen, response, rlen);
			/* Responses are tiny; a full socket buffer means a stuck client */
			if (write(c->fd, out, fit * rlen) != (ssize_t)(fit * rlen))
				return -1;
			reqs -= fit;
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[MAX_EVENTS];
	int lfd, ep, one = 1;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "usage: bench_httpd ADDR PORT\n");
		return 2;
	}
	sa.sin_port = htons(atoi(argv[2]));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(lfd, 1024) == -1) {
		perror("bench_httpd: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep == -1) {
		perror("bench_httpd: epoll_create1");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		perror("bench_httpd: epoll_ctl");
		return 1;
	}

	while (!stop) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, 500);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
						close(fd);
						free(c);
					}
				}
				continue;
			}
			if (serve(c)) {
				close(c->fd);	/* also leaves the epoll set */
				free(c);
			}
		}
	}
	return 0;
}
