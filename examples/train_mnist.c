/* examples/train_mnist: trains the CryptoNets network on MNIST in plain floats and writes
 * a model file for net/ (docs/mnist.md).
 *
 *   28x28 input (padding 1) -> conv 5 maps 5x5 stride 2 -> 5x13x13 = 845 -> square
 *   -> dense 100 -> square -> dense 10
 *
 * Square activations as in CryptoNets (Gilad-Bachrach et al., ICML 2016); Adam (Kingma and
 * Ba, ICLR 2015) with a cosine learning-rate schedule, minibatches spread over OpenMP
 * threads, random shifts of up to `--shift` pixels as augmentation. Inputs are quantized
 * to `--input-bits` bits (raw = pixel >> (8 - bits)) during training too, so the encrypted
 * network sees what the model was trained on. Deterministic for a seed and a thread
 * count. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cryptonets/cryptonets.h"

#define IMG 28
#define PADI 1
#define K 5
#define MAPS 5
#define STRIDE 2
#define OUTD 13
#define H1 (MAPS * OUTD * OUTD) /* 845 */
#define H2 100
#define NCLS 10
#define NPARAM (MAPS * K * K + MAPS + H2 * H1 + H2 + NCLS * H2 + NCLS)

/* parameter layout in one array: W1 b1 W2 b2 W3 b3 */
#define OFF_W1 0
#define OFF_B1 (OFF_W1 + MAPS * K * K)
#define OFF_W2 (OFF_B1 + MAPS)
#define OFF_B2 (OFF_W2 + H2 * H1)
#define OFF_W3 (OFF_B2 + H2)
#define OFF_B3 (OFF_W3 + NCLS * H2)

static uint64_t rng_s;
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) * 0x1p-53;
}
static double rng_normal(uint64_t *s)
{
    const double u = rng_unit(s) + 1e-300, v = rng_unit(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

typedef struct {
    float z1[H1], a1[H1], z2[H2], a2[H2], z3[NCLS];
    float x[(IMG + 2 * PADI) * (IMG + 2 * PADI)]; /* padded, shifted input */
} act_t;

/* the padded input of image img shifted by (dy, dx), values raw / qmax */
static void load_input(float *xp, const uint8_t *img, int dy, int dx, int shift_bits,
                       float qscale)
{
    const int W = IMG + 2 * PADI;
    memset(xp, 0, sizeof(float) * (size_t)(W * W));
    for (int y = 0; y < IMG; y++) {
        const int sy = y - dy;
        if (sy < 0 || sy >= IMG)
            continue;
        for (int x = 0; x < IMG; x++) {
            const int sx = x - dx;
            if (sx < 0 || sx >= IMG)
                continue;
            xp[(y + PADI) * W + x + PADI] = (float)(img[sy * IMG + sx] >> shift_bits) * qscale;
        }
    }
}

static void forward(act_t *a, const float *p)
{
    const int W = IMG + 2 * PADI;
    for (int c = 0; c < MAPS; c++)
        for (int oy = 0; oy < OUTD; oy++)
            for (int ox = 0; ox < OUTD; ox++) {
                float s = p[OFF_B1 + c];
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                        s += p[OFF_W1 + c * K * K + ky * K + kx] *
                             a->x[(oy * STRIDE + ky) * W + ox * STRIDE + kx];
                const int j = (c * OUTD + oy) * OUTD + ox;
                a->z1[j] = s;
                a->a1[j] = s * s;
            }
    for (int j = 0; j < H2; j++) {
        const float *w = p + OFF_W2 + (size_t)j * H1;
        float s = 0;
        for (int i = 0; i < H1; i++)
            s += w[i] * a->a1[i];
        s += p[OFF_B2 + j];
        a->z2[j] = s;
        a->a2[j] = s * s;
    }
    for (int k = 0; k < NCLS; k++) {
        const float *w = p + OFF_W3 + k * H2;
        float s = p[OFF_B3 + k];
        for (int j = 0; j < H2; j++)
            s += w[j] * a->a2[j];
        a->z3[k] = s;
    }
}

/* softmax cross-entropy; adds the gradient into g; returns the loss */
static double backward(float *g, const act_t *a, const float *p, int label)
{
    const int W = IMG + 2 * PADI;
    float mx = a->z3[0];
    for (int k = 1; k < NCLS; k++)
        mx = fmaxf(mx, a->z3[k]);
    double sum = 0;
    float pr[NCLS];
    for (int k = 0; k < NCLS; k++) {
        pr[k] = expf(a->z3[k] - mx);
        sum += pr[k];
    }
    float dz3[NCLS];
    for (int k = 0; k < NCLS; k++) {
        pr[k] = (float)(pr[k] / sum);
        dz3[k] = pr[k] - (k == label);
    }
    const double loss = -log(fmax(pr[label], 1e-30));
    float dz2[H2];
    for (int j = 0; j < H2; j++) {
        float da = 0;
        for (int k = 0; k < NCLS; k++)
            da += p[OFF_W3 + k * H2 + j] * dz3[k];
        dz2[j] = da * 2 * a->z2[j];
    }
    for (int k = 0; k < NCLS; k++) {
        g[OFF_B3 + k] += dz3[k];
        float *gw = g + OFF_W3 + k * H2;
        for (int j = 0; j < H2; j++)
            gw[j] += dz3[k] * a->a2[j];
    }
    float da1[H1];
    memset(da1, 0, sizeof da1);
    for (int j = 0; j < H2; j++) {
        const float d = dz2[j];
        g[OFF_B2 + j] += d;
        const float *w = p + OFF_W2 + (size_t)j * H1;
        float *gw = g + OFF_W2 + (size_t)j * H1;
        for (int i = 0; i < H1; i++) {
            gw[i] += d * a->a1[i];
            da1[i] += d * w[i];
        }
    }
    for (int c = 0; c < MAPS; c++)
        for (int oy = 0; oy < OUTD; oy++)
            for (int ox = 0; ox < OUTD; ox++) {
                const int j = (c * OUTD + oy) * OUTD + ox;
                const float d = da1[j] * 2 * a->z1[j];
                g[OFF_B1 + c] += d;
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                        g[OFF_W1 + c * K * K + ky * K + kx] +=
                            d * a->x[(oy * STRIDE + ky) * W + ox * STRIDE + kx];
            }
    return loss;
}

static int argmax10(const float *z)
{
    int b = 0;
    for (int k = 1; k < NCLS; k++)
        if (z[k] > z[b])
            b = k;
    return b;
}

static double accuracy(const float *p, const cn_idx_t *img, const cn_idx_t *lab, size_t count,
                       int shift_bits, float qscale)
{
    long ok = 0;
#pragma omp parallel for reduction(+ : ok) schedule(static)
    for (long s = 0; s < (long)count; s++) {
        act_t a;
        load_input(a.x, img->data + (size_t)s * IMG * IMG, 0, 0, shift_bits, qscale);
        forward(&a, p);
        ok += argmax10(a.z3) == lab->data[s];
    }
    return (double)ok / (double)count;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: train_mnist [--data DIR] [--out FILE] [--epochs E] [--minutes M]\n"
            "                   [--seed S] [--threads T] [--batch B] [--lr L] [--shift P]\n"
            "                   [--input-bits B]\n");
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *dir = "data/mnist", *out = "examples/models/cryptonets_mnist.cnm";
    int epochs = 40, batch = 64, shift = 1, input_bits = 8, threads = 0;
    double minutes = 18, lr0 = 2e-3;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--epochs"))
            epochs = atoi(v);
        else if (!strcmp(a, "--minutes"))
            minutes = atof(v);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--batch"))
            batch = atoi(v);
        else if (!strcmp(a, "--lr"))
            lr0 = atof(v);
        else if (!strcmp(a, "--shift"))
            shift = atoi(v);
        else if (!strcmp(a, "--input-bits"))
            input_bits = atoi(v);
        else
            usage();
    }
    if (epochs < 1 || batch < 1 || shift < 0 || shift > 4 || input_bits < 1 || input_bits > 8)
        usage();
#ifdef _OPENMP
    if (threads > 0)
        omp_set_num_threads(threads);
    threads = omp_get_max_threads();
#else
    threads = 1;
#endif
    const int shift_bits = 8 - input_bits;
    const int qmax = (1 << input_bits) - 1;
    const float qscale = 1.0f / (float)qmax;

    char path[4][1024];
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    cn_idx_t data[4];
    for (int i = 0; i < 4; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
        cn_net_diag_t d;
        if (cn_idx_load(&data[i], path[i], &d) != CN_OK) {
            fprintf(stderr,
                    "train_mnist: %s\n  (run `sh scripts/fetch_mnist.sh` to fetch the data)\n",
                    d.msg);
            return 1;
        }
    }
    const cn_idx_t *ti = &data[0], *tl = &data[1], *vi = &data[2], *vl = &data[3];
    if (ti->ndims != 3 || ti->dims[1] != IMG || ti->dims[2] != IMG || tl->ndims != 1 ||
        tl->dims[0] != ti->dims[0] || vi->ndims != 3 || vi->dims[1] != IMG ||
        vi->dims[2] != IMG || vl->ndims != 1 || vl->dims[0] != vi->dims[0]) {
        fprintf(stderr, "train_mnist: unexpected shapes in %s\n", dir);
        return 1;
    }
    const size_t ntrain = ti->dims[0], ntest = vi->dims[0];

    /* parameters: He-like normal initialization scaled for square activations */
    float *p = calloc(NPARAM, sizeof *p), *m1 = calloc(NPARAM, sizeof *m1),
          *m2 = calloc(NPARAM, sizeof *m2);
    float *g = calloc((size_t)threads * NPARAM, sizeof *g);
    size_t *order = malloc(ntrain * sizeof *order);
    if (!p || !m1 || !m2 || !g || !order) {
        fprintf(stderr, "train_mnist: out of memory\n");
        return 1;
    }
    rng_s = seed;
    for (int i = 0; i < MAPS * K * K; i++)
        p[OFF_W1 + i] = (float)(rng_normal(&rng_s) * sqrt(1.0 / (K * K)));
    for (size_t i = 0; i < (size_t)H2 * H1; i++)
        p[OFF_W2 + i] = (float)(rng_normal(&rng_s) * sqrt(1.0 / H1) * 0.5);
    for (int i = 0; i < NCLS * H2; i++)
        p[OFF_W3 + i] = (float)(rng_normal(&rng_s) * sqrt(1.0 / H2) * 0.5);
    for (size_t i = 0; i < ntrain; i++)
        order[i] = i;

    fprintf(stderr,
            "train_mnist: %zu training and %zu test images, %d threads, seed %llu, "
            "inputs of %d bits, up to %d epochs or %.0f minutes\n",
            ntrain, ntest, threads, (unsigned long long)seed, input_bits, epochs, minutes);
    const double t0 = now_s();
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    long step = 0;
    const long steps_total =
        (long)epochs * (long)((ntrain + (size_t)batch - 1) / (size_t)batch);
    double best_acc = 0;
    int ep;
    for (ep = 1; ep <= epochs; ep++) {
        for (size_t i = ntrain - 1; i > 0; i--) { /* shuffle */
            const size_t j = (size_t)(rng_next(&rng_s) % (i + 1));
            const size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        double loss = 0;
        long correct = 0;
        for (size_t b0 = 0; b0 < ntrain; b0 += (size_t)batch) {
            const size_t bn = ntrain - b0 < (size_t)batch ? ntrain - b0 : (size_t)batch;
            /* augmentation shifts drawn in order, so threads do not change the result */
            int sh[1024][2];
            for (size_t s = 0; s < bn && s < 1024; s++) {
                sh[s][0] = (int)(rng_next(&rng_s) % (uint64_t)(2 * shift + 1)) - shift;
                sh[s][1] = (int)(rng_next(&rng_s) % (uint64_t)(2 * shift + 1)) - shift;
            }
            memset(g, 0, (size_t)threads * NPARAM * sizeof *g);
            double bl = 0;
            long bc = 0;
#pragma omp parallel reduction(+ : bl, bc)
            {
#ifdef _OPENMP
                float *gt = g + (size_t)omp_get_thread_num() * NPARAM;
#else
                float *gt = g;
#endif
                act_t a;
                /* static chunks in sample order: each thread's partial sums are fixed */
#pragma omp for schedule(static)
                for (long s = 0; s < (long)bn; s++) {
                    const size_t idx = order[b0 + (size_t)s];
                    load_input(a.x, ti->data + idx * IMG * IMG, sh[s % 1024][0],
                               sh[s % 1024][1], shift_bits, qscale);
                    forward(&a, p);
                    bc += argmax10(a.z3) == tl->data[idx];
                    bl += backward(gt, &a, p, tl->data[idx]);
                }
            }
            loss += bl;
            correct += bc;
            /* sum the threads' gradients, then an Adam step with a cosine schedule */
            step++;
            const double lr =
                lr0 * 0.5 * (1 + cos(3.141592653589793 * (double)step / (double)steps_total));
            const double c1 = 1 - pow(b1, (double)step), c2 = 1 - pow(b2, (double)step);
            const float inv = 1.0f / (float)bn;
#pragma omp parallel for schedule(static)
            for (long k = 0; k < NPARAM; k++) {
                float gk = 0;
                for (int t = 0; t < threads; t++)
                    gk += g[(size_t)t * NPARAM + (size_t)k];
                gk *= inv;
                m1[k] = (float)(b1 * m1[k] + (1 - b1) * gk);
                m2[k] = (float)(b2 * m2[k] + (1 - b2) * gk * gk);
                p[k] -= (float)(lr * (m1[k] / c1) / (sqrt(m2[k] / c2) + eps));
            }
        }
        const double acc = accuracy(p, vi, vl, ntest, shift_bits, qscale);
        if (acc > best_acc)
            best_acc = acc;
        fprintf(stderr, "epoch %3d  loss %.4f  train %.2f%%  test %.2f%%  (%.0f s)\n", ep,
                loss / (double)ntrain, 100.0 * (double)correct / (double)ntrain, 100 * acc,
                now_s() - t0);
        if (now_s() - t0 > minutes * 60) {
            fprintf(stderr, "train_mnist: time limit reached\n");
            break;
        }
    }
    const double acc = accuracy(p, vi, vl, ntest, shift_bits, qscale);

    /* the model file: raw inputs in [0, qmax], float input = raw / qmax */
    double *w1 = malloc(MAPS * K * K * sizeof *w1), *w2 = malloc((size_t)H2 * H1 * sizeof *w2),
           *w3 = malloc(NCLS * H2 * sizeof *w3), bb1[MAPS], bb2[H2], bb3[NCLS];
    for (int i = 0; i < MAPS * K * K; i++)
        w1[i] = p[OFF_W1 + i];
    for (size_t i = 0; i < (size_t)H2 * H1; i++)
        w2[i] = p[OFF_W2 + i];
    for (int i = 0; i < NCLS * H2; i++)
        w3[i] = p[OFF_W3 + i];
    for (int i = 0; i < MAPS; i++)
        bb1[i] = p[OFF_B1 + i];
    for (int i = 0; i < H2; i++)
        bb2[i] = p[OFF_B2 + i];
    for (int i = 0; i < NCLS; i++)
        bb3[i] = p[OFF_B3 + i];
    cn_model_t m;
    cn_net_diag_t d = {{0}};
    cn_status st = cn_model_init(&m, 1, IMG, IMG, 1.0 / qmax, 0, qmax);
    if (st == CN_OK)
        st = cn_model_add_conv2d(&m, MAPS, K, K, STRIDE, PADI, w1, bb1, &d);
    if (st == CN_OK)
        st = cn_model_add_square(&m, &d);
    if (st == CN_OK)
        st = cn_model_add_flatten(&m, &d);
    if (st == CN_OK)
        st = cn_model_add_dense(&m, H2, w2, bb2, &d);
    if (st == CN_OK)
        st = cn_model_add_square(&m, &d);
    if (st == CN_OK)
        st = cn_model_add_dense(&m, NCLS, w3, bb3, &d);
    if (st == CN_OK)
        st = cn_model_save(&m, out, &d);
    if (st != CN_OK) {
        fprintf(stderr, "train_mnist: %s: %s\n", cn_strerror(st), d.msg);
        return 1;
    }
    printf("train_mnist: float test accuracy %.2f%% after %d epochs (%.0f s); model written "
           "to %s\n",
           100 * acc, ep > epochs ? epochs : ep, now_s() - t0, out);
    cn_model_clear(&m);
    free(w1);
    free(w2);
    free(w3);
    free(p);
    free(m1);
    free(m2);
    free(g);
    free(order);
    for (int i = 0; i < 4; i++)
        cn_idx_clear(&data[i]);
    return 0;
}
