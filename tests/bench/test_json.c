/* Tests of the benchmark's JSON reader (bench/json.h): random documents written by the
 * test's own generator read back to the generator's tree (numbers exactly, strings with
 * escapes), every truncation refused, random byte mutations read or refused without a
 * crash (the suite also runs under ASan/UBSan), the depth limit, and hand-made invalid
 * documents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "../../bench/json.h"

/* The generator's tree is a jv too, built directly (not by the parser). */
static void gen(jv *v, cn_test_rng_t *r, int depth)
{
    memset(v, 0, sizeof *v);
    const unsigned kind = (unsigned)cn_test_rng_below(r, depth > 4 ? 4 : 6);
    switch (kind) {
    case 0:
        v->k = J_NULL;
        break;
    case 1:
        v->k = J_BOOL;
        v->num = (double)cn_test_rng_below(r, 2);
        break;
    case 2: {
        v->k = J_NUM;
        const uint64_t u = cn_test_rng_next(r);
        v->num = u % 3 == 0   ? (double)(int64_t)(u >> 20) * (u & 1 ? -1 : 1)
                 : u % 3 == 1 ? ldexp((double)(u >> 11), -(int)(u % 80))
                              : -(double)(u % 1000) / 7;
        break;
    }
    case 3: {
        v->k = J_STR;
        const size_t len = cn_test_rng_below(r, 12);
        v->str = malloc(len + 1);
        static const char alpha[] = "ab Z09\"\\/\n\t:{}[],";
        for (size_t i = 0; i < len; i++)
            v->str[i] = alpha[cn_test_rng_below(r, sizeof alpha - 1)];
        v->str[len] = 0;
        break;
    }
    default: {
        v->k = kind == 4 ? J_ARR : J_OBJ;
        v->n = cn_test_rng_below(r, 5);
        v->items = calloc(v->n ? v->n : 1, sizeof *v->items);
        if (v->k == J_OBJ)
            v->keys = calloc(v->n ? v->n : 1, sizeof *v->keys);
        for (size_t i = 0; i < v->n; i++) {
            if (v->k == J_OBJ) {
                v->keys[i] = malloc(48);
                snprintf(v->keys[i], 48, "k%zu_%u", i, (unsigned)cn_test_rng_below(r, 100));
            }
            gen(&v->items[i], r, depth + 1);
        }
    }
    }
}

typedef struct {
    char *b;
    size_t len, cap;
} sbuf;

static void put(sbuf *s, const char *t)
{
    const size_t l = strlen(t);
    if (s->len + l + 1 > s->cap) {
        s->cap = 2 * (s->len + l + 1);
        s->b = realloc(s->b, s->cap);
        ck_assert_ptr_nonnull(s->b);
    }
    memcpy(s->b + s->len, t, l + 1);
    s->len += l;
}

static void put_str(sbuf *s, const char *t)
{
    put(s, "\"");
    for (; *t; t++) {
        char e[8] = {*t, 0};
        if (*t == '"' || *t == '\\')
            snprintf(e, sizeof e, "\\%c", *t);
        else if (*t == '\n')
            snprintf(e, sizeof e, "\\n");
        else if (*t == '\t')
            snprintf(e, sizeof e, "\\t");
        else if (*t == '/')
            snprintf(e, sizeof e, "\\/");
        put(s, e);
    }
    put(s, "\"");
}

static void ws(sbuf *s, cn_test_rng_t *r)
{
    static const char *w[] = {"", "", " ", "\n  ", "\t"};
    put(s, w[cn_test_rng_below(r, 5)]);
}

static void ser(sbuf *s, const jv *v, cn_test_rng_t *r)
{
    char num[64];
    switch (v->k) {
    case J_NULL: put(s, "null"); break;
    case J_BOOL: put(s, v->num ? "true" : "false"); break;
    case J_NUM:
        snprintf(num, sizeof num, "%.17g", v->num);
        put(s, num);
        break;
    case J_STR: put_str(s, v->str); break;
    case J_ARR:
    case J_OBJ:
        put(s, v->k == J_ARR ? "[" : "{");
        for (size_t i = 0; i < v->n; i++) {
            ws(s, r);
            if (v->k == J_OBJ) {
                put_str(s, v->keys[i]);
                ws(s, r);
                put(s, ":");
                ws(s, r);
            }
            ser(s, &v->items[i], r);
            ws(s, r);
            if (i + 1 < v->n)
                put(s, ",");
        }
        put(s, v->k == J_ARR ? "]" : "}");
        break;
    }
}

static void same(const jv *a, const jv *b)
{
    ck_assert_int_eq(a->k, b->k);
    if (a->k == J_NUM || a->k == J_BOOL)
        ck_assert_msg(a->num == b->num, "number %.17g read as %.17g", a->num, b->num);
    if (a->k == J_STR)
        ck_assert_str_eq(a->str, b->str);
    if (a->k == J_ARR || a->k == J_OBJ) {
        ck_assert_uint_eq(a->n, b->n);
        for (size_t i = 0; i < a->n; i++) {
            if (a->k == J_OBJ)
                ck_assert_str_eq(a->keys[i], b->keys[i]);
            same(&a->items[i], &b->items[i]);
        }
    }
}

START_TEST(test_json_round_trip)
{
    cn_test_rng_t r;
    cn_test_rng_init(&r, 701);
    char err[160];
    for (int doc = 0; doc < 300; doc++) {
        jv want;
        do
            gen(&want, &r, 0);
        while (want.k != J_OBJ && (jfree(&want), 1));
        sbuf s = {0};
        ser(&s, &want, &r);
        jv got;
        ck_assert_msg(jparse(&got, s.b, s.len, err, sizeof err) == 0, "%s: %s", s.b, err);
        same(&want, &got);
        jfree(&got);
        /* every strict prefix of an object is refused */
        for (size_t l = 0; l < s.len; l++) {
            ck_assert_int_ne(jparse(&got, s.b, l, err, sizeof err), 0);
            ck_assert_ptr_null(got.items);
        }
        /* mutations: read or refused, never a crash or a leak (ASan) */
        for (int m = 0; m < 50 && s.len; m++) {
            char *c = malloc(s.len);
            memcpy(c, s.b, s.len);
            const size_t at = cn_test_rng_below(&r, s.len);
            c[at] = (char)cn_test_rng_below(&r, 256);
            if (jparse(&got, c, s.len, err, sizeof err) == 0)
                jfree(&got);
            free(c);
        }
        free(s.b);
        jfree(&want);
    }
}
END_TEST

START_TEST(test_json_invalid)
{
    static const char *bad[] = {"",         "{",         "}",          "{\"a\" 1}",
                                "{\"a\":}", "{,}",       "[1,]",       "[1 2]",
                                "{\"a\":1}x", "\"ab",    "\"a\\q\"",   "\"a\nb\"",
                                "tru",      "nul",       "-",          "1.2.3",
                                "+1",       "[\"\\u12\"]", "{1:2}",    "[[[]]"};
    char err[160];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jv v;
        ck_assert_msg(jparse(&v, bad[i], strlen(bad[i]), err, sizeof err) != 0,
                      "accepted: %s", bad[i]);
        ck_assert_msg(strstr(err, "not JSON at byte") != NULL, "%s", err);
    }
    /* the depth limit: 32 nested arrays read, 40 refused */
    char deep[128];
    for (int depth = 32; depth <= 40; depth += 8) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        jv v;
        const int rc = jparse(&v, deep, 2 * (size_t)depth, err, sizeof err);
        if (depth == 32) {
            ck_assert_int_eq(rc, 0);
            jfree(&v);
        } else {
            ck_assert_int_ne(rc, 0);
            ck_assert_msg(strstr(err, "deep") != NULL, "%s", err);
        }
    }
    /* lookups on what is there and what is not */
    const char *doc = "{\"x\": 2.5, \"s\": \"t\", \"b\": true, \"o\": {\"y\": -1e3}}";
    jv v;
    ck_assert_int_eq(jparse(&v, doc, strlen(doc), err, sizeof err), 0);
    ck_assert(jnum(&v, "x", 0) == 2.5);
    ck_assert(jnum(&v, "b", 0) == 1);
    ck_assert(jnum(jget(&v, "o"), "y", 0) == -1000);
    ck_assert(jnum(&v, "missing", 7) == 7);
    ck_assert(jnum(&v, "s", 7) == 7);
    ck_assert_str_eq(jstr(&v, "s"), "t");
    ck_assert_str_eq(jstr(&v, "x"), "");
    ck_assert_ptr_null(jget(jget(&v, "x"), "y"));
    jfree(&v);
}
END_TEST

CN_SUITE(json)
{
    Suite *s = suite_create("json");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_json_round_trip);
    tcase_add_test(tc, test_json_invalid);
    suite_add_tcase(s, tc);
    return s;
}
