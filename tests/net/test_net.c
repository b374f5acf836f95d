/* Tests of net/: linear kernels against exact 128-bit sums, random small networks run
 * encrypted against the plaintext integer network (every slot, one and several plaintext
 * moduli, partial batches), the noise estimate against the measured budget, range
 * soundness at extreme inputs, model files (round trip, every truncation, bit flips,
 * forged shapes and NaN weights), and the server's refusal of secret keys. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/net_fixture.h"
#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "../../net/net_internal.h"

static double rnd_pm1(cn_test_rng_t *r)
{
    return (double)(cn_test_rng_next(r) >> 11) * 0x1p-52 * 2 - 1;
}

/* kernels: portable and dispatched against sum w x computed exactly in 128 bits */
START_TEST(test_kernels)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 501);
    const unsigned bits[] = {30, 45, 49, 50, 60};
    const size_t len = 256, nin = 40, nout = 7;
    for (size_t bi = 0; bi < 5; bi++) {
        for (int mode = 0; mode < 4; mode++) {
            const int big = mode & 1, dense = mode >> 1; /* dense: every row complete */
            uint64_t p;
            ck_assert_int_eq(cn_primes_ntt(&p, 1, bits[bi], 64, NULL, 0, 1), CN_OK);
            cn_mod_t m;
            ck_assert_int_eq(cn_mod_init(&m, p), CN_OK);
            cn_lin_t l = {0};
            l.nin = nin;
            l.nout = nout;
            l.row = calloc(nout + 1, sizeof *l.row);
            l.col = malloc(nin * nout * sizeof *l.col);
            l.w = malloc(nin * nout * sizeof *l.w);
            l.bias = calloc(nout, sizeof *l.bias);
            size_t k = 0;
            for (size_t j = 0; j < nout; j++) {
                l.row[j] = k;
                for (size_t i = 0; i < nin; i++) {
                    if (!dense && j % 2 && cn_test_rng_below(&r, 3) == 0)
                        continue; /* sparse rows on odd outputs, empty-ish possible */
                    /* big: |w| up to 2^31 - 1 so blocks of few terms are exercised */
                    const uint64_t lim = big ? ((uint64_t)1 << 31) - 1 : 31;
                    int64_t w = (int64_t)cn_test_rng_below(&r, lim + 1);
                    if (cn_test_rng_below(&r, 2))
                        w = -w;
                    l.col[k] = (uint32_t)i;
                    l.w[k++] = w;
                    if ((uint64_t)(w < 0 ? -w : w) > l.wmax)
                        l.wmax = (uint64_t)(w < 0 ? -w : w);
                }
            }
            l.row[nout] = k;
            ck_assert_int_eq(cn_lin_partition(&l), CN_OK);
            ck_assert_int_eq(l.dense, dense);
            uint64_t **x = malloc(nin * sizeof *x), **o1 = malloc(nout * sizeof *o1),
                     **o2 = malloc(nout * sizeof *o2);
            for (size_t i = 0; i < nin; i++) {
                x[i] = malloc(len * sizeof **x);
                for (size_t c = 0; c < len; c++)
                    x[i][c] = c < 3 ? p - 1 : cn_test_rng_below(&r, p); /* extremes too */
            }
            for (size_t j = 0; j < nout; j++) {
                o1[j] = malloc(len * sizeof **o1);
                o2[j] = malloc(len * sizeof **o2);
            }
            uint64_t *wm = malloc((k ? k : 1) * sizeof *wm);
            for (size_t kk = 0; kk < k; kk++)
                wm[kk] = cn_mod_from_int64(l.w[kk], m);
            cn_lin_apply_portable(o1, (const uint64_t *const *)x, &l, wm, 0, nout, 0, len, m);
            cn_lin_kernel(p, NULL)(o2, (const uint64_t *const *)x, &l, wm, 0, nout, 0, len, m);
            free(wm);
            for (size_t j = 0; j < nout; j++)
                for (size_t c = 0; c < len; c++) {
                    cn_int128 s = 0;
                    for (size_t kk = l.row[j]; kk < l.row[j + 1]; kk++)
                        s += (cn_int128)l.w[kk] * (cn_int128)x[l.col[kk]][c];
                    cn_int128 e = s % (cn_int128)p;
                    if (e < 0)
                        e += p;
                    ck_assert_msg(o1[j][c] == (uint64_t)e && o2[j][c] == (uint64_t)e,
                                  "kernel mismatch p=%llu j=%zu c=%zu", (unsigned long long)p,
                                  j, c);
                }
            for (size_t i = 0; i < nin; i++)
                free(x[i]);
            for (size_t j = 0; j < nout; j++) {
                free(o1[j]);
                free(o2[j]);
            }
            free(x);
            free(o1);
            free(o2);
            cn_lin_clear(&l);
        }
    }
}
END_TEST

/* A random model: (c, h, w) input in [0, 15], conv (maybe), square, pool (maybe), dense,
 * square, dense; weights in [-1, 1] with zeros. */
static void random_model(cn_model_t *m, cn_test_rng_t *r, int variant)
{
    cn_net_diag_t d;
    const size_t c = 1 + cn_test_rng_below(r, 2), h = 4 + cn_test_rng_below(r, 4),
                 w = 4 + cn_test_rng_below(r, 4);
    ck_assert_int_eq(cn_model_init(m, c, h, w, 1.0 / 15, 0, 15), CN_OK);
    double *buf = malloc(4096 * sizeof *buf), b[64];
    for (size_t i = 0; i < 4096; i++)
        buf[i] = cn_test_rng_below(r, 5) == 0 ? 0 : rnd_pm1(r);
    for (size_t i = 0; i < 64; i++)
        b[i] = rnd_pm1(r);
    if (variant != 1) {
        const size_t maps = 1 + cn_test_rng_below(r, 3), k = 2 + cn_test_rng_below(r, 2);
        /* stride 1 before a pool, so the 2x2 window fits */
        const size_t stride = variant == 2 ? 1 : 1 + cn_test_rng_below(r, 2);
        ck_assert_int_eq(
            cn_model_add_conv2d(m, maps, k, k, stride, cn_test_rng_below(r, 2), buf, b, &d),
            CN_OK);
        ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
        if (variant == 2)
            ck_assert_int_eq(cn_model_add_pool(m, 2, 2, 1, 0.25, &d), CN_OK);
        ck_assert_int_eq(cn_model_add_flatten(m, &d), CN_OK);
    }
    const size_t h1 = 2 + cn_test_rng_below(r, 6);
    ck_assert(cn_model_outputs(m) * h1 <= 4096);
    ck_assert_int_eq(cn_model_add_dense(m, h1, buf, b, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_square(m, &d), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(m, 2 + cn_test_rng_below(r, 4), buf + 100, b + 3, &d),
                     CN_OK);
    free(buf);
}

/* Runs plan p encrypted on count random inputs (the server on two threads); checks every
 * output of every slot against the integer network, the measured budget against the
 * estimate, and the refusal of insecure parameters, bad batches and out-of-range inputs. */
static void run_encrypted(const cn_plan_t *p, size_t count, cn_test_rng_t *r)
{
    const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)cn_test_rng_below(r, 16);
    cn_int128 *ref = malloc(count * nout * sizeof *ref),
              *got = malloc(count * nout * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, p, x, count), CN_OK);
    /* the plan's insecure parameters are refused unless allowed (the fixture allows them) */
    uint8_t *pb;
    size_t pl;
    cn_plan_t *sp;
    cn_net_diag_t d;
    ck_assert_int_eq(cn_plan_to_bytes(&pb, &pl, p), CN_OK);
    ck_assert_int_eq(cn_plan_from_bytes(&sp, pb, pl, 0, &d), CN_ERR_INSECURE);
    free(pb);
    cn_test_net_t t;
    int bud;
    cn_test_net_open(&t, p, count, 2);
    cn_test_net_run(&t, got, &bud, x, count);
    for (size_t i = 0; i < count * nout; i++)
        ck_assert_msg(got[i] == ref[i], "slot %zu output %zu: decrypted %lld, integer %lld",
                      i / nout, i % nout, (long long)got[i], (long long)ref[i]);
    ck_assert_msg(bud >= floor(cn_plan_output_budget(p)),
                  "measured budget %d below the estimate %.1f", bud, cn_plan_output_budget(p));
    /* a truncated or mismatched batch is refused, not evaluated */
    uint8_t *bad;
    size_t bl;
    ck_assert_int_ne(cn_server_eval(&bad, &bl, t.server, t.up, t.up_len - 1, NULL, NULL),
                     CN_OK);
    ck_assert_int_ne(cn_server_eval(&bad, &bl, t.server, t.down, t.down_len, NULL, NULL),
                     CN_OK);
    ck_assert_int_ne(cn_client_decrypt(got, t.client, t.up, t.up_len, count, NULL), CN_OK);
    /* inputs outside the model's range are refused */
    x[0] = 16;
    ck_assert_int_eq(cn_client_encrypt(&bad, &bl, t.client, x, count, NULL),
                     CN_ERR_OUT_OF_RANGE);
    cn_test_net_close(&t);
    free(x);
    free(ref);
    free(got);
}

START_TEST(test_random_nets)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 502 + (uint64_t)_i);
    cn_model_t m;
    random_model(&m, &r, _i % 3);
    cn_compile_opts_t o = {0};
    o.weight_bits = 3 + (unsigned)cn_test_rng_below(&r, 4);
    o.n = 2048;
    o.security = CN_SEC_NONE_INSECURE;
    if (_i >= 3)
        o.t_bits = 20; /* several plaintext moduli */
    cn_plan_t *p;
    cn_net_diag_t d;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
    if (_i >= 3)
        ck_assert_uint_ge(cn_plan_params(p)->nt, 2);
    run_encrypted(p, 1 + cn_test_rng_below(&r, 2048), &r);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* the range bound holds at inputs chosen to reach it, and the bound is reached */
START_TEST(test_ranges)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 503);
    cn_model_t m;
    random_model(&m, &r, 1); /* dense, square, dense */
    cn_compile_opts_t o = {0};
    o.weight_bits = 6;
    o.n = 2048;
    o.security = CN_SEC_NONE_INSECURE;
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, NULL), CN_OK);
    const size_t nin = cn_plan_inputs(p), nout = cn_plan_outputs(p);
    /* first layer: each hidden unit's extreme comes from x_i = max where w > 0 */
    const cn_lin_t *l = &p->ops[0].lin;
    ck_assert_int_eq(p->ops[0].kind, CN_OP_LINEAR);
    int64_t *x = calloc(nin, sizeof *x);
    cn_int128 *out = malloc(nout * sizeof *out);
    double reached = 0;
    for (size_t j = 0; j < l->nout; j++) {
        for (int sign = 0; sign < 2; sign++) {
            memset(x, 0, nin * sizeof *x);
            for (size_t k = l->row[j]; k < l->row[j + 1]; k++)
                x[l->col[k]] = ((l->w[k] > 0) ^ sign) ? 15 : 0;
            ck_assert_int_eq(cn_plan_eval_plain(out, p, x, 1), CN_OK);
            for (size_t i = 0; i < nout; i++) {
                const double a = fabs((double)out[i]);
                ck_assert(a <= exp2(p->out_bound_bits) * (1 + 1e-9));
                if (a > reached)
                    reached = a;
            }
        }
    }
    ck_assert(reached > 0);
    free(x);
    free(out);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

START_TEST(test_model_files)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 504);
    cn_model_t m, m2;
    random_model(&m, &r, 2);
    uint8_t *b, *b2;
    size_t len, len2;
    ck_assert_int_eq(cn_model_to_bytes(&b, &len, &m), CN_OK);
    cn_net_diag_t d;
    ck_assert_int_eq(cn_model_from_bytes(&m2, b, len, &d), CN_OK);
    ck_assert_int_eq(cn_model_to_bytes(&b2, &len2, &m2), CN_OK);
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(b, b2, len) == 0);
    free(b2);
    cn_model_clear(&m2);
    /* every truncation and every padding is refused */
    for (size_t cut = 0; cut < len; cut++) {
        ck_assert_int_ne(cn_model_from_bytes(&m2, b, cut, &d), CN_OK);
        ck_assert(d.msg[0] != 0);
    }
    uint8_t *pad = malloc(len + 1);
    memcpy(pad, b, len);
    pad[len] = 0;
    ck_assert_int_ne(cn_model_from_bytes(&m2, pad, len + 1, &d), CN_OK);
    free(pad);
    /* bit flips: refused (checksum), or, resealed, refused or a valid model */
    for (int it = 0; it < 400; it++) {
        uint8_t *c = malloc(len);
        memcpy(c, b, len);
        const size_t bit = cn_test_rng_below(&r, len * 8);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_ne(cn_model_from_bytes(&m2, c, len, &d), CN_OK);
        cn_test_reseal_net(c, len);
        if (cn_model_from_bytes(&m2, c, len, &d) == CN_OK) {
            /* accepted: a valid model whose encoding is exactly these bytes (but for the
             * minor version, which the writer sets, and so the checksum) */
            uint8_t *b3;
            size_t len3;
            ck_assert_int_eq(cn_model_to_bytes(&b3, &len3, &m2), CN_OK);
            ck_assert_uint_eq(len3, len);
            ck_assert(memcmp(b3, c, 6) == 0 && memcmp(b3 + 8, c + 8, len - 16) == 0);
            free(b3);
            cn_model_clear(&m2);
        }
        free(c);
    }
    /* NaN weight, resealed: refused with the layer named */
    uint8_t *c = malloc(len);
    memcpy(c, b, len);
    const double nan = NAN;
    memcpy(c + len - 16, &nan, 8); /* the last bias */
    cn_test_reseal_net(c, len);
    ck_assert_int_eq(cn_model_from_bytes(&m2, c, len, &d), CN_ERR_INVALID_ARG);
    ck_assert(strstr(d.msg, "layer") != NULL);
    /* newer major version */
    memcpy(c, b, len);
    c[4] = 2;
    cn_test_reseal_net(c, len);
    ck_assert_int_eq(cn_model_from_bytes(&m2, c, len, &d), CN_ERR_VERSION);
    /* forged layer count and a huge dense layer: refused, no allocation from the count */
    memcpy(c, b, len);
    c[48] = 0xff;
    cn_test_reseal_net(c, len);
    ck_assert_int_ne(cn_model_from_bytes(&m2, c, len, &d), CN_OK);
    free(c);
    /* shapes that do not fit are refused when building too */
    cn_model_t m3;
    ck_assert_int_eq(cn_model_init(&m3, 1, 4, 4, 1, 0, 1), CN_OK);
    double w[64] = {0}, bb[4] = {0};
    ck_assert_int_eq(cn_model_add_conv2d(&m3, 1, 5, 5, 1, 0, w, bb, &d), CN_ERR_SHAPE_MISMATCH);
    w[3] = INFINITY;
    ck_assert_int_eq(cn_model_add_dense(&m3, 2, w, bb, &d), CN_ERR_INVALID_ARG);
    cn_model_clear(&m3);
    /* a file on disk, and a missing one */
    const char *path = "build/test_model.cnm";
    if (cn_model_save(&m, path, &d) == CN_OK) {
        ck_assert_int_eq(cn_model_load(&m2, path, &d), CN_OK);
        cn_model_clear(&m2);
        remove(path);
    }
    ck_assert_int_eq(cn_model_load(&m2, "/nonexistent/model", &d), CN_ERR_IO);
    ck_assert(strstr(d.msg, "/nonexistent/model") != NULL);
    free(b);
    cn_model_clear(&m);
}
END_TEST

/* plan bytes: round trip, every truncation, bit flips (checksum), and resealed flips
 * either refused or a plan that passes the chain check */
START_TEST(test_plan_bytes)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 507);
    cn_model_t m;
    random_model(&m, &r, 2);
    cn_compile_opts_t o = {.weight_bits = 4, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p, *q;
    cn_net_diag_t d;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, NULL), CN_OK);
    uint8_t *b, *b2;
    size_t len, len2;
    ck_assert_int_eq(cn_plan_to_bytes(&b, &len, p), CN_OK);
    ck_assert_int_eq(cn_plan_from_bytes(&q, b, len, 1, &d), CN_OK);
    ck_assert_int_eq(cn_plan_to_bytes(&b2, &len2, q), CN_OK);
    ck_assert(len == len2 && memcmp(b, b2, len) == 0);
    free(b2);
    cn_plan_free(q);
    /* a plan of format 1 (before the common frame: the body, then FNV-1a) is still read,
     * and is the same plan */
    const size_t body = len - CN_IO_HEADER_BYTES - CN_IO_TRAILER_BYTES;
    uint8_t *old = malloc(body + 8);
    memcpy(old, b + CN_IO_HEADER_BYTES, body);
    cn_test_reseal_net(old, body + 8);
    ck_assert_msg(cn_plan_from_bytes(&q, old, body + 8, 1, &d) == CN_OK, "%s", d.msg);
    ck_assert_int_eq(cn_plan_to_bytes(&b2, &len2, q), CN_OK);
    ck_assert(len == len2 && memcmp(b, b2, len) == 0);
    free(b2);
    free(old);
    cn_plan_free(q);
    for (size_t cut = 0; cut < len; cut += 1 + cut / 64)
        ck_assert_int_ne(cn_plan_from_bytes(&q, b, cut, 1, &d), CN_OK);
    uint8_t *c = malloc(len);
    for (int it = 0; it < 300; it++) {
        memcpy(c, b, len);
        const size_t bit = cn_test_rng_below(&r, len * 8);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        ck_assert_int_ne(cn_plan_from_bytes(&q, c, len, 1, &d), CN_OK);
        cn_test_reseal_net(c, len);
        if (cn_plan_from_bytes(&q, c, len, 1, &d) == CN_OK) {
            ck_assert_int_eq(cn_plan_check(q, NULL), CN_OK);
            cn_plan_free(q);
        }
    }
    /* forged input range (the plan fuzzer's find): INT64_MIN as the minimum, resealed */
    memcpy(c, b, len);
    const size_t off = CN_IO_HEADER_BYTES + 16 + cn_io_size_params(cn_plan_params(p)) + 16;
    for (int i = 0; i < 8; i++)
        c[off + (size_t)i] = i == 7 ? 0x80 : 0;
    cn_test_reseal_net(c, len);
    ck_assert_int_eq(cn_plan_from_bytes(&q, c, len, 1, &d), CN_ERR_FORMAT);
    ck_assert_msg(strstr(d.msg, "input range") != NULL, "%s", d.msg);
    free(c);
    free(b);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* quantization and folding: with 11-bit weights the integer network divided by its output
 * scale is the float network (cn_model_forward, an independent float evaluation of the
 * unfolded layers) to within a small relative error; calibration counts agree with an
 * independent recount */
START_TEST(test_quantization)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 509);
    for (int variant = 0; variant < 3; variant++) {
        cn_model_t m;
        random_model(&m, &r, variant);
        const size_t nin = cn_model_inputs(&m), nout = cn_model_outputs(&m), count = 40;
        int64_t *x = malloc(count * nin * sizeof *x);
        for (size_t i = 0; i < count * nin; i++)
            x[i] = (int64_t)cn_test_rng_below(&r, 16);
        cn_compile_opts_t o = {
            .weight_bits = 11, .n = 2048, .security = CN_SEC_NONE_INSECURE, .t_bits = 40};
        cn_plan_t *p;
        cn_net_diag_t d;
        ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
        if (variant == 2) { /* the pool was folded: the second linear op reads the square */
            size_t lin_seen = 0, nin2 = 0;
            for (size_t i = 0; i < p->nops; i++)
                if (p->ops[i].kind == CN_OP_LINEAR && ++lin_seen == 2)
                    nin2 = p->ops[i].lin.nin;
            ck_assert_uint_eq(lin_seen, 3);
            ck_assert_uint_eq(nin2, m.layers[1].out_c * m.layers[1].out_h * m.layers[1].out_w);
        }
        cn_int128 *io = malloc(count * nout * sizeof *io);
        double *fo = malloc(nout * sizeof *fo);
        ck_assert_int_eq(cn_plan_eval_plain(io, p, x, count), CN_OK);
        for (size_t s = 0; s < count; s++) {
            ck_assert_int_eq(cn_model_forward(fo, &m, x + s * nin), CN_OK);
            double mx = 0;
            for (size_t j = 0; j < nout; j++)
                mx = fmax(mx, fabs(fo[j]));
            for (size_t j = 0; j < nout; j++) {
                const double q = (double)io[s * nout + j] / cn_plan_output_scale(p);
                ck_assert_msg(fabs(q - fo[j]) <= 2e-2 * mx + 1e-9,
                              "variant %d slot %zu output %zu: quantized %g, float %g", variant,
                              s, j, q, fo[j]);
            }
        }
        cn_plan_free(p);
        /* calibration: the compiler's count of argmax differences, recounted here */
        cn_compile_opts_t oc = {.n = 2048,
                                .security = CN_SEC_NONE_INSECURE,
                                .t_bits = 40,
                                .calib = x,
                                .ncalib = count};
        ck_assert_int_eq(cn_plan_compile(&p, &m, &oc, &d), CN_OK);
        ck_assert_uint_ge(p->weight_bits, 2);
        ck_assert_uint_le(p->weight_bits, 16);
        ck_assert_int_eq(cn_plan_eval_plain(io, p, x, count), CN_OK);
        size_t miss = 0;
        for (size_t s = 0; s < count; s++) {
            ck_assert_int_eq(cn_model_forward(fo, &m, x + s * nin), CN_OK);
            size_t bf = 0, bi = 0;
            for (size_t j = 1; j < nout; j++) {
                if (fo[j] > fo[bf])
                    bf = j;
                if (io[s * nout + j] > io[s * nout + bi])
                    bi = j;
            }
            miss += bf != bi;
        }
        ck_assert_uint_eq(miss, cn_plan_calibration_mismatches(p));
        cn_plan_free(p);
        free(io);
        free(fo);
        free(x);
        cn_model_clear(&m);
    }
}
END_TEST

/* check mode: a sound plan passes; a plan with too few plaintext moduli is reported as
 * overflow; one with too little ciphertext modulus as noise, at the op where it fails */
START_TEST(test_check_mode)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 508);
    cn_model_t m;
    random_model(&m, &r, 0);
    const size_t nin = cn_model_inputs(&m), count = 50;
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
    const uint8_t seed[CN_SEED_BYTES] = {88};
    for (int mode = 0; mode < 3; mode++) {
        cn_compile_opts_t o = {.weight_bits = 6, .n = 2048, .security = CN_SEC_NONE_INSECURE};
        if (mode == 1) { /* one 17-bit modulus for outputs of many more bits */
            o.t_bits = 17;
            o.nt = 1;
        } else if (mode == 2) { /* two 30-bit primes: far too little for two squares */
            o.q_bits = 30;
            o.nq = 2;
            o.experimental.allow_undersized = 1;
        }
        cn_plan_t *p;
        cn_net_diag_t d;
        ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "compile: %s", d.msg);
        cn_client_t *c;
        ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
        cn_check_report_t rep;
        ck_assert_int_eq(cn_client_check(&rep, c, x, count), CN_OK);
        if (mode == 0) {
            ck_assert_msg(rep.reason == CN_CHECK_OK && rep.op == 0, "%s", rep.msg);
        } else if (mode == 1) {
            ck_assert_int_eq(cn_plan_wraps(p), 1);
            ck_assert_msg(rep.reason == CN_CHECK_OVERFLOW, "%s", rep.msg);
        } else {
            ck_assert_msg(rep.reason == CN_CHECK_NOISE && rep.op > 0, "%s", rep.msg);
            ck_assert(cn_plan_output_budget(p) < 10);
        }
        cn_client_free(c);
        cn_plan_free(p);
    }
    free(x);
    cn_model_clear(&m);
}
END_TEST

/* encryption and evaluation give the same bytes for any thread count */
START_TEST(test_threads_deterministic)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 506);
    cn_model_t m;
    random_model(&m, &r, 0);
    cn_compile_opts_t o = {.weight_bits = 4, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, NULL), CN_OK);
    const size_t nin = cn_plan_inputs(p), count = 300;
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
    uint8_t *up[2], *down[2], *keys[2];
    size_t ul[2], dl[2], kl[2];
    for (int t = 0; t < 2; t++) {
        const uint8_t seed[CN_SEED_BYTES] = {77};
        cn_client_t *c;
        cn_server_t *s;
        ck_assert_int_eq(cn_client_create(&c, p, seed, CN_RNG_INSECURE_ACK), CN_OK);
        cn_client_set_threads(c, t + 1);
        ck_assert_int_eq(cn_client_eval_keys(&keys[t], &kl[t], c), CN_OK);
        ck_assert_int_eq(cn_server_create(&s, p, keys[t], kl[t], t + 1, NULL), CN_OK);
        ck_assert_int_eq(cn_client_encrypt(&up[t], &ul[t], c, x, count, NULL), CN_OK);
        ck_assert_int_eq(cn_server_eval(&down[t], &dl[t], s, up[t], ul[t], NULL, NULL), CN_OK);
        cn_server_free(s);
        cn_client_free(c);
    }
    ck_assert(ul[0] == ul[1] && memcmp(up[0], up[1], ul[0]) == 0);
    ck_assert(dl[0] == dl[1] && memcmp(down[0], down[1], dl[0]) == 0);
    for (int t = 0; t < 2; t++) {
        free(up[t]);
        free(down[t]);
        free(keys[t]);
    }
    free(x);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

/* the benchmark's baselines compute the same thing: eager relinearization (a relin right
 * after every square) decrypts to the integer network, and the one-ciphertext-at-a-time
 * linear layers give the blocked kernels' reply bytes exactly */
START_TEST(test_baselines)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 507 + (uint64_t)_i);
    cn_model_t m;
    random_model(&m, &r, _i);
    cn_compile_opts_t o = {.weight_bits = 4, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *lazy, *eager;
    ck_assert_int_eq(cn_plan_compile(&lazy, &m, &o, NULL), CN_OK);
    o.experimental.eager_relin = 1;
    ck_assert_int_eq(cn_plan_compile(&eager, &m, &o, NULL), CN_OK);
    size_t relins[2] = {0, 0}, squares = 0;
    for (int e = 0; e < 2; e++) {
        const cn_plan_t *p = e ? eager : lazy;
        for (size_t i = 0; i < p->nops; i++) {
            relins[e] += p->ops[i].kind == CN_OP_RELIN;
            if (e && p->ops[i].kind == CN_OP_SQUARE) {
                squares++;
                ck_assert_msg(i + 1 < p->nops && p->ops[i + 1].kind == CN_OP_RELIN,
                              "eager plan: op %zu (square) not followed by a relin", i + 1);
            }
        }
    }
    ck_assert_uint_eq(relins[1], squares);
    ck_assert_uint_eq(relins[0], squares - 1); /* none after the last square */
    run_encrypted(eager, 1 + cn_test_rng_below(&r, 2048), &r);

    const size_t nin = cn_plan_inputs(lazy), count = 100;
    int64_t *x = malloc(count * nin * sizeof *x);
    for (size_t i = 0; i < count * nin; i++)
        x[i] = (int64_t)cn_test_rng_below(&r, 16);
    cn_int128 *ref = malloc(count * cn_plan_outputs(lazy) * sizeof *ref);
    cn_int128 *got = malloc(count * cn_plan_outputs(lazy) * sizeof *got);
    ck_assert_int_eq(cn_plan_eval_plain(ref, lazy, x, count), CN_OK);
    cn_test_net_t t;
    cn_test_net_open(&t, lazy, 78, 2);
    ck_assert_int_eq(cn_server_set_linear_mode(t.server, (cn_linear_mode)7),
                     CN_ERR_INVALID_ARG);
    /* blocked (the default): decrypts to the integer network */
    cn_test_net_run(&t, got, NULL, x, count);
    ck_assert(memcmp(ref, got, count * cn_plan_outputs(lazy) * sizeof *ref) == 0);
    /* per ciphertext: the same reply, byte for byte */
    uint8_t *down;
    size_t dl;
    ck_assert_int_eq(cn_server_set_linear_mode(t.server, CN_LINEAR_PER_CIPHERTEXT), CN_OK);
    ck_assert_int_eq(cn_server_eval(&down, &dl, t.server, t.up, t.up_len, NULL, NULL), CN_OK);
    ck_assert(dl == t.down_len && memcmp(down, t.down, dl) == 0);
    free(down);
    cn_test_net_close(&t);
    free(ref);
    free(got);
    free(x);
    cn_plan_free(lazy);
    cn_plan_free(eager);
    cn_model_clear(&m);
}
END_TEST

/* the server takes public keys only: secret key bytes are refused */
START_TEST(test_server_refuses_secret_key)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 505);
    cn_model_t m;
    random_model(&m, &r, 0);
    cn_compile_opts_t o = {.weight_bits = 3, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    ck_assert_int_eq(cn_plan_compile(&p, &m, &o, NULL), CN_OK);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, cn_plan_params(p)), CN_OK);
    cn_rng_t rng;
    uint8_t seed[CN_SEED_BYTES] = {5};
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    cn_bfv_secret_key_t sk;
    ck_assert_int_eq(cn_bfv_keygen_secret(&sk, ctx, &rng), CN_OK);
    const size_t sz = cn_io_size_secret_key(&sk, ctx);
    uint8_t *b = malloc(sz);
    size_t w;
    ck_assert_int_eq(cn_io_save_secret_key(b, sz, &w, &sk, ctx), CN_OK);
    cn_server_t *s;
    ck_assert_int_ne(cn_server_create(&s, p, b, w, 1, NULL), CN_OK);
    free(b);
    cn_bfv_secret_key_clear(&sk);
    cn_rng_clear(&rng);
    cn_bfv_context_free(ctx);
    cn_plan_free(p);
    cn_model_clear(&m);
}
END_TEST

CN_SUITE(net)
{
    Suite *s = suite_create("net");
    TCase *tc = cn_tcase("core", 600);
    tcase_add_test(tc, test_kernels);
    tcase_add_loop_test(tc, test_random_nets, 0, 6);
    tcase_add_test(tc, test_ranges);
    tcase_add_test(tc, test_model_files);
    tcase_add_test(tc, test_server_refuses_secret_key);
    tcase_add_test(tc, test_threads_deterministic);
    tcase_add_loop_test(tc, test_baselines, 0, 3);
    tcase_add_test(tc, test_plan_bytes);
    tcase_add_test(tc, test_check_mode);
    tcase_add_test(tc, test_quantization);
    suite_add_tcase(s, tc);
    return s;
}
