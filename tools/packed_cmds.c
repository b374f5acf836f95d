/* keygen, encrypt, eval, decrypt and run on a plan of the packed layout (docs/cli.md,
 * "The packed layout"): the same files as the batched commands (the containers' minor
 * version 1 says "packed"), one record per request of at most the plan's batch size. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The key id of a packed client (as cli_key_id: SHA-256 of a label and the state). */
int cli_packed_key_id(uint8_t id[32], const cn_packed_client_t *c)
{
    static const char label[] = "cryptonets key id 1";
    uint8_t *s;
    size_t len;
    if (cn_packed_client_to_bytes(&s, &len, c) != CN_OK)
        return 1;
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const uint8_t *)label, sizeof label);
    crypto_hash_sha256_update(&h, s, len);
    crypto_hash_sha256_final(&h, id);
    sodium_memzero(&h, sizeof h);
    cn_client_state_free(s, len);
    return 0;
}

static const cn_packed_t *layout_of(const cn_plan_t *plan)
{
    const cn_packed_t *pk = NULL;
    if (cn_plan_packed(&pk, plan, NULL) != CN_OK) /* callers checked the layout */
        return NULL;
    return pk;
}

static int emit(json_t *doc, const cli_args_t *a)
{
    errno = 0;
    const int bad = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0 ||
                    fputc('\n', stdout) == EOF || fflush(stdout) != 0;
    const int e = errno ? errno : EIO;
    json_decref(doc);
    return bad ? cli_fail(CLI_ERROR, a, "stdout: write failed: %s", strerror(e)) : 0;
}

static cn_status save_packed(const void *c, const char *path, cn_net_diag_t *d)
{
    return cn_packed_client_save(c, path, d);
}

int cli_keygen_packed(cli_args_t *a, const cli_plan_t *p)
{
    const cn_packed_t *pk = layout_of(p->plan);
    const double t0 = cli_now();
    cn_packed_client_t *c = NULL;
    uint8_t *keys = NULL;
    size_t klen = 0;
    int rc = 0;
    cn_status st = cn_packed_client_create(&c, pk, NULL, 0);
    if (st == CN_OK)
        st = cn_packed_client_eval_keys(&keys, &klen, c);
    if (st != CN_OK) {
        rc = cli_fail(CLI_ERROR, a, "%s: making keys: %s", a->pos[0], cn_strerror(st));
        goto done;
    }
    cli_head_t h = {.kind = CLI_KIND_KEYS, .records = 1, .layout = CN_LAYOUT_PACKED};
    memcpy(h.digest, p->digest, 32);
    if (cli_packed_key_id(h.key_id, c)) {
        rc = cli_fail(CLI_ERROR, a, "out of memory");
        goto done;
    }
    if ((rc = cli_keygen_write(a, &h, keys, klen, save_packed, c)))
        goto done;
    const double secs = cli_now() - t0;
    if (a->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "client_key", json_string(a->out));
        json_object_set_new(doc, "eval_keys", json_string(a->eval_keys));
        json_object_set_new(doc, "eval_key_bytes", json_integer((json_int_t)klen));
        json_object_set_new(doc, "layout", json_string("packed"));
        json_object_set_new(doc, "seconds", json_real(secs));
        rc = emit(doc, a);
    } else if (!a->quiet) {
        printf("cryptonets keygen: packed layout, client key %s (secret, mode 0600), "
               "evaluation keys %s (%zu bytes of keys, public: %zu Galois keys) in %.2f s\n",
               a->out, a->eval_keys, klen, cn_packed_galois_elts(pk, NULL, 0), secs);
    }
done:
    free(keys);
    cn_packed_client_free(c);
    return rc;
}

/* The packed client of key file path for plan p, and its key id. */
static int load_packed_client(cn_packed_client_t **c, uint8_t id[32], const cli_args_t *a,
                              const char *path, const cli_plan_t *p, int threads)
{
    cn_net_diag_t d = {{0}};
    const cn_status st = cn_packed_client_load(c, p->plan, path, &d);
    if (st != CN_OK)
        return cli_fail(cli_status_code(st), a, "%s%s", d.msg[0] ? d.msg : cn_strerror(st),
                        st == CN_ERR_CONTEXT_MISMATCH ? " (give the plan it was made with)"
                                                      : "");
    cn_packed_client_set_threads(*c, threads);
    if (cli_packed_key_id(id, *c)) {
        cn_packed_client_free(*c);
        *c = NULL;
        return cli_fail(CLI_ERROR, a, "out of memory");
    }
    return 0;
}

int cli_encrypt_packed(cli_args_t *a, const cli_plan_t *p, int threads)
{
    const size_t B = cn_packed_batch(layout_of(p->plan)), nin = cn_plan_inputs(p->plan);
    cn_packed_client_t *c = NULL;
    cli_matrix_t x = {0};
    cli_head_t h = {.kind = CLI_KIND_BATCH, .layout = CN_LAYOUT_PACKED};
    char err[512];
    int rc;
    if ((rc = load_packed_client(&c, h.key_id, a, a->pos[0], p, threads)))
        goto done;
    int64_t lo, hi;
    cn_plan_input_range(p->plan, &lo, &hi);
    unsigned shift;
    if ((rc = cli_parse_shift(&shift, a, a->input_shift)))
        goto done;
    if (cli_read_inputs(&x, a->pos[1], a->format, nin, shift, lo, hi, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    memcpy(h.digest, p->digest, 32);
    h.records = (x.rows + B - 1) / B;
    h.inputs = x.rows;
    cli_writer_t w;
    if (cli_writer_open(&w, a->out, &h, err, sizeof err)) {
        if (w.f)
            (void)cli_writer_close(&w, err, sizeof err);
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    size_t bytes = 96;
    const double t0 = cli_now();
    for (size_t b = 0; rc == 0 && b < h.records; b++) {
        const size_t first = b * B, count = x.rows - first < B ? x.rows - first : B;
        uint8_t *buf;
        size_t len;
        cn_net_diag_t d = {{0}};
        const cn_status st =
            cn_packed_client_encrypt(&buf, &len, c, x.v + first * nin, count, &d);
        if (st != CN_OK) {
            rc = cli_fail(CLI_ERROR, a, "%s: request %zu (inputs %zu..%zu): %s", a->pos[1],
                          b + 1, first + 1, first + count, d.msg[0] ? d.msg : cn_strerror(st));
            break;
        }
        if (cli_writer_put(&w, count, buf, len, err, sizeof err))
            rc = cli_fail(CLI_ERROR, a, "%s", err);
        bytes += 24 + len;
        free(buf);
    }
    if (rc != 0)
        w.bad = 1;
    if (cli_writer_close(&w, err, sizeof err) && rc == 0)
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc == 0 && a->json) {
        json_t *doc = json_object();
        json_object_set_new(doc, "batch", json_string(a->out));
        json_object_set_new(doc, "layout", json_string("packed"));
        json_object_set_new(doc, "inputs", json_integer((json_int_t)x.rows));
        json_object_set_new(doc, "requests", json_integer((json_int_t)h.records));
        json_object_set_new(doc, "bytes", json_integer((json_int_t)bytes));
        json_object_set_new(doc, "seconds", json_real(cli_now() - t0));
        rc = emit(doc, a);
    }
done:
    cli_matrix_clear(&x);
    cn_packed_client_free(c);
    return rc;
}

int cli_eval_packed(cli_args_t *a, const cli_plan_t *p, int threads)
{
    const cn_packed_t *pk = layout_of(p->plan);
    const char *kpath = a->pos[1], *bpath = a->pos[2];
    cli_reader_t kr = {0}, br = {0};
    cn_packed_server_t *s = NULL;
    uint8_t *keys = NULL;
    size_t klen = 0;
    uint64_t kc;
    char err[512];
    cn_net_diag_t d = {{0}};
    int rc = 0;
    if (cli_reader_open(&kr, kpath, CLI_KIND_KEYS, err, sizeof err) ||
        cli_reader_next(&kr, &kc, &keys, &klen, 0, err, sizeof err) ||
        cli_reader_end(&kr, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if ((rc = cli_check_layout(a, &kr.h, kpath, p->plan)))
        goto done;
    if (memcmp(kr.h.digest, p->digest, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: evaluation keys for another plan than %s", kpath,
                      a->pos[0]);
        goto done;
    }
    if (cli_reader_open(&br, bpath, CLI_KIND_BATCH, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if ((rc = cli_check_layout(a, &br.h, bpath, p->plan)))
        goto done;
    if (memcmp(br.h.digest, p->digest, 32) != 0) {
        rc =
            cli_fail(CLI_MISMATCH, a, "%s: a batch for another plan than %s", bpath, a->pos[0]);
        goto done;
    }
    if (memcmp(br.h.key_id, kr.h.key_id, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: encrypted under another key than %s's", bpath,
                      kpath);
        goto done;
    }
    cn_status st = cn_packed_server_create(&s, pk, keys, klen, threads, &d);
    if (st != CN_OK) {
        rc = cli_fail(cli_status_code(st), a, "%s: %s", kpath,
                      d.msg[0] ? d.msg : cn_strerror(st));
        goto done;
    }
    cli_head_t h = br.h;
    h.kind = CLI_KIND_REPLY;
    cli_writer_t w;
    if (cli_writer_open(&w, a->out, &h, err, sizeof err)) {
        if (w.f)
            (void)cli_writer_close(&w, err, sizeof err);
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    size_t inputs = 0;
    /* the server's steps, summed over the requests (cn_packed_stats_t), as run reports */
    static const char *const step[] = {"load",      "first",     "squares", "relin",
                                       "diagonals", "modswitch", "save"};
    double step_s[sizeof step / sizeof *step] = {0};
    const double t0 = cli_now();
    for (uint64_t b = 0; rc == 0 && b < h.records; b++) {
        uint64_t count;
        uint8_t *in, *out;
        size_t ilen, olen;
        if (cli_reader_next(&br, &count, &in, &ilen, cn_packed_batch(pk), err, sizeof err)) {
            rc = cli_fail(CLI_ERROR, a, "%s", err);
            break;
        }
        cn_packed_stats_t ps = {0};
        st = cn_packed_server_eval(&out, &olen, s, in, ilen, &ps, &d);
        free(in);
        const double sec[] = {ps.load_s, ps.first_s,     ps.square_s, ps.relin_s,
                              ps.diag_s, ps.modswitch_s, ps.save_s};
        for (size_t i = 0; st == CN_OK && i < sizeof step / sizeof *step; i++)
            step_s[i] += sec[i];
        if (st != CN_OK) {
            rc = cli_fail(cli_status_code(st), a, "%s: request %llu: %s", bpath,
                          (unsigned long long)b + 1, d.msg[0] ? d.msg : cn_strerror(st));
            break;
        }
        inputs += (size_t)count;
        if (cli_writer_put(&w, count, out, olen, err, sizeof err))
            rc = cli_fail(CLI_ERROR, a, "%s", err);
        free(out);
    }
    if (rc == 0 && cli_reader_end(&br, err, sizeof err))
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc != 0)
        w.bad = 1;
    if (cli_writer_close(&w, err, sizeof err) && rc == 0)
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    const double secs = cli_now() - t0;
    if (rc == 0 && a->json) {
        json_t *doc = json_object(), *steps = json_object();
        for (size_t i = 0; i < sizeof step / sizeof *step; i++)
            json_object_set_new(steps, step[i], json_real(step_s[i]));
        json_object_set_new(doc, "reply", json_string(a->out));
        json_object_set_new(doc, "layout", json_string("packed"));
        json_object_set_new(doc, "inputs", json_integer((json_int_t)inputs));
        json_object_set_new(doc, "requests", json_integer((json_int_t)h.records));
        json_object_set_new(doc, "seconds", json_real(secs));
        json_object_set_new(doc, "predictions_per_hour",
                            json_real(secs > 0 ? 3600.0 * (double)inputs / secs : 0));
        json_object_set_new(doc, "steps", steps);
        rc = emit(doc, a);
    } else if (rc == 0 && !a->quiet) {
        printf("cryptonets eval: packed layout, %zu inputs in %llu request(s), %.2f s -> %s\n",
               inputs, (unsigned long long)h.records, secs, a->out);
    }
done:
    free(keys);
    cn_packed_server_free(s);
    cli_reader_close(&kr);
    cli_reader_close(&br);
    return rc;
}

int cli_decrypt_packed(cli_args_t *a, const cli_plan_t *p)
{
    const size_t B = cn_packed_batch(layout_of(p->plan)), k = cn_plan_outputs(p->plan);
    cn_packed_client_t *c = NULL;
    cli_reader_t r = {0};
    cn_int128 *out = NULL;
    uint8_t id[32];
    char err[512];
    const char *rpath = a->pos[1];
    int rc;
    if ((rc = load_packed_client(&c, id, a, a->pos[0], p, 0)))
        goto done;
    if (cli_reader_open(&r, rpath, CLI_KIND_REPLY, err, sizeof err)) {
        rc = cli_fail(CLI_ERROR, a, "%s", err);
        goto done;
    }
    if ((rc = cli_check_layout(a, &r.h, rpath, p->plan)))
        goto done;
    if (memcmp(r.h.digest, p->digest, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: a reply for another plan than %s", rpath, a->plan);
        goto done;
    }
    if (memcmp(r.h.key_id, id, 32) != 0) {
        rc = cli_fail(CLI_MISMATCH, a, "%s: a reply for another key than %s", rpath, a->pos[0]);
        goto done;
    }
    if (r.h.inputs > r.h.records * B) {
        rc = cli_fail(CLI_ERROR, a, "%s: %llu inputs announced in %llu requests", rpath,
                      (unsigned long long)r.h.inputs, (unsigned long long)r.h.records);
        goto done;
    }
    size_t rows = 0;
    for (uint64_t b = 0; rc == 0 && b < r.h.records; b++) {
        uint64_t count;
        uint8_t *buf;
        size_t len;
        if (cli_reader_next(&r, &count, &buf, &len, B, err, sizeof err)) {
            rc = cli_fail(CLI_ERROR, a, "%s", err);
            break;
        }
        if (count > r.h.inputs - rows) {
            free(buf);
            rc = cli_fail(CLI_ERROR, a,
                          "%s: request %llu: more inputs than the header announces", rpath,
                          (unsigned long long)b + 1);
            break;
        }
        cn_int128 *grown = realloc(out, (rows + (size_t)count) * k * sizeof *out);
        if (!grown) {
            free(buf);
            rc = cli_fail(CLI_ERROR, a, "out of memory");
            break;
        }
        out = grown;
        cn_net_diag_t d = {{0}};
        const cn_status st =
            cn_packed_client_decrypt(out + rows * k, c, buf, len, (size_t)count, &d);
        free(buf);
        if (st != CN_OK) {
            rc = cli_fail(cli_status_code(st), a, "%s: request %llu: %s", rpath,
                          (unsigned long long)b + 1, d.msg[0] ? d.msg : cn_strerror(st));
            break;
        }
        rows += (size_t)count;
    }
    if (rc == 0 && cli_reader_end(&r, err, sizeof err))
        rc = cli_fail(CLI_ERROR, a, "%s", err);
    if (rc == 0 && rows != r.h.inputs)
        rc = cli_fail(CLI_ERROR, a, "%s: %zu inputs, the header announces %llu", rpath, rows,
                      (unsigned long long)r.h.inputs);
    if (rc == 0)
        rc = cli_write_predictions(a, a->out, out, rows, k, cn_plan_output_scale(p->plan));
done:
    free(out);
    cli_reader_close(&r);
    cn_packed_client_free(c);
    return rc;
}

int cli_run_packed(cli_args_t *a, const cn_plan_t *plan, const cli_matrix_t *x,
                   const cli_matrix_t *lab, const cn_model_t *m, int threads, double t_compile)
{
    const cn_packed_t *pk = layout_of(plan);
    const size_t B = cn_packed_batch(pk), nin = cn_plan_inputs(plan), k = cn_plan_outputs(plan);
    cn_packed_client_t *c = NULL;
    cn_packed_server_t *s = NULL;
    uint8_t *keys = NULL;
    cli_run_stats_t r = {.rows = x->rows, .t_compile = t_compile, .packed = 1, .per = B};
    /* the server's steps, summed over the requests (cn_packed_stats_t) */
    static const char *const step[] = {"load",      "first",     "squares", "relin",
                                       "diagonals", "modswitch", "save"};
    r.steps.nsteps = sizeof step / sizeof *step;
    for (size_t i = 0; i < r.steps.nsteps; i++)
        snprintf(r.steps.name[i], sizeof r.steps.name[i], "%s", step[i]);
    cn_net_diag_t d = {{0}};
    double t0 = cli_now();
    int rc = 0;
    cn_int128 *got = malloc(B * k * sizeof *got), *ref = malloc(B * k * sizeof *ref);
    cn_int128 *all = a->out ? malloc((x->rows ? x->rows : 1) * k * sizeof *all) : NULL;
    double *fo = malloc(k * sizeof *fo);
    cn_status st = got && ref && fo && (!a->out || all) ? CN_OK : CN_ERR_NO_MEMORY;
    if (st == CN_OK)
        st = cn_packed_client_create(&c, pk, NULL, 0);
    if (st == CN_OK) {
        cn_packed_client_set_threads(c, threads);
        st = cn_packed_client_eval_keys(&keys, &r.keys, c);
    }
    r.t_keygen = cli_now() - t0;
    if (st == CN_OK)
        st = cn_packed_server_create(&s, pk, keys, r.keys, threads, &d);
    r.nbatch = (x->rows + B - 1) / B;
    for (size_t b = 0; st == CN_OK && b < r.nbatch; b++) {
        const size_t first = b * B, count = x->rows - first < B ? x->rows - first : B;
        const int64_t *xb = x->v + first * nin;
        uint8_t *up = NULL, *down = NULL;
        size_t ul = 0, dl = 0;
        cn_packed_stats_t ps = {0};
        t0 = cli_now();
        st = cn_packed_client_encrypt(&up, &ul, c, xb, count, &d);
        r.t_enc += cli_now() - t0;
        if (st == CN_OK) {
            t0 = cli_now();
            st = cn_packed_server_eval(&down, &dl, s, up, ul, &ps, &d);
            r.t_srv += cli_now() - t0;
            const double sec[] = {ps.load_s, ps.first_s,     ps.square_s, ps.relin_s,
                                  ps.diag_s, ps.modswitch_s, ps.save_s};
            for (size_t i = 0; st == CN_OK && i < r.steps.nsteps; i++)
                r.steps.seconds[i] += sec[i];
        }
        if (st == CN_OK) {
            t0 = cli_now();
            st = cn_packed_client_decrypt(got, c, down, dl, count, &d);
            r.t_dec += cli_now() - t0;
        }
        if (b == 0) {
            r.up = ul;
            r.down = dl;
        }
        free(up);
        free(down);
        if (st == CN_OK)
            st = cn_plan_eval_plain(ref, plan, xb, count);
        for (size_t i = 0; st == CN_OK && i < count; i++) {
            const cn_int128 *g = got + i * k;
            r.differ += memcmp(g, ref + i * k, k * sizeof *g) != 0;
            if (lab->rows) {
                r.correct += (int64_t)cli_argmax(g, k) == lab->v[first + i];
                if (cn_model_forward(fo, m, xb + i * nin) == CN_OK) {
                    size_t bi = 0;
                    for (size_t j = 1; j < k; j++)
                        if (fo[j] > fo[bi])
                            bi = j;
                    r.float_correct += (int64_t)bi == lab->v[first + i];
                }
            }
        }
        if (st == CN_OK && all)
            memcpy(all + first * k, got, count * k * sizeof *got);
        if (st != CN_OK)
            rc = cli_fail(CLI_ERROR, a, "%s: request %zu (inputs %zu..%zu): %s%s%s", a->pos[1],
                          b + 1, first + 1, first + count, cn_strerror(st),
                          d.msg[0] ? ": " : "", d.msg);
    }
    if (st != CN_OK && rc == 0)
        rc = cli_fail(CLI_ERROR, a, "%s%s%s", cn_strerror(st), d.msg[0] ? ": " : "", d.msg);
    if (rc == 0) {
        cli_run_report(a, &r, plan, threads, lab->rows != 0);
        if (all) {
            cli_args_t csv = *a;
            csv.json = 0;
            rc = cli_write_predictions(&csv, a->out, all, x->rows, k,
                                       cn_plan_output_scale(plan));
        }
        if (rc == 0 && r.differ)
            rc = cli_fail(CLI_DIFFER, a,
                          "%zu inputs decrypted to outputs that differ from the plaintext "
                          "integer network",
                          r.differ);
    }
    free(got);
    free(ref);
    free(all);
    free(fo);
    free(keys);
    cn_packed_server_free(s);
    cn_packed_client_free(c);
    return rc;
}
