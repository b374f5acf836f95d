/* The step the model, plan and client-state loaders share (net/bytes.c cn_net_body_open):
 * the frame, then the body's magic and u16 major, u16 minor version. Bodies written by
 * hand, framed with cn_io_frame_seal (or, for format-1 files, followed by the FNV-1a of
 * tests/common), go through the three public loaders; each refusal must give its error
 * code and say why in the same words for all three. */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"

typedef struct {
    const char *what; /* as the messages name it */
    const char *magic;
    unsigned type;
    int format1; /* files of format 1 (magic first, FNV-1a trailer) are still read */
} kind_t;

static const kind_t KINDS[3] = {{"model", "CNMD", CN_IO_EXTERNAL_TYPE + 0, 1},
                                {"plan", "CNPL", CN_IO_EXTERNAL_TYPE + 1, 1},
                                {"client state", "CNCS", CN_IO_EXTERNAL_TYPE + 2, 0}};

/* a plan for the client-state loader (not reached by these bodies) */
static cn_plan_t *small_plan(void)
{
    cn_model_t m;
    cn_net_diag_t d;
    const double w[4] = {0.5, -0.25, 0.75, 1}, b[2] = {0, 0.5};
    ck_assert_int_eq(cn_model_init(&m, 1, 1, 2, 1, 0, 3), CN_OK);
    ck_assert_int_eq(cn_model_add_dense(&m, 2, w, b, &d), CN_OK);
    cn_compile_opts_t o = {.weight_bits = 4, .n = 2048, .security = CN_SEC_NONE_INSECURE};
    cn_plan_t *p;
    ck_assert_msg(cn_plan_compile(&p, &m, &o, &d) == CN_OK, "%s", d.msg);
    cn_model_clear(&m);
    return p;
}

/* loads buf with the loader of kind k; the result's memory is released */
static cn_status load(const kind_t *k, const cn_plan_t *plan, const uint8_t *buf, size_t len,
                      cn_net_diag_t *d)
{
    cn_status st;
    if (k->type == CN_IO_EXTERNAL_TYPE + 0) {
        cn_model_t m;
        st = cn_model_from_bytes(&m, buf, len, d);
        if (st == CN_OK)
            cn_model_clear(&m);
    } else if (k->type == CN_IO_EXTERNAL_TYPE + 1) {
        cn_plan_t *p;
        st = cn_plan_from_bytes(&p, buf, len, 1, d);
        if (st == CN_OK)
            cn_plan_free(p);
    } else {
        cn_client_t *c;
        st = cn_client_from_bytes(&c, plan, buf, len, d);
        if (st == CN_OK)
            cn_client_free(c);
    }
    return st;
}

/* the frame of type around body[0, blen) in out; returns its length */
static size_t frame(uint8_t *out, unsigned type, const uint8_t *body, size_t blen)
{
    memset(out, 0, CN_IO_HEADER_BYTES);
    memcpy(out + CN_IO_HEADER_BYTES, body, blen);
    const size_t len = CN_IO_HEADER_BYTES + blen + CN_IO_TRAILER_BYTES;
    ck_assert_int_eq(cn_io_frame_seal(out, len, type, 1, 0), CN_OK);
    return len;
}

/* magic, then u16 major and u16 minor, little-endian, then 8 zero bytes */
static size_t body_of(uint8_t *b, const char *magic, unsigned major, unsigned minor)
{
    memcpy(b, magic, 4);
    b[4] = (uint8_t)major;
    b[5] = (uint8_t)(major >> 8);
    b[6] = (uint8_t)minor;
    b[7] = (uint8_t)(minor >> 8);
    memset(b + 8, 0, 8);
    return 16;
}

static void expect(const kind_t *k, const cn_plan_t *plan, const uint8_t *buf, size_t len,
                   cn_status want, const char *msg)
{
    cn_net_diag_t d = {{0}};
    const cn_status st = load(k, plan, buf, len, &d);
    ck_assert_msg(st == want, "%s: %s (want %s): %s", k->what, cn_strerror(st),
                  cn_strerror(want), d.msg);
    ck_assert_msg(strcmp(d.msg, msg) == 0, "%s: \"%s\", want \"%s\"", k->what, d.msg, msg);
}

START_TEST(test_body_open)
{
    cn_plan_t *plan = small_plan();
    uint8_t body[16], buf[CN_IO_HEADER_BYTES + 16 + CN_IO_TRAILER_BYTES];
    char msg[160];
    for (size_t i = 0; i < 3; i++) {
        const kind_t *k = &KINDS[i];
        /* another magic */
        body_of(body, "XXXX", 1, 0);
        size_t len = frame(buf, k->type, body, 16);
        snprintf(msg, sizeof msg, "not a cryptonets %s (bad magic)", k->what);
        expect(k, plan, buf, len, CN_ERR_FORMAT, msg);
        /* a newer major version, and major 0 */
        body_of(body, k->magic, 2, 3);
        len = frame(buf, k->type, body, 16);
        snprintf(msg, sizeof msg, "%s format version 2.3; this library reads 1.x", k->what);
        expect(k, plan, buf, len, CN_ERR_VERSION, msg);
        body_of(body, k->magic, 0, 7);
        len = frame(buf, k->type, body, 16);
        snprintf(msg, sizeof msg, "%s format version 0.7; this library reads 1.x", k->what);
        expect(k, plan, buf, len, CN_ERR_FORMAT, msg);
        /* bodies shorter than magic and version, whole frames around them */
        for (size_t blen = 0; blen < 8; blen++) {
            body_of(body, k->magic, 1, 0);
            len = frame(buf, k->type, body, blen);
            snprintf(msg, sizeof msg, "%s: truncated header (%zu bytes)", k->what, len);
            expect(k, plan, buf, len, CN_ERR_TRUNCATED, msg);
        }
        /* the frame of another kind, named by docs/format.md's names of the codes (0x100
         * model file, 0x101 plan, 0x102 client state) */
        static const char *const named[3] = {"a model", "a plan",
                                             "a client state (a client's secret key)"};
        const kind_t *other = &KINDS[(i + 1) % 3];
        body_of(body, other->magic, 1, 0);
        len = frame(buf, other->type, body, 16);
        ck_assert_uint_eq(other->type, 0x100 + (i + 1) % 3);
        snprintf(msg, sizeof msg, "%s: the bytes are %s (type 0x%x), not a %s", k->what,
                 named[(i + 1) % 3], other->type, k->what);
        expect(k, plan, buf, len, CN_ERR_FORMAT, msg);
        /* a file of format 1: the body, then the FNV-1a of it */
        body_of(buf, k->magic, 2, 0);
        const uint64_t h = cn_test_fnv1a64(buf, 16);
        for (int j = 0; j < 8; j++)
            buf[16 + j] = (uint8_t)(h >> (8 * j));
        if (k->format1) {
            snprintf(msg, sizeof msg, "%s format version 2.0; this library reads 1.x", k->what);
            expect(k, plan, buf, 24, CN_ERR_VERSION, msg);
        } else { /* no such files: read as a frame, whose 32-byte header is not all there */
            snprintf(msg, sizeof msg,
                     "%s: truncated (24 bytes, shorter than the 32-byte header)", k->what);
            expect(k, plan, buf, 24, CN_ERR_TRUNCATED, msg);
        }
    }
    cn_plan_free(plan);
}
END_TEST

CN_SUITE(net_body)
{
    Suite *s = suite_create("net_body");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_body_open);
    suite_add_tcase(s, tc);
    return s;
}
