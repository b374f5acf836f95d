/* examples/mnist_private: private MNIST inference end to end (docs/mnist.md).
 *
 * The client and the server are kept apart: they share only bytes (the plan, the
 * evaluation keys, the encrypted batch, the encrypted reply). The client loads the model,
 * compiles the plan (calibrated on training images), makes keys, encrypts test images in
 * batches of n (one image per slot), the server evaluates with public keys only, and the
 * client decrypts, takes the argmax, and checks every output against the plaintext
 * integer network (any difference is an error). */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <jansson.h>

#include "cryptonets/cryptonets.h"

#define NPIX 784 /* inputs: 28 x 28 pixels */
#define NCLS 10  /* outputs: one score per digit */
#define MAX_STEPS (CN_PLAN_MAX_OPS + 2)

/* the command line */
typedef struct {
    const char *model_path, *dir;
    size_t images; /* 0: one full batch of n */
    size_t ncalib; /* training images the compiler calibrates on */
    size_t ring;   /* 0: the compiler's choice */
    int threads;   /* 0: all cores */
    int json;
    unsigned wbits;   /* 0: the compiler's choice */
    double tolerance; /* 0: the compiler's default */
    int exact;        /* every calibration prediction as the float network's */
    int unlabelled;   /* calibrate without the training labels (agreement criterion) */
    unsigned
        input_bits; /* an ONNX model's inputs: pixel >> (8 - bits), as value / (2^bits - 1) */
} options_t;

/* everything one run holds, client side and server side, and what it measured */
typedef struct {
    options_t opt;
    /* data: test images, test labels, training images, training labels */
    cn_idx_t data[4];
    int shift; /* raw input = pixel >> shift */
    size_t ntest;
    int64_t *calib, *calib_labels;
    cn_model_t model;
    /* client */
    cn_plan_t *plan;
    cn_client_t *client;
    uint8_t *plan_bytes, *keys;
    size_t plan_len, keys_len;
    /* server: its own plan and keys, loaded from the bytes */
    cn_plan_t *splan;
    cn_server_t *server;
    /* one batch: inputs, decrypted outputs, the integer network's outputs */
    int64_t *x;
    cn_int128 *got, *ref;
    /* measurements */
    size_t n, nbatch, correct, agree, mismatched_values, float_correct;
    size_t up_bytes, down_bytes, nsteps;
    double t_compile, t_keygen, t_enc, t_srv, t_dec;
    double step_s[MAX_STEPS];
    char step_name[MAX_STEPS][24];
    cn_net_diag_t diag; /* why the last client or server call failed */
} run_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int quiet;

/* a progress line on stderr: stage, done of total */
static void progress(const char *stage, size_t done, size_t total)
{
    if (quiet)
        return;
    if (!isatty(STDERR_FILENO)) { /* a log: one line per stage, no carriage returns */
        if (done == total)
            fprintf(stderr, "  %-28s %zu/%zu\n", stage, done, total);
        return;
    }
    const int width = 30;
    const int fill = total ? (int)((double)width * (double)done / (double)total) : width;
    fprintf(stderr, "\r  %-28s [", stage);
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu   ", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: mnist_private [--images N] [--threads T] [--model FILE] [--data DIR]\n"
            "                     [--json] [--calib N] [--weight-bits B] [--tolerance F]\n"
            "                     [--exact] [--unlabelled] [--n N] [--input-bits B] [--quiet]\n"
            "  --model FILE: a .cnm model, or an ONNX model (.onnx) whose input is the\n"
            "    pixel >> (8 - B) divided by 2^B - 1 (--input-bits B, default 4; the\n"
            "    convention of examples/pytorch and examples/train_mnist)\n"
            "  --images N: test images to classify (default: one full batch of n)\n"
            "  --calib N: training images the compiler checks its quantization on (5000),\n"
            "    with their labels: the integer network's accuracy on them may be at most\n"
            "    --tolerance F below the float network's (default 0.002: 0.2 points)\n"
            "  --unlabelled: without the labels: at most a fraction F of their predictions\n"
            "    may differ from the float network's (default 0.005)\n"
            "  --exact: none of their predictions may differ (the policy before 2026-11)\n"
            "  --n N: force the ring degree (default: the compiler's choice)\n");
    exit(2);
}

static size_t argmax128(const cn_int128 *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

/* Parses the command line (usage, exit status 2, if it is wrong); resolves threads = 0. */
static void parse_options(options_t *o, int argc, char **argv)
{
    *o = (options_t){.model_path = "examples/models/cryptonets_mnist.cnm",
                     .dir = "data/mnist",
                     .ncalib = 5000, /* 1000 cannot tell 3 3 3-bit weights (98.98% on the
                                      * test images) from 3 4 5 (99.19%): docs/benchmarks.md,
                                      * "2026-11-30: the two-moduli default" */
                     .input_bits = 4};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--exact")) {
            o->exact = 1;
            continue;
        }
        if (!strcmp(a, "--unlabelled")) {
            o->unlabelled = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--images"))
            o->images = (size_t)atol(v);
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "--model"))
            o->model_path = v;
        else if (!strcmp(a, "--data"))
            o->dir = v;
        else if (!strcmp(a, "--calib"))
            o->ncalib = (size_t)atol(v);
        else if (!strcmp(a, "--weight-bits"))
            o->wbits = (unsigned)atoi(v);
        else if (!strcmp(a, "--tolerance"))
            o->tolerance = atof(v);
        else if (!strcmp(a, "--n"))
            o->ring = (size_t)atol(v);
        else if (!strcmp(a, "--input-bits") && atoi(v) >= 1 && atoi(v) <= 8)
            o->input_bits = (unsigned)atoi(v);
        else
            usage();
    }
#ifdef _OPENMP
    if (o->threads <= 0)
        o->threads = omp_get_num_procs();
#else
    o->threads = 1;
#endif
}

/* Loads the 784 -> 10 model, the four MNIST files and the calibration images; 0 or 1. */
static int load_data_and_model(run_t *r)
{
    cn_net_diag_t d = {{0}};
    const size_t plen = strlen(r->opt.model_path);
    const int onnx = plen > 5 && !strcmp(r->opt.model_path + plen - 5, ".onnx");
    const int64_t top = ((int64_t)1 << r->opt.input_bits) - 1;
    const cn_onnx_opts_t oo = {
        .input_min = 0, .input_max = top, .input_scale = 1.0 / (double)top};
    if ((onnx ? cn_model_load_onnx(&r->model, r->opt.model_path, &oo, &d)
              : cn_model_load(&r->model, r->opt.model_path, &d)) != CN_OK) {
        fprintf(stderr, "mnist_private: %s\n", d.msg);
        return 1;
    }
    const int64_t qmax = r->model.input_max;
    int in_bits = 0;
    while (in_bits < 8 && ((int64_t)1 << in_bits) - 1 < qmax)
        in_bits++;
    if (r->model.input_min != 0 || ((int64_t)1 << in_bits) - 1 != qmax ||
        cn_model_inputs(&r->model) != NPIX || cn_model_outputs(&r->model) != NCLS) {
        fprintf(stderr, "mnist_private: %s is not a 784 -> 10 model on inputs [0, 2^b - 1]\n",
                r->opt.model_path);
        return 1;
    }
    const char *names[4] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                            "train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", r->opt.dir, names[i]);
        if (cn_idx_load(&r->data[i], path, &d) != CN_OK) {
            fprintf(stderr, "mnist_private: %s\n  (run `sh scripts/fetch_mnist.sh`)\n", d.msg);
            return 1;
        }
    }
    const cn_idx_t *test = &r->data[0], *labels = &r->data[1], *train = &r->data[2];
    if (test->ndims != 3 || test->dims[1] * test->dims[2] != NPIX ||
        labels->dims[0] != test->dims[0] || train->ndims != 3 ||
        train->dims[1] * train->dims[2] != NPIX) {
        fprintf(stderr, "mnist_private: unexpected shapes in %s\n", r->opt.dir);
        return 1;
    }
    r->ntest = test->dims[0];
    /* raw input = pixel >> (8 - bits), as the trainer quantized them */
    r->shift = 8 - in_bits;
    if (r->opt.ncalib > train->dims[0])
        r->opt.ncalib = train->dims[0];
    r->calib = malloc((r->opt.ncalib ? r->opt.ncalib : 1) * NPIX * sizeof *r->calib);
    r->calib_labels = malloc((r->opt.ncalib ? r->opt.ncalib : 1) * sizeof *r->calib_labels);
    if (!r->calib || !r->calib_labels) {
        fprintf(stderr, "mnist_private: %s\n", cn_strerror(CN_ERR_NO_MEMORY));
        return 1;
    }
    for (size_t i = 0; i < r->opt.ncalib * NPIX; i++)
        r->calib[i] = train->data[i] >> r->shift;
    const cn_idx_t *train_labels = &r->data[3];
    if (train_labels->dims[0] < r->opt.ncalib) {
        fprintf(stderr, "mnist_private: fewer training labels than images in %s\n", r->opt.dir);
        return 1;
    }
    for (size_t i = 0; i < r->opt.ncalib; i++)
        r->calib_labels[i] = train_labels->data[i];
    return 0;
}

/* Client: compiles the plan (printed unless --json); n sets the default image count. */
static int compile(run_t *r)
{
    cn_net_diag_t d = {{0}};
    const double t0 = now_s();
    const cn_compile_opts_t o = {.weight_bits = r->opt.wbits,
                                 .calib = r->calib,
                                 .ncalib = r->opt.ncalib,
                                 .calib_tolerance = r->opt.tolerance,
                                 .calib_labels = r->opt.unlabelled ? NULL : r->calib_labels,
                                 .calib_criterion =
                                     r->opt.exact ? CN_CALIB_EXACT : CN_CALIB_DEFAULT,
                                 .n = r->opt.ring};
    const cn_status st = cn_plan_compile(&r->plan, &r->model, &o, &d);
    r->t_compile = now_s() - t0;
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: compile: %s: %s\n", cn_strerror(st), d.msg);
        return 1;
    }
    r->n = cn_plan_params(r->plan)->n;
    if (r->opt.images == 0)
        r->opt.images = r->n;
    if (r->opt.images > r->ntest)
        r->opt.images = r->ntest;
    if (!r->opt.json)
        cn_plan_print(r->plan, stdout);
    return 0;
}

/* Client: the plan's bytes, fresh keys, the public evaluation keys' bytes; 0 or 1. */
static int client_keys(run_t *r)
{
    const double t0 = now_s();
    cn_status st = cn_plan_to_bytes(&r->plan_bytes, &r->plan_len, r->plan);
    if (st == CN_OK)
        st = cn_client_create(&r->client, r->plan, NULL, 0);
    if (st == CN_OK) {
        cn_client_set_threads(r->client, r->opt.threads);
        st = cn_client_eval_keys(&r->keys, &r->keys_len, r->client);
    }
    r->t_keygen = now_s() - t0;
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: client: %s\n", cn_strerror(st));
        return 1;
    }
    return 0;
}

/* Server: its own plan and the client's evaluation keys, loaded from bytes; 0 or 1. */
static int server_load(run_t *r)
{
    cn_net_diag_t d = {{0}};
    cn_status st = cn_plan_from_bytes(&r->splan, r->plan_bytes, r->plan_len, 0, &d);
    if (st == CN_OK)
        st = cn_server_create(&r->server, r->splan, r->keys, r->keys_len, r->opt.threads, &d);
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: server: %s %s\n", cn_strerror(st), d.msg);
        return 1;
    }
    return 0;
}

/* Client: test images [first, first + count) into r->x, encrypted into batch bytes. */
static cn_status encrypt_batch(uint8_t **up, size_t *ul, run_t *r, size_t b, size_t first,
                               size_t count)
{
    char stage[64];
    for (size_t i = 0; i < count * NPIX; i++)
        r->x[i] = r->data[0].data[first * NPIX + i] >> r->shift;
    snprintf(stage, sizeof stage, "batch %zu/%zu: encrypt", b + 1, r->nbatch);
    progress(stage, 0, 3);
    const double t0 = now_s();
    const cn_status st = cn_client_encrypt(up, ul, r->client, r->x, count, &r->diag);
    r->t_enc += now_s() - t0;
    return st;
}

/* Server: evaluates one encrypted batch; adds up the time of its steps over batches. */
static cn_status server_evaluate(uint8_t **down, size_t *dl, run_t *r, size_t b,
                                 const uint8_t *up, size_t ul)
{
    char stage[64];
    snprintf(stage, sizeof stage, "batch %zu/%zu: server", b + 1, r->nbatch);
    progress(stage, 1, 3);
    cn_server_timing_t tm;
    const double t0 = now_s();
    const cn_status st = cn_server_eval(down, dl, r->server, up, ul, &tm, &r->diag);
    r->t_srv += now_s() - t0;
    if (st != CN_OK)
        return st;
    for (size_t i = 0; i < tm.nsteps && i < MAX_STEPS; i++) {
        r->step_s[i] += tm.seconds[i];
        snprintf(r->step_name[i], sizeof r->step_name[i], "%s", tm.name[i]);
    }
    r->nsteps = tm.nsteps < MAX_STEPS ? tm.nsteps : MAX_STEPS;
    return CN_OK;
}

/* Client: decrypts a reply; scores it against the labels and the integer network. */
static cn_status decrypt_and_score(run_t *r, size_t b, size_t first, size_t count,
                                   const uint8_t *down, size_t dl)
{
    char stage[64];
    snprintf(stage, sizeof stage, "batch %zu/%zu: decrypt", b + 1, r->nbatch);
    progress(stage, 2, 3);
    const double t0 = now_s();
    cn_status st = cn_client_decrypt(r->got, r->client, down, dl, count, &r->diag);
    r->t_dec += now_s() - t0;
    if (st != CN_OK)
        return st;
    progress(stage, 3, 3);
    st = cn_plan_eval_plain(r->ref, r->plan, r->x, count);
    for (size_t s = 0; st == CN_OK && s < count; s++) {
        const cn_int128 *got = r->got + s * NCLS, *ref = r->ref + s * NCLS;
        const size_t pg = argmax128(got, NCLS), pr = argmax128(ref, NCLS);
        r->correct += pg == r->data[1].data[first + s];
        int same = 1;
        for (int k = 0; k < NCLS; k++)
            if (got[k] != ref[k])
                same = 0;
        r->agree += same && pg == pr;
        r->mismatched_values += !same;
    }
    return st;
}

/* Encrypts, evaluates, decrypts and scores every batch of n test images; 0 or 1. */
static int run_batches(run_t *r)
{
    const size_t n = r->n, images = r->opt.images;
    r->nbatch = (images + n - 1) / n;
    r->x = malloc(n * NPIX * sizeof *r->x);
    r->got = malloc(n * NCLS * sizeof *r->got);
    r->ref = malloc(n * NCLS * sizeof *r->ref);
    cn_status st = r->x && r->got && r->ref ? CN_OK : CN_ERR_NO_MEMORY;
    for (size_t b = 0; b < r->nbatch && st == CN_OK; b++) {
        const size_t first = b * n, count = images - first < n ? images - first : n;
        uint8_t *up, *down;
        size_t ul, dl;
        st = encrypt_batch(&up, &ul, r, b, first, count);
        if (st != CN_OK)
            break;
        st = server_evaluate(&down, &dl, r, b, up, ul);
        free(up);
        if (st != CN_OK)
            break;
        st = decrypt_and_score(r, b, first, count, down, dl);
        free(down);
        if (b == 0) {
            r->up_bytes = ul;
            r->down_bytes = dl;
        }
    }
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: %s%s%s\n", cn_strerror(st), r->diag.msg[0] ? ": " : "",
                r->diag.msg);
        return 1;
    }
    return 0;
}

/* The float model's accuracy on the same images, for reference. */
static void score_float(run_t *r)
{
    int64_t xi[NPIX];
    for (size_t s = 0; s < r->opt.images; s++) {
        double fo[NCLS];
        for (int i = 0; i < NPIX; i++)
            xi[i] = r->data[0].data[s * NPIX + (size_t)i] >> r->shift;
        if (cn_model_forward(fo, &r->model, xi) != CN_OK)
            break;
        size_t bi = 0;
        for (int k = 1; k < NCLS; k++)
            if (fo[k] > fo[bi])
                bi = (size_t)k;
        r->float_correct += bi == r->data[1].data[s];
    }
}

/* The report on stdout: one JSON line (--json) or text for people. */
static void report(const run_t *r)
{
    const cn_bfv_params_t *prm = cn_plan_params(r->plan);
    const size_t images = r->opt.images, n = r->n;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double peak = (double)ru.ru_maxrss * 1024.0;
    const double e2e = r->t_enc + r->t_srv + r->t_dec;
    const double pph = 3600.0 * (double)images / r->t_srv;
    const double pph_e2e = 3600.0 * (double)images / e2e;
    const double acc = (double)r->correct / (double)images;
    const int sec_bits = prm->security == CN_SEC_192   ? 192
                         : prm->security == CN_SEC_256 ? 256
                         : prm->security == CN_SEC_128 ? 128
                                                       : 0;
    if (r->opt.json) {
        /* one JSON object on one line (jansson: docs/mnist.md lists the fields) */
        json_t *sec = json_object(), *tm = json_array(), *o;
        json_object_set_new(sec, "compile", json_real(r->t_compile));
        json_object_set_new(sec, "keygen", json_real(r->t_keygen));
        json_object_set_new(sec, "encrypt", json_real(r->t_enc));
        for (size_t i = 0; i < r->nsteps; i++) {
            char key[40];
            snprintf(key, sizeof key, "server_%s", r->step_name[i]);
            json_object_set_new(sec, key, json_real(r->step_s[i]));
        }
        json_object_set_new(sec, "server_total", json_real(r->t_srv));
        json_object_set_new(sec, "decrypt", json_real(r->t_dec));
        json_object_set_new(sec, "total", json_real(e2e));
        for (size_t k = 0; k < prm->nt; k++)
            json_array_append_new(tm, json_integer((json_int_t)prm->t[k]));
        json_t *wb = json_array();
        for (size_t k = 0; k < cn_plan_linear_layers(r->plan); k++)
            json_array_append_new(wb, json_integer(cn_plan_layer_weight_bits(r->plan, k)));
        o = json_pack(
            "{s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:o, s:I, s:f, s:o, s:o, s:f, s:i, "
            "s:i, s:I, s:I, s:I, s:I, s:I}",
            "images", (json_int_t)images, "correct", (json_int_t)r->correct, "accuracy", acc,
            "float_accuracy", (double)r->float_correct / (double)images, "agree",
            (double)r->agree / (double)images, "value_mismatches",
            (json_int_t)r->mismatched_values, "predictions_per_hour", (json_int_t)pph,
            "end_to_end_predictions_per_hour", (json_int_t)pph_e2e, "seconds", sec, "n",
            (json_int_t)n, "log_q", cn_bfv_params_log_qp(prm), "plaintext_moduli", tm,
            "layer_weight_bits", wb, "output_bits", cn_plan_output_bits(r->plan),
            "security_bits", sec_bits, "threads", r->opt.threads, "batches",
            (json_int_t)r->nbatch, "upload_bytes", (json_int_t)r->up_bytes, "download_bytes",
            (json_int_t)r->down_bytes, "eval_key_bytes", (json_int_t)r->keys_len,
            "peak_rss_bytes", (json_int_t)peak);
        if (!o || json_dumpf(o, stdout,
                             JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(7)) != 0)
            fprintf(stderr, "mnist_private: the JSON report could not be written\n");
        else
            putchar('\n');
        json_decref(o);
        return;
    }
    printf("\nmnist_private: %zu test images in %zu batch(es) of up to %zu, %d threads\n",
           images, r->nbatch, n, r->opt.threads);
    printf("  parameters: n = %zu, log2(qP) = %.1f, %zu plaintext moduli, %d-bit security\n", n,
           cn_bfv_params_log_qp(prm), prm->nt, sec_bits);
    printf("  accuracy (encrypted): %.2f%% (%zu/%zu); float model: %.2f%%\n", 100 * acc,
           r->correct, images, 100.0 * (double)r->float_correct / (double)images);
    printf("  agreement with the plaintext integer network: %.2f%%%s\n",
           100.0 * (double)r->agree / (double)images,
           r->mismatched_values ? "  ERROR: outputs differ" : " (every output equal)");
    printf("  seconds: compile %.2f, keygen %.2f, encrypt %.2f, server %.2f, decrypt %.2f\n",
           r->t_compile, r->t_keygen, r->t_enc, r->t_srv, r->t_dec);
    printf("  server steps:");
    for (size_t i = 0; i < r->nsteps; i++)
        printf(" %s %.2f%s", r->step_name[i], r->step_s[i], i + 1 < r->nsteps ? "," : "\n");
    printf("  predictions per hour: %.0f (server), %.0f (end to end)\n", pph, pph_e2e);
    printf("  bytes per batch: up %zu, down %zu; evaluation keys %zu; peak RSS %.0f MiB\n",
           r->up_bytes, r->down_bytes, r->keys_len, peak / 1048576.0);
}

/* everything a run holds, freed (on every path) */
static void run_clear(run_t *r)
{
    free(r->x);
    free(r->got);
    free(r->ref);
    free(r->calib);
    free(r->calib_labels);
    free(r->keys);
    free(r->plan_bytes);
    cn_server_free(r->server);
    cn_plan_free(r->splan);
    cn_client_free(r->client);
    cn_plan_free(r->plan);
    cn_model_clear(&r->model);
    for (int i = 0; i < 4; i++)
        cn_idx_clear(&r->data[i]);
}

/* exit status: 0, 1 on an error, 2 on a bad command line, 3 if an output differs */
int main(int argc, char **argv)
{
    run_t r = {0}; /* nothing held yet */
    parse_options(&r.opt, argc, argv);
    /* a server keeps its heap between layers and batches (docs/net.md, Memory) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, -1);
    int rc = load_data_and_model(&r);
    if (rc == 0)
        rc = compile(&r);
    if (rc == 0)
        rc = client_keys(&r);
    if (rc == 0)
        rc = server_load(&r);
    if (rc == 0)
        rc = run_batches(&r);
    if (rc == 0) {
        score_float(&r);
        report(&r);
        rc = r.mismatched_values ? 3 : 0;
    }
    run_clear(&r);
    return rc;
}
