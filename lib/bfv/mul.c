/* Ciphertext multiplication in full RNS form (Halevi, Polyakov, Shoup, CT-RSA 2019,
 * section 4): lift each input from Q_l to the extension base R exactly, tensor in
 * Q_l u R through the NTT, and scale by t/Q_l with exact rounding, straight into Q_l
 * (lib/rns/mulscale.h: the quotient by Q_l is lifted from R, so R need not hold t).
 * Per square at l primes of Q and kr of R: 2 (l + kr) forward and 3 (l + kr) inverse
 * NTTs (40 at the MNIST plan's l = kr = 4), 2 exact conversions Q -> R and 3 passes of
 * the scaling. Relinearization: key switching with one digit per prime of Q_l and the
 * special prime P, then division by P with rounding (ModDown). A modulus switch right after
 * the product can be folded into the scaling (cn_mulscale_drop): the result goes straight
 * to Q_(l-1), with the same words as the switch after it. */
#include <stdlib.h>
#include <string.h>

#include "../internal/mem.h"
#include "bfv_internal.h"

/* the NTT table and modulus of row j of the extended base Q_l u R */
static const cn_ntt_table_t *ext_ntt(const cn_bfv_context_t *ctx, size_t l, size_t j)
{
    return j < l ? &ctx->ring.ntt[j] : &ctx->ring_r.ntt[j - l];
}

/* the rows of R of ext (l + kr rows) = the centered lift of c (l rows) to R, coefficient
 * form; the rows of Q are c's own, which the forward transforms read in place of a copy */
static void lift(uint64_t *ext, const cn_poly_t *c, const cn_bfv_context_t *ctx)
{
    const size_t l = c->k, n = ctx->n;
    cn_exact_conv(ext + l * n, c->data, n, &cn_bfv_level(ctx, l)->q_to_r);
}

/* row j of ext = its forward transform; for j < l, that of row j of c */
static void forward_row(uint64_t *ext, const cn_poly_t *c, size_t j, size_t n,
                        const cn_ntt_table_t *tb)
{
    if (j < c->k)
        cn_ntt_forward_lazy_from(ext + j * n, c->data + j * n, tb);
    else
        cn_ntt_forward_lazy(ext + j * n, tb);
}

/* out = a b at a's level, or at the level below with the modulus switch folded in (drop) */
static cn_status tensor(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                        const cn_bfv_ciphertext_t *b, const cn_bfv_context_t *ctx, int drop)
{
    cn_status st;
    if ((st = cn_bfv_check_pair(a, b, ctx)) != CN_OK)
        return st;
    if (a->size != 2 || b->size != 2)
        return CN_ERR_UNSUPPORTED;
    if (drop && a->level < 2)
        return CN_ERR_LEVEL_MISMATCH;
    const size_t l = a->level, n = ctx->n, kr = ctx->kr, k = l + kr, t_index = a->t_index;
    const int sq = a == b, tr = a->transparent || b->transparent;
    const cn_bfv_level_t *lv = cn_bfv_level(ctx, l);
    /* a0, a1, (b0, b1), d0, d1, d2: each k rows of n */
    size_t nbuf = sq ? 5 : 7;
    uint64_t *buf = cn_alloc(nbuf * k * n, sizeof *buf);
    if (!buf)
        return CN_ERR_NO_MEMORY;
    uint64_t *a0 = buf, *a1 = a0 + k * n, *b0 = sq ? a0 : a1 + k * n,
             *b1 = sq ? a1 : b0 + k * n;
    uint64_t *d0 = (sq ? a1 : b1) + k * n, *d1 = d0 + k * n, *d2 = d1 + k * n;
    lift(a0, &a->c[0], ctx);
    lift(a1, &a->c[1], ctx);
    if (!sq) {
        lift(b0, &b->c[0], ctx);
        lift(b1, &b->c[1], ctx);
    }
    /* one prime at a time, so that its rows stay in cache from the forward transforms
     * through the tensor to the inverse transforms: the lazy forward outputs in [0, 4p)
     * are what the tensor kernel takes, the lazy inverse outputs in [0, 2p) what the
     * scaling takes */
    for (size_t j = 0; j < k; j++) {
        const cn_ntt_table_t *tb = ext_ntt(ctx, l, j);
        const uint64_t p = tb->mod.p;
        const size_t o = j * n;
        forward_row(a0, &a->c[0], j, n, tb);
        forward_row(a1, &a->c[1], j, n, tb);
        if (!sq) {
            forward_row(b0, &b->c[0], j, n, tb);
            forward_row(b1, &b->c[1], j, n, tb);
        }
        cn_bfv_tensor_row_kernel(p, n)(d0 + o, d1 + o, d2 + o, a0 + o, a1 + o, b0 + o, b1 + o,
                                       n, p, sq);
        cn_ntt_inverse_lazy(d0 + o, tb);
        cn_ntt_inverse_lazy(d1 + o, tb);
        cn_ntt_inverse_lazy(d2 + o, tb);
    }
    if ((st = cn_bfv_ct_reshape(out, 3, drop ? l - 1 : l, ctx)) != CN_OK)
        goto done;
    uint64_t *d[3] = {d0, d1, d2};
    for (int c = 0; c < 3; c++) {
        if (drop)
            cn_mulscale_drop(out->c[c].data, d[c], d[c] + l * n, n, &lv->mul_scale[t_index]);
        else
            cn_mulscale(out->c[c].data, d[c], d[c] + l * n, n, &lv->mul_scale[t_index]);
        out->c[c].form = CN_FORM_COEFF;
    }
    out->t_index = t_index;
    out->transparent = tr;
    out->has_seed = 0;
done:
    free(buf);
    return st;
}

cn_status cn_bfv_mul(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                     const cn_bfv_ciphertext_t *b, const cn_bfv_context_t *ctx)
{
    return tensor(out, a, b, ctx, 0);
}

cn_status cn_bfv_square(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                        const cn_bfv_context_t *ctx)
{
    return tensor(out, a, a, ctx, 0);
}

cn_status cn_bfv_square_mod_switch(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                                   const cn_bfv_context_t *ctx)
{
    return tensor(out, a, a, ctx, 1);
}

cn_status cn_bfv_relinearize(cn_bfv_ciphertext_t *out, const cn_bfv_ciphertext_t *a,
                             const cn_bfv_relin_key_t *rk, const cn_bfv_context_t *ctx)
{
    cn_status st;
    if ((st = cn_bfv_check_ct(a, ctx)) != CN_OK || (st = cn_bfv_check_ksk(rk, ctx)) != CN_OK)
        return st;
    if (a->size == 2)
        return cn_bfv_ciphertext_copy(out, a, ctx);
    const size_t l = a->level, n = ctx->n;
    uint64_t *delta = cn_alloc(2 * l * n, sizeof *delta);
    if (!delta)
        return CN_ERR_NO_MEMORY;
    /* (c0, c1, c2) -> (c0, c1) + KeySwitch(c2 from s^2 to s) */
    if ((st = cn_bfv_keyswitch(delta, delta + l * n, a->c[2].data, l, rk, ctx)) != CN_OK)
        goto done;
    const size_t t_index = a->t_index;
    const int tr = a->transparent;
    if (out != a && (st = cn_bfv_ct_reshape(out, 2, l, ctx)) != CN_OK)
        goto done;
    for (int h = 0; h < 2; h++)
        cn_bfv_add_rows(out->c[h].data, a->c[h].data, delta + h * l * n, l, ctx);
    if (out == a)
        st = cn_bfv_ct_reshape(out, 2, l, ctx);
    out->t_index = t_index;
    out->transparent = tr;
    out->has_seed = 0;
done:
    free(delta);
    return st;
}
