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
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cryptonets/cryptonets.h"

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
            "                     [--n N] [--quiet]\n"
            "  --images N: test images to classify (default: one full batch of n)\n"
            "  --calib N: training images the compiler checks its quantization on (1000)\n"
            "  --tolerance F: fraction of them whose prediction may change (0)\n"
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

#define MAX_STEPS 32

int main(int argc, char **argv)
{
    const char *model_path = "examples/models/cryptonets_mnist.cnm", *dir = "data/mnist";
    size_t images = 0, ncalib = 1000;
    int threads = 0, json = 0;
    unsigned wbits = 0;
    double tolerance = 0;
    size_t ring = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--images"))
            images = (size_t)atol(v);
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--model"))
            model_path = v;
        else if (!strcmp(a, "--data"))
            dir = v;
        else if (!strcmp(a, "--calib"))
            ncalib = (size_t)atol(v);
        else if (!strcmp(a, "--weight-bits"))
            wbits = (unsigned)atoi(v);
        else if (!strcmp(a, "--tolerance"))
            tolerance = atof(v);
        else if (!strcmp(a, "--n"))
            ring = (size_t)atol(v);
        else
            usage();
    }
    /* a server keeps its heap between layers and batches (docs/net.md, Memory) */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, -1);
#ifdef _OPENMP
    if (threads <= 0)
        threads = omp_get_num_procs();
#else
    threads = 1;
#endif

    /* --- data and model ---------------------------------------------------------- */
    cn_net_diag_t d = {{0}};
    cn_model_t model;
    cn_status st = cn_model_load(&model, model_path, &d);
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: %s\n", d.msg);
        return 1;
    }
    const int64_t qmax = model.input_max;
    int in_bits = 0;
    while (in_bits < 8 && ((int64_t)1 << in_bits) - 1 < qmax)
        in_bits++;
    if (model.input_min != 0 || ((int64_t)1 << in_bits) - 1 != qmax || cn_model_inputs(&model) != 784 ||
        cn_model_outputs(&model) != 10) {
        fprintf(stderr, "mnist_private: %s is not a 784 -> 10 model on inputs [0, 2^b - 1]\n",
                model_path);
        return 1;
    }
    const char *names[4] = {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                            "train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
    cn_idx_t data[4];
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (cn_idx_load(&data[i], path, &d) != CN_OK) {
            fprintf(stderr, "mnist_private: %s\n  (run `sh scripts/fetch_mnist.sh`)\n", d.msg);
            return 1;
        }
    }
    if (data[0].ndims != 3 || data[0].dims[1] * data[0].dims[2] != 784 ||
        data[1].dims[0] != data[0].dims[0] || data[2].ndims != 3 ||
        data[2].dims[1] * data[2].dims[2] != 784) {
        fprintf(stderr, "mnist_private: unexpected shapes in %s\n", dir);
        return 1;
    }
    const size_t ntest = data[0].dims[0];
    /* raw input = pixel >> (8 - bits), as the trainer quantized them */
    const int shift = 8 - in_bits;
    if (ncalib > data[2].dims[0])
        ncalib = data[2].dims[0];
    int64_t *calib = malloc((ncalib ? ncalib : 1) * 784 * sizeof *calib);
    for (size_t i = 0; i < ncalib * 784; i++)
        calib[i] = data[2].data[i] >> shift;

    /* --- client: the plan, keys ------------------------------------------------------ */
    double t0 = now_s();
    cn_compile_opts_t o = {.weight_bits = wbits, .calib = calib, .ncalib = ncalib,
                           .calib_tolerance = tolerance, .n = ring};
    cn_plan_t *plan;
    st = cn_plan_compile(&plan, &model, &o, &d);
    const double t_compile = now_s() - t0;
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: compile: %s: %s\n", cn_strerror(st), d.msg);
        return 1;
    }
    const cn_bfv_params_t *prm = cn_plan_params(plan);
    const size_t n = prm->n;
    if (images == 0)
        images = n;
    if (images > ntest)
        images = ntest;
    if (!json)
        cn_plan_print(plan, stdout);
    uint8_t *plan_bytes, *keys;
    size_t plan_len, keys_len;
    cn_client_t *client;
    t0 = now_s();
    st = cn_plan_to_bytes(&plan_bytes, &plan_len, plan);
    if (st == CN_OK)
        st = cn_client_create(&client, plan, NULL, 0);
    if (st == CN_OK) {
        cn_client_set_threads(client, threads);
        st = cn_client_eval_keys(&keys, &keys_len, client);
    }
    const double t_keygen = now_s() - t0;
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: client: %s\n", cn_strerror(st));
        return 1;
    }

    /* --- server: loads the plan and the keys from bytes ------------------------------ */
    cn_plan_t *splan;
    cn_server_t *server;
    st = cn_plan_from_bytes(&splan, plan_bytes, plan_len, 0, &d);
    if (st == CN_OK)
        st = cn_server_create(&server, splan, keys, keys_len, threads, NULL);
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: server: %s %s\n", cn_strerror(st), d.msg);
        return 1;
    }

    /* --- batches ----------------------------------------------------------------------- */
    const size_t nbatch = (images + n - 1) / n;
    double t_enc = 0, t_srv = 0, t_dec = 0, t_ref = 0;
    double step_s[MAX_STEPS] = {0};
    char step_name[MAX_STEPS][24] = {{0}};
    size_t nsteps = 0, correct = 0, agree = 0, mismatched_values = 0;
    size_t up_bytes = 0, down_bytes = 0;
    int64_t *x = malloc(n * 784 * sizeof *x);
    cn_int128 *got = malloc(n * 10 * sizeof *got), *ref = malloc(n * 10 * sizeof *ref);
    for (size_t b = 0; b < nbatch && st == CN_OK; b++) {
        const size_t first = b * n, count = images - first < n ? images - first : n;
        char stage[64];
        for (size_t i = 0; i < count * 784; i++)
            x[i] = data[0].data[first * 784 + i] >> shift;
        snprintf(stage, sizeof stage, "batch %zu/%zu: encrypt", b + 1, nbatch);
        progress(stage, 0, 3);
        uint8_t *up, *down;
        size_t ul, dl;
        t0 = now_s();
        st = cn_client_encrypt(&up, &ul, client, x, count, NULL);
        t_enc += now_s() - t0;
        if (st != CN_OK)
            break;
        snprintf(stage, sizeof stage, "batch %zu/%zu: server", b + 1, nbatch);
        progress(stage, 1, 3);
        cn_server_timing_t tm;
        t0 = now_s();
        st = cn_server_eval(&down, &dl, server, up, ul, &tm, NULL);
        t_srv += now_s() - t0;
        free(up);
        if (st != CN_OK)
            break;
        for (size_t i = 0; i < tm.nsteps && i < MAX_STEPS; i++) {
            step_s[i] += tm.seconds[i];
            snprintf(step_name[i], sizeof step_name[i], "%s", tm.name[i]);
        }
        nsteps = tm.nsteps < MAX_STEPS ? tm.nsteps : MAX_STEPS;
        snprintf(stage, sizeof stage, "batch %zu/%zu: decrypt", b + 1, nbatch);
        progress(stage, 2, 3);
        t0 = now_s();
        st = cn_client_decrypt(got, client, down, dl, count, NULL);
        t_dec += now_s() - t0;
        free(down);
        if (st != CN_OK)
            break;
        progress(stage, 3, 3);
        t0 = now_s();
        st = cn_plan_eval_plain(ref, plan, x, count);
        t_ref += now_s() - t0;
        for (size_t s = 0; st == CN_OK && s < count; s++) {
            const size_t pg = argmax128(got + s * 10, 10), pr = argmax128(ref + s * 10, 10);
            correct += pg == data[1].data[first + s];
            int same = 1;
            for (int k = 0; k < 10; k++)
                if (got[s * 10 + k] != ref[s * 10 + k])
                    same = 0;
            agree += same && pg == pr;
            mismatched_values += !same;
        }
        if (b == 0) {
            up_bytes = ul;
            down_bytes = dl;
        }
    }
    if (st != CN_OK) {
        fprintf(stderr, "mnist_private: %s\n", cn_strerror(st));
        return 1;
    }
    /* the float model on the same images, for reference */
    size_t float_correct = 0;
    {
        int64_t xi[784];
        for (size_t s = 0; s < images; s++) {
            double fo[10];
            for (int i = 0; i < 784; i++)
                xi[i] = data[0].data[s * 784 + (size_t)i] >> shift;
            if (cn_model_forward(fo, &model, xi) != CN_OK)
                break;
            size_t bi = 0;
            for (int k = 1; k < 10; k++)
                if (fo[k] > fo[bi])
                    bi = (size_t)k;
            float_correct += bi == data[1].data[s];
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double peak = (double)ru.ru_maxrss * 1024.0;
    const double e2e = t_enc + t_srv + t_dec;
    const double pph = 3600.0 * (double)images / t_srv, pph_e2e = 3600.0 * (double)images / e2e;
    const double acc = (double)correct / (double)images;
    const int sec_bits = prm->security == CN_SEC_192 ? 192 : prm->security == CN_SEC_256 ? 256
                         : prm->security == CN_SEC_128 ? 128 : 0;
    if (json) {
        printf("{\"images\":%zu,\"correct\":%zu,\"accuracy\":%.6f,\"float_accuracy\":%.6f,"
               "\"agree\":%.6f,\"value_mismatches\":%zu,\"predictions_per_hour\":%.0f,"
               "\"end_to_end_predictions_per_hour\":%.0f,\"seconds\":{\"compile\":%.3f,"
               "\"keygen\":%.3f,\"encrypt\":%.3f",
               images, correct, acc, (double)float_correct / (double)images,
               (double)agree / (double)images, mismatched_values, pph, pph_e2e, t_compile,
               t_keygen, t_enc);
        for (size_t i = 0; i < nsteps; i++)
            printf(",\"server_%s\":%.3f", step_name[i], step_s[i]);
        printf(",\"server_total\":%.3f,\"decrypt\":%.3f,\"total\":%.3f},\"n\":%zu,"
               "\"log_q\":%.1f,\"plaintext_moduli\":[",
               t_srv, t_dec, e2e, n, cn_bfv_params_log_qp(prm));
        for (size_t k = 0; k < prm->nt; k++)
            printf("%s%llu", k ? "," : "", (unsigned long long)prm->t[k]);
        printf("],\"security_bits\":%d,\"threads\":%d,\"batches\":%zu,\"upload_bytes\":%zu,"
               "\"download_bytes\":%zu,\"eval_key_bytes\":%zu,\"peak_rss_bytes\":%.0f}\n",
               sec_bits, threads, nbatch, up_bytes, down_bytes, keys_len, peak);
    } else {
        printf("\nmnist_private: %zu test images in %zu batch(es) of up to %zu, %d threads\n",
               images, nbatch, n, threads);
        printf("  parameters: n = %zu, log2(qP) = %.1f, %zu plaintext moduli, %d-bit security\n",
               n, cn_bfv_params_log_qp(prm), prm->nt, sec_bits);
        printf("  accuracy (encrypted): %.2f%% (%zu/%zu); float model: %.2f%%\n", 100 * acc,
               correct, images, 100.0 * (double)float_correct / (double)images);
        printf("  agreement with the plaintext integer network: %.2f%%%s\n",
               100.0 * (double)agree / (double)images,
               mismatched_values ? "  ERROR: outputs differ" : " (every output equal)");
        printf("  seconds: compile %.2f, keygen %.2f, encrypt %.2f, server %.2f, decrypt %.2f\n",
               t_compile, t_keygen, t_enc, t_srv, t_dec);
        printf("  server steps:");
        for (size_t i = 0; i < nsteps; i++)
            printf(" %s %.2f%s", step_name[i], step_s[i], i + 1 < nsteps ? "," : "\n");
        printf("  predictions per hour: %.0f (server), %.0f (end to end)\n", pph, pph_e2e);
        printf("  bytes per batch: up %zu, down %zu; evaluation keys %zu; peak RSS %.0f MiB\n",
               up_bytes, down_bytes, keys_len, peak / 1048576.0);
    }
    free(x);
    free(got);
    free(ref);
    free(calib);
    free(keys);
    free(plan_bytes);
    cn_server_free(server);
    cn_plan_free(splan);
    cn_client_free(client);
    cn_plan_free(plan);
    cn_model_clear(&model);
    for (int i = 0; i < 4; i++)
        cn_idx_clear(&data[i]);
    return mismatched_values ? 3 : 0;
}
