/* SPDX-License-Identifier: MIT */
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
 * Secure defaults: TLS 1.2 at least, under TLS 1.2 only forward-secret
 * AEAD cipher suites (Mozilla's "intermediate" profile: no CBC suite, no
 * SHA-1 MAC), no compression, no renegotiation, clients verify the server's certificate (give the trust with one of the
 * eps_tls_context_load_ or eps_tls_context_use_default_verify_paths calls,
 * and the expected name with eps_tls_connection_set_hostname).
 *
 * Beyond that: ALPN (a server selects by its own preference, in C), SNI
 * (a server shows one of several certificates by the name a client asks
 * for), mutual TLS (a server asks for or requires client certificates),
 * resumption (a session, handle of kind EPS_HANDLE_TLS_SESSION, taken from
 * one client connection and offered by a later one), information about a
 * connection and its peer's certificate, and a key log for debugging.  No
 * callback reaches the caller: every choice inside a handshake is made in C
 * from the context's settings.
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

#ifdef __cplusplus
extern "C" {
#endif

/** Which side of the handshake a context's connections take. */
enum eps_tls_role { EPS_TLS_ROLE_CLIENT = 0, EPS_TLS_ROLE_SERVER = 1 };

/** Protocol versions, as on the wire; 0 means the default for the bound. */
enum eps_tls_version {
	EPS_TLS_VERSION_DEFAULT = 0,
	EPS_TLS_VERSION_1_2 = 0x0303,
	EPS_TLS_VERSION_1_3 = 0x0304
};

/**
 * How a context checks the peer's certificate (eps_tls_context_set_verify):
 * bits.  A server requires a client certificate with
 * EPS_TLS_VERIFY_PEER | EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT.
 */
enum eps_tls_verify {
	EPS_TLS_VERIFY_NONE = 0,
	EPS_TLS_VERIFY_PEER = 1,
	EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT = 2
};

/**
 * What a server does when a client offers ALPN protocols and none is in the
 * server's list (eps_tls_context_set_alpn_mismatch).
 */
enum eps_tls_alpn_mismatch { EPS_TLS_ALPN_MISMATCH_FAIL = 0, EPS_TLS_ALPN_MISMATCH_PROCEED = 1 };

/**
 * The cipher policy of a context (eps_tls_context_set_policy), for TLS 1.2;
 * TLS 1.3 has only AEAD suites.
 */
enum eps_tls_policy {
	/* Mozilla's "intermediate": ECDHE (or DHE) with AES-GCM or ChaCha20-Poly1305. */
	EPS_TLS_POLICY_INTERMEDIATE = 0,
	/* OpenSSL's default list: also the CBC suites, for peers older than 2013. */
	EPS_TLS_POLICY_COMPATIBLE = 1
};

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
 * Load the intermediate certificates sent after the leaf from the PEM file
 * PATH (one or more certificates, the one that issued the leaf first) into
 * CTX, replacing those that came with the certificate file.  Call it after
 * eps_tls_context_use_certificate_file (or _pem), which resets the chain.
 * Returns 0, -EBADPEM when the file is missing or unreadable, holds no
 * certificate or a malformed one, or its first certificate did not issue
 * the leaf, -EINVAL for a NULL PATH or when no certificate is loaded yet,
 * -EBADHANDLE.
 */
int32_t eps_tls_context_use_chain_file(int64_t ctx, const char *path);

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
 * Trust the CA certificates in the PEM file PATH in CTX.  On a server
 * context their subjects are also added to the CA names the server sends
 * when it asks for a client certificate (a client with several picks one
 * they signed).  Returns 0,
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
 * Set how CTX's connections check the peer's certificate.  On a client
 * context MODE is EPS_TLS_VERIFY_PEER (the default: the handshake fails
 * unless the chain leads to a trusted CA and matches the name given with
 * eps_tls_connection_set_hostname) or EPS_TLS_VERIFY_NONE (no check at
 * all: anyone can impersonate the server).  On a server context MODE is
 * EPS_TLS_VERIFY_NONE (the default: no client certificate is asked for),
 * EPS_TLS_VERIFY_PEER (ask for one; a client may send none, but one it
 * sends must lead to a CA loaded with eps_tls_context_load_ca_file or
 * _load_ca_dir) or EPS_TLS_VERIFY_PEER | EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT
 * (mutual TLS: a client without a certificate fails the handshake).  Client
 * certificates are not matched against any name: read the subject with
 * eps_tls_connection_peer_subject.  Applies to connections made afterwards.
 * Returns 0, -EINVAL for another MODE (FAIL_IF_NO_PEER_CERT on a client
 * context, or without EPS_TLS_VERIFY_PEER), -EBADHANDLE.
 */
int32_t eps_tls_context_set_verify(int64_t ctx, int32_t mode);

/**
 * Set the TLS 1.2 cipher list of CTX, in OpenSSL's cipher-list syntax
 * ("ECDHE+AESGCM:ECDHE+CHACHA20"), replacing the policy's list (a later
 * eps_tls_context_set_policy replaces this one).  Returns 0, -ETLS when
 * nothing in LIST is usable (CTX unchanged), -EINVAL for NULL,
 * -EBADHANDLE.
 */
int32_t eps_tls_context_set_cipher_list(int64_t ctx, const char *list);

/**
 * Set the cipher policy of CTX for TLS 1.2: POLICY
 * EPS_TLS_POLICY_INTERMEDIATE (the default of every context: forward
 * secret AEAD suites only, as Mozilla's "intermediate" profile) or
 * EPS_TLS_POLICY_COMPATIBLE (OpenSSL's default list, CBC suites included:
 * widen to it only for a peer that knows no AEAD suite).  Replaces a list
 * set with eps_tls_context_set_cipher_list.  Applies to connections made
 * afterwards.  Returns 0, -EINVAL for another POLICY, -EBADHANDLE.
 */
int32_t eps_tls_context_set_policy(int64_t ctx, int32_t policy);

/**
 * Set the TLS 1.3 cipher suites of CTX, colon-separated
 * ("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256").  Returns 0,
 * -ETLS when SUITES is malformed (CTX unchanged), -EINVAL for NULL,
 * -EBADHANDLE.
 */
int32_t eps_tls_context_set_ciphersuites(int64_t ctx, const char *suites);

/**
 * Set the ALPN protocols of CTX from PROTOCOLS, a comma-separated list in
 * order of preference ("h2,http/1.1"; a name is 1 to 255 bytes and holds
 * no comma; "" removes ALPN).  A client context offers them in every
 * handshake.  A server context selects, among the protocols a client
 * offers, the first of its own list that the client offered (the server's
 * preference wins); a client that offers nothing gets no protocol, and an
 * offer with no common protocol is handled as set with
 * eps_tls_context_set_alpn_mismatch.  Read the outcome with
 * eps_tls_connection_alpn_protocol.  Applies to handshakes that begin
 * afterwards.  Returns 0, -EINVAL for NULL or a malformed list (CTX
 * unchanged), -ENOMEM, -EBADHANDLE.
 */
int32_t eps_tls_context_set_alpn_protocols(int64_t ctx, const char *protocols);

/**
 * Set what a server context CTX does when a client offers ALPN protocols
 * and none of them is in the server's list: ACTION
 * EPS_TLS_ALPN_MISMATCH_FAIL (the default, as RFC 7301 asks: the handshake
 * fails with the no_application_protocol alert; the server sees
 * -ETLSHANDSHAKE) or EPS_TLS_ALPN_MISMATCH_PROCEED (the handshake goes on
 * with no protocol selected).  Returns 0, -EINVAL for another ACTION or a
 * client context, -EBADHANDLE.
 */
int32_t eps_tls_context_set_alpn_mismatch(int64_t ctx, int32_t action);

/**
 * Add to the server context CTX a certificate chain (the leaf first) and
 * its private key, from the PEM files CERT_PATH and KEY_PATH, shown to the
 * clients that ask for NAME with SNI.  NAME is an exact DNS name
 * ("alt.localhost") or a wildcard for one label ("*.example.com"); NULL
 * or "" means the names the certificate itself holds (its DNS subject
 * alternative names, with their wildcards).  The first pair added whose
 * name matches wins; with no match (or no SNI) the client gets the
 * certificate loaded with eps_tls_context_use_certificate_file, or, if
 * there is none, the first pair added.  Applies to handshakes that begin
 * afterwards.  Returns 0, -EBADPEM when a file is missing or holds no
 * certificate / unencrypted key, -EKEYMISMATCH when the key does not match
 * the leaf, -EINVAL for NULL paths, a NAME over 253 bytes or a client
 * context, -ENOMEM, -EBADHANDLE.
 */
int32_t eps_tls_context_add_server_certificate_file(int64_t ctx, const char *name,
						    const char *cert_path, const char *key_path);

/**
 * Like eps_tls_context_add_server_certificate_file, with the PEM texts in
 * the CERT_LEN bytes at CERT and the KEY_LEN bytes at KEY.
 */
int32_t eps_tls_context_add_server_certificate_pem(int64_t ctx, const char *name,
						   const uint8_t *cert, size_t cert_len,
						   const uint8_t *key, size_t key_len);

/**
 * Staple the OCSP response in the DER file PATH (as `openssl ocsp
 * -respout` writes it) to the handshakes of the server context CTX whose
 * client asks for the certificate status (status_request).  The file is
 * read now and checked to be an OCSP response; afterwards a handshake that
 * asks looks at the file's modification time, size and inode (one stat(2),
 * at most once a second) and reads it again when it changed, so a cron job
 * that replaces the file (write, then rename) refreshes the staple without
 * a restart.  A later file that cannot be read or parsed leaves the last
 * good response stapled.  The response is sent as it is: its signer,
 * status and dates are the file maker's business.  PATH NULL stops the
 * stapling.  Returns 0, -EBADPEM when the file is missing, unreadable or
 * not a DER OCSP response (CTX unchanged), -EINVAL for "" or a client
 * context, -ENOMEM, -EBADHANDLE.
 */
int32_t eps_tls_context_set_ocsp_response_file(int64_t ctx, const char *path);

/**
 * Log the secrets of CTX's handshakes to the file PATH, in the
 * SSLKEYLOGFILE format that Wireshark reads (CLIENT_RANDOM lines for TLS
 * 1.2, CLIENT_HANDSHAKE_TRAFFIC_SECRET and the other *_SECRET lines for TLS
 * 1.3), for debugging only: anyone who reads the file can decrypt the
 * captured traffic.  The file is created (mode 0600) or appended to, one
 * line per write, from connections in any thread.  PATH NULL stops the
 * logging and closes the file; so does freeing the context and the last of
 * its connections.  Returns 0, a negated errno from open(2) (-ENOENT,
 * -EACCES, ...), -EINVAL for "", -EBADHANDLE.
 */
int32_t eps_tls_context_set_keylog_file(int64_t ctx, const char *path);

/**
 * Turn the session cache of the server context CTX on (ON non-zero, the
 * default) or off.  The cache lets a client resume with a session id (TLS
 * 1.2) or a stateful ticket (TLS 1.3 with tickets off).  Returns 0,
 * -EINVAL for a client context (a client keeps no cache: take a session
 * with eps_tls_connection_get_session), -EBADHANDLE.
 */
int32_t eps_tls_context_set_session_cache(int64_t ctx, int32_t on);

/**
 * Turn session tickets on (ON non-zero, the default) or off for CTX.  A
 * server without tickets resumes only from its cache; a server with
 * neither tickets nor a cache resumes nothing and sends no TLS 1.3 ticket.
 * A client without tickets asks for none under TLS 1.2.  Returns 0 or
 * -EBADHANDLE.
 */
int32_t eps_tls_context_set_session_tickets(int64_t ctx, int32_t on);

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
 * In this mode -ETLSWANTREAD means the socket had nothing more to read:
 * records without application data (TLS 1.3 session tickets, key updates)
 * are consumed within the call, so an edge-triggered loop can wait for
 * EPOLLIN at once.  ON zero follows the socket's mode again.  Returns 0 or
 * -EBADHANDLE.
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
 * -ETLSWANTWRITE (wait for the socket, then call again; on a connection
 * not made non-blocking, also right after a record that carried no
 * application data, such as a TLS 1.3 session ticket: call again);
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

/* --- connection information ----------------------------------------------
 *
 * The text accessors copy into BUF of LEN bytes like snprintf: the text,
 * NUL-terminated when LEN > 0, truncated to fit; they return the full length
 * of the text (call again with a bigger buffer when it is >= LEN; LEN 0 and
 * BUF NULL ask for the length alone).  They return -ENOENT when there is
 * nothing of the kind (before the handshake completed, no protocol, no
 * certificate), -EINVAL when BUF is NULL and LEN is not 0, -EBADHANDLE.
 */

/**
 * Copy the name of the cipher suite CONN negotiated (OpenSSL's name:
 * "TLS_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256") into BUF of LEN
 * bytes.  Returns its full length, -ENOENT before the handshake completed,
 * -EINVAL, -EBADHANDLE.
 */
int32_t eps_tls_connection_cipher(int64_t conn, uint8_t *buf, size_t len);

/**
 * Copy the ALPN protocol CONN negotiated ("h2") into BUF of LEN bytes, on
 * either side.  Returns its full length, -ENOENT when none was negotiated
 * (or the handshake has not completed), -EINVAL, -EBADHANDLE.
 */
int32_t eps_tls_connection_alpn_protocol(int64_t conn, uint8_t *buf, size_t len);

/**
 * Copy the SNI server name of CONN into BUF of LEN bytes: on a server the
 * name the client asked for (readable once the handshake has read the
 * ClientHello), on a client the name it sends (set with
 * eps_tls_connection_set_hostname).  Returns its full length, -ENOENT when there is none (a
 * client that named an IP address or nothing), -EINVAL, -EBADHANDLE.
 */
int32_t eps_tls_connection_server_name(int64_t conn, uint8_t *buf, size_t len);

/**
 * Return 1 when CONN's completed handshake resumed an earlier session
 * (eps_tls_connection_set_session on a client), 0 when it was a full
 * handshake or has not completed, or -EBADHANDLE.
 */
int32_t eps_tls_connection_session_reused(int64_t conn);

/**
 * Copy the subject of CONN's peer certificate into BUF of LEN bytes, as
 * `openssl x509 -noout -subject` prints it after "subject=" ("O = Epsilon,
 * CN = epsilon client").  On a server that is the client's certificate
 * (mutual TLS); check eps_tls_connection_verify_result before trusting it
 * when verification was off.  Returns the full length, -ENOENT when the
 * peer sent no certificate or the handshake has not completed, -EINVAL,
 * -EBADHANDLE.
 */
int32_t eps_tls_connection_peer_subject(int64_t conn, uint8_t *buf, size_t len);

/**
 * Copy the issuer of CONN's peer certificate into BUF of LEN bytes, as
 * `openssl x509 -noout -issuer` prints it after "issuer=".  Returns as
 * eps_tls_connection_peer_subject.
 */
int32_t eps_tls_connection_peer_issuer(int64_t conn, uint8_t *buf, size_t len);

/**
 * Copy the subject alternative names of CONN's peer certificate into BUF of
 * LEN bytes, one per line (separated by a newline, none at the end), each
 * tagged with its kind: DNS:localhost, IP:127.0.0.1 and IP:::1 on three lines; the kinds
 * are DNS:, IP: (IPv4 dotted, IPv6 as inet_ntop writes it), email: and
 * URI:; other kinds are left out.  Returns the full length, -ENOENT when
 * there is no certificate or it has no such names, -EINVAL, -EBADHANDLE.
 */
int32_t eps_tls_connection_peer_alt_names(int64_t conn, uint8_t *buf, size_t len);

/**
 * Copy the SHA-256 fingerprint of CONN's peer certificate (of its DER
 * encoding) into BUF of LEN bytes, as `openssl x509 -noout -fingerprint
 * -sha256` prints it: 32 bytes in upper-case hex separated by colons, 95
 * characters ("8B:8F:...:41").  Returns 95, -ENOENT when there is no peer
 * certificate, -EINVAL, -EBADHANDLE.
 */
int32_t eps_tls_connection_peer_fingerprint(int64_t conn, uint8_t *buf, size_t len);

/**
 * Copy CONN's peer certificate (the leaf) as PEM text into BUF of LEN bytes.
 * Returns the full length, -ENOENT when there is no peer certificate,
 * -EINVAL, -EBADHANDLE.
 */
int32_t eps_tls_connection_peer_certificate_pem(int64_t conn, uint8_t *buf, size_t len);

/**
 * Store the validity period of CONN's peer certificate, as Unix times in
 * seconds (UTC), in *NOT_BEFORE and *NOT_AFTER.  Returns 0, -ENOENT when
 * there is no peer certificate, -ETLS for a malformed date, -EINVAL when a
 * pointer is NULL, -EBADHANDLE.  Nothing is stored on failure.
 */
int32_t eps_tls_connection_peer_validity(int64_t conn, int64_t *not_before, int64_t *not_after);

/* --- sessions (resumption) -------------------------------------------------
 *
 * A session (handle of kind EPS_HANDLE_TLS_SESSION) holds what a client
 * needs to resume: take it from a connection with
 * eps_tls_connection_get_session, give it to a later connection to the same
 * server with eps_tls_connection_set_session, free it with
 * eps_tls_session_free.  A session holds secret keys: keep it (and its
 * bytes) as secret as a private key.
 */

/**
 * Take the resumable session of the client connection CONN, as a new
 * session handle.  Under TLS 1.2 it exists when the handshake completes.
 * Under TLS 1.3 the server sends it (a ticket) after the handshake: it
 * exists once a read on CONN processed the ticket (any read after the
 * server's first flight: a read that returned data, or -ETLSWANTREAD with
 * the ticket consumed); a server sends a fresh one per handshake, and each
 * call returns the newest.  Returns the session handle (> 0), -EAGAIN when
 * there is none yet (before the handshake completed, before the ticket was
 * read, or never when the server issues none), -EINVAL on a server
 * connection, -ETLSCLOSED after a failure, -ENOMEM, -EBADHANDLE.
 */
int64_t eps_tls_connection_get_session(int64_t conn);

/**
 * Offer SESSION for resumption on the client connection CONN, before its
 * handshake begins.  A server that still knows it (and accepts the
 * version and cipher) resumes; otherwise the handshake is a full one, with
 * no error: check eps_tls_connection_session_reused.  SESSION may be freed
 * afterwards.  Returns 0, -EINVAL on a server connection or once the
 * handshake has begun, -EBADHANDLE when CONN is not a live connection or
 * SESSION not a live session, -ETLS.
 */
int32_t eps_tls_connection_set_session(int64_t conn, int64_t session);

/**
 * Free the session SESSION (connections it was set on are not affected).
 * Returns 0, or -EBADHANDLE when SESSION is not a live session (also on a
 * second free).
 */
int32_t eps_tls_session_free(int64_t session);

/**
 * Serialize SESSION (DER, OpenSSL's format, secrets included) into BUF of
 * LEN bytes, to resume from another process later.  With BUF NULL and LEN
 * 0 returns the number of bytes needed.  Returns the number of bytes
 * written, -EBUFTOOSMALL when LEN is not 0 and below that number (nothing
 * written), -EINVAL when BUF is NULL and LEN is not 0, -ETLS, -EBADHANDLE.
 */
int64_t eps_tls_session_to_bytes(int64_t session, uint8_t *buf, size_t len);

/**
 * Make a session handle from the LEN bytes at BUF written by
 * eps_tls_session_to_bytes.  Returns the session handle (> 0), -EINVAL
 * when BUF is NULL, LEN is 0 or above 1 MiB, or the bytes are not exactly
 * one session, -ENOMEM.
 */
int64_t eps_tls_session_from_bytes(const uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_TLS_H */
