#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora of the libFuzzer targets into tests/fuzz/corpus/.

A developer tool (make test never runs it; its output is checked in).  Each
seed is a meaningful call sequence, encoded the way the target's decoder
(tests/fuzz/fuzz_*.c) reads its input: keep the encoders below in step
with the decoders.  The TLS seeds are first flights of real clients,
captured from `openssl s_client` over loopback, and whole sessions (the
handshake, a request, close_notify) recorded by the fuzz target itself
(EPS_FUZZ_RECORD, see fuzz_tls_server.c): those need build-fuzz/ built
first (`bash scripts/build.sh build-fuzz`).

usage: tests/fuzz/make-corpus.py   (from anywhere; rewrites the corpora)
"""
import hashlib
import os
import socket
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'corpus')
ROOT = os.path.dirname(os.path.dirname(HERE))
TLS_TARGET = os.path.join(ROOT, 'build-fuzz', 'tests', 'fuzz', 'fuzz_tls_server')
TLS_CLIENT_TARGET = os.path.join(ROOT, 'build-fuzz', 'tests', 'fuzz', 'fuzz_tls_client')


def u8(v):
    return bytes([v & 0xff])


def u16(v):
    return struct.pack('<H', v & 0xffff)


def u32(v):
    return struct.pack('<I', v & 0xffffffff)


def u64(v):
    return struct.pack('<Q', v & 0xffffffffffffffff)


def blob(data, max_len):
    """fz_bytes: the count (1 byte up to 255, else 2) then the bytes."""
    assert len(data) <= max_len
    return (u8(len(data)) if max_len <= 255 else u16(len(data))) + data


def string(text, max_len):
    """fz_string into a buffer of max_len bytes."""
    if isinstance(text, str):
        text = text.encode()
    return blob(text, max_len - 1)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


# --- fuzz_addr ---------------------------------------------------------------

CAP = u8(3)  # out_cap: EPS_SOCKADDR_MAX


# A built address is read back (one more capacity byte) only when valid.
def addr_inet(host, port, ok=True):
    return u8(0) + CAP + u8(1) + u16(port) + u8(1) + string(host, 80) + (CAP if ok else b'')


def addr_inet6(host, port, scope=None, ok=True):
    sel = u8(0) + u32(scope) if scope is not None else u8(1)
    return u8(1) + CAP + u8(1) + u16(port) + sel + u8(1) + string(host, 80) + (CAP if ok else b'')


def addr_unix(path, abstract=False, ok=True):
    return (u8(3 if abstract else 2) + CAP + u8(1) + u16(0) + blob(path, 120) + u8(1) +
            (CAP if ok else b''))


def addr_raw(data, length_sel=0):
    return u8(4) + blob(data, 200) + u8(2) + u8(length_sel) + u8(1) + CAP


def resolve(host, service, family=0, socktype=0, flags=0, rounds=2):
    out = u8(6) + u8(1) + string(host, 80)
    out += (u8(1) + string(service, 40)) if service is not None else u8(0)
    out += u8(family) + u8(socktype) + u8(1) + u16(flags) + u8(1) + u8(rounds - 1)
    for i in range(rounds):
        out += u8(1) + u8(i) + CAP + u8(1) + CAP + CAP
    return out


def addr_seeds():
    t = 'fuzz_addr'
    write(t, 'inet_loopback', addr_inet('127.0.0.1', 8080))
    write(t, 'inet_bad', addr_inet('300.1.1.1', 1, ok=False) + addr_inet('', 0, ok=False) +
          addr_inet('1.2.3', 65535, ok=False))
    write(t, 'inet6_loopback', addr_inet6('::1', 443))
    write(t, 'inet6_scope_name', addr_inet6('fe80::1%lo', 80))
    write(t, 'inet6_scope_number', addr_inet6('fe80::1%2', 80) + addr_inet6('fe80::1', 80, 7))
    write(t, 'inet6_scope_both', addr_inet6('fe80::1%2', 80, 3, ok=False))
    write(t, 'inet6_mapped', addr_inet6('::ffff:10.0.0.1', 1) + addr_inet6('2001:db8::1:0:0:1', 9))
    write(t, 'inet6_bad', addr_inet6('::g', 1, ok=False) + addr_inet6('fe80::1%', 1, ok=False) +
          addr_inet6('fe80::1%99999999999', 1, ok=False) +
          addr_inet6('fe80::1%nosuchif0', 1, ok=False))
    write(t, 'unix_path', addr_unix(b'/tmp/epsilon.sock'))
    write(t, 'unix_long', addr_unix(b'p' * 107) + addr_unix(b'p' * 108, ok=False))
    write(t, 'unix_nul', addr_unix(b'a\0b', ok=False))
    write(t, 'abstract', addr_unix(b'epsilon\0name', abstract=True) + addr_unix(b'', abstract=True))
    sin = struct.pack('<H', 2) + struct.pack('>H', 80) + bytes([10, 1, 2, 3]) + bytes(8)
    sin6 = (struct.pack('<H', 10) + struct.pack('>H', 443) + u32(0) +
            bytes(15) + b'\x01' + u32(5))
    sun = struct.pack('<H', 1) + b'/run/x.sock\0'
    write(t, 'raw_inet', addr_raw(sin))
    write(t, 'raw_inet6_short', addr_raw(sin6[:20]) + addr_raw(sin6))
    write(t, 'raw_unix', addr_raw(sun) + addr_raw(struct.pack('<H', 1)) +
          addr_raw(struct.pack('<H', 1) + b'\0abs\0x'))
    write(t, 'raw_family_unknown', addr_raw(struct.pack('<H', 17) + bytes(14)))
    write(t, 'resolve_v4', resolve('127.0.0.1', '80', socktype=1))
    write(t, 'resolve_v6', resolve('::1', 'http', family=2, flags=0x400))
    write(t, 'resolve_passive', resolve('', '8080', flags=0x1) +
          resolve('0.0.0.0', None, flags=0x1 | 0x2))
    write(t, 'resolve_name', resolve('localhost', '80') + resolve('fe80::1%lo', '0'))
    write(t, 'resolve_mapped', resolve('10.0.0.1', '1', family=2, flags=0x8 | 0x10, rounds=3))


# --- fuzz_abi ----------------------------------------------------------------

# Pool members, in standing_build's order (fuzz_abi.c).
SP0, SP1, DG0, DG1, UDP, LISTEN, TCPC, TCPS, PIPER, PIPEW, EP0, EP1, EVFD, TMFD = range(14)


def fd(i):
    return u8(i)


def data(payload):
    # The NULL-buffer byte is read only for a non-empty buffer.
    return blob(payload, 4096) + u8(1) + (u8(1) if payload else b'')


def out_full():
    return u8(1) + u8(1)  # fz_len: the whole buffer; not NULL


def op_send(f, payload):
    return u8(6) + fd(f) + u8(1) + u8(0) + data(payload)


def op_recv(f):
    return u8(7) + fd(f) + u8(1) + u16(0) + out_full() + u8(1)


def op_close(f, epoll=False):
    return u8(0) + fd(f) + u8(0 if epoll else 1)


def op_epoll_add(ep, f, events, key):
    return u8(10) + u8(1) + fd(ep) + fd(f) + u8(1) + u8(0) + u32(events) + u8(0) + u64(key)


def op_epoll_wait(ep, max_events=16):
    return u8(10) + u8(2) + fd(ep) + u8(3) + u8(max_events - 1)


def op_eventfd_write(f, value):
    return u8(11) + u8(1) + u8(1) + u64(value) + fd(f)


def op_eventfd_read(f):
    return u8(11) + u8(2) + u8(1) + fd(f)


def op_timer_arm(f, ns):
    return u8(11) + u8(4) + u8(1) + u64(ns) + fd(f)


def op_timer_read(f):
    return u8(11) + u8(5) + u8(1) + fd(f)


def op_poll(f, events):
    return u8(2) + fd(f) + u8(1) + u16(events) + u8(0)


def op_nonblocking(f, on):
    return u8(1) + fd(f) + u8(4) + u8(on)


def op_connect_listener(f):
    # op_bind_connect, connect, address: AF_INET pinned to the listener's port.
    return u8(4) + fd(f) + u8(1) + u8(0 | (1 << 3)) + blob(b'', 136) + u8(3) + u8(1)


def op_socket_tcp():
    # op_socket: AF_INET, SOCK_STREAM, x=0, eps_socket.
    return u8(3) + u8(1) + u8(0) + u8(0) + u8(1)


def op_accept():
    return u8(5) + fd(LISTEN) + u8(1) + u8(0)


def op_sockopt_get(f, level_sel, name):
    return u8(9) + fd(f) + u8(level_sel) + u8(name) + u8(1)


def op_linger(f):
    return u8(9) + fd(f) + u8(0) + u8(13) + u8(2) + u8(1) + u8(0)


def op_errors(code):
    return u8(12) + u8(5) + u32(code) + out_full() + u8(4) + u8(1)


# Handles: pick_handle with sel 0 then k: the k-th live one of the kind.
def live(k):
    return u8(0) + u8(k)


def op_ctx_new(role):
    return u8(13) + u8(0) + u8(1) + u8(role) + u8(0) + u8(0)


def op_ctx_pem(ctx_k, which, own=True):
    # which 2: certificate, 3: key; x=1: our PEM.
    return u8(13) + u8(which) + live(ctx_k) + u8(1 if own else 0)


def op_ctx_verify_none(ctx_k):
    return u8(13) + u8(6) + live(ctx_k) + u8(1) + u8(0)


def op_conn_new(ctx_k, f):
    return u8(13) + u8(11) + live(ctx_k) + fd(f)


def op_conn(which, conn_k, extra=b''):
    return u8(14) + u8(which) + live(conn_k) + extra


def op_conn_free(conn_k):
    return op_conn(0, conn_k)


def op_conn_forged(which, handle):
    # pick_handle sel 0xcd: forged, all 64 bits from the input.
    return u8(14) + u8(which) + u8(0xcd) + u8(0) + u64(handle)


def op_resolve_new(host_index, service):
    return (u8(15) + u8(0) + u8(1) + u8(host_index) + u8(0) + string(service, 32) +
            u16(0x400) + u8(0) + u8(1))


def abi_seeds():
    t = 'fuzz_abi'
    write(t, 'stream_echo', op_send(SP0, b'hello') + op_recv(SP1) + op_send(SP1, b'x' * 3000) +
          op_recv(SP0) + op_recv(SP0))
    write(t, 'datagram', op_send(DG0, b'one') + op_send(DG0, b'') + op_recv(DG1) + op_recv(DG1) +
          op_recv(DG1))
    write(t, 'tcp', op_send(TCPC, b'GET / HTTP/1.0\r\n\r\n') + op_recv(TCPS) +
          op_linger(TCPS) + op_sockopt_get(TCPC, 2, 1))
    write(t, 'epoll', op_epoll_add(EP0, SP1, 1, 77) + op_epoll_add(EP0, EVFD, 1 | 0x80000000, 5) +
          op_send(SP0, b'x') + op_eventfd_write(EVFD, 3) + op_epoll_wait(EP0) +
          op_eventfd_read(EVFD) + op_epoll_wait(EP0, 1))
    write(t, 'epoll_nested', op_epoll_add(EP0, EP1, 1, 1) + op_epoll_add(EP1, EP0, 1, 2) +
          op_epoll_add(EP1, PIPER, 1, 3) + op_epoll_wait(EP1))
    write(t, 'timer', op_timer_arm(TMFD, 1) + op_poll(TMFD, 1) + op_timer_read(TMFD) +
          op_timer_read(TMFD) + op_timer_read(EVFD))
    write(t, 'close_then_use', op_close(SP0) + op_send(SP0, b'x') + op_recv(SP1) +
          op_close(SP0) + op_close(PIPER) + op_close(EP0, epoll=True) + op_close(EVFD, epoll=True))
    write(t, 'nonblocking', op_nonblocking(SP0, 0) + op_nonblocking(PIPEW, 1) +
          op_nonblocking(EP0, 1))
    write(t, 'connect_accept', op_socket_tcp() + op_connect_listener(14) + op_accept() +
          op_send(14, b'hi') + op_recv(15))
    write(t, 'errors', op_errors(111) + op_errors(-4097) + op_errors(0x80000000))
    # TLS: a client (verify none) and a server connection over the stream
    # pair, then the handshake stepped from both sides.
    tls = (op_ctx_new(0) + op_ctx_verify_none(2) + op_ctx_new(1) + op_ctx_pem(3, 2) +
           op_ctx_pem(3, 3) + op_conn_new(2, SP0) + op_conn_new(3, SP1))
    steps = b''.join(op_conn(3, 0) + op_conn(3, 1) for _ in range(4))
    write(t, 'tls_handshake', tls + steps + op_conn(5, 0, data(b'ping')) +
          op_conn(4, 1, out_full()) + op_conn(7, 0) + op_conn(7, 1) + op_conn_free(0) +
          op_conn_free(0))
    write(t, 'tls_persistent', op_conn_new(0, SP0) + op_conn_new(1, SP1) + steps +
          op_conn(10, 0) + op_conn(8, 1))
    write(t, 'tls_bad_pem', op_ctx_new(1) + u8(13) + u8(2) + live(2) + u8(0) + data(b'-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n') +
          op_ctx_pem(2, 3) + op_ctx_pem(2, 2, own=True) + u8(13) + u8(4) + live(2))
    write(t, 'handles_forged', op_conn_forged(6, 1) + op_conn_forged(3, (1 << 30) | (2 << 24)) +
          op_conn_forged(0, (1 << 62) - 1) + op_conn_forged(10, (1 << 63) | 5))
    write(t, 'resolve', op_resolve_new(0, '80') + op_resolve_new(1, 'http') + u8(15) + u8(2) +
          live(0) + u8(15) + u8(1) + live(0) + u8(15) + u8(1) + u8(0xc8) + u8(2))


# --- fuzz_tls_server ---------------------------------------------------------

def capture_client_hello(args):
    """The first flight `openssl s_client ARGS` sends to a loopback server."""
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    p = subprocess.Popen(['openssl', 's_client', '-connect', '127.0.0.1:%d' % port] + args,
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    srv.settimeout(10)
    c, _ = srv.accept()
    c.settimeout(5)
    got = b''
    try:
        while len(got) < 5 or len(got) < 5 + int.from_bytes(got[3:5], 'big'):
            d = c.recv(65536)
            if not d:
                break
            got += d
    finally:
        p.kill()
        p.wait()
        c.close()
        srv.close()
    return got


def steps(*chunks, flags=3):
    """mode 0 (abrupt close at the end) or given; each chunk with FLAGS."""
    return b''.join(u8(flags) + blob(c, 16384) for c in chunks)


def record(ctype, body, version=0x0303):
    return bytes([ctype]) + struct.pack('>HH', version, len(body)) + body


def tls_seeds():
    t = 'fuzz_tls_server'
    hellos = {
        'tls13': ['-tls1_3', '-servername', 'localhost'],
        'tls12': ['-tls1_2', '-servername', 'localhost'],
        'tls12_alpn': ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256', '-alpn', 'h2,http/1.1'],
        'tls13_chacha_p256': ['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256',
                              '-groups', 'P-256'],
        'tls11': ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0'],
    }
    for name, args in hellos.items():
        ch = capture_client_hello(args)
        assert len(ch) > 5, name
        write(t, 'hello_' + name, u8(0) + steps(ch) + steps(b'', flags=0x13))
        if name == 'tls13':
            # The same hello a byte at a time, then a half-close.
            write(t, 'hello_bytewise', u8(1) + b''.join(steps(ch[i:i + 1]) for i in range(0, len(ch))))
            write(t, 'hello_truncated', u8(2) + steps(ch[:len(ch) // 2], flags=0x1f))
            # After the hello: garbage application data and a close_notify.
            write(t, 'hello_then_records', u8(0) + steps(ch, record(23, b'\x00' * 40),
                                                            record(21, b'\x01\x00'), flags=0x0f))
    write(t, 'plaintext_http', u8(0) + steps(b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'))
    write(t, 'sslv2_hello', u8(0) + steps(bytes.fromhex('8029010301000300000020') + bytes(32)))
    write(t, 'alert_first', u8(1) + steps(record(21, b'\x02\x28')))
    write(t, 'appdata_first', u8(0) + steps(record(23, b'hello')))
    write(t, 'ccs_first', u8(0) + steps(record(20, b'\x01')))
    write(t, 'heartbeat', u8(0) + steps(record(24, b'\x01\x40\x00' + b'x' * 16)))
    write(t, 'oversized_record', u8(0) + steps(record(22, b'\x01' + b'\x00' * 18000)[:16384]))
    write(t, 'empty_records', u8(0) + steps(record(22, b''), record(22, b''), record(22, b'')))
    write(t, 'empty', b'')
    # Whole sessions, replayable because the target's random numbers are
    # its own: the server answers these bytes with the same handshake.
    if not os.access(TLS_TARGET, os.X_OK):
        raise SystemExit('make-corpus: build build-fuzz first (%s)' % TLS_TARGET)
    for name, version in (('session_tls13', None), ('session_tls12', '1.2')):
        path = os.path.join(OUT, t, name)
        env = dict(os.environ, EPS_FUZZ_RECORD=path)
        if version:
            env['EPS_FUZZ_RECORD_VERSION'] = version
        subprocess.run([TLS_TARGET], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(path, 'rb') as f:
            session = f.read()
        # The same session ended abruptly instead of by a half-close.
        write(t, name + '_abrupt', b'\x00' + session[1:])


# --- fuzz_tls_client -----------------------------------------------------------

def tls_client_seeds():
    t = 'fuzz_tls_client'
    # mode: bit 0 half-close at the end, bit 2 the verifying context, bit 3 TLS 1.2.
    write(t, 'alert_first', u8(1) + steps(record(21, b'\x02\x28')))
    write(t, 'appdata_first', u8(0) + steps(record(23, b'hello')))
    write(t, 'garbage', u8(0) + steps(b'HTTP/1.1 200 OK\r\n\r\n'))
    if not os.access(TLS_CLIENT_TARGET, os.X_OK):
        raise SystemExit('make-corpus: build build-fuzz first (%s)' % TLS_CLIENT_TARGET)
    # Whole sessions from a real server, replayable because the client's
    # random numbers are the target's own.
    for name, version in (('session_tls13', None), ('session_tls12', '1.2')):
        path = os.path.join(OUT, t, name)
        env = dict(os.environ, EPS_FUZZ_RECORD=path)
        if version:
            env['EPS_FUZZ_RECORD_VERSION'] = version
        subprocess.run([TLS_CLIENT_TARGET], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with open(path, 'rb') as f:
            session = f.read()
        write(t, name + '_abrupt', bytes([session[0] & ~1]) + session[1:])
        write(t, name + '_verifying', bytes([session[0] | 4]) + session[1:])


# --- fuzz_pem ------------------------------------------------------------------

def sni_seed(cert, key):
    """The SNI pair input: its first byte picks the cut (fuzz_pem.c), on a
    line of its own (a PEM start line must begin its line), and blank lines
    between certificate and key let the cut fall between them."""
    pad = b'\n' * 16
    start = 2 + len(cert)
    for c in range(256):
        text = bytes([c]) + b'\n' + cert + pad + key
        cut = c * (len(text) // 256 + 1) % (len(text) + 1)
        if start <= cut <= start + len(pad):
            return text
    raise SystemExit('make-corpus: no cut byte for the SNI pair seed')


def fixture(name):
    """The text of fuzzlib.h's string NAME (the targets' own pair)."""
    import re
    with open(os.path.join(HERE, 'fuzzlib.h')) as f:
        src = f.read()
    body = re.search(r'static const char %s\[\] =(.*?);' % name, src, re.S).group(1)
    return ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', body)).replace('\\n', '\n').encode()


def saved_session(cert, key):
    """A TLS 1.2 session as DER: `openssl s_client -sess_out` against a
    loopback Python server (TLS 1.3 tickets come after s_client is gone)."""
    import ssl
    import tempfile
    import threading
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(1)
    srv.settimeout(10)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        with ctx.wrap_socket(c, server_side=True) as s:
            s.settimeout(5)
            try:
                s.sendall(b'hello\n')
                s.recv(100)
            except (OSError, ssl.SSLError):
                pass
    th = threading.Thread(target=serve)
    th.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'session.pem')
            subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % port, '-tls1_2',
                            '-sess_out', out], input=b'', stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
            th.join(10)
            return subprocess.run(['openssl', 'sess_id', '-in', out, '-outform', 'DER'],
                                  check=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, timeout=20).stdout
    finally:
        srv.close()


def pem_seeds():
    t = 'fuzz_pem'
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(['sh', os.path.join(ROOT, 'tests', 'data', 'make-certs.sh'), d],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def rd(name):
            with open(os.path.join(d, name), 'rb') as f:
                return f.read()
        # The first byte picks the loader (fuzz_pem.c).
        seeds = {
            'cert': (0, rd('server.pem')), 'cert_chain': (0, rd('chained.pem') + rd('inter.pem')),
            'garbage': (0, rd('garbage.pem')), 'key': (1, rd('server.key')), 'key_none': (1, b''),
            'sni_pair': (2, sni_seed(rd('alt.pem'), rd('alt.key'))),
            'files': (3, rd('server.pem') + rd('server.key')), 'chain': (4, rd('inter.pem')),
            'ca': (5, rd('ca.pem') + rd('ca2.pem')), 'ocsp': (6, rd('server.ocsp')),
            'client_cert': (8, rd('client.pem')),
            # What the pair context accepts: its own key, and a chain whose
            # first certificate issued its (self-signed) certificate.
            'key_match': (1, fixture('fz_key_pem')), 'chain_issuer': (4, fixture('fz_cert_pem')),
            'session': (7, saved_session(os.path.join(d, 'server.pem'),
                                         os.path.join(d, 'server.key'))),
        }
        for name, (mode, body) in seeds.items():
            write(t, name, u8(mode) + body)


def main():
    # Inputs that once found a bug (regress_*) stay; the rest is remade.
    for d, _, files in os.walk(OUT):
        for name in files:
            if not name.startswith('regress_'):
                os.unlink(os.path.join(d, name))
    addr_seeds()
    abi_seeds()
    tls_seeds()
    tls_client_seeds()
    pem_seeds()
    for t in sorted(os.listdir(OUT)):
        print('%s: %d seeds' % (t, len(os.listdir(os.path.join(OUT, t)))))


if __name__ == '__main__':
    main()
