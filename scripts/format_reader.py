#!/usr/bin/env python3
"""An independent reader of cryptonets' serialized objects, written from docs/format.md
and docs/net.md ("Plan format") only (Python 3 standard library, no code of the library).

It exists to check that the documentation is enough: it parses every object type,
verifies checksums and fingerprints, expands seeds with its own ChaCha20 (Bernstein's
layout), computes NTT forms by the documented formula, decrypts with a secret key,
decodes slots, and parses plan files. The C library's output is the thing under test.

Commands:
  format_reader.py selftest         ChaCha20 against RFC 8439 2.3.2; fast NTT vs direct
  format_reader.py expand           the seed-expansion vector of docs/format.md
  format_reader.py ntt              the NTT vector of docs/format.md
  format_reader.py cvectors         the literals of tests/io/test_format_vectors.c
  format_reader.py check DIR...     checks the objects in each DIR (see check_dir)
  format_reader.py dump FILE        prints the header and body fields of one object
"""
import struct
import sys
import os

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1

TYPES = {1: "parameters", 2: "secret key", 3: "public key", 4: "relinearization key",
         5: "Galois keys", 6: "plaintext", 7: "ciphertext", 8: "ciphertext batch"}


class FormatError(Exception):
    pass


# ---- checksum and fingerprint (docs/format.md, "The checksum", "The fingerprint") ----

def rotl64(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK64


def checksum(data):
    h = 0x243f6a8885a308d3
    padded = data + b"\0" * (-len(data) % 8)
    for off in range(0, len(padded), 8):
        w = int.from_bytes(padded[off:off + 8], "little")
        h = (rotl64(h ^ ((w * 0x9e3779b97f4a7c15) & MASK64), 31) * 0xc2b2ae3d27d4eb4f) & MASK64
    h ^= len(data)
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & MASK64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & MASK64
    h ^= h >> 33
    return h


def fnv1a(data, h=0xcbf29ce484222325):
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & MASK64
    return h


def fingerprint(prm):
    words = [prm["n"], len(prm["q"])] + prm["q"] + [prm["P"], len(prm["t"])] + prm["t"]
    return fnv1a(b"".join(struct.pack("<Q", w) for w in words))


# ---- bytes ----

class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, k):
        if self.pos + k > self.end:
            raise FormatError("truncated at byte %d (need %d)" % (self.pos, k))
        b = self.data[self.pos:self.pos + k]
        self.pos += k
        return b

    def u16(self):
        return int.from_bytes(self.take(2), "little")

    def u32(self):
        return int.from_bytes(self.take(4), "little")

    def u64(self):
        return int.from_bytes(self.take(8), "little")

    def i64(self):
        return int.from_bytes(self.take(8), "little", signed=True)

    def f64(self):
        return struct.unpack("<d", self.take(8))[0]


def bitlen_minus1(p):
    """b(p): the bit length of p - 1, the packed width of a value mod p."""
    return (p - 1).bit_length()


def unpack_row(r, n, bits, modulus):
    """n values of `bits` bits, LSB first, padded to a byte; each < modulus."""
    nbytes = (n * bits + 7) // 8
    stream = int.from_bytes(r.take(nbytes), "little")
    mask = (1 << bits) - 1
    vals = [(stream >> (i * bits)) & mask for i in range(n)]
    if stream >> (n * bits):
        raise FormatError("nonzero padding bits")
    for v in vals:
        if v >= modulus:
            raise FormatError("packed value %d not below %d" % (v, modulus))
    return vals


def pack_row(vals, bits):
    stream = 0
    for i, v in enumerate(vals):
        stream |= v << (i * bits)
    return stream.to_bytes((len(vals) * bits + 7) // 8, "little")


def write_object(typ, count, body, fp, minor=0, flags=0):
    """header + body + checksum (docs/format.md, "Layout")"""
    total = 32 + len(body) + 8
    head = b"CNHE" + struct.pack("<HHHHIQQ", 1, minor, typ, flags, count, total, fp)
    data = head + body
    return data + struct.pack("<Q", checksum(data))


def write_params(prm):
    body = struct.pack("<IIIIQ", prm["n"], len(prm["q"]), len(prm["t"]), prm["security"],
                       prm["P"])
    body += b"".join(struct.pack("<Q", v) for v in prm["q"] + prm["t"])
    return write_object(1, 1, body, fingerprint(prm))


def write_seeded_ciphertext(c0, seed, t_index, prm):
    """a size-2 ciphertext at level L whose c1 is given by its seed"""
    body = struct.pack("<IIII", 2, len(prm["q"]), t_index, 1)
    body += b"".join(pack_row(row, bitlen_minus1(q)) for row, q in zip(c0, prm["q"]))
    return write_object(7, 1, body + seed, fingerprint(prm))


def write_seeded_ksk(seed, k0, prm):
    """one key switching key body, seeded: ndigits, the seed, k0 of every digit"""
    body = struct.pack("<I", len(k0)) + seed
    for digit in k0:
        body += b"".join(pack_row(row, bitlen_minus1(p)) for row, p in
                         zip(digit, key_primes(prm)))
    return body


def write_seeded_relin_key(seed, k0, prm):
    return write_object(4, 1, write_seeded_ksk(seed, k0, prm), fingerprint(prm),
                        minor=1, flags=HDR_SEEDED_KEYS)


def write_seeded_galois_keys(keys, prm):
    """keys: (g, seed, k0) triples"""
    body = b"".join(struct.pack("<Q", g) + write_seeded_ksk(seed, k0, prm)
                    for g, seed, k0 in keys)
    return write_object(5, len(keys), body, fingerprint(prm), minor=1, flags=HDR_SEEDED_KEYS)


# ---- header (docs/format.md, "Layout") ----

# header flag bit 0 of types 4 and 5 (format 1.1): the keys are seeded
HDR_SEEDED_KEYS = 1
# header flag bit 1 of types 4 and 5 (format 1.3): every key record carries its primes
# per digit k after its level
HDR_DIGIT_PRIMES = 2

def parse_header(data, off=0):
    r = Reader(data, off)
    if len(data) - off < 32:
        raise FormatError("fewer than 32 header bytes")
    h = {}
    if r.take(4) != b"CNHE":
        raise FormatError("bad magic")
    h["major"], h["minor"], h["type"], h["flags"] = r.u16(), r.u16(), r.u16(), r.u16()
    h["count"], h["len"], h["fingerprint"] = r.u32(), r.u64(), r.u64()
    if h["major"] != 1:
        raise FormatError("major version %d" % h["major"])
    fl = h["flags"]
    if fl & ~(HDR_SEEDED_KEYS | HDR_DIGIT_PRIMES) or \
            (fl and h["type"] not in (4, 5)) or \
            (fl & HDR_SEEDED_KEYS and (h["minor"] < 1 or h["count"] == 0)) or \
            (fl & HDR_DIGIT_PRIMES and h["minor"] < 3):
        raise FormatError("header flags %d (type %d, version 1.%d)" %
                          (h["flags"], h["type"], h["minor"]))
    if h["len"] < 40 or off + h["len"] > len(data):
        raise FormatError("bad total length %d" % h["len"])
    end = off + h["len"]
    want = int.from_bytes(data[end - 8:end], "little")
    if checksum(data[off:end - 8]) != want:
        raise FormatError("checksum mismatch")
    h["body"] = Reader(data, off + 32, end - 8)
    return h


def finish(h):
    if h["body"].pos != h["body"].end:
        raise FormatError("%d bytes left in the body" % (h["body"].end - h["body"].pos))


# ---- objects ----

def parse_params(data, off=0):
    h = parse_header(data, off)
    if h["type"] != 1:
        raise FormatError("not parameters")
    r = h["body"]
    n, nq, nt, sec = r.u32(), r.u32(), r.u32(), r.u32()
    prm = {"n": n, "security": sec, "P": r.u64()}
    prm["q"] = [r.u64() for _ in range(nq)]
    prm["t"] = [r.u64() for _ in range(nt)]
    finish(h)
    if fingerprint(prm) != h["fingerprint"]:
        raise FormatError("parameter fingerprint mismatch")
    return prm, h["len"]


def rows(r, prm, primes):
    return [unpack_row(r, prm["n"], bitlen_minus1(p), p) for p in primes]


def expect(h, prm, typ):
    if h["type"] != typ:
        raise FormatError("type %d, expected %d" % (h["type"], typ))
    if h["fingerprint"] != fingerprint(prm):
        raise FormatError("context fingerprint mismatch")


def parse_secret_key(data, prm):
    h = parse_header(data)
    expect(h, prm, 2)
    codes = unpack_row(h["body"], prm["n"], 2, 3)
    finish(h)
    return [(0, 1, -1)[c] for c in codes]


def parse_public_key(data, prm):
    h = parse_header(data)
    expect(h, prm, 3)
    p0 = rows(h["body"], prm, prm["q"])
    p1 = rows(h["body"], prm, prm["q"])
    finish(h)
    return p0, p1


def key_primes(prm):
    return prm["q"] + ([prm["P"]] if prm["P"] else [])


class Ksk(list):
    """A key switching key: the list of its digits (k0_i, k1_i), with its level d and
    primes per digit k (format 1.3; k = 1 before)"""
    def __init__(self, digits, level, k):
        super().__init__(digits)
        self.level, self.k = level, k


def parse_ksk(r, prm, seeded=False, minor=1, grouped=False):
    """[(k0_i, k1_i)] over the digits; a seeded key's k1_i are expanded from its seed.
    A key at level d < L (format 1.2) has digits over q_1..q_d and P; with digits of k
    primes (format 1.3, grouped) ceil(d / k) of them, else d."""
    d = r.u32()
    k = r.u32() if grouped else 1
    L = len(prm["q"])
    if d < 1 or d > L or (d != L and minor < 2):
        raise FormatError("ndigits %d" % d)
    if k < 1 or k > L:
        raise FormatError("primes per digit %d" % k)
    nd = (d + k - 1) // k
    primes = prm["q"][:d] + ([prm["P"]] if prm["P"] else [])
    if not seeded:
        return Ksk([(rows(r, prm, primes), rows(r, prm, primes)) for _ in range(nd)], d, k)
    seed = r.take(32)
    k0 = [rows(r, prm, primes) for _ in range(nd)]
    return Ksk([(k0[i], expand_ksk_rows(seed, i, primes, prm["n"])) for i in range(nd)], d, k)


def parse_relin_key(data, prm):
    h = parse_header(data)
    expect(h, prm, 4)
    k = parse_ksk(h["body"], prm, h["flags"] & HDR_SEEDED_KEYS, h["minor"],
                  h["flags"] & HDR_DIGIT_PRIMES)
    finish(h)
    return k


def parse_galois_keys(data, prm):
    h = parse_header(data)
    expect(h, prm, 5)
    keys = []
    for _ in range(h["count"]):
        g = h["body"].u64()
        keys.append((g, parse_ksk(h["body"], prm, h["flags"] & HDR_SEEDED_KEYS, h["minor"],
                                  h["flags"] & HDR_DIGIT_PRIMES)))
    finish(h)
    return keys


def parse_plaintext(data, prm):
    h = parse_header(data)
    expect(h, prm, 6)
    r = h["body"]
    ti, zero = r.u32(), r.u32()
    if zero != 0 or ti >= len(prm["t"]):
        raise FormatError("plaintext fields")
    t = prm["t"][ti]
    m = unpack_row(r, prm["n"], bitlen_minus1(t), t)
    finish(h)
    return ti, m


def parse_record(r, prm):
    size, level, ti, flags = r.u32(), r.u32(), r.u32(), r.u32()
    L = len(prm["q"])
    seeded = flags & 1
    if size not in (2, 3) or not 1 <= level <= L or ti >= len(prm["t"]) or flags & ~3 or \
            (seeded and (size != 2 or level != L)):
        raise FormatError("record fields %d %d %d %d" % (size, level, ti, flags))
    primes = prm["q"][:level]
    ct = {"size": size, "level": level, "t_index": ti, "seeded": bool(seeded),
          "transparent": bool(flags & 2)}
    c = [rows(r, prm, primes)]
    if seeded:
        ct["seed"] = r.take(32)
        c.append(expand_seed(ct["seed"], primes, prm["n"]))
    else:
        c.append(rows(r, prm, primes))
    if size == 3:
        c.append(rows(r, prm, primes))
    ct["c"] = c
    return ct


def parse_ciphertext(data, prm):
    h = parse_header(data)
    expect(h, prm, 7)
    if h["count"] != 1:
        raise FormatError("count")
    ct = parse_record(h["body"], prm)
    finish(h)
    return ct


def parse_batch(data, prm, off=0, expand_limit=None):
    """Ciphertext batch at data[off:]; returns (records, len)."""
    h = parse_header(data, off)
    expect(h, prm, 8)
    recs = []
    for i in range(h["count"]):
        if expand_limit is not None and i >= expand_limit:
            skip_record(h["body"], prm)
            continue
        recs.append(parse_record(h["body"], prm))
    finish(h)
    return recs, h["len"]


def skip_record(r, prm):
    size, level, _, flags = r.u32(), r.u32(), r.u32(), r.u32()
    rb = sum((prm["n"] * bitlen_minus1(q) + 7) // 8 for q in prm["q"][:level])
    r.take(rb * (size - (flags & 1)) + 32 * (flags & 1))


# ---- ChaCha20, Bernstein's layout (docs/format.md, "Seed expansion") ----

def chacha20_block(key_words, counter, nonce):
    """64 bytes: words 12-13 the 64-bit counter, 14-15 the 64-bit nonce."""
    s = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] + list(key_words) + \
        [counter & MASK32, counter >> 32, nonce & MASK32, nonce >> 32]
    return chacha20_words(s)


def chacha20_words(s):
    x = list(s)

    def qr(a, b, c, d):
        x[a] = (x[a] + x[b]) & MASK32
        x[d] ^= x[a]
        x[d] = ((x[d] << 16) | (x[d] >> 16)) & MASK32
        x[c] = (x[c] + x[d]) & MASK32
        x[b] ^= x[c]
        x[b] = ((x[b] << 12) | (x[b] >> 20)) & MASK32
        x[a] = (x[a] + x[b]) & MASK32
        x[d] ^= x[a]
        x[d] = ((x[d] << 8) | (x[d] >> 24)) & MASK32
        x[c] = (x[c] + x[d]) & MASK32
        x[b] ^= x[c]
        x[b] = ((x[b] << 7) | (x[b] >> 25)) & MASK32

    for _ in range(10):
        qr(0, 4, 8, 12)
        qr(1, 5, 9, 13)
        qr(2, 6, 10, 14)
        qr(3, 7, 11, 15)
        qr(0, 5, 10, 15)
        qr(1, 6, 11, 12)
        qr(2, 7, 8, 13)
        qr(3, 4, 9, 14)
    return b"".join(struct.pack("<I", (x[i] + s[i]) & MASK32) for i in range(16))


class Keystream:
    def __init__(self, seed, domain):
        if len(seed) != 32:
            raise ValueError("seed of 32 bytes")
        self.key = struct.unpack("<8I", seed)
        self.nonce = domain
        self.counter = 0
        self.buf = b""
        self.pos = 0

    def take(self, k):
        while len(self.buf) - self.pos < k:
            self.buf = self.buf[self.pos:] + chacha20_block(self.key, self.counter, self.nonce)
            self.counter += 1
            self.pos = 0
        out = self.buf[self.pos:self.pos + k]
        self.pos += k
        return out


SEED_DOMAIN_C1 = 0x6331


def sample_uniform(ks, n, q):
    bits = bitlen_minus1(q)
    nb = (bits + 7) // 8
    mask = (1 << bits) - 1
    out = []
    while len(out) < n:
        v = int.from_bytes(ks.take(nb), "little") & mask
        if v < q:
            out.append(v)
    return out


def expand_seed(seed, primes, n):
    """c1's rows (coefficient form), q_1 first, from one keystream."""
    ks = Keystream(seed, SEED_DOMAIN_C1)
    return [sample_uniform(ks, n, q) for q in primes]


SEED_DOMAIN_K1 = 0x6b31


def ksk_domain(digit):
    """word 14 = 0x6b31 ("k1"), word 15 = the digit"""
    return SEED_DOMAIN_K1 | digit << 32


def expand_ksk_rows(seed, digit, primes, n):
    """k1 of one digit of a seeded key switching key: rows in the given prime order, from
    one keystream per digit; the values are the rows' NTT-form entries as drawn."""
    ks = Keystream(seed, ksk_domain(digit))
    return [sample_uniform(ks, n, p) for p in primes]


def expand_ksk_digit(seed, digit, prm):
    return expand_ksk_rows(seed, digit, key_primes(prm), prm["n"])


# ---- NTT form (docs/format.md, "NTT form") ----

def brv(j, logn):
    r = 0
    for _ in range(logn):
        r = (r << 1) | (j & 1)
        j >>= 1
    return r


_psi_cache = {}


def psi_of(n, p):
    """The smallest x in [2, p) with x^n = -1 mod p."""
    if (n, p) not in _psi_cache:
        if (p - 1) % (2 * n):
            raise ValueError("p != 1 mod 2n")
        # x^n = -1 holds only for x = g^odd * ... : search the candidates c^((p-1)/2n),
        # then take the smallest odd power of one of them
        c = 2
        while True:
            w = pow(c, (p - 1) // (2 * n), p)
            if pow(w, n, p) == p - 1:
                break
            c += 1
        w2 = w * w % p
        best, cur = w, w
        for _ in range(n - 1):
            cur = cur * w2 % p
            best = min(best, cur)
        _psi_cache[(n, p)] = best
    return _psi_cache[(n, p)]


def ntt_direct(a, p, psi=None):
    n = len(a)
    psi = psi or psi_of(n, p)
    logn = n.bit_length() - 1
    return [sum(a[i] * pow(psi, (2 * brv(j, logn) + 1) * i, p) for i in range(n)) % p
            for j in range(n)]


def ntt(a, p):
    """Same result as ntt_direct in O(n log n): A'_k = sum a_i psi^i w^(ik), w = psi^2,
    by an iterative radix-2 transform, then entry j = A'_brv(j)."""
    n = len(a)
    psi = psi_of(n, p)
    logn = n.bit_length() - 1
    x = [0] * n
    pw = 1
    for i in range(n):
        x[brv(i, logn)] = a[i] * pw % p
        pw = pw * psi % p
    w = psi * psi % p
    m = 1
    while m < n:
        wm = pow(w, n // (2 * m), p)
        for start in range(0, n, 2 * m):
            z = 1
            for k in range(m):
                u, v = x[start + k], x[start + k + m] * z % p
                x[start + k] = (u + v) % p
                x[start + k + m] = (u - v) % p
                z = z * wm % p
        m *= 2
    return [x[brv(j, logn)] for j in range(n)]


def intt(A, p):
    """a_i = n^-1 sum_j A_j psi^(-(2 brv(j)+1) i): the inverse of ntt, computed as the
    forward transform with psi^-1 (a_i psi^i evaluated at w^-k, then scaled)."""
    n = len(A)
    psi = psi_of(n, p)
    logn = n.bit_length() - 1
    nat = [0] * n  # nat[k] = a(psi^(2k+1))
    for j in range(n):
        nat[brv(j, logn)] = A[j]
    # b_i = a_i psi^i satisfies nat[k] = sum_i b_i w^(ik): inverse cyclic DFT
    winv = pow(psi * psi % p, p - 2, p)
    b = dft(nat, winv, p)
    ninv = pow(n, p - 2, p)
    psinv = pow(psi, p - 2, p)
    out, pw = [], 1
    for i in range(n):
        out.append(b[i] * ninv % p * pw % p)
        pw = pw * psinv % p
    return out


def dft(a, w, p):
    """y_k = sum_i a_i w^(ik) (natural order), radix 2."""
    n = len(a)
    logn = n.bit_length() - 1
    x = [a[brv(i, logn)] for i in range(n)]
    m = 1
    while m < n:
        wm = pow(w, n // (2 * m), p)
        for start in range(0, n, 2 * m):
            z = 1
            for k in range(m):
                u, v = x[start + k], x[start + k + m] * z % p
                x[start + k] = (u + v) % p
                x[start + k + m] = (u - v) % p
                z = z * wm % p
        m *= 2
    return x


def negacyclic_mul(a, b, p):
    A, B = ntt(a, p), ntt(b, p)
    return intt([x * y % p for x, y in zip(A, B)], p)


# ---- decryption and slots (docs/format.md, "Decryption", "Slots and decoding") ----

def decrypt(ct, s, prm):
    n, level = prm["n"], ct["level"]
    primes = prm["q"][:level]
    t = prm["t"][ct["t_index"]]
    xs = []
    for j, q in enumerate(primes):
        sj = [v % q for v in s]
        S = ntt(sj, q)
        acc = [x * y % q for x, y in zip(ntt(ct["c"][1][j], q), S)]
        if ct["size"] == 3:
            acc = [(x + y * z % q * z) % q for x, y, z in zip(acc, ntt(ct["c"][2][j], q), S)]
        acc = intt(acc, q)
        xs.append([(a + c) % q for a, c in zip(acc, ct["c"][0][j])])
    Q = 1
    for q in primes:
        Q *= q
    m = []
    for i in range(n):
        x = crt([xs[j][i] for j in range(level)], primes)
        m.append(((2 * t * x + Q) // (2 * Q)) % t)
    return m


def crt(res, mods):
    x, M = 0, 1
    for r, q in zip(res, mods):
        # x + M y = r mod q
        y = (r - x) * pow(M, q - 2, q) % q
        x += M * y
        M *= q
    return x


def slot_entries(n):
    """entry of the NTT form mod t that holds slot s, for each s"""
    logn = n.bit_length() - 1
    out = [0] * n
    e = 1
    for c in range(n // 2):
        for r in range(2):
            ee = e if r == 0 else 2 * n - e
            out[r * (n // 2) + c] = brv((ee - 1) // 2, logn)
        e = e * 3 % (2 * n)
    return out


def decode_slots(m, t):
    n = len(m)
    y = ntt(m, t)
    return [v if v <= t // 2 else v - t for v in (y[j] for j in slot_entries(n))]


def centered(v, p):
    v %= p
    return v if v <= p // 2 else v - p


# ---- plan files (docs/net.md, "Plan format") ----

def parse_plan(data):
    # a frame (format.md, "Framing"): the common header of type 0x101, the body, the
    # checksum; or a plan of format 1: the body, then FNV-1a
    if data[:4] == b"CNHE":
        if int.from_bytes(data[8:10], "little") != 0x101:
            raise FormatError("not a plan frame")
        if int.from_bytes(data[16:24], "little") != len(data):
            raise FormatError("plan frame length")
        if checksum(data[:-8]) != int.from_bytes(data[-8:], "little"):
            raise FormatError("plan checksum mismatch")
        data = data[32:-8] + bytes(8)
    elif len(data) < 16 or data[:4] != b"CNPL":
        raise FormatError("not a plan")
    elif fnv1a(data[:-8]) != int.from_bytes(data[-8:], "little"):
        raise FormatError("plan checksum mismatch")
    if data[:4] != b"CNPL":
        raise FormatError("not a plan")
    r = Reader(data, 4, len(data) - 8)
    plan = {"major": r.u16(), "minor": r.u16()}
    if plan["major"] != 1:
        raise FormatError("plan major version")
    psz = r.u64()
    pstart = r.pos
    plan["params"], plen = parse_params(data[pstart:pstart + psz])
    if plen != psz:
        raise FormatError("parameter length")
    r.take(psz)
    for f in ("inputs", "outputs"):
        plan[f] = r.u64()
    plan["input_min"], plan["input_max"] = r.i64(), r.i64()
    for f in ("weight_bits", "calib_mismatches", "wraps"):
        plan[f] = r.u64()
    for f in ("output_bound_bits", "output_scale", "budget", "cost"):
        plan[f] = r.f64()
    nops = r.u64()
    if not 1 <= nops <= 64:
        raise FormatError("ops")
    plan["ops"] = []
    for _ in range(nops):
        op = {"kind": r.u64(), "drop": r.u64(), "width": r.u64(), "level": r.u64(),
              "size": r.u64(), "range_bits": r.f64(), "noise_bits": r.f64()}
        if op["kind"] == 1:
            op["inputs"], op["outputs"] = r.u64(), r.u64()
            op["rows"] = []
            for _ in range(op["outputs"]):
                terms = [(r.u64(), r.i64()) for _ in range(r.u64())]
                for col, w in terms:
                    if col >= op["inputs"] or not -(1 << 31) < w < (1 << 31):
                        raise FormatError("term")
                lo, hi = r.u64(), r.i64()
                op["rows"].append((terms, (hi << 64) | lo))
        elif op["kind"] not in (2, 3, 4):
            raise FormatError("op kind %d" % op["kind"])
        plan["ops"].append(op)
    if r.pos != r.end:
        raise FormatError("trailing plan bytes")
    return plan


def check_plan_chain(plan):
    """widths, sizes and levels follow from the ops (docs/net.md)"""
    width, size, level = plan["inputs"], 2, len(plan["params"]["q"])
    for op in plan["ops"]:
        if op["kind"] == 1:
            assert op["inputs"] == width
            width = op["outputs"]
        elif op["kind"] == 2:
            assert size == 2
            size = 3
        elif op["kind"] == 3:
            assert size == 3
            size = 2
        else:
            assert 0 < op["drop"] < level
            level -= op["drop"]
        assert (op["width"], op["size"], op["level"]) == (width, size, level), op
    assert width == plan["outputs"]


def eval_plan_plain(plan, x):
    """the plan on integers: a linear op gives bias_j + sum of w x_column, a square x^2,
    relinearization and modulus switch change nothing (docs/net.md)"""
    for op in plan["ops"]:
        if op["kind"] == 1:
            x = [bias + sum(w * x[col] for col, w in terms) for terms, bias in op["rows"]]
        elif op["kind"] == 2:
            x = [v * v for v in x]
    return x


# ---- commands ----

def selftest():
    # RFC 8439, 2.3.2: key 00..1f, counter 1, nonce 00 00 00 09 00 00 00 4a 00 00 00 00.
    # In Bernstein's layout words 12..15 = 1, 0x09000000, 0x4a000000, 0.
    key = struct.unpack("<8I", bytes(range(32)))
    blk = chacha20_block(key, 1 | (0x09000000 << 32), 0x4a000000)
    want = bytes.fromhex(
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e")
    assert blk == want, blk.hex()
    for n, p in ((16, 12289), (32, 12289), (8, 17), (64, 40961)):
        a = [(i * i + 3 * i + 7) % p for i in range(n)]
        assert ntt(a, p) == ntt_direct(a, p), (n, p)
        assert intt(ntt(a, p), p) == a
        b = [(5 * i + 1) % p for i in range(n)]
        # negacyclic product by schoolbook
        c = [0] * n
        for i in range(n):
            for j in range(n):
                k = i + j
                if k < n:
                    c[k] += a[i] * b[j]
                else:
                    c[k - n] -= a[i] * b[j]
        assert negacyclic_mul(a, b, p) == [v % p for v in c]
    print("selftest: ok (ChaCha20 RFC 8439 2.3.2; NTT fast = direct, inverse, products)")


VECTOR_SEED = bytes(range(32))
VECTOR_N = 8192
VECTOR_PRIMES = None  # set on the command line or from the doc's values


def first_primes(bits, n, count):
    """the largest primes p < 2^bits with p = 1 mod 2n (descending), by Miller-Rabin"""
    out, c = [], ((1 << bits) - 1) // (2 * n) * (2 * n) + 1
    while len(out) < count:
        if is_prime(c):
            out.append(c)
        c -= 2 * n
    return out


def is_prime(p):
    if p < 2:
        return False
    for sp in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if p % sp == 0:
            return p == sp
    d, s = p - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        x = pow(a, d, p)
        if x in (1, p - 1):
            continue
        for _ in range(s - 1):
            x = x * x % p
            if x == p - 1:
                break
        else:
            return False
    return True


def cmd_expand(args):
    primes = [int(a) for a in args] or [17592185438209, 17592184717313]  # docs/format.md
    ks = Keystream(VECTOR_SEED, SEED_DOMAIN_C1)
    print("keystream block 0:", ks.take(64).hex())
    c1 = expand_seed(VECTOR_SEED, primes, VECTOR_N)
    print("seed = 00 01 ... 1f, n = %d, domain 0x%x" % (VECTOR_N, SEED_DOMAIN_C1))
    for j, q in enumerate(primes):
        print("row %d (q_%d = %d, %d bits): %s" %
              (j, j + 1, q, q.bit_length(), ", ".join(str(v) for v in c1[j][:4])))
    k1 = expand_ksk_rows(VECTOR_SEED, 1, primes, VECTOR_N)
    print("key switching key, digit 1, domain 0x%x:" % ksk_domain(1))
    print("  keystream block 0:", Keystream(VECTOR_SEED, ksk_domain(1)).take(64).hex())
    for j, q in enumerate(primes):
        print("  row %d (mod %d): %s" % (j, q, ", ".join(str(v) for v in k1[j][:4])))


def cmd_ntt(_args):
    n, p = 16, 12289
    a = [i + 1 for i in range(n)]
    print("n = %d, p = %d, psi = %d" % (n, p, psi_of(n, p)))
    print("a = %s" % a)
    print("A = %s" % ntt_direct(a, p))


TINY = {"n": 16, "security": 0x4E4F4E45, "P": 0, "t": [97]}


def tiny_params():
    """n = 16, the two smallest primes = 1 mod 32 above 2^19 (20-bit values of which about
    half are rejected), no P, t = 97, insecure"""
    prm = dict(TINY)
    prm["q"], c = [], (1 << 19) + 1
    while len(prm["q"]) < 2:
        if is_prime(c):
            prm["q"].append(c)
        c += 32
    return prm


def c_array(name, ctype, vals, per_line=4):
    items = [str(v) + ("ULL" if ctype == "uint64_t" else "") for v in vals]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "static const %s %s[%d] = {\n    %s};" % (ctype, name, len(vals),
                                                   ",\n    ".join(lines))


def c_bytes(name, data):
    lines = [", ".join("0x%02x" % b for b in data[i:i + 12]) for i in range(0, len(data), 12)]
    return "static const uint8_t %s[%d] = {\n    %s};" % (name, len(data),
                                                          ",\n    ".join(lines))


def cmd_cvectors(_args):
    """the literals of tests/io/test_format_vectors.c"""
    q1, q2 = 17592185438209, 17592184717313
    c1 = expand_seed(VECTOR_SEED, [q1, q2], VECTOR_N)
    print(c_array("seed_row0", "uint64_t", c1[0][:4]))
    print(c_array("seed_row1", "uint64_t", c1[1][:4]))
    print(c_bytes("keystream0", Keystream(VECTOR_SEED, SEED_DOMAIN_C1).take(64)))
    a = [i + 1 for i in range(16)]
    print("/* psi = %d */" % psi_of(16, 12289))
    print(c_array("ntt16", "uint64_t", ntt_direct(a, 12289), 8))
    prm = tiny_params()
    c0 = [[(0x9e3779b9 * (i + 1) + 12345 * j) % q for i in range(prm["n"])]
          for j, q in enumerate(prm["q"])]
    seed = bytes(range(0x20, 0x40))
    print("/* q = %s */" % prm["q"])
    print(c_bytes("tiny_params", write_params(prm)))
    print(c_bytes("tiny_ct", write_seeded_ciphertext(c0, seed, 0, prm)))
    tc1 = expand_seed(seed, prm["q"], prm["n"])
    print(c_array("tiny_c0", "uint64_t", c0[0] + c0[1], 8))
    print(c_array("tiny_c1", "uint64_t", tc1[0] + tc1[1], 8))
    k1 = expand_ksk_rows(VECTOR_SEED, 1, [q1, q2], VECTOR_N)
    print(c_array("ksk_row0", "uint64_t", k1[0][:4]))
    print(c_array("ksk_row1", "uint64_t", k1[1][:4]))
    print(c_bytes("ksk_keystream0", Keystream(VECTOR_SEED, ksk_domain(1)).take(64)))
    kp = tiny_ksk_params()
    print("/* q = %s, P = %d */" % (kp["q"], kp["P"]))
    print(c_bytes("tiny_ksk_params", write_params(kp)))
    rk_seed, rk_k0 = bytes(range(0x40, 0x60)), tiny_k0(kp, 1)
    print(c_bytes("tiny_rk", write_seeded_relin_key(rk_seed, rk_k0, kp)))
    print(c_array("tiny_rk_k0", "uint64_t", flat(rk_k0), 8))
    print(c_array("tiny_rk_k1", "uint64_t",
                  flat([expand_ksk_digit(rk_seed, i, kp) for i in range(2)]), 8))
    gks = [(3, bytes(range(0x60, 0x80)), tiny_k0(kp, 2)),
           (31, bytes(range(0x80, 0xa0)), tiny_k0(kp, 3))]
    print(c_bytes("tiny_gk", write_seeded_galois_keys(gks, kp)))
    print(c_array("tiny_gk1_k1", "uint64_t",
                  flat([expand_ksk_digit(gks[1][1], i, kp) for i in range(2)]), 8))


def tiny_ksk_params():
    """tiny_params with a special prime: P the third prime = 1 mod 32 above 2^19"""
    prm = tiny_params()
    c = prm["q"][-1] + 32
    while not is_prime(c):
        c += 32
    prm["P"] = c
    return prm


def tiny_k0(prm, salt):
    """arbitrary k0 rows below their primes (the loader checks ranges, not meaning)"""
    return [[[(0x9e3779b9 * (c + 1) + 7919 * (j + 1) + 104729 * i + salt) % p
              for c in range(prm["n"])] for j, p in enumerate(key_primes(prm))]
            for i in range(len(prm["q"]))]


def flat(digits):
    return [v for rows_ in digits for row in rows_ for v in row]


def load(path):
    with open(path, "rb") as f:
        return f.read()


def check_small_noise(rowsets, primes, bound, what):
    """rows in NTT form that must be the NTT of one small polynomial (|e| <= bound)"""
    e_all = None
    for row, q in zip(rowsets, primes):
        e = [centered(v, q) for v in intt(row, q)]
        if max(abs(v) for v in e) > bound:
            raise FormatError("%s: not small (max %d)" % (what, max(abs(v) for v in e)))
        if e_all is None:
            e_all = e
        elif e != e_all:
            raise FormatError("%s: rows disagree" % what)


def galois_s(s, g, n):
    out = [0] * n
    for i, v in enumerate(s):
        k = i * g % (2 * n)
        if k < n:
            out[k] += v
        else:
            out[k - n] -= v
    return out


def check_ksk(ksk, s, target, prm, what):
    d, k = ksk.level, ksk.k
    primes = prm["q"][:d] + [prm["P"]]  # a key at level d: q_1..q_d and P
    S = [ntt([v % p for v in s], p) for p in primes]
    T = [ntt([v % p for v in target], p) for p in primes]
    for i, (k0, k1) in enumerate(ksk):
        e = []
        for j, p in enumerate(primes):
            row = [(a + b * c) % p for a, b, c in zip(k0[j], k1[j], S[j])]
            if i * k <= j < min(i * k + k, d):  # the rows of digit i's primes
                row = [(x - prm["P"] * y) % p for x, y in zip(row, T[j])]
            e.append(row)
        check_small_noise(e, primes, 21, "%s digit %d" % (what, i))


def check_dir(d):
    """A directory of objects written by the library under one set of parameters:
    params.bin, sk.bin, pk.bin, rk.bin, [gk.bin], [gk_level.bin], pt.bin, ct_seeded.bin,
    ct_unseeded.bin (the same ciphertext without its seed), ct_pk.bin, ct_sq.bin (its
    square), [ct_ms.bin] (the seeded one, modulus switched), batch.bin (the seeded one
    and the square), values.txt (t_index, then the n slot values encrypted)."""
    prm, _ = parse_params(load(os.path.join(d, "params.bin")))
    n = prm["n"]
    print("%s: n = %d, q = %s, P = %d, t = %s" % (d, n, prm["q"], prm["P"], prm["t"]))
    with open(os.path.join(d, "values.txt")) as f:
        nums = [int(x) for x in f.read().split()]
    ti, v = nums[0], nums[1:]
    t = prm["t"][ti]
    v2 = [centered(x * x, t) for x in v]
    s = parse_secret_key(load(os.path.join(d, "sk.bin")), prm)
    p0, p1 = parse_public_key(load(os.path.join(d, "pk.bin")), prm)
    S = [ntt([x % q for x in s], q) for q in prm["q"]]
    check_small_noise([[(-(a + b * c)) % q for a, b, c in zip(p0[j], p1[j], S[j])]
                       for j, q in enumerate(prm["q"])], prm["q"], 21, "public key")
    print("  public key: p0 + p1 s = -e, e small (NTT form as documented)")
    rkdata = load(os.path.join(d, "rk.bin"))
    assert parse_header(rkdata)["flags"] == HDR_SEEDED_KEYS
    rk = parse_relin_key(rkdata, prm)
    s2 = negacyclic_mul_int(s, s, n)
    check_ksk(rk, s, s2, prm, "relinearization key")
    print("  relinearization key (seeded, k1 expanded here): k0_i + k1_i s - [row i] P s^2 "
          "small on all K rows")
    if os.path.exists(os.path.join(d, "rk_full.bin")):
        if parse_relin_key(load(os.path.join(d, "rk_full.bin")), prm) != rk:
            raise FormatError("the expanded k1 differs from the library's k1")
        print("  seeded key: the expansion equals the k1 the library writes in full (1.0)")
    if os.path.exists(os.path.join(d, "gk.bin")):
        for g, ksk in parse_galois_keys(load(os.path.join(d, "gk.bin")), prm):
            check_ksk(ksk, s, galois_s(s, g, n), prm, "Galois key %d" % g)
        print("  Galois keys (seeded): each switches from s(X^g)")
    if os.path.exists(os.path.join(d, "gk_level.bin")):
        levels = []
        for g, ksk in parse_galois_keys(load(os.path.join(d, "gk_level.bin")), prm):
            check_ksk(ksk, s, galois_s(s, g, n), prm, "Galois key %d" % g)
            levels.append(ksk.level)
        print("  Galois keys at levels %s (format 1.2): each switches from s(X^g)" % levels)
    if os.path.exists(os.path.join(d, "gk_digits.bin")):
        gdata = load(os.path.join(d, "gk_digits.bin"))
        h = parse_header(gdata)
        assert h["flags"] == HDR_SEEDED_KEYS | HDR_DIGIT_PRIMES and h["minor"] == 3
        shapes, size = [], 32 + 8
        for g, ksk in parse_galois_keys(gdata, prm):
            check_ksk(ksk, s, galois_s(s, g, n), prm, "Galois key %d" % g)
            shapes.append((ksk.level, ksk.k, len(ksk)))
            size += 8 + 4 + 4 + 32 + len(ksk) * (rowbytes(prm, ksk.level) +
                                                  (n * bitlen_minus1(prm["P"]) + 7) // 8)
        assert len(gdata) == size, (len(gdata), size)
        print("  Galois keys with digits of several primes (format 1.3; level, primes per "
              "digit, digits: %s): each switches from s(X^g), P s(X^g) on every row of its "
              "digit's primes; size as documented" % shapes)
    if os.path.exists(os.path.join(d, "rk_digits.bin")):
        rkd = parse_relin_key(load(os.path.join(d, "rk_digits.bin")), prm)
        check_ksk(rkd, s, s2, prm, "relinearization key (digits of %d primes)" % rkd.k)
        print("  relinearization key with digits of %d primes (format 1.3): %d digits, "
              "k0_i + k1_i s - P s^2 on its primes' rows small" % (rkd.k, len(rkd)))
    pti, m = parse_plaintext(load(os.path.join(d, "pt.bin")), prm)
    assert pti == ti and decode_slots(m, t) == v
    print("  plaintext: slots decode to the values")
    cts = {}
    for name, want in (("ct_seeded", v), ("ct_unseeded", v), ("ct_pk", v), ("ct_sq", v2),
                       ("ct_ms", v)):
        path = os.path.join(d, name + ".bin")
        if not os.path.exists(path):
            continue
        ct = parse_ciphertext(load(path), prm)
        cts[name] = ct
        got = decode_slots(decrypt(ct, s, prm), prm["t"][ct["t_index"]])
        if got != want:
            raise FormatError("%s decrypts to other values" % name)
        print("  %s: size %d, level %d%s: decrypts and decodes to the values" %
              (name, ct["size"], ct["level"], ", seeded" if ct["seeded"] else ""))
    assert cts["ct_seeded"]["seeded"] and not cts["ct_unseeded"]["seeded"]
    if cts["ct_seeded"]["c"] != cts["ct_unseeded"]["c"]:
        raise FormatError("the expanded seed differs from the library's c1")
    print("  seed expansion equals the c1 the library writes without the seed")
    recs, _ = parse_batch(load(os.path.join(d, "batch.bin")), prm)
    assert [r["c"] for r in recs] == [cts["ct_seeded"]["c"], cts["ct_sq"]["c"]]
    print("  batch: its two records are the single ciphertexts")
    sizes = {"ct_pk": 32 + 16 + 2 * rowbytes(prm, len(prm["q"])) + 8,
             "ct_seeded": 32 + 16 + rowbytes(prm, len(prm["q"])) + 32 + 8,
             "pk": 32 + 2 * rowbytes(prm, len(prm["q"])) + 8,
             "rk": 32 + 4 + 32 + len(prm["q"]) * (rowbytes(prm, len(prm["q"])) +
                                                  (n * bitlen_minus1(prm["P"]) + 7) // 8) + 8}
    for name, want in sizes.items():
        got = os.path.getsize(os.path.join(d, name + ".bin"))
        assert got == want, (name, got, want)
    print("  sizes follow the formulas of docs/format.md")


def rowbytes(prm, level):
    return sum((prm["n"] * bitlen_minus1(q) + 7) // 8 for q in prm["q"][:level])


def negacyclic_mul_int(a, b, n):
    """a b in Z[X]/(X^n + 1) for small integer polynomials (via a large prime)"""
    p = first_primes(61, n, 1)[0]
    c = negacyclic_mul([x % p for x in a], [x % p for x in b], p)
    return [centered(x, p) for x in c]


def check_net_dir(d):
    """plan.bin (no relinearization) and plan_relin.bin, with evalkeys*.bin and
    client_batch*.bin written by a client of that plan."""
    for tag in ("", "_relin"):
        plan = parse_plan(load(os.path.join(d, "plan%s.bin" % tag)))
        check_plan_chain(plan)
        prm = plan["params"]
        kinds = [op["kind"] for op in plan["ops"]]
        print("%s: plan%s: %d inputs -> %d outputs, ops %s, n = %d, %d primes, t = %s" %
              (d, tag, plan["inputs"], plan["outputs"], kinds, prm["n"], len(prm["q"]),
               prm["t"]))
        plain = os.path.join(d, "plain%s.txt" % tag)
        if os.path.exists(plain):
            with open(plain) as f:
                xs, ys = [[int(v) for v in line.split()] for line in f.read().splitlines()]
            nin, nout = plan["inputs"], plan["outputs"]
            for i in range(len(xs) // nin):
                got = eval_plan_plain(plan, xs[i * nin:(i + 1) * nin])
                assert got == ys[i * nout:(i + 1) * nout], (got, ys)
            print("  the ops on integers give the library's reference run (%s)" % plain)
        keys = load(os.path.join(d, "evalkeys%s.bin" % tag))
        first = parse_header(keys)["len"]  # then Galois keys, if the plan rotates
        if 3 in kinds:
            parse_relin_key(keys[:first], prm)
            print("  evaluation keys: a relinearization key (%s)" %
                  ("seeded" if parse_header(keys)["flags"] else "in full"))
        else:
            recs, ln = parse_batch(keys[:first], prm)
            assert recs == [] and ln == first == 40
            print("  evaluation keys: an empty ciphertext batch of 40 bytes")
        if first < len(keys):
            gks = parse_galois_keys(keys[first:], prm)
            print("  evaluation keys: then Galois keys for elements %s" % [g for g, _ in gks])
        data, off = load(os.path.join(d, "client_batch%s.bin" % tag)), 0
        for ti in range(len(prm["t"])):
            recs, ln = parse_batch(data, prm, off, expand_limit=1)
            h = parse_header(data, off)
            assert h["count"] == plan["inputs"]
            r = recs[0]
            assert r["seeded"] and r["level"] == len(prm["q"]) and r["t_index"] == ti
            off += ln
        assert off == len(data)
        print("  client batch: %d batch objects of %d seeded records" %
              (len(prm["t"]), plan["inputs"]))


def cmd_dump(args):
    data = load(args[0])
    if data[:4] == b"CNPL" or (data[:4] == b"CNHE" and data[8:10] == b"\x01\x01"):
        plan = parse_plan(data)
        for k, v in plan.items():
            if k != "ops":
                print(k, v)
        for op in plan["ops"]:
            print({k: v for k, v in op.items() if k != "rows"})
        return
    h = parse_header(data)
    print({k: v for k, v in h.items() if k != "body"}, TYPES.get(h["type"]))


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "selftest":
        selftest()
    elif cmd == "expand":
        cmd_expand(args)
    elif cmd == "ntt":
        cmd_ntt(args)
    elif cmd == "cvectors":
        cmd_cvectors(args)
    elif cmd == "dump":
        cmd_dump(args)
    elif cmd == "check":
        for d in args:
            if os.path.exists(os.path.join(d, "plan.bin")):
                check_net_dir(d)
            else:
                check_dir(d)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
