/* cryptonets: private inference from the command line (docs/cli.md). One program with
 * subcommands: compile a model into a plan, make keys, encrypt inputs, evaluate on the
 * server side, decrypt the results, or run it all in one process. This file holds main,
 * the help texts, the command line and the error and progress helpers. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "service.h"

int cli_compile(cli_args_t *a);
int cli_keygen(cli_args_t *a);
int cli_encrypt(cli_args_t *a);
int cli_eval(cli_args_t *a);
int cli_decrypt(cli_args_t *a);
int cli_run(cli_args_t *a);

/* --- errors and progress ---------------------------------------------------------------- */

int cli_fail(int code, const cli_args_t *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cryptonets%s%s: ", a && a->cmd ? " " : "", a && a->cmd ? a->cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (code == CLI_USAGE && a && a->cmd)
        fprintf(stderr, "(see `cryptonets help %s`)\n", a->cmd);
    return code;
}

int cli_status_code(cn_status st)
{
    return st == CN_ERR_CONTEXT_MISMATCH ? CLI_MISMATCH : CLI_ERROR;
}

int cli_parse_num(size_t *v, const cli_args_t *a, const char *name, const char *text, size_t lo,
                  size_t hi, const char *range)
{
    char dflt[96];
    if (!range) {
        snprintf(dflt, sizeof dflt, "a whole number from %zu to %zu", lo, hi);
        range = dflt;
    }
    char *end;
    errno = 0;
    const unsigned long long x =
        text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    /* the text as given, whatever is wrong with it: "4.0", "-1", "", 99999999999999999999 */
    if (!text || !(*text >= '0' && *text <= '9') || *end || errno == ERANGE || x < lo || x > hi)
        return cli_fail(CLI_USAGE, a, "%s: %s, got '%s'", name, range, text ? text : "");
    *v = (size_t)x;
    return 0;
}

int cli_parse_size(size_t *v, const cli_args_t *a, const char *name, const char *text,
                   size_t max)
{
    return cli_parse_num(v, a, name, text, 0, max, NULL);
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress_t *p, const char *what, int quiet)
{
    *p = (cli_progress_t){.what = what, .t0 = cli_now(), .quiet = quiet};
}

void cli_progress(cli_progress_t *p, size_t done, size_t total)
{
    const double t = cli_now() - p->t0;
    if (p->quiet || (!p->shown && t < 1.0))
        return;
    p->shown = 1;
    fprintf(stderr, "cryptonets %s: %zu/%zu (%.1f s)\n", p->what, done, total, t);
}

/* --- the commands and their help ------------------------------------------------------- */

/* the options a command takes, as a space-separated list of names */
typedef struct {
    const char *name;
    int (*run)(cli_args_t *);
    size_t npos;
    const char *opts;
    const char *usage, *help;
} command_t;

#define COMPILE_OPTS                                                                           \
    "input-range input-scale weight-bits calib calib-labels tolerance exact security n "       \
    "format input-shift calib-count "                                                          \
    "batch-size layout"

static const command_t commands[] = {
    {"compile", cli_compile, 1, "o json quiet " COMPILE_OPTS,
     "compile MODEL -o PLAN [--input-range LO:HI] [--input-scale S] [--weight-bits B]\n"
     "        [--calib FILE [--calib-labels FILE] [--calib-count N] [--tolerance F | "
     "--exact]]\n"
     "        [--format F] [--input-shift N] [--security 128|192|256] [--n N]\n"
     "        [--batch-size B [--layout L]] [--json]",
     "Compiles a model (MODEL.cnm or MODEL.onnx) into a plan for\n"
     "encrypted evaluation, prints it (or a JSON summary with --json) and writes the plan\n"
     "bytes to PLAN. The plan is public: the client and the server both use it.\n"
     "  --input-range LO:HI  raw integer inputs are in [LO, HI] (overrides the model's)\n"
     "  --input-scale S      float input = raw * S, a number or A/B (overrides the model's)\n"
     "  --weight-bits B      quantize every layer's weights to B bits (2..16); default: a\n"
     "                       width per layer, the fewest plaintext bits that meet the\n"
     "                       criterion on the --calib inputs (8 bits without them)\n"
     "  --calib FILE         calibration inputs (CSV, IDX or .npy, as for encrypt)\n"
     "                       (use 1000 or more: with N inputs one prediction is 100/N\n"
     "                       points, and fewer than 2/F cannot resolve the criterion; the\n"
     "                       compiler warns then)\n"
     "  --calib-labels FILE  their true classes: the criterion is then accuracy\n"
     "  --calib-count N      calibrate on the first N inputs of --calib (default: all)\n"
     "  --tolerance F        with labels, the accuracy the integer network may lose\n"
     "                       (default 0.002, 0.2 points); without, the fraction of\n"
     "                       predictions that may change (default 0.005)\n"
     "  --exact              every calibration prediction as the float network's\n"
     "  --security S         128 (default), 192 or 256 bits\n"
     "  --n N                force the ring degree, a power of two from 16 to 32768 (a\n"
     "                       batch holds N inputs)\n"
     "  --batch-size B       inputs the client sends per request (1..2^20): the compiler\n"
     "                       chooses the batched or the packed layout by its cost model\n"
     "                       for B inputs and prints why (default: batched)\n"
     "  --layout L           with --batch-size: auto (default), batched or packed (forced;\n"
     "                       both estimates are still printed)\n"
     "  --format F           format of the --calib file: csv, idx or npy (default: from\n"
     "                       its name; needs --calib)\n"
     "  --input-shift N      shift every --calib value right by N bits before the range\n"
     "                       check (0..62; e.g. 4 for MNIST's 8-bit pixels and the example\n"
     "                       model's 0..15); values that still do not fit are refused;\n"
     "                       needs --calib\n"},
    {"keygen", cli_keygen, 1, "o eval-keys force json quiet",
     "keygen PLAN -o CLIENT_KEY --eval-keys EVAL_KEYS [--force] [--json]",
     "Makes a fresh key for PLAN. CLIENT_KEY receives the client's secret state (the secret\n"
     "key and the plan's SHA-256), written with mode 0600 and nowhere else; keep it private.\n"
     "It must be a regular file (not a FIFO or a device) and is not replaced if it exists\n"
     "(the replies made under it could never be decrypted again) unless --force is given.\n"
     "EVAL_KEYS receives the public evaluation keys the server needs.\n"
     "  --force      replace an existing CLIENT_KEY\n"},
    {"encrypt", cli_encrypt, 2, "o plan format threads json quiet input-shift",
     "encrypt CLIENT_KEY INPUTS --plan PLAN -o BATCH [--format csv|idx|npy]\n"
     "        [--input-shift N] [--threads T] [--json]",
     "Encrypts the inputs (one per row: CSV, IDX or NumPy .npy of integers in the model's\n"
     "input range) under the client's key into BATCH, one batch of up to n inputs after\n"
     "another in one file. PLAN must be the plan the key was made for. A batch of the\n"
     "batched layout has the same size for 1 input as for n (the default MNIST plan: about\n"
     "630 MB); for a few inputs at a time compile with --batch-size B, which can choose the\n"
     "packed layout (docs/cli.md, \"The packed layout\").\n"
     "  --format F       csv, idx or npy (default: from the file name)\n"
     "  --input-shift N  shift every value right by N bits before the range check (e.g. 4:\n"
     "                   MNIST's 8-bit pixels for the example model's 0..15)\n"
     "  --threads T      threads (default: all cores)\n"},
    {"eval", cli_eval, 3, "o threads json quiet",
     "eval PLAN EVAL_KEYS BATCH -o REPLY [--threads T] [--json]",
     "The server's role: evaluates the plan on every batch of BATCH with the public\n"
     "evaluation keys and writes the encrypted results to REPLY. It never needs or sees a\n"
     "secret key.\n"
     "  --threads T  threads (default: all cores)\n"},
    {"decrypt", cli_decrypt, 2, "o plan json raw quiet",
     "decrypt CLIENT_KEY REPLY --plan PLAN [-o OUT.csv] [--json] [--raw]",
     "Decrypts a reply: per input, the predicted class (argmax) and the scores, the\n"
     "float network's values (integer outputs / the plan's output scale). CSV on stdout or\n"
     "in OUT.csv, or JSON with --json.\n"
     "  --raw  also the exact integer outputs\n"},
    {"run", cli_run, 2, "o labels threads json quiet " COMPILE_OPTS,
     "run MODEL INPUTS [--labels FILE] [-o OUT.csv] [--threads T] [--json] [compile options]",
     "Does it all in one process: compiles MODEL, makes keys, encrypts INPUTS, evaluates,\n"
     "decrypts, checks every output against the plaintext integer network, and reports\n"
     "times, throughput and (with --labels) accuracy. Without --calib and --weight-bits the\n"
     "compiler calibrates on the first 5000 inputs (--calib-count N: the first N) and their\n"
     "--labels, and warns below 1000.\n"
     "  --labels FILE  the true class of each input (CSV, IDX or .npy of integers)\n"
     "  -o OUT.csv     also write the predictions, as decrypt does\n"
     "  --threads T    threads of the client and the server (default: all cores)\n"
     "  compile options: --input-range, --input-scale, --weight-bits, --calib,\n"
     "                 --calib-labels, --calib-count, --tolerance, --exact, --security, --n,\n"
     "                 --batch-size,\n"
     "                 --layout, --format and --input-shift (of INPUTS and --calib), as\n"
     "                 `cryptonets help compile` explains them\n"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void print_overview(FILE *f)
{
    fprintf(f,
            "cryptonets %s: private neural-network inference on encrypted data\n\n"
            "usage: cryptonets COMMAND [ARGS]   (cryptonets help COMMAND for details)\n\n",
            CN_VERSION_STRING);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  cryptonets %s\n", commands[i].usage);
    fprintf(f,
            "  cryptonets serve --plan PLAN --state-dir DIR [--listen ADDR:PORT] [--tokens F]\n"
            "  cryptonets infer --server URL --key CLIENT_KEY INPUTS [-o OUT.csv|--json]\n");
    fprintf(f, "\n  cryptonets help [COMMAND]\n  cryptonets --version\n\n"
               "compile, keygen, encrypt, eval, decrypt, run and infer take --json (a JSON\n"
               "report on stdout; an error is plain text on stderr, stdout then empty);\n"
               "--quiet drops progress lines (not warnings, not the report). '-o -' is\n"
               "stdout; '--' ends the options; an empty path is refused.\n"
               "Exit status: 0 ok, 1 error, 2 bad command line, 3 files that do not belong\n"
               "together (another plan or key), 4 an output differs from the integer network.\n"
               "A typical session:\n"
               "  cryptonets compile model.cnm -o plan.cnp\n"
               "  cryptonets keygen plan.cnp -o client.key --eval-keys eval.keys\n"
               "  cryptonets encrypt client.key inputs.csv --plan plan.cnp -o batch.bin\n"
               "  cryptonets eval plan.cnp eval.keys batch.bin -o reply.bin   (server)\n"
               "  cryptonets decrypt client.key reply.bin --plan plan.cnp\n");
}

static int help(const char *name)
{
    if (!name) {
        print_overview(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "serve") || !strcmp(name, "infer")) { /* the service: service.h */
        char *argv[] = {(char *)name, "--help", NULL};
        return name[0] == 's' ? cli_serve(2, argv) : cli_infer(2, argv);
    }
    const command_t *c = find_command(name);
    if (!c) {
        fprintf(stderr, "cryptonets help: no command '%s'\n", name);
        print_overview(stderr);
        return CLI_USAGE;
    }
    printf("usage: cryptonets %s\n\n%s", c->usage, c->help);
    if (strstr(c->opts, "json"))
        printf("  --json       a JSON report on stdout\n");
    if (strstr(c->opts, "quiet"))
        printf("  --quiet      no progress lines on stderr\n");
    return CLI_OK;
}

/* --- the command line ------------------------------------------------------------------ */

typedef struct {
    const char *name; /* as in command_t.opts */
    size_t off;       /* of its const char * in cli_args_t, or of its int flag */
    int flag;
} option_t;

static const option_t options[] = {
    {"o", offsetof(cli_args_t, out), 0},
    {"plan", offsetof(cli_args_t, plan), 0},
    {"eval-keys", offsetof(cli_args_t, eval_keys), 0},
    {"calib", offsetof(cli_args_t, calib), 0},
    {"labels", offsetof(cli_args_t, labels), 0},
    {"format", offsetof(cli_args_t, format), 0},
    {"input-range", offsetof(cli_args_t, input_range), 0},
    {"input-scale", offsetof(cli_args_t, input_scale), 0},
    {"weight-bits", offsetof(cli_args_t, weight_bits), 0},
    {"security", offsetof(cli_args_t, security), 0},
    {"n", offsetof(cli_args_t, ring), 0},
    {"tolerance", offsetof(cli_args_t, tolerance), 0},
    {"calib-labels", offsetof(cli_args_t, calib_labels), 0},
    {"exact", offsetof(cli_args_t, exact), 1},
    {"force", offsetof(cli_args_t, force), 1},
    {"threads", offsetof(cli_args_t, threads), 0},
    {"json", offsetof(cli_args_t, json), 1},
    {"quiet", offsetof(cli_args_t, quiet), 1},
    {"raw", offsetof(cli_args_t, raw), 1},
    {"batch-size", offsetof(cli_args_t, batch_size), 0},
    {"layout", offsetof(cli_args_t, layout), 0},
    {"input-shift", offsetof(cli_args_t, input_shift), 0},
    {"calib-count", offsetof(cli_args_t, calib_count), 0},
};

/* 1 when name is a word of the space-separated list */
static int in_list(const char *list, const char *name)
{
    const size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

/* the options whose value names a file: never empty (docs/cli.md, "Commands") */
static const char path_options[] = "o plan eval-keys calib labels calib-labels";

static int parse_args(cli_args_t *a, const command_t *c, int argc, char **argv)
{
    int operands = 0; /* after "--": every word is a file argument */
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!operands && !strcmp(s, "--")) {
            operands = 1;
            continue;
        }
        if (operands || s[0] != '-' || !s[1]) { /* a positional argument ("-" alone too) */
            if (a->npos == c->npos || a->npos == sizeof a->pos / sizeof a->pos[0])
                return cli_fail(CLI_USAGE, a, "unexpected argument '%s'", s);
            /* an empty name would be the current directory's files, or "/" once a
             * separator is appended: refused before anything is read or written */
            if (!*s)
                return cli_fail(CLI_USAGE, a, "argument %zu: an empty path", a->npos + 1);
            a->pos[a->npos++] = s;
            continue;
        }
        const char *name = s[1] == '-' ? s + 2 : s + 1;
        if (s[1] != '-' && strcmp(name, "o") != 0)
            return cli_fail(CLI_USAGE, a, "unknown option '%s'", s);
        char buf[64];
        const char *eq = strchr(name, '='), *val = NULL;
        if (eq) {
            snprintf(buf, sizeof buf, "%.*s", (int)(eq - name), name);
            name = buf;
            val = eq + 1;
        }
        const option_t *o = NULL;
        for (size_t k = 0; k < sizeof options / sizeof options[0]; k++)
            if (!strcmp(options[k].name, name))
                o = &options[k];
        if (!o || !in_list(c->opts, name))
            return cli_fail(CLI_USAGE, a, "unknown option '%s'", s);
        if (o->flag) {
            if (val)
                return cli_fail(CLI_USAGE, a, "option '--%s' takes no value", name);
            *(int *)((char *)a + o->off) = 1;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc)
                return cli_fail(CLI_USAGE, a, "option '%s' needs a value", s);
            val = argv[++i];
        }
        const char **field = (const char **)((char *)a + o->off);
        if (*field)
            return cli_fail(CLI_USAGE, a, "option '%s' given twice", s);
        if (!*val && in_list(path_options, name))
            return cli_fail(CLI_USAGE, a, "%s%s: an empty path", name[1] ? "--" : "-", name);
        if (!strcmp(name, "o") && !strcmp(val, "-"))
            val = "/dev/stdout"; /* "-o -": stdout, as the descriptor the shell gave */
        *field = val;
    }
    if (a->npos != c->npos)
        return cli_fail(CLI_USAGE, a,
                        "%zu argument%s expected, %zu given\nusage: cryptonets %s", c->npos,
                        c->npos == 1 ? "" : "s", a->npos, c->usage);
    return 0;
}

/* Refuses a command line whose output would overwrite one of its inputs (the secret key,
 * the plan, a batch, the data) or another output, by the files' identity (cli_same_file:
 * "./k.key" and "k.key" are one file): CLI_USAGE with both named. Then checks that each
 * output can be written (not a directory, in a writable directory) before any work:
 * CLI_ERROR with the reason. */
static int check_outputs(const cli_args_t *a)
{
    const int keygen = !strcmp(a->cmd, "keygen");
    const char *outs[2] = {a->out, keygen ? a->eval_keys : NULL};
    const char *ins[8];
    size_t nin = 0;
    for (size_t i = 0; i < a->npos; i++)
        ins[nin++] = a->pos[i];
    const char *opt_in[] = {a->plan, keygen ? NULL : a->eval_keys, a->calib, a->labels,
                            a->calib_labels};
    for (size_t i = 0; i < sizeof opt_in / sizeof opt_in[0]; i++)
        if (opt_in[i])
            ins[nin++] = opt_in[i];
    for (size_t o = 0; o < 2; o++) {
        if (!outs[o])
            continue;
        for (size_t i = 0; i < nin; i++)
            if (cli_same_file(outs[o], ins[i]))
                return cli_fail(CLI_USAGE, a, "%s: the output would overwrite the input %s",
                                outs[o], ins[i]);
        if (o == 1 && outs[0] && cli_same_file(outs[0], outs[1]))
            return cli_fail(CLI_USAGE, a, "%s and %s: the same file for two outputs", outs[0],
                            outs[1]);
    }
    char err[4400];
    for (size_t o = 0; o < 2; o++)
        if (outs[o] && cli_check_output(outs[o], "", err, sizeof err))
            return cli_fail(CLI_ERROR, a, "%s", err);
    if (keygen && a->out) { /* the secret key: a private regular file, never lost */
        cli_target_t t;
        if (cli_out_target(&t, a->out, err, sizeof err))
            return cli_fail(CLI_ERROR, a, "%s", err);
        if (t.kind == CLI_TARGET_STREAM)
            return cli_fail(CLI_USAGE, a,
                            "%s: is %s; the secret key is written only to a regular file "
                            "(created with mode 0600, renamed into place when complete)",
                            a->out, t.what);
        if (t.exists && !a->force)
            return cli_fail(CLI_USAGE, a,
                            "%s: a client key is there already; replacing it would make "
                            "every reply made under it undecryptable: name another file, "
                            "or give --force to replace it",
                            a->out);
    }
    return 0;
}

/* Each file argument is of the kind its place asks for (a plan where a plan goes, ...),
 * by its header: a file of another kind is named as what it is (cli_check_kind), CLI_ERROR,
 * before any work. */
static int check_kinds(const cli_args_t *a)
{
    static const struct {
        const char *cmd;
        int pos[3]; /* the kinds of the positional arguments; -1 none (inputs, a model
                     * file the loader reads by its extension) */
        int plan;   /* --plan is a plan */
    } table[] = {
        {"keygen", {CLI_FILE_PLAN, -1, -1}, 0},
        {"encrypt", {CLI_FILE_KEY, -1, -1}, 1},
        {"eval", {CLI_FILE_PLAN, CLI_FILE_EVAL_KEYS, CLI_FILE_BATCH}, 0},
        {"decrypt", {CLI_FILE_KEY, CLI_FILE_REPLY, -1}, 1},
        {"compile", {CLI_FILE_MODEL, -1, -1}, 0},
        {"run", {CLI_FILE_MODEL, -1, -1}, 0},
    };
    char err[4400];
    for (size_t t = 0; t < sizeof table / sizeof table[0]; t++) {
        if (strcmp(table[t].cmd, a->cmd) != 0)
            continue;
        for (size_t i = 0; i < a->npos && i < 3; i++)
            if (table[t].pos[i] >= 0 &&
                cli_check_kind(a->pos[i], (cli_file_kind)table[t].pos[i], err, sizeof err))
                return cli_fail(CLI_ERROR, a, "%s", err);
        if (table[t].plan && a->plan && cli_check_kind(a->plan, CLI_FILE_PLAN, err, sizeof err))
            return cli_fail(CLI_ERROR, a, "%s", err);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("cryptonets %s\n", CN_VERSION_STRING);
        return CLI_OK;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        if (argc > 3) {
            fprintf(stderr, "usage: cryptonets help [COMMAND]\n");
            return CLI_USAGE;
        }
        return help(argc == 3 ? argv[2] : NULL);
    }
    if (!strcmp(cmd, "serve")) /* the service (docs/service.md) parses its own options */
        return cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "infer"))
        return cli_infer(argc - 1, argv + 1);
    const command_t *c = find_command(cmd);
    if (!c) {
        fprintf(stderr, "cryptonets: no command '%s'\n\n", cmd);
        print_overview(stderr);
        return CLI_USAGE;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return help(cmd);
    cli_args_t a = {.cmd = c->name};
    int rc = parse_args(&a, c, argc - 2, argv + 2);
    if (rc == 0 && a.format && strcmp(a.format, "csv") && strcmp(a.format, "idx") &&
        strcmp(a.format, "npy"))
        rc = cli_fail(CLI_USAGE, &a, "--format: csv, idx or npy (got '%s')", a.format);
    unsigned shift;
    if (rc == 0 && a.input_shift && (rc = cli_parse_shift(&shift, &a, a.input_shift)) == 0 &&
        !strcmp(c->name, "compile") && !a.calib)
        rc = cli_fail(CLI_USAGE, &a,
                      "--input-shift applies to the calibration inputs: it "
                      "needs --calib");
    if (rc == 0 && a.format && !strcmp(c->name, "compile") && !a.calib)
        rc = cli_fail(CLI_USAGE, &a,
                      "--format is the format of the calibration inputs: it "
                      "needs --calib");
    if (rc == 0)
        rc = check_outputs(&a);
    if (rc == 0)
        rc = check_kinds(&a);
    if (rc)
        return rc;
    /* an interrupted command removes its partial files and says so (docs/cli.md) */
    cli_catch_signals(c->name);
    cli_map_context(c->name, NULL);
    return c->run(&a);
}
