/* Input files of the tool (docs/cli.md, "Input files"): rows of raw integers from CSV,
 * IDX (MNIST's format, through cn_idx_load) or NumPy .npy (a strict reader of the format
 * NumPy documents in numpy.lib.format: magic, version, a header dict, C-order data). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

void cli_matrix_clear(cli_matrix_t *m)
{
    if (m->map.p)
        cli_bytes_free(&m->map);
    else
        free(m->v);
    *m = (cli_matrix_t){0};
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A double that is an integer in int64's exactly representable range: 0 and *v set. */
static int integral(int64_t *v, double d)
{
    if (!isfinite(d) || d != floor(d) || fabs(d) > 0x1p53)
        return 1;
    *v = (int64_t)d;
    return 0;
}

/* Notes the first value outside int64 (saturated in the matrix): cli_check_range names it
 * with the range it should be in. where: "line L, column C" or "input I, value J". */
static void note_wide(cli_matrix_t *m, const char *where, const char *text, size_t len)
{
    if (!m->wide[0])
        snprintf(m->wide, sizeof m->wide,
                 len <= 48 ? "%s: %.*s" : "%s: %.*s... (%zu characters)", where,
                 (int)(len <= 48 ? len : 40), text, len);
}

/* --- CSV: one input per line, values separated by commas or tabs ---------------------- */

/* One field (surrounding blanks trimmed): a decimal integer, or a decimal number with a
 * fraction or an exponent whose value is an integer, read exactly (no rounding through a
 * double: "4.9999999999999999" is not 5, "1e18" is 10^18, "000...05" is 5 however many
 * zeros lead). 0 ok, 1 not a number, 2 a number that is not an integer, 3 a hexadecimal
 * number (a CSV of raw inputs is decimal), 4 an integer outside int64 (*v saturated),
 * 6 NaN or an infinity. */
static int parse_field(int64_t *v, const char *s, size_t len)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return 1;
    const char *p = s, *e = s + len;
    const int neg = *p == '-';
    p += *p == '+' || *p == '-';
    if (e - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return 3;
    static const char *const nonfinite[] = {"nan", "inf", "infinity"};
    for (size_t k = 0; k < 3; k++)
        if ((size_t)(e - p) == strlen(nonfinite[k]) &&
            !strncasecmp(p, nonfinite[k], (size_t)(e - p)))
            return 6;
    /* [digits][.digits][(e|E)[sign]digits], at least one mantissa digit: the value is
     * D * 10^x, D the mantissa's digits without leading and trailing zeros */
    const char *d0 = NULL, *d1 = NULL; /* first and last nonzero mantissa digit */
    size_t ndig = 0, frac = 0;         /* mantissa digits; those after the point */
    size_t after_last = 0;             /* digits (all zeros) after d1, up to the point */
    int point = 0;
    for (; p < e && (isdigit((unsigned char)*p) || (*p == '.' && !point)); p++) {
        if (*p == '.') {
            point = 1;
            continue;
        }
        ndig++;
        frac += point;
        if (*p != '0') {
            if (!d0)
                d0 = p;
            d1 = p;
            after_last = 0;
        } else if (d1) {
            after_last++;
        }
    }
    if (!ndig)
        return 1;
    long long x = 0; /* the exponent, clamped to +-10^12 (far past any int64) */
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        const int eneg = p < e && *p == '-';
        p += p < e && (*p == '+' || *p == '-');
        if (p == e)
            return 1;
        for (; p < e && isdigit((unsigned char)*p); p++)
            if (x < 1000000000000LL)
                x = 10 * x + (*p - '0');
        x = eneg ? -x : x;
    }
    if (p != e)
        return 1;
    if (!d0) { /* every digit 0: the value 0, whatever the exponent */
        *v = 0;
        return 0;
    }
    /* digits of D between d0 and d1 (the point skipped); the value is D * 10^pow, pow =
     * x - frac + (zeros after d1) */
    size_t nd = 0;
    for (const char *q = d0; q <= d1; q++)
        nd += *q != '.';
    const long long pow10 = x - (long long)frac + (long long)after_last;
    if (pow10 < 0)
        return 2; /* D has no trailing zero: a fraction remains */
    const uint64_t lim = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
    uint64_t u = 0;
    int wide = (long long)nd + pow10 > 19;
    for (const char *q = d0; !wide && q <= d1; q++)
        if (*q != '.') {
            const uint64_t dig = (uint64_t)(*q - '0');
            wide = u > (lim - dig) / 10;
            u = wide ? u : 10 * u + dig;
        }
    for (long long k = 0; !wide && k < pow10; k++) {
        wide = u > lim / 10;
        u *= 10;
    }
    if (wide) {
        *v = neg ? INT64_MIN : INT64_MAX;
        return 4;
    }
    *v = neg ? (int64_t)(0 - u) : (int64_t)u; /* u <= 2^63: two's complement */
    return 0;
}

/* The field as a message shows it: whole up to 60 characters, else its first 40 and its
 * length ("123456...(10485760 characters)"), into buf. */
static const char *show_field(char *buf, size_t cap, const char *s, size_t len)
{
    if (len <= 60)
        snprintf(buf, cap, "%.*s", (int)len, s);
    else
        snprintf(buf, cap, "%.40s... (a field of %zu characters)", s, len);
    return buf;
}

/* 1 while cli_read_labels reads: the messages speak of labels, not of raw inputs (per
 * thread: infer reads its inputs on a thread of its own) */
static _Thread_local int labels;

/* what the values must be, in the messages: "(raw inputs are ...)" or the labels' */
static const char *values_are(void)
{
    return labels ? "a labels file holds one integer class per line, 0 to classes - 1"
                  : "raw inputs are integers in the model's input range";
}

static int read_csv(cli_matrix_t *m, const char *path, size_t cols, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat sb; /* a directory opens: say so, not "read error" */
    if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode) &&
        !S_ISCHR(sb.st_mode)) {
        fclose(f);
        return fail(err, errlen, "%s: %s", path,
                    S_ISDIR(sb.st_mode) ? "is a directory" : "not a regular file");
    }
    size_t cap = 0, rows = 0, line_no = 0;
    int64_t *v = NULL;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int rc = 0, seen_header = 0;
    while (rc == 0 && (n = getline(&line, &lcap, f)) >= 0) {
        line_no++;
        if ((size_t)n != strlen(line)) {
            rc = fail(err, errlen, "%s: line %zu: a NUL byte (not a text file)", path, line_no);
            break;
        }
        const char *start = line;
        if (line_no == 1 && !strncmp(line, "\xEF\xBB\xBF", 3))
            start += 3; /* a UTF-8 byte order mark (spreadsheets write one) */
        const char *p = start;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (*p == 0 || *p == '#')
            continue; /* blank lines and comments */
        if (rows == cap) {
            cap = cap ? 2 * cap : 64;
            int64_t *nv = cols && cap <= SIZE_MAX / cols / sizeof *v
                              ? realloc(v, cap * cols * sizeof *v)
                              : NULL;
            if (!nv) {
                rc = fail(err, errlen, "%s: out of memory at line %zu", path, line_no);
                break;
            }
            v = nv;
        }
        size_t col = 0, bad_col = 0;
        int nonnum = 0, num = 0;
        const char *fs = start, *bad_s = NULL;
        int bad_len = 0;
        for (;;) {
            const char *fe = fs;
            while (*fe && *fe != ',' && *fe != '\t' && *fe != '\n' && *fe != '\r')
                fe++;
            int64_t x = 0;
            const int e = parse_field(&x, fs, (size_t)(fe - fs));
            char shown[128];
            show_field(shown, sizeof shown, fs, (size_t)(fe - fs));
            if (e == 3) {
                rc = fail(err, errlen,
                          "%s: line %zu, column %zu: '%s' is hexadecimal (%s, in decimal)",
                          path, line_no, col + 1, shown, values_are());
                break;
            }
            if (e == 2 || e == 6) {
                rc = fail(err, errlen, "%s: line %zu, column %zu: %s is %s (%s)", path, line_no,
                          col + 1, shown,
                          e == 6 ? "not finite (NaN or infinity)" : "not an integer",
                          values_are());
                break;
            }
            if (e == 4) {
                char where[64];
                snprintf(where, sizeof where, "line %zu, column %zu", line_no, col + 1);
                note_wide(m, where, fs, (size_t)(fe - fs));
            }
            nonnum += e == 1;
            num += e == 0 || e == 4;
            if ((e == 0 || e == 4) && col < cols)
                v[rows * cols + col] = x;
            if (e == 1 && !bad_s) {
                bad_col = col;
                bad_s = fs;
                bad_len = (int)(fe - fs);
            }
            if (e == 1 && (rows > 0 || num > 0))
                break; /* a row of numbers with a field that is not one */
            col++;
            if (*fe != ',' && *fe != '\t')
                break;
            fs = fe + 1;
        }
        if (rc)
            break;
        if (nonnum && !num && rows == 0 && !seen_header) {
            seen_header = 1; /* a header line: every field is text */
            continue;
        }
        if (nonnum) { /* name the field: blanks only, or the text */
            int blank = 1;
            for (int i = 0; i < bad_len; i++)
                blank &= isspace((unsigned char)bad_s[i]) != 0;
            if (blank)
                rc =
                    fail(err, errlen, "%s: line %zu, column %zu: an empty field (not a number)",
                         path, line_no, bad_col + 1);
            else {
                char shown[128];
                rc = fail(err, errlen, "%s: line %zu, column %zu: '%s' is not a number", path,
                          line_no, bad_col + 1,
                          show_field(shown, sizeof shown, bad_s, (size_t)bad_len));
            }
            break;
        }
        if (col != cols) {
            rc = labels ? fail(err, errlen, "%s: line %zu: %zu values (%s)", path, line_no, col,
                               values_are())
                        : fail(err, errlen, "%s: line %zu: %zu values, the model takes %zu",
                               path, line_no, col, cols);
            break;
        }
        rows++;
    }
    if (rc == 0 && ferror(f))
        rc = fail(err, errlen, "%s: read error (%s)", path, strerror(errno ? errno : EIO));
    if (rc == 0 && rows == 0)
        rc = fail(err, errlen, "%s: no inputs (no line of numbers separated by commas or tabs)",
                  path);
    free(line);
    fclose(f);
    if (rc) {
        free(v);
        return rc;
    }
    m->rows = rows;
    m->cols = cols;
    m->v = v;
    return 0;
}

/* --- IDX ------------------------------------------------------------------------------- */

static int read_idx(cli_matrix_t *m, const char *path, size_t cols, char *err, size_t errlen)
{
    cn_idx_t t = {0};
    cn_net_diag_t d = {{0}};
    if (cn_idx_load(&t, path, &d) != CN_OK) {
        /* a well-formed header of 0 items (the loader's refusal speaks of a dimension):
         * the magic 0 0 TYPE NDIMS, then big-endian dimensions, the first the items */
        uint8_t h[8];
        FILE *f = fopen(path, "rb");
        const int zero = f && fread(h, 1, 8, f) == 8 && h[0] == 0 && h[1] == 0 && h[3] >= 1 &&
                         !h[4] && !h[5] && !h[6] && !h[7];
        if (f)
            fclose(f);
        if (zero)
            return fail(err, errlen, "%s: no inputs (an IDX file of 0 items)", path);
        return fail(err, errlen, "%s", d.msg);
    }
    size_t per = 1;
    for (size_t i = 1; i < t.ndims; i++)
        per *= t.dims[i];
    size_t rows = t.ndims ? t.dims[0] : 0;
    if (t.ndims == 1 && cols > 1 && t.dims[0] == cols) { /* one input as a vector */
        rows = 1;
        per = cols;
    }
    if (rows == 0) {
        cn_idx_clear(&t);
        return fail(err, errlen, "%s: no inputs (0 items)", path);
    }
    if (per != cols) {
        cn_idx_clear(&t);
        return labels ? fail(err, errlen, "%s: %zu items of %zu values (%s)", path, rows, per,
                             values_are())
                      : fail(err, errlen,
                             "%s: %zu items of %zu values; the model takes %zu values", path,
                             rows, per, cols);
    }
    m->v = malloc(t.count * sizeof *m->v);
    if (!m->v) {
        cn_idx_clear(&t);
        return fail(err, errlen, "%s: out of memory", path);
    }
    for (size_t i = 0; i < t.count; i++)
        m->v[i] = t.data[i];
    m->rows = rows;
    m->cols = cols;
    cn_idx_clear(&t);
    return 0;
}

/* --- NumPy .npy ------------------------------------------------------------------------ */

typedef struct {
    const char *p, *end;
} cursor_t;

static void skip_ws(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n'))
        c->p++;
}

static int take(cursor_t *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal in ' or " without escapes, copied to out. */
static int take_string(cursor_t *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    const char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= cap)
            return 0;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    out[n] = 0;
    return 1;
}

static int take_word(cursor_t *c, const char *w)
{
    skip_ws(c);
    const size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

#define NPY_MAX_DIMS 8

/* The header dict: {'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }. 1 when
 * well formed; *huge set when a dimension does not fit a size_t. */
static int parse_npy_header(char *descr, size_t dcap, int *fortran, size_t *shape,
                            size_t *ndims, int *huge, const char *h, size_t len)
{
    cursor_t c = {h, h + len};
    int seen = 0;
    if (!take(&c, '{'))
        return 0;
    for (;;) {
        if (take(&c, '}'))
            break;
        char key[32];
        if (!take_string(&c, key, sizeof key) || !take(&c, ':'))
            return 0;
        if (!strcmp(key, "descr") && !(seen & 1)) {
            if (!take_string(&c, descr, dcap))
                return 0;
            seen |= 1;
        } else if (!strcmp(key, "fortran_order") && !(seen & 2)) {
            if (take_word(&c, "False"))
                *fortran = 0;
            else if (take_word(&c, "True"))
                *fortran = 1;
            else
                return 0;
            seen |= 2;
        } else if (!strcmp(key, "shape") && !(seen & 4)) {
            if (!take(&c, '('))
                return 0;
            *ndims = 0;
            for (;;) {
                if (take(&c, ')'))
                    break;
                skip_ws(&c);
                if (c.p >= c.end || !isdigit((unsigned char)*c.p) || *ndims == NPY_MAX_DIMS)
                    return 0;
                size_t v = 0;
                while (c.p < c.end && isdigit((unsigned char)*c.p)) {
                    const size_t dgt = (size_t)(*c.p++ - '0');
                    if (v > (SIZE_MAX - dgt) / 10)
                        *huge = 1, v = SIZE_MAX;
                    else
                        v = v * 10 + dgt;
                }
                shape[(*ndims)++] = v;
                if (!take(&c, ',')) {
                    if (!take(&c, ')'))
                        return 0;
                    break;
                }
            }
            seen |= 4;
        } else {
            return 0;
        }
        if (!take(&c, ',')) {
            if (!take(&c, '}'))
                return 0;
            break;
        }
    }
    skip_ws(&c);
    return seen == 7 && c.p == c.end;
}

/* Element i of the data (dtype kind 'u', 'i' or 'f', size bytes, little-endian). */
static int npy_value(int64_t *v, const uint8_t *p, char kind, size_t size)
{
    uint64_t u = 0;
    for (size_t b = 0; b < size; b++)
        u |= (uint64_t)p[b] << (8 * b);
    if (kind == 'u') {
        if (u > (uint64_t)INT64_MAX) {
            *v = INT64_MAX;
            return 2;
        }
        *v = (int64_t)u;
        return 0;
    }
    if (kind == 'i') {
        if (size < 8 && (u >> (8 * size - 1) & 1))
            u |= ~(uint64_t)0 << (8 * size); /* sign extension */
        *v = (int64_t)u;
        return 0;
    }
    double d;
    if (size == 4) {
        float fl;
        uint32_t w = (uint32_t)u;
        memcpy(&fl, &w, 4);
        d = fl;
    } else {
        memcpy(&d, &u, 8);
    }
    if (isnan(d))
        return 3;
    if (isinf(d))
        return 4;
    return integral(v, d);
}

/* A .npy file's bytes f (owned: released, or kept in m; emptied) as a matrix of cols
 * columns. */
static int npy_bytes(cli_matrix_t *m, const char *path, cli_bytes_t *f, size_t cols, char *err,
                     size_t errlen)
{
    int rc = 0;
    uint8_t *b = f->p;
    const size_t len = f->len;
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        rc = fail(err, errlen, "%s: not a NumPy .npy file (bad magic)", path);
        goto done;
    }
    const unsigned major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0) {
        rc = fail(err, errlen,
                  "%s: .npy format version %u.%u; this reader takes 1.0, 2.0 "
                  "and 3.0",
                  path, major, minor);
        goto done;
    }
    size_t hl, off;
    if (major == 1) {
        hl = (size_t)b[8] | (size_t)b[9] << 8;
        off = 10;
    } else {
        if (len < 12) {
            rc = fail(err, errlen, "%s: truncated .npy header", path);
            goto done;
        }
        hl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        off = 12;
    }
    if (hl > len - off) {
        rc = fail(err, errlen, "%s: truncated .npy header", path);
        goto done;
    }
    char descr[16];
    int fortran = 0;
    size_t shape[NPY_MAX_DIMS], nd = 0;
    int huge = 0;
    if (!parse_npy_header(descr, sizeof descr, &fortran, shape, &nd, &huge,
                          (const char *)b + off, hl)) {
        rc = fail(err, errlen,
                  "%s: malformed .npy header (expected a dict of 'descr', "
                  "'fortran_order' and 'shape')",
                  path);
        goto done;
    }
    off += hl;
    /* dtypes: u1 i1 (byte order '|' or '<'), u2 u4 u8 i2 i4 i8 f4 f8 little-endian */
    const char order = descr[0], kind = descr[1];
    const size_t size =
        descr[2] >= '1' && descr[2] <= '8' && !descr[3] ? (size_t)(descr[2] - '0') : 0;
    const int known = (kind == 'u' || kind == 'i')
                          ? (size == 1 || size == 2 || size == 4 || size == 8)
                      : kind == 'f' ? (size == 4 || size == 8)
                                    : 0;
    if (!known) {
        rc = fail(err, errlen,
                  "%s: dtype '%s' is not supported (integers u1..u8, i1..i8 or "
                  "floats f4, f8)",
                  path, descr);
        goto done;
    }
    if (order == '>' && size > 1) {
        rc = fail(err, errlen,
                  "%s: dtype '%s' is big-endian; save it little-endian "
                  "(x.astype('<%c%zu'))",
                  path, descr, kind, size);
        goto done;
    }
    if (!(order == '<' || (order == '|' && size == 1) || (order == '>' && size == 1))) {
        rc = fail(err, errlen, "%s: dtype '%s': unknown byte order", path, descr);
        goto done;
    }
    if (fortran) {
        rc = fail(err, errlen, "%s: Fortran-order data; save np.ascontiguousarray(x)", path);
        goto done;
    }
    if (nd == 0) {
        rc = fail(err, errlen, "%s: a scalar, not an array of inputs", path);
        goto done;
    }
    char shp[NPY_MAX_DIMS * 22 + 4] = "(";
    for (size_t i = 0; i < nd; i++)
        snprintf(shp + strlen(shp), sizeof shp - strlen(shp), "%zu%s", shape[i],
                 i + 1 < nd ? ", "
                 : nd == 1  ? ",)"
                            : ")");
    size_t count = 1, per = 1;
    int zero = 0;
    for (size_t i = 0; i < nd; i++)
        zero |= shape[i] == 0;
    for (size_t i = 0; i < nd && !zero; i++) {
        if (huge || count > SIZE_MAX / 8 / shape[i]) {
            rc = fail(err, errlen,
                      "%s: shape %s is too large (more values than this machine can address)",
                      path, huge ? "(a dimension beyond 2^64)" : shp);
            goto done;
        }
        count *= shape[i];
        if (i)
            per *= shape[i];
    }
    if (zero) {
        count = 0;
        per = 1;
        for (size_t i = 1; i < nd; i++)
            per = shape[i] && per <= SIZE_MAX / shape[i] ? per * shape[i] : 0;
    }
    size_t rows = shape[0];
    if (nd == 1 && cols > 1 && shape[0] == cols) { /* one input as a vector */
        rows = 1;
        per = cols;
    }
    if (count == 0) {
        rc = fail(err, errlen, "%s: no inputs (shape %s)", path, shp);
        goto done;
    }
    if (per != cols) {
        rc = labels ? fail(err, errlen, "%s: shape gives %zu rows of %zu values (%s)", path,
                           rows, per, values_are())
                    : fail(err, errlen,
                           "%s: shape gives %zu inputs of %zu values; the model takes %zu "
                           "values",
                           path, rows, per, cols);
        goto done;
    }
    if (len - off != count * size) {
        rc =
            fail(err, errlen, "%s: %zu data bytes, the header's shape and dtype need %zu%s",
                 path, len - off, count * size, len - off < count * size ? " (truncated)" : "");
        goto done;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (kind == 'i' && size == 8 && (!f->mapped || off % 8 == 0)) {
        /* '<i8' on a little-endian machine: the data are the values already, used where
         * they are in the mapped file (its header pads the data to a multiple of 64
         * bytes) or moved to the front of the file's buffer (malloc'd, so aligned for
         * int64), instead of converted one by one into a second buffer (a batch of MNIST
         * inputs is 100 MB: the layout the encryption takes, with no fresh pages) */
        if (f->mapped) {
            m->v = (int64_t *)(void *)(b + off);
        } else {
            memmove(b, b + off, count * size);
            m->v = (int64_t *)(void *)b;
        }
        m->map = *f;
        *f = (cli_bytes_t){0};
        if (!m->map.mapped) /* a malloc'd buffer: freed through v */
            m->map = (cli_bytes_t){0};
        m->rows = rows;
        m->cols = cols;
        goto done;
    }
#endif
    m->v = malloc(count * sizeof *m->v);
    if (!m->v) {
        rc = fail(err, errlen, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const int e = npy_value(&m->v[i], b + off + i * size, kind, size);
        if (e == 2) { /* a u8 beyond int64: saturated, named by cli_check_range */
            char where[64], text[24];
            uint64_t u = 0;
            for (size_t k = 0; k < 8; k++)
                u |= (uint64_t)b[off + i * size + k] << (8 * k);
            snprintf(where, sizeof where, "input %zu, value %zu", i / cols + 1, i % cols + 1);
            snprintf(text, sizeof text, "%llu", (unsigned long long)u);
            note_wide(m, where, text, strlen(text));
            continue;
        }
        if (e) {
            rc = fail(err, errlen, "%s: %s %zu, value %zu: %s (%s)", path,
                      labels ? "label" : "input", i / cols + 1, i % cols + 1,
                      e == 3   ? "NaN, not a number"
                      : e == 4 ? "an infinity, not a finite number"
                               : "not an integer",
                      values_are());
            cli_matrix_clear(m);
            goto done;
        }
    }
    m->rows = rows;
    m->cols = cols;
done:
    if (f->p)
        cli_bytes_free(f);
    return rc;
}

static int read_npy(cli_matrix_t *m, const char *path, size_t cols, char *err, size_t errlen)
{
    cli_bytes_t b;
    if (cli_map_file(&b, path, err, errlen))
        return 1;
    return npy_bytes(m, path, &b, cols, err, errlen);
}

int cli_read_matrix(cli_matrix_t *m, const char *path, const char *format, size_t cols,
                    char *err, size_t errlen)
{
    *m = (cli_matrix_t){0};
    if (!format) {
        if (ends_with(path, ".csv") || ends_with(path, ".CSV") || ends_with(path, ".txt"))
            format = "csv";
        else if (ends_with(path, ".npy"))
            format = "npy";
        else if (ends_with(path, ".idx") || ends_with(path, "-ubyte") || strstr(path, ".idx"))
            format = "idx";
        else
            return fail(err, errlen,
                        "%s: unknown input format (name it *.csv, *.npy or *.idx, "
                        "or give --format csv|idx|npy)",
                        path);
    }
    if (!strcmp(format, "csv"))
        return read_csv(m, path, cols, err, errlen);
    if (!strcmp(format, "npy"))
        return read_npy(m, path, cols, err, errlen);
    if (!strcmp(format, "idx"))
        return read_idx(m, path, cols, err, errlen);
    return fail(err, errlen, "unknown format '%s' (csv, idx or npy)", format);
}

int cli_read_labels(cli_matrix_t *m, const char *path, const char *format, size_t cols,
                    char *err, size_t errlen)
{
    labels = 1;
    const int rc = cli_read_matrix(m, path, format, cols, err, errlen);
    labels = 0;
    return rc;
}

int cli_check_range(const cli_matrix_t *m, const char *path, int64_t lo, int64_t hi,
                    const char *what, char *err, size_t errlen)
{
    if (m->wide[0])
        return fail(err, errlen,
                    "%s: %s is out of the range of a signed 64-bit integer, [-2^63, 2^63 - 1] "
                    "(%s is [%lld, %lld])",
                    path, m->wide, what, (long long)lo, (long long)hi);
    const size_t total = m->rows * m->cols;
    size_t bad = total;
    int64_t top = lo;
    for (size_t i = 0; i < total; i++) {
        if (bad == total && (m->v[i] < lo || m->v[i] > hi))
            bad = i;
        if (m->v[i] > top)
            top = m->v[i];
    }
    if (bad == total)
        return 0;
    /* data of 8 bits (at most 255) for a model of b < 8 bits, [0, 2^b - 1]: the shift that
     * maps one to the other is the likely fix */
    char hint[128] = "";
    if (lo == 0 && hi > 0 && hi < 255 && ((uint64_t)hi & ((uint64_t)hi + 1)) == 0 &&
        m->v[bad] >= 0 && top <= 255) {
        int b = 0;
        while (((int64_t)1 << b) <= hi)
            b++;
        snprintf(hint, sizeof hint,
                 " (8-bit values? this model takes value >> %d: give --input-shift %d)", 8 - b,
                 8 - b);
    }
    if (m->cols == 1 && strstr(what, "class")) /* labels: one class per line */
        return fail(err, errlen,
                    "%s: label %zu: %lld is not a class (a labels file holds one integer "
                    "class per line, %s [%lld, %lld])",
                    path, bad + 1, (long long)m->v[bad], what, (long long)lo, (long long)hi);
    return fail(err, errlen, "%s: input %zu, value %zu: %lld is outside %s [%lld, %lld]%s",
                path, bad / m->cols + 1, bad % m->cols + 1, (long long)m->v[bad], what,
                (long long)lo, (long long)hi, hint);
}

static int inputs_checked(cli_matrix_t *m, const char *path, unsigned shift, int64_t lo,
                          int64_t hi, char *err, size_t errlen);

int cli_read_inputs(cli_matrix_t *m, const char *path, const char *format, size_t cols,
                    unsigned shift, int64_t lo, int64_t hi, char *err, size_t errlen)
{
    if (cli_read_matrix(m, path, format, cols, err, errlen))
        return 1;
    return inputs_checked(m, path, shift, lo, hi, err, errlen);
}

int cli_inputs_npy(const char *path, const char *format)
{
    return format ? !strcmp(format, "npy") : ends_with(path, ".npy");
}

int cli_read_inputs_npy(cli_matrix_t *m, cli_bytes_t *b, const char *path, size_t cols,
                        unsigned shift, int64_t lo, int64_t hi, char *err, size_t errlen)
{
    *m = (cli_matrix_t){0};
    if (npy_bytes(m, path, b, cols, err, errlen))
        return 1;
    return inputs_checked(m, path, shift, lo, hi, err, errlen);
}

/* cli_read_inputs' shift and range check of the matrix read. */
static int inputs_checked(cli_matrix_t *m, const char *path, unsigned shift, int64_t lo,
                          int64_t hi, char *err, size_t errlen)
{
    /* an arithmetic shift: floor(v / 2^shift), also for negative values; a value noted in
     * m->wide stays refused by cli_check_range */
    const size_t total = m->rows * m->cols;
    for (size_t i = 0; shift && i < total; i++)
        m->v[i] = m->v[i] >= 0 ? m->v[i] >> shift : -((-(m->v[i] + 1)) >> shift) - 1;
    if (!cli_check_range(m, path, lo, hi, "the model's input range", err, errlen))
        return 0;
    if (shift) { /* the hint of 8-bit data does not apply to shifted values */
        char *h = strstr(err, " (8-bit values?");
        const size_t len = h ? (size_t)(h - err) : strlen(err);
        snprintf(err + len, errlen - len, " after --input-shift %u", shift);
    }
    return 1;
}

int cli_parse_shift(unsigned *shift, const cli_args_t *a, const char *text)
{
    size_t v = 0;
    if (text && cli_parse_size(&v, a, "--input-shift", text, 62))
        return CLI_USAGE;
    *shift = (unsigned)v;
    return 0;
}
