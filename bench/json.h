/* bench/json.h: a small JSON reader for the benchmark's own files (bench/report and its
 * test): recursive descent over RFC 8259 values with a depth limit; \u escapes become
 * '?'. Header-only (static functions) because bench/ holds one program per .c file. */
#ifndef CN_BENCH_JSON_H
#define CN_BENCH_JSON_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;

typedef struct jv {
    jkind k;
    double num;         /* J_NUM, J_BOOL */
    char *str;          /* J_STR */
    size_t n;           /* J_ARR, J_OBJ: items */
    struct jv *items;
    char **keys;        /* J_OBJ */
} jv;

typedef struct {
    const char *s, *end;
    const char *err;
    size_t at;
} jparser;

static void jfree(jv *v)
{
    if (!v)
        return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        jfree(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

static void jws(jparser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t'))
        p->s++;
}

static int jfail(jparser *p, const char *why, const char *start)
{
    if (!p->err) {
        p->err = why;
        p->at = (size_t)(p->s - start);
    }
    return -1;
}

static int jvalue(jparser *p, jv *v, int depth, const char *start);

static int jstring(jparser *p, char **out, const char *start)
{
    p->s++; /* opening quote */
    size_t cap = 16, len = 0;
    char *b = malloc(cap);
    if (!b)
        return jfail(p, "out of memory", start);
    while (p->s < p->end && *p->s != '"') {
        char c = *p->s++;
        if ((unsigned char)c < 0x20) {
            free(b);
            return jfail(p, "control character in a string", start);
        }
        if (c == '\\') {
            if (p->s >= p->end)
                break;
            const char e = *p->s++;
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case '"': case '\\': case '/': c = e; break;
            case 'u':
                /* kept as '?': the benchmark's files are ASCII */
                if (p->end - p->s < 4) {
                    free(b);
                    return jfail(p, "bad \\u escape", start);
                }
                p->s += 4;
                c = '?';
                break;
            default:
                free(b);
                return jfail(p, "bad escape", start);
            }
        }
        if (len + 2 > cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                return jfail(p, "out of memory", start);
            }
            b = nb;
        }
        b[len++] = c;
    }
    if (p->s >= p->end) {
        free(b);
        return jfail(p, "unterminated string", start);
    }
    p->s++;
    b[len] = 0;
    *out = b;
    return 0;
}

static int jpush(jparser *p, jv *v, const char *start)
{
    if ((v->n & (v->n - 1)) == 0) { /* grow at powers of two */
        const size_t cap = v->n ? 2 * v->n : 1;
        jv *ni = realloc(v->items, cap * sizeof *ni);
        if (!ni)
            return jfail(p, "out of memory", start);
        v->items = ni;
        if (v->k == J_OBJ) {
            char **nk = realloc(v->keys, cap * sizeof *nk);
            if (!nk)
                return jfail(p, "out of memory", start);
            v->keys = nk;
        }
    }
    memset(&v->items[v->n], 0, sizeof v->items[v->n]);
    if (v->k == J_OBJ)
        v->keys[v->n] = NULL;
    v->n++;
    return 0;
}

static int jvalue(jparser *p, jv *v, int depth, const char *start)
{
    memset(v, 0, sizeof *v);
    if (depth > 32)
        return jfail(p, "nested too deeply", start);
    jws(p);
    if (p->s >= p->end)
        return jfail(p, "unexpected end", start);
    const char c = *p->s;
    if (c == '{' || c == '[') {
        v->k = c == '{' ? J_OBJ : J_ARR;
        p->s++;
        jws(p);
        if (p->s < p->end && *p->s == (c == '{' ? '}' : ']')) {
            p->s++;
            return 0;
        }
        for (;;) {
            if (jpush(p, v, start))
                return -1;
            if (v->k == J_OBJ) {
                jws(p);
                if (p->s >= p->end || *p->s != '"')
                    return jfail(p, "expected a key", start);
                if (jstring(p, &v->keys[v->n - 1], start))
                    return -1;
                jws(p);
                if (p->s >= p->end || *p->s != ':')
                    return jfail(p, "expected ':'", start);
                p->s++;
            }
            if (jvalue(p, &v->items[v->n - 1], depth + 1, start))
                return -1;
            jws(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == (c == '{' ? '}' : ']')) {
                p->s++;
                return 0;
            }
            return jfail(p, "expected ',' or a closing bracket", start);
        }
    }
    if (c == '"') {
        v->k = J_STR;
        return jstring(p, &v->str, start);
    }
    static const char *lit[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        const size_t l = strlen(lit[i]);
        if ((size_t)(p->end - p->s) >= l && !memcmp(p->s, lit[i], l)) {
            p->s += l;
            v->k = i == 2 ? J_NULL : J_BOOL;
            v->num = i == 0;
            return 0;
        }
    }
    if (c == '-' || isdigit((unsigned char)c)) {
        char buf[64];
        size_t l = 0;
        while (p->s + l < p->end && l < sizeof buf - 1 &&
               (isdigit((unsigned char)p->s[l]) || strchr("+-.eE", p->s[l])))
            l++;
        memcpy(buf, p->s, l);
        buf[l] = 0;
        char *e;
        v->num = strtod(buf, &e);
        if (e != buf + l || l == 0)
            return jfail(p, "bad number", start);
        v->k = J_NUM;
        p->s += l;
        return 0;
    }
    return jfail(p, "unexpected character", start);
}

/* Parses buf[0..len) into *v (free with jfree); on failure returns -1 with the reason and
 * the byte offset in err. */
static int jparse(jv *v, const char *buf, size_t len, char *err, size_t errlen)
{
    jparser p = {buf, buf + len, NULL, 0};
    int rc = jvalue(&p, v, 0, buf);
    if (rc == 0) {
        jws(&p);
        if (p.s != p.end)
            rc = jfail(&p, "trailing characters", buf);
    }
    if (rc) {
        snprintf(err, errlen, "not JSON at byte %zu: %s", p.at, p.err);
        jfree(v);
    }
    return rc;
}

static const jv *jget(const jv *o, const char *key)
{
    if (!o || o->k != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->keys[i], key))
            return &o->items[i];
    return NULL;
}
static double jnum(const jv *o, const char *key, double dflt)
{
    const jv *v = jget(o, key);
    return v && (v->k == J_NUM || v->k == J_BOOL) ? v->num : dflt;
}
static const char *jstr(const jv *o, const char *key)
{
    const jv *v = jget(o, key);
    return v && v->k == J_STR ? v->str : "";
}

#endif
