/* Models: layers, shapes, the float network, and model files (docs/model-format.md). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../net_internal.h"

void cn_diag_set(cn_net_diag_t *diag, const char *fmt, ...)
{
    if (!diag)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
    va_end(ap);
}

cn_status cn_net_check_inputs(const int64_t *x, size_t count, size_t nin, int64_t lo,
                              int64_t hi, const char *what, cn_net_diag_t *diag)
{
    for (size_t i = 0; i < count * nin; i++)
        if (x[i] < lo || x[i] > hi) {
            cn_diag_set(diag,
                        "%s %zu, value %zu (counting from 1): %lld is outside the model's "
                        "input range [%lld, %lld]",
                        what, i / nin + 1, i % nin + 1, (long long)x[i], (long long)lo,
                        (long long)hi);
            return CN_ERR_OUT_OF_RANGE;
        }
    return CN_OK;
}

cn_status cn_model_init(cn_model_t *m, size_t c, size_t h, size_t w, double input_scale,
                        int64_t in_min, int64_t in_max)
{
    if (!m)
        return CN_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    if (c == 0 || h == 0 || w == 0 || c > CN_MODEL_MAX_VALUES || h > CN_MODEL_MAX_VALUES ||
        w > CN_MODEL_MAX_VALUES || c * h > CN_MODEL_MAX_VALUES ||
        c * h * w > CN_MODEL_MAX_VALUES)
        return CN_ERR_SHAPE_MISMATCH;
    if (!(input_scale > 0) || !isfinite(input_scale) || in_min > in_max ||
        in_min < -((int64_t)1 << 40) || in_max > ((int64_t)1 << 40))
        return CN_ERR_INVALID_ARG;
    m->in_c = c;
    m->in_h = h;
    m->in_w = w;
    m->input_scale = input_scale;
    m->input_min = in_min;
    m->input_max = in_max;
    return CN_OK;
}

void cn_model_clear(cn_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nlayers; i++) {
        free(m->layers[i].w);
        free(m->layers[i].b);
    }
    free(m->layers);
    memset(m, 0, sizeof *m);
}

static void cur_shape(const cn_model_t *m, size_t *c, size_t *h, size_t *w)
{
    if (m->nlayers == 0) {
        *c = m->in_c;
        *h = m->in_h;
        *w = m->in_w;
    } else {
        const cn_layer_t *l = &m->layers[m->nlayers - 1];
        *c = l->out_c;
        *h = l->out_h;
        *w = l->out_w;
    }
}

size_t cn_model_outputs(const cn_model_t *m)
{
    if (!m)
        return 0;
    size_t c, h, w;
    cur_shape(m, &c, &h, &w);
    return c * h * w;
}

size_t cn_model_inputs(const cn_model_t *m)
{
    return m ? m->in_c * m->in_h * m->in_w : 0;
}

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static const char *kind_name(cn_layer_kind k)
{
    switch (k) {
    case CN_LAYER_CONV2D:
        return "conv2d";
    case CN_LAYER_DENSE:
        return "dense";
    case CN_LAYER_SQUARE:
        return "square";
    case CN_LAYER_POOL:
        return "pool";
    case CN_LAYER_FLATTEN:
        return "flatten";
    case CN_LAYER_POLY:
        return "poly";
    }
    return "?";
}

/* CN_OK when m is a model made by cn_model_init or a loader (and not cleared since). */
static cn_status model_ready(const cn_model_t *m, cn_net_diag_t *diag)
{
    if (!m) {
        cn_diag_set(diag, "model: NULL");
        return CN_ERR_INVALID_ARG;
    }
    if (m->in_c == 0 || m->in_h == 0 || m->in_w == 0 || m->nlayers > CN_MODEL_MAX_LAYERS ||
        (m->nlayers > 0 && !m->layers)) {
        cn_diag_set(diag, "model: not initialised (cn_model_init or cn_model_load first)");
        return CN_ERR_INVALID_ARG;
    }
    return CN_OK;
}

/* Appends layer l: checks every argument against the current shape and the documented
 * limits, fills the shapes, copies the weights (nw of them from w) and biases (nb from
 * b). Nothing is appended on error, and diag says why. */
static cn_status append(cn_model_t *m, cn_layer_t l, const double *w, const double *b,
                        cn_net_diag_t *diag)
{
    cn_status st = model_ready(m, diag);
    if (st != CN_OK)
        return st;
    const size_t idx = m->nlayers + 1;
    if (m->nlayers >= CN_MODEL_MAX_LAYERS) {
        cn_diag_set(diag, "layer %zu: more than %d layers", idx, CN_MODEL_MAX_LAYERS);
        return CN_ERR_SHAPE_MISMATCH;
    }
    cur_shape(m, &l.in_c, &l.in_h, &l.in_w);
    const char *kn = kind_name(l.kind);
    size_t nw = 0, nb = 0;
    switch (l.kind) {
    case CN_LAYER_CONV2D:
    case CN_LAYER_POOL: {
        if (l.kh == 0 || l.kw == 0 || l.stride == 0 || l.stride > CN_MODEL_MAX_WINDOW ||
            l.kh > CN_MODEL_MAX_WINDOW || l.kw > CN_MODEL_MAX_WINDOW ||
            l.pad > CN_MODEL_MAX_WINDOW) {
            cn_diag_set(diag,
                        "layer %zu (%s): window %zux%zu, stride %zu, padding %zu out "
                        "of range (window and stride 1..%d, padding 0..%d)",
                        idx, kn, l.kh, l.kw, l.stride, l.pad, CN_MODEL_MAX_WINDOW,
                        CN_MODEL_MAX_WINDOW);
            return CN_ERR_SHAPE_MISMATCH;
        }
        const size_t ph = l.in_h + 2 * l.pad, pw = l.in_w + 2 * l.pad;
        if (ph < l.kh || pw < l.kw) {
            cn_diag_set(diag,
                        "layer %zu (%s): window %zux%zu larger than the padded input "
                        "%zux%zu",
                        idx, kn, l.kh, l.kw, ph, pw);
            return CN_ERR_SHAPE_MISMATCH;
        }
        l.out_h = (ph - l.kh) / l.stride + 1;
        l.out_w = (pw - l.kw) / l.stride + 1;
        if (l.kind == CN_LAYER_CONV2D) {
            if (l.maps == 0 || l.maps > CN_MODEL_MAX_MAPS) {
                cn_diag_set(diag, "layer %zu (conv2d): %zu maps (1..%d)", idx, l.maps,
                            CN_MODEL_MAX_MAPS);
                return CN_ERR_SHAPE_MISMATCH;
            }
            l.out_c = l.maps;
            /* each factor is at most 2^20 or 64: no overflow in 64 bits */
            nw = l.maps * l.in_c * l.kh * l.kw;
            nb = l.maps;
        } else {
            if (!isfinite(l.scale) || l.scale == 0) {
                cn_diag_set(diag, "layer %zu (pool): scale %g must be finite and nonzero", idx,
                            l.scale);
                return CN_ERR_INVALID_ARG;
            }
            l.out_c = l.in_c;
        }
        break;
    }
    case CN_LAYER_DENSE: {
        if (l.maps == 0 || l.maps > CN_MODEL_MAX_VALUES) {
            cn_diag_set(diag, "layer %zu (dense): %zu outputs (1..%zu)", idx, l.maps,
                        CN_MODEL_MAX_VALUES);
            return CN_ERR_SHAPE_MISMATCH;
        }
        l.out_c = l.maps;
        l.out_h = l.out_w = 1;
        const size_t in = l.in_c * l.in_h * l.in_w; /* >= 1, <= 2^20 */
        nw = l.maps > CN_MODEL_MAX_WEIGHTS / in ? CN_MODEL_MAX_WEIGHTS + 1 : l.maps * in;
        nb = l.maps;
        break;
    }
    case CN_LAYER_POLY:
        if (!all_finite(l.poly, 3)) {
            cn_diag_set(diag, "layer %zu (poly): coefficients %g, %g, %g must be finite", idx,
                        l.poly[0], l.poly[1], l.poly[2]);
            return CN_ERR_INVALID_ARG;
        }
        l.out_c = l.in_c; /* elementwise, as square */
        l.out_h = l.in_h;
        l.out_w = l.in_w;
        break;
    case CN_LAYER_SQUARE:
        l.out_c = l.in_c;
        l.out_h = l.in_h;
        l.out_w = l.in_w;
        break;
    case CN_LAYER_FLATTEN:
        l.out_c = l.in_c * l.in_h * l.in_w;
        l.out_h = l.out_w = 1;
        break;
    default:
        cn_diag_set(diag, "layer %zu: unknown kind %d", idx, (int)l.kind);
        return CN_ERR_FORMAT;
    }
    if (l.out_c > CN_MODEL_MAX_VALUES || l.out_h > CN_MODEL_MAX_VALUES ||
        l.out_c * l.out_h > CN_MODEL_MAX_VALUES ||
        l.out_c * l.out_h * l.out_w > CN_MODEL_MAX_VALUES) {
        cn_diag_set(diag, "layer %zu (%s): more than %zu outputs", idx, kn,
                    CN_MODEL_MAX_VALUES);
        return CN_ERR_SHAPE_MISMATCH;
    }
    if (nw > CN_MODEL_MAX_WEIGHTS) {
        cn_diag_set(diag, "layer %zu (%s): %zu weights, more than %zu", idx, kn, nw,
                    CN_MODEL_MAX_WEIGHTS);
        return CN_ERR_SHAPE_MISMATCH;
    }
    if ((nw && !w) || (nb && !b)) {
        cn_diag_set(diag, "layer %zu (%s): %s array is NULL (%zu values expected)", idx, kn,
                    nw && !w ? "the weight" : "the bias", nw && !w ? nw : nb);
        return CN_ERR_INVALID_ARG;
    }
    if ((nw && !all_finite(w, nw)) || (nb && !all_finite(b, nb))) {
        cn_diag_set(diag, "layer %zu (%s): a weight or bias is NaN or infinite", idx, kn);
        return CN_ERR_INVALID_ARG;
    }
    l.w = l.b = NULL;
    if (nw) {
        l.w = malloc(nw * sizeof(double));
        if (!l.w)
            return CN_ERR_NO_MEMORY;
        memcpy(l.w, w, nw * sizeof(double));
    }
    if (nb) {
        l.b = malloc(nb * sizeof(double));
        if (!l.b) {
            free(l.w);
            return CN_ERR_NO_MEMORY;
        }
        memcpy(l.b, b, nb * sizeof(double));
    }
    cn_layer_t *nl = realloc(m->layers, (m->nlayers + 1) * sizeof *nl);
    if (!nl) {
        free(l.w);
        free(l.b);
        return CN_ERR_NO_MEMORY;
    }
    m->layers = nl;
    m->layers[m->nlayers++] = l;
    return CN_OK;
}

/* Weights of a conv2d or dense layer about to be appended to m (which must be ready), or
 * more than CN_MODEL_MAX_WEIGHTS when the arguments are out of range: lets a loader
 * check a count before it reads (and allocates) the weights. */
static size_t weight_count(const cn_model_t *m, const cn_layer_t *l)
{
    size_t c, h, w;
    cur_shape(m, &c, &h, &w);
    const size_t in = c * h * w;
    if (l->kind == CN_LAYER_CONV2D) {
        if (l->maps > CN_MODEL_MAX_MAPS || l->kh > CN_MODEL_MAX_WINDOW ||
            l->kw > CN_MODEL_MAX_WINDOW)
            return CN_MODEL_MAX_WEIGHTS + 1;
        return l->maps * c * l->kh * l->kw;
    }
    if (l->kind == CN_LAYER_DENSE)
        return in == 0 || l->maps > CN_MODEL_MAX_WEIGHTS / in ? CN_MODEL_MAX_WEIGHTS + 1
                                                              : l->maps * in;
    return 0;
}

cn_status cn_model_add_conv2d(cn_model_t *m, size_t maps, size_t kh, size_t kw, size_t stride,
                              size_t pad, const double *w, const double *b, cn_net_diag_t *diag)
{
    cn_layer_t l = {.kind = CN_LAYER_CONV2D,
                    .maps = maps,
                    .kh = kh,
                    .kw = kw,
                    .stride = stride,
                    .pad = pad};
    return append(m, l, w, b, diag);
}

cn_status cn_model_add_dense(cn_model_t *m, size_t out, const double *w, const double *b,
                             cn_net_diag_t *diag)
{
    cn_layer_t l = {.kind = CN_LAYER_DENSE, .maps = out};
    return append(m, l, w, b, diag);
}

cn_status cn_model_add_square(cn_model_t *m, cn_net_diag_t *diag)
{
    cn_layer_t l = {.kind = CN_LAYER_SQUARE};
    return append(m, l, NULL, NULL, diag);
}

cn_status cn_model_add_pool(cn_model_t *m, size_t kh, size_t kw, size_t stride, double scale,
                            cn_net_diag_t *diag)
{
    cn_layer_t l = {
        .kind = CN_LAYER_POOL, .kh = kh, .kw = kw, .stride = stride, .scale = scale};
    return append(m, l, NULL, NULL, diag);
}

cn_status cn_model_add_flatten(cn_model_t *m, cn_net_diag_t *diag)
{
    cn_layer_t l = {.kind = CN_LAYER_FLATTEN};
    return append(m, l, NULL, NULL, diag);
}

cn_status cn_model_add_poly(cn_model_t *m, double a, double b, double c, cn_net_diag_t *diag)
{
    cn_layer_t l = {.kind = CN_LAYER_POLY, .poly = {a, b, c}};
    return append(m, l, NULL, NULL, diag);
}

/* --- float forward ------------------------------------------------------------------ */

cn_status cn_model_forward(double *out, const cn_model_t *m, const int64_t *x)
{
    if (model_ready(m, NULL) != CN_OK || !out || !x)
        return CN_ERR_INVALID_ARG;
    size_t maxv = cn_model_inputs(m);
    for (size_t i = 0; i < m->nlayers; i++) {
        const cn_layer_t *l = &m->layers[i];
        size_t v = l->out_c * l->out_h * l->out_w;
        if (v > maxv)
            maxv = v;
    }
    double *a = malloc(maxv * sizeof(double)), *b = malloc(maxv * sizeof(double));
    if (!a || !b) {
        free(a);
        free(b);
        return CN_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < cn_model_inputs(m); i++)
        a[i] = (double)x[i] * m->input_scale;
    for (size_t li = 0; li < m->nlayers; li++) {
        const cn_layer_t *l = &m->layers[li];
        const size_t nin = l->in_c * l->in_h * l->in_w, nout = l->out_c * l->out_h * l->out_w;
        switch (l->kind) {
        case CN_LAYER_CONV2D:
        case CN_LAYER_POOL:
            for (size_t oc = 0; oc < l->out_c; oc++)
                for (size_t oy = 0; oy < l->out_h; oy++)
                    for (size_t ox = 0; ox < l->out_w; ox++) {
                        double s = 0;
                        const size_t c0 = l->kind == CN_LAYER_POOL ? oc : 0;
                        const size_t c1 = l->kind == CN_LAYER_POOL ? oc + 1 : l->in_c;
                        for (size_t ic = c0; ic < c1; ic++)
                            for (size_t ky = 0; ky < l->kh; ky++)
                                for (size_t kx = 0; kx < l->kw; kx++) {
                                    const size_t y = oy * l->stride + ky;
                                    const size_t xx = ox * l->stride + kx;
                                    if (y < l->pad || xx < l->pad || y - l->pad >= l->in_h ||
                                        xx - l->pad >= l->in_w)
                                        continue;
                                    const double v =
                                        a[(ic * l->in_h + y - l->pad) * l->in_w + xx - l->pad];
                                    const double wt =
                                        l->kind == CN_LAYER_POOL
                                            ? l->scale
                                            : l->w[((oc * l->in_c + ic) * l->kh + ky) * l->kw +
                                                   kx];
                                    s += wt * v;
                                }
                        if (l->kind == CN_LAYER_CONV2D)
                            s += l->b[oc];
                        b[(oc * l->out_h + oy) * l->out_w + ox] = s;
                    }
            break;
        case CN_LAYER_DENSE:
            for (size_t j = 0; j < nout; j++) {
                double s = l->b[j];
                for (size_t i = 0; i < nin; i++)
                    s += l->w[j * nin + i] * a[i];
                b[j] = s;
            }
            break;
        case CN_LAYER_SQUARE:
            for (size_t i = 0; i < nin; i++)
                b[i] = a[i] * a[i];
            break;
        case CN_LAYER_POLY: /* Horner: (a x + b) x + c */
            for (size_t i = 0; i < nin; i++)
                b[i] = (l->poly[0] * a[i] + l->poly[1]) * a[i] + l->poly[2];
            break;
        case CN_LAYER_FLATTEN:
            memcpy(b, a, nin * sizeof(double));
            break;
        }
        double *tmp = a;
        a = b;
        b = tmp;
    }
    memcpy(out, a, cn_model_outputs(m) * sizeof(double));
    free(a);
    free(b);
    return CN_OK;
}

/* --- files ---------------------------------------------------------------------------- */

#define MODEL_MAGIC "CNMD"
#define MODEL_MAJOR 1
#define MODEL_MINOR 1 /* 1.1 added the poly layer; files without one are written as 1.0 */

cn_status cn_model_to_bytes(uint8_t **buf, size_t *len, const cn_model_t *m)
{
    if (model_ready(m, NULL) != CN_OK)
        return CN_ERR_INVALID_ARG;
    cn_io_writer_t b;
    cn_io_writer_init(&b);
    cn_io_writer_frame_begin(&b);
    cn_io_put_bytes(&b, MODEL_MAGIC, 4);
    /* 1.0 unless a layer needs 1.1: such files stay readable by 1.0 readers */
    unsigned minor = 0;
    for (size_t i = 0; i < m->nlayers; i++)
        if (m->layers[i].kind == CN_LAYER_POLY)
            minor = MODEL_MINOR;
    cn_io_put_u16(&b, MODEL_MAJOR);
    cn_io_put_u16(&b, (uint16_t)minor);
    cn_io_put_u32(&b, 0); /* flags */
    cn_io_put_u32(&b, (uint32_t)m->in_c);
    cn_io_put_u32(&b, (uint32_t)m->in_h);
    cn_io_put_u32(&b, (uint32_t)m->in_w);
    cn_io_put_f64(&b, m->input_scale);
    cn_io_put_u64(&b, (uint64_t)m->input_min);
    cn_io_put_u64(&b, (uint64_t)m->input_max);
    cn_io_put_u32(&b, (uint32_t)m->nlayers);
    for (size_t i = 0; i < m->nlayers; i++) {
        const cn_layer_t *l = &m->layers[i];
        cn_io_put_u32(&b, (uint32_t)l->kind);
        size_t nw = 0, nb = 0;
        switch (l->kind) {
        case CN_LAYER_CONV2D:
            cn_io_put_u32(&b, (uint32_t)l->maps);
            cn_io_put_u32(&b, (uint32_t)l->kh);
            cn_io_put_u32(&b, (uint32_t)l->kw);
            cn_io_put_u32(&b, (uint32_t)l->stride);
            cn_io_put_u32(&b, (uint32_t)l->pad);
            nw = l->maps * l->in_c * l->kh * l->kw;
            nb = l->maps;
            break;
        case CN_LAYER_DENSE:
            cn_io_put_u32(&b, (uint32_t)l->maps);
            nw = l->maps * l->in_c * l->in_h * l->in_w;
            nb = l->maps;
            break;
        case CN_LAYER_POOL:
            cn_io_put_u32(&b, (uint32_t)l->kh);
            cn_io_put_u32(&b, (uint32_t)l->kw);
            cn_io_put_u32(&b, (uint32_t)l->stride);
            cn_io_put_f64(&b, l->scale);
            break;
        case CN_LAYER_POLY:
            for (int k = 0; k < 3; k++)
                cn_io_put_f64(&b, l->poly[k]);
            break;
        default:
            break;
        }
        for (size_t k = 0; k < nw; k++)
            cn_io_put_f64(&b, l->w[k]);
        for (size_t k = 0; k < nb; k++)
            cn_io_put_f64(&b, l->b[k]);
    }
    cn_io_writer_frame_seal(&b, CN_NET_MODEL_TYPE, 1, 0);
    return cn_io_writer_release(buf, len, &b); /* CN_ERR_NO_MEMORY if a growth failed */
}

/* Reads the weights and biases of conv2d or dense layer l (its header fields read) and
 * appends it: the counts are checked against the shape before anything is allocated, so
 * a forged count costs nothing. */
static cn_status read_linear(cn_model_t *m, cn_io_reader_t *r, cn_layer_t l,
                             cn_net_diag_t *diag)
{
    const size_t idx = m->nlayers + 1, nw = weight_count(m, &l), nb = l.maps;
    if (nw > CN_MODEL_MAX_WEIGHTS || nb == 0)
        return append(m, l, NULL, NULL, diag); /* refused: names the argument */
    const size_t left = cn_io_reader_remaining(r);
    if (left / 8 < nw + nb) { /* nw + nb < 2^27: no overflow */
        cn_diag_set(diag,
                    "layer %zu (%s): %zu weights and %zu biases declared, the file "
                    "holds %zu bytes after the layer header",
                    idx, kind_name(l.kind), nw, nb, left);
        cn_io_reader_fail(r, CN_ERR_TRUNCATED);
        return CN_ERR_TRUNCATED;
    }
    double *v = malloc((nw + nb) * sizeof *v);
    if (!v)
        return CN_ERR_NO_MEMORY;
    for (size_t i = 0; i < nw + nb; i++)
        v[i] = cn_io_get_f64(r);
    const cn_status st = append(m, l, v, v + nw, diag);
    free(v);
    return st;
}

cn_status cn_model_from_bytes(cn_model_t *m, const uint8_t *buf, size_t len,
                              cn_net_diag_t *diag)
{
    memset(m, 0, sizeof *m);
    if (diag)
        diag->msg[0] = 0;
    cn_io_reader_t r;
    unsigned minor;
    const cn_status fst = cn_net_body_open(&r, &minor, buf, len, CN_NET_MODEL_TYPE, MODEL_MAGIC,
                                           MODEL_MAJOR, 1, diag);
    if (fst != CN_OK)
        return fst;
    /* the checksum was checked: everything after it is what the writer wrote */
    if (cn_io_reader_remaining(&r) < 44) { /* the fixed fields */
        cn_diag_set(diag, "model: truncated header (%zu bytes)", len);
        return CN_ERR_TRUNCATED;
    }
    const uint64_t flags = cn_io_get_u32(&r);
    const uint64_t c = cn_io_get_u32(&r), h = cn_io_get_u32(&r), w = cn_io_get_u32(&r);
    const double scale = cn_io_get_f64(&r);
    const int64_t in_min = (int64_t)cn_io_get_u64(&r), in_max = (int64_t)cn_io_get_u64(&r);
    const uint64_t nl = cn_io_get_u32(&r);
    if (flags != 0) {
        cn_diag_set(diag, "unknown header flags 0x%llx", (unsigned long long)flags);
        return CN_ERR_FORMAT;
    }
    cn_status st = cn_model_init(m, c, h, w, scale, in_min, in_max);
    if (st != CN_OK) {
        cn_diag_set(diag,
                    "input: shape %llux%llux%llu, scale %g or range [%lld, %lld] "
                    "invalid",
                    (unsigned long long)c, (unsigned long long)h, (unsigned long long)w, scale,
                    (long long)in_min, (long long)in_max);
        return st;
    }
    if (nl > CN_MODEL_MAX_LAYERS) {
        cn_diag_set(diag, "%llu layers, more than %d", (unsigned long long)nl,
                    CN_MODEL_MAX_LAYERS);
        cn_model_clear(m);
        return CN_ERR_FORMAT;
    }
    for (size_t i = 0; i < nl && st == CN_OK; i++) {
        const uint64_t kind = cn_io_get_u32(&r);
        switch (kind) {
        case CN_LAYER_CONV2D: {
            cn_layer_t l = {.kind = CN_LAYER_CONV2D};
            l.maps = cn_io_get_u32(&r);
            l.kh = cn_io_get_u32(&r);
            l.kw = cn_io_get_u32(&r);
            l.stride = cn_io_get_u32(&r);
            l.pad = cn_io_get_u32(&r);
            if (r.status == CN_OK)
                st = read_linear(m, &r, l, diag);
            break;
        }
        case CN_LAYER_DENSE: {
            cn_layer_t l = {.kind = CN_LAYER_DENSE};
            l.maps = cn_io_get_u32(&r);
            if (r.status == CN_OK)
                st = read_linear(m, &r, l, diag);
            break;
        }
        case CN_LAYER_SQUARE:
            st = cn_model_add_square(m, diag);
            break;
        case CN_LAYER_FLATTEN:
            st = cn_model_add_flatten(m, diag);
            break;
        case CN_LAYER_POLY: {
            double pc[3];
            for (int k = 0; k < 3; k++)
                pc[k] = cn_io_get_f64(&r);
            if (r.status != CN_OK)
                break;
            if (minor < 1) {
                cn_diag_set(diag,
                            "layer %zu: kind %d (poly) in a version %u.%u file (it "
                            "needs 1.1)",
                            i + 1, CN_LAYER_POLY, (unsigned)MODEL_MAJOR, minor);
                st = CN_ERR_FORMAT;
                break;
            }
            st = cn_model_add_poly(m, pc[0], pc[1], pc[2], diag);
            break;
        }
        case CN_LAYER_POOL: {
            const size_t kh = cn_io_get_u32(&r), kw = cn_io_get_u32(&r),
                         stride = cn_io_get_u32(&r);
            const double s = cn_io_get_f64(&r);
            if (r.status != CN_OK)
                break;
            st = cn_model_add_pool(m, kh, kw, stride, s, diag);
            break;
        }
        default:
            cn_diag_set(diag,
                        "layer %zu: unknown kind %llu (this library reads model format "
                        "%d.%d: kinds 1..%d)",
                        i + 1, (unsigned long long)kind, MODEL_MAJOR, MODEL_MINOR,
                        CN_LAYER_POLY);
            st = CN_ERR_FORMAT;
        }
        if (st == CN_OK && r.status != CN_OK) {
            cn_diag_set(diag, "layer %zu: the file ends inside the layer", i + 1);
            st = CN_ERR_FORMAT; /* the checksum matched: the declared content is short */
        }
    }
    if (st == CN_OK && cn_io_reader_remaining(&r) != 0) {
        cn_diag_set(diag, "%zu bytes after the last layer", cn_io_reader_remaining(&r));
        st = CN_ERR_FORMAT;
    }
    if (st != CN_OK) {
        if (diag && !diag->msg[0]) /* every refusal says why */
            cn_diag_set(diag, "layer %zu: %s", m->nlayers + 1, cn_strerror(st));
        cn_model_clear(m);
    }
    return st;
}

cn_status cn_model_save(const cn_model_t *m, const char *path, cn_net_diag_t *diag)
{
    uint8_t *buf;
    size_t len;
    cn_status st = cn_model_to_bytes(&buf, &len, m);
    if (st != CN_OK)
        return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        cn_diag_set(diag, "%s: %s", path, strerror(errno));
        free(buf);
        return CN_ERR_IO;
    }
    const int ok = fwrite(buf, 1, len, f) == len;
    if (fclose(f) != 0 || !ok) {
        cn_diag_set(diag, "%s: write failed", path);
        st = CN_ERR_IO;
    }
    free(buf);
    return st;
}

cn_status cn_model_load(cn_model_t *m, const char *path, cn_net_diag_t *diag)
{
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t len;
    cn_status st = cn_file_read(&buf, &len, path,
                                (size_t)CN_MODEL_MAX_LAYERS * (CN_MODEL_MAX_WEIGHTS + 4096) *
                                    8 /* the largest valid model */,
                                diag);
    if (st != CN_OK)
        return st;
    cn_net_diag_t d = {{0}};
    st = cn_model_from_bytes(m, buf, len, &d);
    if (st != CN_OK)
        cn_diag_set(diag, "%s: %s", path, d.msg);
    free(buf);
    return st;
}
