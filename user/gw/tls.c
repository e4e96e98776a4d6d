// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "tls.h"

/*
 * TLS 1.2: ECDHE with AEAD only, in this order of preference (Mozilla
 * "intermediate" v5.7 less its DHE suites, which OpenSSL 3 never picks
 * without DH parameters, and we set none). TLS 1.3 suites are OpenSSL's
 * defaults.
 */
#define CIPHERS_TLS12 \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define GROUPS "X25519:prime256v1:secp384r1"

static __thread char tls_err[256];

const char *tls_last_error(void)
{
	return tls_err;
}

static void save_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(tls_err, sizeof(tls_err), "%s: %s", what, buf);
	} else {
		snprintf(tls_err, sizeof(tls_err), "%s", what);
	}
	ERR_clear_error();
}

/* Session ticket keys: the current one encrypts, the previous one still decrypts */
struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
};

struct tls_cert_ctx {
	SSL_CTX *ctx;
	char **names;		/* DNS names of the certificate (SAN, else CN) */
	size_t nnames;
};

struct tls_server {
	struct tls_cert_ctx *certs;
	size_t ncerts;
	pthread_rwlock_t lock;	/* ticket keys only: taken in handshakes, never per request */
	struct ticket_key keys[2];	/* [0] current */
	uint64_t rotation_ns, rotated_ns;
	bool tickets;
};

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";

	(void)ssl, (void)arg;
	if (SSL_select_next_proto((unsigned char **)out, outlen, h11, sizeof(h11) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;	/* RFC 7301: no overlap is fatal */
	return SSL_TLSEXT_ERR_OK;
}

static bool name_matches(const char *pattern, const char *host)
{
	const char *dot;

	if (!strcasecmp(pattern, host))
		return true;
	/* "*.example.com" covers exactly one label */
	if (pattern[0] != '*' || pattern[1] != '.')
		return false;
	dot = strchr(host, '.');
	return dot && dot != host && !strcasecmp(pattern + 1, dot);
}

static int sni_select(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *ts = arg;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	(void)alert;
	if (!host)
		return SSL_TLSEXT_ERR_OK;	/* the default certificate */
	for (size_t i = 0; i < ts->ncerts; i++)
		for (size_t j = 0; j < ts->certs[i].nnames; j++)
			if (name_matches(ts->certs[i].names[j], host)) {
				if (i)
					SSL_set_SSL_CTX(ssl, ts->certs[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	return SSL_TLSEXT_ERR_OK;
}

static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
		     EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_server *ts = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	OSSL_PARAM params[3];
	struct ticket_key *k = NULL;
	int ret = 1;

	pthread_rwlock_rdlock(&ts->lock);
	if (enc) {
		k = &ts->keys[0];
		memcpy(key_name, k->name, 16);
		if (RAND_bytes(iv, 16) != 1 ||
		    !EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->aes, iv))
			ret = -1;
	} else {
		for (int i = 0; i < 2; i++)
			if (!memcmp(key_name, ts->keys[i].name, 16))
				k = &ts->keys[i];
		if (!k)
			ret = 0;	/* unknown key: full handshake */
		else if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, k->aes, iv))
			ret = -1;
		else if (k == &ts->keys[1])
			ret = 2;	/* valid, but renew under the current key */
	}
	if (k && ret > 0) {
		/* OpenSSL initialises the MAC itself: only key and digest are ours to set */
		params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac, 32);
		params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
		params[2] = OSSL_PARAM_construct_end();
		if (!EVP_MAC_CTX_set_params(hctx, params))
			ret = -1;
	}
	pthread_rwlock_unlock(&ts->lock);
	return ret;
}

static int new_key(struct ticket_key *k)
{
	return RAND_bytes((unsigned char *)k, sizeof(*k)) == 1 ? 0 : -EIO;
}

void tls_server_tick(struct tls_server *ts, uint64_t now_ns)
{
	struct ticket_key k;

	if (!ts || !ts->tickets || now_ns - ts->rotated_ns < ts->rotation_ns)
		return;
	if (new_key(&k))
		return;
	pthread_rwlock_wrlock(&ts->lock);
	ts->keys[1] = ts->keys[0];
	ts->keys[0] = k;
	ts->rotated_ns = now_ns;
	pthread_rwlock_unlock(&ts->lock);
	OPENSSL_cleanse(&k, sizeof(k));
}

static int collect_names(struct tls_cert_ctx *c)
{
	X509 *x = SSL_CTX_get0_certificate(c->ctx);
	GENERAL_NAMES *sans;
	char cn[256];
	int n;

	if (!x)
		return -EINVAL;
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = sans ? sk_GENERAL_NAME_num(sans) : 0;
	c->names = calloc(n + 1, sizeof(*c->names));
	if (!c->names) {
		GENERAL_NAMES_free(sans);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS)
			c->names[c->nnames++] = strndup((const char *)ASN1_STRING_get0_data(g->d.dNSName),
							ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(sans);
	if (!c->nnames &&
	    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn)) > 0)
		c->names[c->nnames++] = strdup(cn);
	return 0;
}

static SSL_CTX *server_ctx(const struct cfg_tls *cfg, const struct cfg_cert *cert,
			   const char *listener, struct tls_server *ts, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	size_t sid_len = strlen(listener);

	if (!ctx) {
		save_error("SSL_CTX_new");
		snprintf(err, errlen, "%s", tls_err);
		return NULL;
	}
	SSL_CTX_set_app_data(ctx, ts);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/*
	 * OpenSSL 3 refuses client renegotiation unless ALLOW_CLIENT_RENEGOTIATION
	 * is set. Our cipher order, not the client's (audits rate a client-chosen
	 * order as weak), but ChaCha20 first for a client that lists it first: those
	 * are the clients without AES instructions.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
	SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_CLIENT_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (SSL_CTX_set_cipher_list(ctx, CIPHERS_TLS12) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, GROUPS) != 1) {
		save_error("ciphers");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert->cert) != 1) {
		save_error(cert->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cert->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		save_error(cert->key);
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_select);
	SSL_CTX_set_tlsext_servername_arg(ctx, ts);
	/*
	 * Resumption by tickets only: no server-side cache to share between workers.
	 * With SSL_VERIFY_PEER (client_ca) OpenSSL 3.0 fails every resuming
	 * handshake (internal_error) unless a session id context is set. The same
	 * for all of a listener's certificates, so SNI keeps it; a prefix of the
	 * name is enough, as the ticket keys are the listener's own anyway.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (sid_len > SSL_MAX_SID_CTX_LENGTH)
		sid_len = SSL_MAX_SID_CTX_LENGTH;
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)listener, sid_len) != 1) {
		save_error("session id context");
		goto fail;
	}
	if (ts->tickets)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	else
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, ts->tickets ? 1 : 0);
	if (cfg->client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_ca);

		if (!names || SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			save_error(cfg->client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
				   (cfg->client_required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	}
	return ctx;
fail:
	snprintf(err, errlen, "%s", tls_err);
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_server_free(struct tls_server *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ts->ncerts; i++) {
		SSL_CTX_free(ts->certs[i].ctx);
		for (size_t j = 0; j < ts->certs[i].nnames; j++)
			free(ts->certs[i].names[j]);
		free(ts->certs[i].names);
	}
	free(ts->certs);
	pthread_rwlock_destroy(&ts->lock);
	OPENSSL_cleanse(ts->keys, sizeof(ts->keys));
	free(ts);
}

struct tls_server *tls_server_new(const struct cfg_tls *cfg, const char *listener,
				  char *err, size_t errlen)
{
	struct tls_server *ts = calloc(1, sizeof(*ts));
	char why[256];

	if (!ts) {
		snprintf(err, errlen, "listeners.%s.tls: out of memory", listener);
		return NULL;
	}
	pthread_rwlock_init(&ts->lock, NULL);
	ts->tickets = cfg->ticket_rotation_ns != 0;
	ts->rotation_ns = cfg->ticket_rotation_ns;
	if (ts->tickets && (new_key(&ts->keys[0]) || new_key(&ts->keys[1]))) {
		snprintf(err, errlen, "listeners.%s.tls: no randomness for ticket keys", listener);
		goto fail;
	}
	ts->certs = calloc(cfg->ncerts, sizeof(*ts->certs));
	if (!ts->certs) {
		snprintf(err, errlen, "listeners.%s.tls: out of memory", listener);
		goto fail;
	}
	for (size_t i = 0; i < cfg->ncerts; i++) {
		ts->certs[i].ctx = server_ctx(cfg, &cfg->certs[i], listener, ts, why, sizeof(why));
		if (!ts->certs[i].ctx) {
			snprintf(err, errlen, "listeners.%s.tls.certificates[%zu]: %s", listener, i, why);
			goto fail;
		}
		ts->ncerts++;
		if (collect_names(&ts->certs[i])) {
			snprintf(err, errlen, "listeners.%s.tls.certificates[%zu]: cannot read names",
				 listener, i);
			goto fail;
		}
	}
	ts->rotated_ns = 0;
	return ts;
fail:
	tls_server_free(ts);
	return NULL;
}

SSL_CTX *tls_client_ctx_new(const struct cfg_backend *b, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		save_error("SSL_CTX_new");
		snprintf(err, errlen, "%s", tls_err);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (b->tls_verify) {
		int ok = b->ca_file ? SSL_CTX_load_verify_locations(ctx, b->ca_file, NULL)
				    : SSL_CTX_set_default_verify_paths(ctx);

		if (ok != 1) {
			save_error(b->ca_file ? b->ca_file : "default trust store");
			snprintf(err, errlen, "%s", tls_err);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
	return ctx;
}

SSL *tls_server_ssl(struct tls_server *ts, int fd)
{
	SSL *ssl = SSL_new(ts->certs[0].ctx);

	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

SSL *tls_client_ssl(SSL_CTX *ctx, int fd, const char *sni)
{
	SSL *ssl = SSL_new(ctx);

	if (!ssl)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, sni) != 1 ||
	    (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && SSL_set1_host(ssl, sni) != 1)) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

/* Maps an SSL_get_error() result onto the stream's return convention. */
static int ssl_result(struct stream *s, int ret, const char *what)
{
	int e = SSL_get_error(s->ssl, ret);

	s->want_read = s->want_write = false;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		s->want_read = true;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		s->want_write = true;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		s->eof = true;
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_error()) {
			/* EOF without close_notify: treat as end of stream, the framing decides */
			if (ret == 0 || errno == 0) {
				s->eof = true;
				return 0;
			}
			return -errno;
		}
		/* fallthrough */
	default:
		save_error(what);
		return -EPROTO;
	}
}

int stream_handshake(struct stream *s)
{
	int ret;

	if (!s->ssl || s->handshaken)
		return 0;
	ERR_clear_error();
	ret = SSL_do_handshake(s->ssl);
	if (ret == 1) {
		s->handshaken = true;
		s->want_read = s->want_write = false;
		return 0;
	}
	ret = ssl_result(s, ret, "handshake");
	return ret == 0 ? -ECONNRESET : ret;
}

ssize_t stream_read(struct stream *s, void *buf, size_t len)
{
	ssize_t n;
	int ret;

	if (!s->ssl) {
		n = recv(s->fd, buf, len, 0);
		if (n > 0)
			return n;
		if (n == 0) {
			s->eof = true;
			return 0;
		}
		s->want_read = errno == EAGAIN;
		return -errno;
	}
	ERR_clear_error();
	ret = SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (ret > 0)
		return ret;
	return ssl_result(s, ret, "read");
}

ssize_t stream_write(struct stream *s, const void *buf, size_t len)
{
	ssize_t n;
	int ret;

	if (!s->ssl) {
		n = send(s->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		s->want_write = errno == EAGAIN;
		return -errno;
	}
	ERR_clear_error();
	ret = SSL_write(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (ret > 0)
		return ret;
	ret = ssl_result(s, ret, "write");
	return ret == 0 ? -EPIPE : ret;
}

void stream_close(struct stream *s)
{
	if (s->ssl) {
		if (s->handshaken && !s->eof)
			SSL_shutdown(s->ssl);	/* one-way close_notify; no waiting */
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
