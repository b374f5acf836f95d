/* Tables of the exact full-RNS conversions: exact base conversion (centered lift) and
 * scale-and-round by num / Q (Halevi, Polyakov, Shoup, "An improved RNS variant of the BFV
 * homomorphic encryption scheme", CT-RSA 2019, sections 3.2 and 4.2; the fractional parts
 * are held as 128-bit fixed-point numbers rather than floating point). The kernels are in
 * exact_portable.c and exact_avx512ifma.c; dispatch.c picks them. */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "../internal/shoup52.h"
#include "rns_internal.h"

void cn_exact_conv_clear(cn_exact_conv_t *c)
{
    free(c->a);
    free(c->b);
    free(c->ahat_inv);
    free(c->ahat_inv_s);
    free(c->inv_a);
    free(c->ahat_mod_b);
    free(c->ahat_mod_b_s);
    free(c->vA_mod_b);
    free(c->ahat_inv_s52);
    free(c->ahat_mod_b_s52);
    c->ahat_inv_s52 = c->ahat_mod_b_s52 = NULL;
    c->ifma = 0;
    c->a = c->b = NULL;
    c->ahat_inv = c->ahat_inv_s = c->ahat_mod_b = c->ahat_mod_b_s = c->vA_mod_b = NULL;
    c->inv_a = NULL;
}

static uint64_t mpz_mod_u64(const mpz_t x, uint64_t m)
{
    return (uint64_t)mpz_fdiv_ui(x, (unsigned long)m);
}

cn_status cn_exact_conv_init(cn_exact_conv_t *c, const uint64_t *a, size_t ka,
                             const uint64_t *b, size_t kb)
{
    cn_status st = CN_OK;
    memset(c, 0, sizeof *c);
    c->ka = ka;
    c->kb = kb;
    if (ka == 0 || kb == 0 || ka > CN_EXACT_MAX || kb > CN_EXACT_MAX)
        return CN_ERR_INVALID_ARG;
    c->a = cn_alloc(ka, sizeof *c->a);
    c->b = cn_alloc(kb, sizeof *c->b);
    c->ahat_inv = cn_alloc(ka, sizeof(uint64_t));
    c->ahat_inv_s = cn_alloc(ka, sizeof(uint64_t));
    c->inv_a = cn_alloc(ka, sizeof(double));
    c->ahat_mod_b = cn_alloc(ka * kb, sizeof(uint64_t));
    c->ahat_mod_b_s = cn_alloc(ka * kb, sizeof(uint64_t));
    c->vA_mod_b = cn_alloc(kb * (ka + 1), sizeof(uint64_t));
    if (!c->a || !c->b || !c->ahat_inv || !c->ahat_inv_s || !c->inv_a || !c->ahat_mod_b ||
        !c->ahat_mod_b_s || !c->vA_mod_b) {
        cn_exact_conv_clear(c);
        return CN_ERR_NO_MEMORY;
    }
    mpz_t A, ahat;
    mpz_inits(A, ahat, NULL);
    mpz_set_ui(A, 1);
    for (size_t i = 0; i < ka; i++)
        mpz_mul_ui(A, A, (unsigned long)a[i]);
    for (size_t i = 0; i < ka && st == CN_OK; i++) {
        if ((st = cn_mod_init(&c->a[i], a[i])) != CN_OK)
            break;
        mpz_divexact_ui(ahat, A, (unsigned long)a[i]);
        st = cn_mod_inv(&c->ahat_inv[i], mpz_mod_u64(ahat, a[i]), c->a[i]);
        c->ahat_inv_s[i] = cn_mod_shoup(c->ahat_inv[i], c->a[i]);
        c->inv_a[i] = 1.0 / (double)a[i];
        for (size_t j = 0; j < kb; j++)
            c->ahat_mod_b[j * ka + i] = mpz_mod_u64(ahat, b[j]);
    }
    for (size_t j = 0; j < kb && st == CN_OK; j++) {
        if ((st = cn_mod_init(&c->b[j], b[j])) != CN_OK)
            break;
        for (size_t i = 0; i < ka; i++)
            c->ahat_mod_b_s[j * ka + i] = cn_mod_shoup(c->ahat_mod_b[j * ka + i], c->b[j]);
        const uint64_t Ab = mpz_mod_u64(A, b[j]);
        for (size_t v = 0; v <= ka; v++)
            c->vA_mod_b[j * (ka + 1) + v] =
                cn_mod_mul(cn_mod_reduce_u64(v, c->b[j]), Ab, c->b[j]);
    }
    mpz_clears(A, ahat, NULL);
    if (st == CN_OK && cn_rns_kernels52() && cn_all_below_shoup52(a, ka) &&
        cn_all_below_shoup52(b, kb)) {
        c->ahat_inv_s52 = cn_alloc(ka, sizeof(uint64_t));
        c->ahat_mod_b_s52 = cn_alloc(ka * kb, sizeof(uint64_t));
        if (!c->ahat_inv_s52 || !c->ahat_mod_b_s52) {
            st = CN_ERR_NO_MEMORY;
        } else {
            for (size_t i = 0; i < ka; i++)
                c->ahat_inv_s52[i] = cn_shoup52(c->ahat_inv[i], a[i]);
            for (size_t j = 0; j < kb; j++)
                for (size_t i = 0; i < ka; i++)
                    c->ahat_mod_b_s52[j * ka + i] = cn_shoup52(c->ahat_mod_b[j * ka + i], b[j]);
            c->ifma = 1;
        }
    }
    if (st != CN_OK)
        cn_exact_conv_clear(c);
    return st;
}

void cn_scale_clear(cn_scale_t *s)
{
    free(s->q);
    free(s->r);
    free(s->w);
    free(s->ws);
    free(s->f_hi);
    free(s->f_lo);
    free(s->int_mod_r);
    free(s->int_mod_r_s);
    free(s->rr);
    free(s->rr_s);
    free(s->ws52);
    free(s->f1);
    free(s->f0);
    free(s->int_mod_r_s52);
    free(s->rr_s52);
    free(s->inv_r);
    s->ws52 = s->f1 = s->f0 = s->int_mod_r_s52 = s->rr_s52 = NULL;
    s->inv_r = NULL;
    s->ifma = 0;
    s->q = s->r = NULL;
    s->w = s->ws = s->f_hi = s->f_lo = s->int_mod_r = s->int_mod_r_s = s->rr = s->rr_s = NULL;
}

cn_status cn_scale_init(cn_scale_t *s, const uint64_t *q, size_t kq, const uint64_t *tgt,
                        size_t kr, uint64_t num, int with_r)
{
    cn_status st = CN_OK;
    memset(s, 0, sizeof *s);
    s->kq = kq;
    s->kr = kr;
    s->with_r = with_r;
    if (kq == 0 || kr == 0 || kq > CN_EXACT_MAX || kr > CN_EXACT_MAX)
        return CN_ERR_INVALID_ARG;
    s->q = cn_alloc(kq, sizeof *s->q);
    s->r = cn_alloc(kr, sizeof *s->r);
    s->w = cn_alloc(kq, sizeof(uint64_t));
    s->ws = cn_alloc(kq, sizeof(uint64_t));
    s->f_hi = cn_alloc(kq, sizeof(uint64_t));
    s->f_lo = cn_alloc(kq, sizeof(uint64_t));
    s->int_mod_r = cn_alloc(kq * kr, sizeof(uint64_t));
    s->int_mod_r_s = cn_alloc(kq * kr, sizeof(uint64_t));
    s->rr = cn_alloc(kr, sizeof(uint64_t));
    s->rr_s = cn_alloc(kr, sizeof(uint64_t));
    if (!s->q || !s->r || !s->w || !s->ws || !s->f_hi || !s->f_lo || !s->int_mod_r ||
        !s->int_mod_r_s || !s->rr || !s->rr_s) {
        cn_scale_clear(s);
        return CN_ERR_NO_MEMORY;
    }
    mpz_t Q, M, N, qhat, tmp, quo, rem;
    mpz_inits(Q, M, N, qhat, tmp, quo, rem, NULL);
    mpz_set_ui(Q, 1);
    for (size_t i = 0; i < kq; i++)
        mpz_mul_ui(Q, Q, (unsigned long)q[i]);
    mpz_set_ui(M, 1);
    if (with_r)
        for (size_t j = 0; j < kr; j++)
            mpz_mul_ui(M, M, (unsigned long)tgt[j]);
    mpz_mul_ui(N, M, (unsigned long)num); /* num * M */
    for (size_t j = 0; j < kr && st == CN_OK; j++)
        st = cn_mod_init(&s->r[j], tgt[j]);
    for (size_t i = 0; i < kq && st == CN_OK; i++) {
        if ((st = cn_mod_init(&s->q[i], q[i])) != CN_OK)
            break;
        const cn_mod_t qi = s->q[i];
        mpz_divexact_ui(qhat, Q, (unsigned long)q[i]);
        mpz_mul(tmp, qhat, M); /* (Q/q_i) * M, inverted mod q_i */
        if ((st = cn_mod_inv(&s->w[i], mpz_mod_u64(tmp, q[i]), qi)) != CN_OK)
            break;
        s->ws[i] = cn_mod_shoup(s->w[i], qi);
        mpz_fdiv_qr_ui(quo, rem, N, (unsigned long)q[i]);
        for (size_t j = 0; j < kr; j++) {
            s->int_mod_r[j * kq + i] = mpz_mod_u64(quo, tgt[j]);
            s->int_mod_r_s[j * kq + i] = cn_mod_shoup(s->int_mod_r[j * kq + i], s->r[j]);
        }
        mpz_mul_2exp(tmp, rem, 128);
        mpz_fdiv_q_ui(tmp, tmp, (unsigned long)q[i]); /* frac * 2^128 */
        s->f_lo[i] = (uint64_t)mpz_getlimbn(tmp, 0);
        s->f_hi[i] = (uint64_t)mpz_getlimbn(tmp, 1);
    }
    for (size_t j = 0; j < kr && st == CN_OK; j++) {
        if (!with_r) {
            s->rr[j] = s->rr_s[j] = 0;
            continue;
        }
        uint64_t qinv;
        if ((st = cn_mod_inv(&qinv, mpz_mod_u64(Q, tgt[j]), s->r[j])) != CN_OK)
            break;
        s->rr[j] = cn_mod_mul(cn_mod_reduce_u64(num, s->r[j]), qinv, s->r[j]);
        s->rr_s[j] = cn_mod_shoup(s->rr[j], s->r[j]);
    }
    mpz_clears(Q, M, N, qhat, tmp, quo, rem, NULL);
    if (st == CN_OK && cn_rns_kernels52() && cn_all_below_shoup52(q, kq) &&
        cn_all_below_shoup52(tgt, kr)) {
        s->ws52 = cn_alloc(kq, sizeof(uint64_t));
        s->f1 = cn_alloc(kq, sizeof(uint64_t));
        s->f0 = cn_alloc(kq, sizeof(uint64_t));
        s->int_mod_r_s52 = cn_alloc(kq * kr, sizeof(uint64_t));
        s->rr_s52 = cn_alloc(kr, sizeof(uint64_t));
        s->inv_r = cn_alloc(kr, sizeof(double));
        if (!s->ws52 || !s->f1 || !s->f0 || !s->int_mod_r_s52 || !s->rr_s52 || !s->inv_r) {
            st = CN_ERR_NO_MEMORY;
        } else {
            const uint64_t m52 = ((uint64_t)1 << 52) - 1;
            for (size_t i = 0; i < kq; i++) {
                s->ws52[i] = cn_shoup52(s->w[i], q[i]);
                /* the top 104 bits of the 128-bit fraction f_hi 2^64 + f_lo */
                s->f1[i] = s->f_hi[i] >> 12;
                s->f0[i] = ((s->f_hi[i] << 40) | (s->f_lo[i] >> 24)) & m52;
                for (size_t j = 0; j < kr; j++)
                    s->int_mod_r_s52[j * kq + i] = cn_shoup52(s->int_mod_r[j * kq + i], tgt[j]);
            }
            for (size_t j = 0; j < kr; j++) {
                s->rr_s52[j] = cn_shoup52(s->rr[j], tgt[j]);
                s->inv_r[j] = 1.0 / (double)tgt[j];
            }
            s->ifma = 1;
        }
    }
    if (st != CN_OK)
        cn_scale_clear(s);
    return st;
}
