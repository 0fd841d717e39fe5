/*
 * epsilon/tls.h - TLS over OpenSSL 3: contexts and connections.
 *
 * A context (handle of kind EPS_HANDLE_TLS_CONTEXT) holds the settings
 * shared by many connections: the role (client or server), the protocol
 * versions, the certificate and key, the trusted CAs, verification and the
 * cipher lists.  A connection (handle of kind EPS_HANDLE_TLS_CONNECTION)
 * runs TLS over one connected stream socket.  A connection keeps its
 * context's settings alive: freeing the context first is safe.  The socket
 * stays with its owner; freeing a connection never closes it.
 *
 * Secure defaults: TLS 1.2 at least, no compression, no renegotiation,
 * clients verify the server's certificate (give the trust with one of the
 * eps_tls_context_load_ or eps_tls_context_use_default_verify_paths calls,
 * and the expected name with eps_tls_connection_set_hostname).
 *
 * Non-blocking use: handshake, read, write and shutdown return
 * -EPS_ETLSWANTREAD or -EPS_ETLSWANTWRITE when they cannot go on without
 * the socket becoming readable or writable; wait for that and call the same
 * function again.  After a write returned one of them, the next write on the
 * connection must offer the same bytes again (at least as many, the same
 * first bytes; the buffer may have moved).
 */
#ifndef EPSILON_TLS_H
#define EPSILON_TLS_H

#include <stddef.h>
#include <stdint.h>

/** Which side of the handshake a context's connections take. */
enum eps_tls_role { EPS_TLS_ROLE_CLIENT = 0, EPS_TLS_ROLE_SERVER = 1 };

/** Protocol versions, as on the wire; 0 means the default for the bound. */
enum eps_tls_version {
	EPS_TLS_VERSION_DEFAULT = 0,
	EPS_TLS_VERSION_1_2 = 0x0303,
	EPS_TLS_VERSION_1_3 = 0x0304
};

/** How a context checks the peer's certificate (eps_tls_context_set_verify). */
enum eps_tls_verify { EPS_TLS_VERIFY_NONE = 0, EPS_TLS_VERIFY_PEER = 1 };

/** Bits returned by eps_tls_connection_shutdown. */
enum eps_tls_shutdown_state { EPS_TLS_SHUTDOWN_SENT = 1, EPS_TLS_SHUTDOWN_RECEIVED = 2 };

/* --- contexts ------------------------------------------------------------ */

/**
 * Make a TLS context for ROLE (EPS_TLS_ROLE_CLIENT or EPS_TLS_ROLE_SERVER)
 * that negotiates a protocol version between MIN_VERSION and MAX_VERSION
 * (EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_3, or 0: at least TLS 1.2, at
 * most the newest OpenSSL knows).  A client context verifies the server's
 * certificate; a server context does not ask for client certificates.
 * Returns the context handle (> 0), or -EINVAL for a bad role or version
 * (or MIN_VERSION above MAX_VERSION), -ENOMEM, -ETLS.
 */
int64_t eps_tls_context_new(int32_t role, int32_t min_version, int32_t max_version);

/**
 * Free the context CTX.  Connections made from it keep working.  Returns 0,
 * or -EBADHANDLE when CTX is not a live context (also on a second free).
 */
int32_t eps_tls_context_free(int64_t ctx);

/**
 * Load the certificate chain (the leaf first, then intermediates) from the
 * PEM file PATH into CTX.  If a private key is already loaded it must match
 * the leaf.  Returns 0, -EBADPEM when the file is missing, unreadable or
 * holds no certificate, -EKEYMISMATCH when the loaded key does not match
 * (CTX is then unchanged), -EBADHANDLE, -EINVAL for a NULL PATH.
 */
int32_t eps_tls_context_use_certificate_file(int64_t ctx, const char *path);

/**
 * Like eps_tls_context_use_certificate_file, with the PEM text in the
 * LEN bytes at PEM.
 */
int32_t eps_tls_context_use_certificate_pem(int64_t ctx, const uint8_t *pem, size_t len);

/**
 * Load an unencrypted private key from the PEM file PATH into CTX.  If a
 * certificate is already loaded the key must match it.  Returns 0, -EBADPEM
 * when the file is missing, unreadable, encrypted or holds no key,
 * -EKEYMISMATCH (CTX is then unchanged), -EBADHANDLE, -EINVAL for NULL.
 */
int32_t eps_tls_context_use_private_key_file(int64_t ctx, const char *path);

/**
 * Like eps_tls_context_use_private_key_file, with the PEM text in the LEN
 * bytes at PEM.
 */
int32_t eps_tls_context_use_private_key_pem(int64_t ctx, const uint8_t *pem, size_t len);

/**
 * Check that CTX has both a certificate and a private key and that they
 * match (a server context needs both).  Returns 0, -EBADPEM when one is
 * missing, -EKEYMISMATCH, -EBADHANDLE.
 */
int32_t eps_tls_context_check_private_key(int64_t ctx);

/**
 * Trust the system's default CA certificates (OpenSSL's default file and
 * directory, or SSL_CERT_FILE / SSL_CERT_DIR) in CTX.  Returns 0, -ETLS,
 * -EBADHANDLE.
 */
int32_t eps_tls_context_use_default_verify_paths(int64_t ctx);

/**
 * Trust the CA certificates in the PEM file PATH in CTX.  Returns 0,
 * -EBADPEM when the file is missing or holds no certificate, -EBADHANDLE,
 * -EINVAL for NULL.
 */
int32_t eps_tls_context_load_ca_file(int64_t ctx, const char *path);

/**
 * Trust the CA certificates in the directory PATH (hashed names, as made by
 * `openssl rehash`) in CTX; they are read when needed.  Returns 0, -ENOENT
 * or -ENOTDIR when PATH is not a directory, -ETLS, -EBADHANDLE, -EINVAL.
 */
int32_t eps_tls_context_load_ca_dir(int64_t ctx, const char *path);

/**
 * Set how CTX's connections check the peer's certificate: MODE
 * EPS_TLS_VERIFY_PEER (the default for clients: the handshake fails unless
 * the chain leads to a trusted CA and matches the name given with
 * eps_tls_connection_set_hostname) or EPS_TLS_VERIFY_NONE (no check at
 * all: anyone can impersonate the server).  Applies to connections made
 * afterwards.  Returns 0, -EINVAL for another MODE, -EOPNOTSUPP for
 * EPS_TLS_VERIFY_PEER on a server context (client certificates are not
 * supported yet), -EBADHANDLE.
 */
int32_t eps_tls_context_set_verify(int64_t ctx, int32_t mode);

/**
 * Set the TLS 1.2 cipher list of CTX, in OpenSSL's cipher-list syntax
 * ("ECDHE+AESGCM:ECDHE+CHACHA20").  Returns 0, -ETLS when nothing in LIST
 * is usable (CTX unchanged), -EINVAL for NULL, -EBADHANDLE.
 */
int32_t eps_tls_context_set_cipher_list(int64_t ctx, const char *list);

/**
 * Set the TLS 1.3 cipher suites of CTX, colon-separated
 * ("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256").  Returns 0,
 * -ETLS when SUITES is malformed (CTX unchanged), -EINVAL for NULL,
 * -EBADHANDLE.
 */
int32_t eps_tls_context_set_ciphersuites(int64_t ctx, const char *suites);

/* --- connections --------------------------------------------------------- */

/**
 * Make a TLS connection over the connected stream socket FD with the
 * settings of context CTX, on CTX's side (client or server).  The socket is
 * not closed when the connection is freed.  Returns the connection handle
 * (> 0), or -EBADF / -ENOTSOCK for FD, -EINVAL when FD is not a stream
 * socket, -EBADHANDLE when CTX is not a live context, -ENOMEM, -ETLS.
 */
int64_t eps_tls_connection_new(int64_t ctx, int32_t fd);

/**
 * Free the connection CONN without sending anything (call
 * eps_tls_connection_shutdown first for a clean close).  The socket stays
 * open.  Returns 0 or -EBADHANDLE (also on a second free).
 */
int32_t eps_tls_connection_free(int64_t conn);

/**
 * Make CONN's socket I/O non-blocking (ON non-zero) whatever the socket's
 * own mode: every receive and send passes MSG_DONTWAIT, so a call that
 * cannot go on returns -ETLSWANTREAD / -ETLSWANTWRITE instead of sleeping.
 * ON zero follows the socket's mode again.  Returns 0 or -EBADHANDLE.
 */
int32_t eps_tls_connection_set_nonblocking(int64_t conn, int32_t on);

/**
 * Name the server a client connection CONN expects, before its handshake:
 * a DNS name is sent as SNI and the certificate must match it; an IPv4 or
 * IPv6 literal ("127.0.0.1", "::1") is matched against the certificate's
 * IP addresses and sends no SNI.  Returns 0, -EINVAL for a NULL, empty or
 * over-long NAME, on a server connection or after the handshake began,
 * -EBADHANDLE, -ETLS.
 */
int32_t eps_tls_connection_set_hostname(int64_t conn, const char *name);

/**
 * Run (or go on with) CONN's handshake.  Returns 0 once it is complete,
 * -ETLSWANTREAD / -ETLSWANTWRITE (call again when the socket is ready),
 * -ECERTVERIFY or -EHOSTMISMATCH when the peer's certificate is refused
 * (see eps_tls_connection_verify_result), -EUNEXPECTEDEOF when the peer
 * closed the socket, -ETLSHANDSHAKE for any other handshake failure, a
 * negated errno (-ECONNRESET) from the socket, -ETLSCLOSED when the
 * connection failed earlier, -EBADHANDLE.
 */
int32_t eps_tls_connection_handshake(int64_t conn);

/**
 * Read up to LEN decrypted bytes from CONN into BUF (running the handshake
 * first if needed).  Returns the number of bytes read (> 0); 0 when the
 * peer closed the TLS session cleanly (close_notify); -ETLSWANTREAD /
 * -ETLSWANTWRITE (on a blocking socket too, after a record that carried
 * no application data, such as a TLS 1.3 session ticket: call again);
 * -EUNEXPECTEDEOF when the peer closed the socket without
 * close_notify (the data may have been cut short); the handshake's codes;
 * -ETLS; a negated errno; -ETLSCLOSED after an earlier failure; -EINVAL
 * when BUF is NULL or LEN is 0; -EBADHANDLE.
 */
int64_t eps_tls_connection_read(int64_t conn, uint8_t *buf, size_t len);

/**
 * Write up to LEN bytes from BUF to CONN (running the handshake first if
 * needed).  Returns the number of bytes taken (> 0, maybe fewer than LEN:
 * write the rest next), 0 when LEN is 0, -ETLSWANTREAD / -ETLSWANTWRITE
 * (the next write on CONN must offer the same bytes again), -EPIPE or
 * -ECONNRESET when the peer is gone (never SIGPIPE), -ETLSCLOSED after
 * eps_tls_connection_shutdown or an earlier failure, the handshake's
 * codes, -ETLS, -EINVAL when BUF is NULL and LEN is not 0, -EBADHANDLE.
 */
int64_t eps_tls_connection_write(int64_t conn, const uint8_t *buf, size_t len);

/**
 * Return how many decrypted bytes CONN holds that a read returns without
 * touching the socket (a readiness wait would not announce them), or
 * -EBADHANDLE.
 */
int64_t eps_tls_connection_pending(int64_t conn);

/**
 * Close CONN's TLS session: the first call sends close_notify; later calls
 * read until the peer's close_notify arrives (discarding data).  Returns
 * the state as bits: EPS_TLS_SHUTDOWN_SENT, plus EPS_TLS_SHUTDOWN_RECEIVED
 * once the peer's close_notify was seen.  Returns -ETLSWANTREAD /
 * -ETLSWANTWRITE, -ETLSCLOSED when the connection failed earlier,
 * -EINVAL before the handshake completed, -EPIPE / -ECONNRESET,
 * -EUNEXPECTEDEOF, -ETLS, -EBADHANDLE.  The socket stays open.
 */
int32_t eps_tls_connection_shutdown(int64_t conn);

/**
 * Return the result of the verification of the peer's certificate on CONN:
 * OpenSSL's X509_V_ code (0 = X509_V_OK; 10 expired, 18 self-signed, 20
 * unknown issuer, 62 host name mismatch, ...).  Readable after a failed
 * handshake.  Returns the code (>= 0) or -EBADHANDLE.
 */
int64_t eps_tls_connection_verify_result(int64_t conn);

/**
 * Copy the text of CONN's verification result ("certificate has expired")
 * into BUF of LEN bytes, NUL-terminated when LEN > 0, truncating if
 * needed.  Returns the full length of the text (like snprintf), -EINVAL
 * when BUF is NULL and LEN is not 0, -EBADHANDLE.
 */
int32_t eps_tls_connection_verify_result_string(int64_t conn, uint8_t *buf, size_t len);

/**
 * Return the protocol version CONN negotiated (EPS_TLS_VERSION_1_2,
 * EPS_TLS_VERSION_1_3), 0 before the handshake completed, or -EBADHANDLE.
 */
int32_t eps_tls_connection_version(int64_t conn);

#endif /* EPSILON_TLS_H */
