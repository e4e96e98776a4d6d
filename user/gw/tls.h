/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TLS with OpenSSL 3, and a stream interface that reads and writes plain
 * and TLS sockets alike, non-blocking.
 *
 * Listeners: TLS 1.2 and 1.3 only, ECDHE and AEAD ciphers only (Mozilla
 * "intermediate" less DHE) in the server's order, no compression, no
 * renegotiation, ALPN http/1.1, SNI among several certificates, session
 * tickets under keys that rotate, and optional client certificates.
 * Upstreams: verification and SNI.
 */
#ifndef SLUICE_GW_TLS_H
#define SLUICE_GW_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <openssl/ssl.h>
#include "config.h"

struct tls_server;

/* One per listener, shared by all workers. NULL with err set. */
struct tls_server *tls_server_new(const struct cfg_tls *cfg, const char *listener,
				  char *err, size_t errlen);
void tls_server_free(struct tls_server *ts);
/* Rotates the ticket keys when due; call from one thread now and then. */
void tls_server_tick(struct tls_server *ts, uint64_t now_ns);

/* One per upstream TLS backend. NULL with err set. */
SSL_CTX *tls_client_ctx_new(const struct cfg_backend *b, char *err, size_t errlen);

/* A connection's byte stream: plain when ssl is NULL. */
struct stream {
	int fd;
	SSL *ssl;
	bool handshaken;
	bool want_read;		/* the last call needs the fd readable */
	bool want_write;	/* ... or writable (TLS may want either) */
	bool eof;
};

/* SSL for an accepted fd / a connecting upstream fd; NULL on allocation failure. */
SSL *tls_server_ssl(struct tls_server *ts, int fd);
SSL *tls_client_ssl(SSL_CTX *ctx, int fd, const char *sni);

/*
 * Each returns bytes moved (> 0), 0 at end of stream (read only), -EAGAIN
 * with want_read/want_write telling which readiness to wait for, or
 * another -errno (-EPROTO for a TLS failure; details via tls_last_error).
 */
int stream_handshake(struct stream *s);
ssize_t stream_read(struct stream *s, void *buf, size_t len);
ssize_t stream_write(struct stream *s, const void *buf, size_t len);
/* Sends close_notify where TLS (best effort) and closes the fd. */
void stream_close(struct stream *s);

/* The reason of the last TLS failure on this thread, for the log. */
const char *tls_last_error(void);

#endif
