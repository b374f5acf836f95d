/* The generator: the ChaCha20 keystream (D. J. Bernstein's layout: 64-bit block counter
 * in state words 12-13, 64-bit nonce in 14-15) computed by libsodium's
 * crypto_stream_chacha20, keyed from getrandom or from an explicit seed. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include <sodium.h>

#include "cryptonets/rand.h"
#include "../internal/mem.h"
#include "rng_internal.h"
#include "sample_kernels.h"
#include "../internal/endian.h"

enum { KIND_OS = 1, KIND_PUBLIC = 2, KIND_INSECURE = 3 };

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* sodium_init once per process (pthread_once: thread-safe, and cheap after the first
 * call); it selects libsodium's fastest ChaCha20 code for this CPU (AVX2, SSSE3 or
 * portable: the same bytes). Its result: 0 or 1 when libsodium is ready, -1 if not. */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status;
static void sodium_start(void)
{
    sodium_status = sodium_init();
}

static void keyed(cn_rng_t *rng, const uint8_t seed[CN_SEED_BYTES], uint64_t domain,
                  unsigned kind)
{
    pthread_once(&sodium_once, sodium_start);
    memset(rng, 0, sizeof *rng);
    cn_rng_state_t *r = cn_rng_state(rng);
    for (int i = 0; i < 8; i++)
        r->key[i] = load_le32(seed + 4 * i);
    r->nonce[0] = (uint32_t)domain;
    r->nonce[1] = (uint32_t)(domain >> 32);
    r->pos = sizeof r->buf;
    r->kind = kind;
}

/* getrandom may return fewer bytes or be interrupted; loop until done. */
static int os_random(uint8_t *out, size_t len)
{
    while (len) {
        ssize_t got = getrandom(out, len, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        out += got;
        len -= (size_t)got;
    }
    return 0;
}

/* The seed comes from getrandom directly rather than libsodium's randombytes_buf, which
 * aborts the process when the OS has no randomness to give: here that is an error code. */
cn_status cn_rng_init(cn_rng_t *r)
{
    uint8_t seed[CN_SEED_BYTES];
    pthread_once(&sodium_once, sodium_start);
    if (sodium_status < 0 || os_random(seed, sizeof seed) != 0) {
        memset(r, 0, sizeof *r);
        return CN_ERR_RANDOMNESS;
    }
    keyed(r, seed, 0, KIND_OS);
    cn_wipe(seed, sizeof seed);
    return CN_OK;
}

void cn_rng_init_public_seed(cn_rng_t *r, const uint8_t seed[CN_SEED_BYTES], uint64_t domain)
{
    keyed(r, seed, domain, KIND_PUBLIC);
}

cn_status cn_rng_init_insecure_deterministic(cn_rng_t *r, const uint8_t seed[CN_SEED_BYTES],
                                             uint64_t ack)
{
    if (ack != CN_RNG_INSECURE_ACK) {
        memset(r, 0, sizeof *r);
        return CN_ERR_INVALID_ARG;
    }
    /* a domain of its own, so it never repeats a public-seed stream */
    keyed(r, seed, 0xffffffffffffffffULL, KIND_INSECURE);
    return CN_OK;
}

void cn_rng_fork(cn_rng_t *child, cn_rng_t *parent)
{
    uint8_t seed[CN_SEED_BYTES];
    cn_rng_bytes(parent, seed, sizeof seed);
    /* the parent's kind is kept: a child of an insecure generator stays marked insecure */
    keyed(child, seed, 0xfffffffffffffffeULL, cn_rng_state(parent)->kind);
    cn_wipe(seed, sizeof seed);
}

int cn_rng_is_insecure(const cn_rng_t *r)
{
    return cn_rng_cstate(r)->kind == KIND_INSECURE;
}

void cn_rng_clear(cn_rng_t *r)
{
    cn_wipe(r, sizeof *r);
}

/* The next eight blocks: crypto_stream_chacha20_xor_ic over zeros from block counter
 * r->counter (libsodium has no keystream call that takes a counter). 512 bytes let it use
 * its eight-block AVX2 code where the CPU has it. */
void cn_rng_refill(cn_rng_t *rng)
{
    cn_rng_state_t *r = cn_rng_state(rng);
    memset(r->buf, 0, sizeof r->buf);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the words' memory is already their little-endian serialization */
    crypto_stream_chacha20_xor_ic(r->buf, r->buf, sizeof r->buf, (const uint8_t *)r->nonce,
                                  r->counter, (const uint8_t *)r->key);
#else
    uint8_t key[32], nonce[8];
    for (int i = 0; i < 8; i++)
        cn_store_le32(key + 4 * i, r->key[i]);
    cn_store_le32(nonce, r->nonce[0]);
    cn_store_le32(nonce + 4, r->nonce[1]);
    crypto_stream_chacha20_xor_ic(r->buf, r->buf, sizeof r->buf, nonce, r->counter, key);
    cn_wipe(key, sizeof key);
#endif
    r->counter += sizeof r->buf / 64;
    r->pos = 0;
}

/* out = the next len keystream bytes, len a multiple of 512, written directly (the blocks
 * cn_rng_refill would produce in turn) */
static void stream_direct(cn_rng_state_t *r, uint8_t *out, size_t len)
{
    const cn_chacha20_blocks16_fn simd = cn_rand_chacha20_kernel();
    if (simd && len >= 1024) { /* sixteen blocks at a time (AVX-512) */
        const size_t groups = len / 1024;
        simd(out, groups, r->key, r->nonce, r->counter);
        r->counter += 16 * groups;
        out += 1024 * groups;
        len -= 1024 * groups;
        if (!len)
            return;
    }
    memset(out, 0, len);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    crypto_stream_chacha20_xor_ic(out, out, len, (const uint8_t *)r->nonce, r->counter,
                                  (const uint8_t *)r->key);
#else
    uint8_t key[32], nonce[8];
    for (int i = 0; i < 8; i++)
        cn_store_le32(key + 4 * i, r->key[i]);
    cn_store_le32(nonce, r->nonce[0]);
    cn_store_le32(nonce + 4, r->nonce[1]);
    crypto_stream_chacha20_xor_ic(out, out, len, nonce, r->counter, key);
    cn_wipe(key, sizeof key);
#endif
    r->counter += len / 64;
}

void cn_rng_bytes(cn_rng_t *rng, void *out, size_t len)
{
    cn_rng_state_t *r = cn_rng_state(rng);
    uint8_t *o = out;
    while (len) {
        if (r->pos == sizeof r->buf && len >= sizeof r->buf) {
            /* the buffer is empty: whole buffers' worth go straight to out */
            const size_t direct = len - len % sizeof r->buf;
            stream_direct(r, o, direct);
            o += direct;
            len -= direct;
            continue;
        }
        if (r->pos == sizeof r->buf)
            cn_rng_refill(rng);
        size_t take = sizeof r->buf - r->pos;
        if (take > len)
            take = len;
        memcpy(o, r->buf + r->pos, take);
        cn_wipe(r->buf + r->pos, take); /* used keystream is not kept */
        r->pos += (unsigned)take;
        o += take;
        len -= take;
    }
}

uint64_t cn_rng_u64(cn_rng_t *r)
{
    uint8_t b[8];
    cn_rng_bytes(r, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    cn_wipe(b, sizeof b);
    return v;
}
