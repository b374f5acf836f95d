/* The `cryptonets` command-line tool (docs/cli.md): what its files share. The tool is
 * built on the public API of libcryptonets alone, plus libsodium (SHA-256) and jansson
 * (--json); the library does not depend on jansson. Files:
 *   cryptonets.c  main, help, the command line, errors and progress
 *   commands.c    compile, keygen, encrypt, eval, decrypt, run
 *   inputs.c      input files: CSV, IDX, NumPy .npy
 *   files.c       whole files, the tool's own containers (evaluation keys, batch and
 *                 reply streams), the plan and model loaders (ONNX: one stub)
 *   packed_cmds.c keygen, encrypt, eval, decrypt and run on plans of the packed layout */
#ifndef CN_TOOLS_CLI_H
#define CN_TOOLS_CLI_H

#include <stdio.h>
#include <sys/types.h>

#include "cryptonets/cryptonets.h"

/* Exit statuses (docs/cli.md, "Exit status"). */
enum {
    CLI_OK = 0,       /* success */
    CLI_ERROR = 1,    /* a file could not be read or written, is malformed, or a library
                       * call failed */
    CLI_USAGE = 2,    /* the command line is wrong */
    CLI_MISMATCH = 3, /* files that do not belong together: a key, batch or reply for
                       * another plan or another key */
    CLI_DIFFER = 4    /* run: a decrypted output differs from the plaintext integer
                       * network (a bug, or an undersized plan) */
};

/* The command line of one command: positional arguments and every option's text (NULL
 * when absent); the flags are 0 or 1. */
typedef struct {
    const char *cmd;
    const char *pos[4];
    size_t npos;
    const char *out, *plan, *eval_keys, *calib, *labels, *format, *input_range, *input_scale,
        *weight_bits, *security, *ring, *tolerance, *threads, *calib_labels, *batch_size,
        *layout, *input_shift, *calib_count;
    int json, quiet, raw, exact, force;
} cli_args_t;

/* --- cryptonets.c ------------------------------------------------------------------ */

/* An error on stderr ("cryptonets CMD: message"); returns code. */
int cli_fail(int code, const cli_args_t *a, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The exit status for a library status: CLI_MISMATCH for CN_ERR_CONTEXT_MISMATCH, else
 * CLI_ERROR. */
int cli_status_code(cn_status st);
/* Parses an unsigned integer option (decimal digits, all of it) in [lo, hi]; 0, or
 * CLI_USAGE with "NAME: RANGE, got 'TEXT'" printed, RANGE the option's own words (NULL: "a
 * whole number from LO to HI"), whatever is wrong with the text. */
int cli_parse_num(size_t *v, const cli_args_t *a, const char *name, const char *text, size_t lo,
                  size_t hi, const char *range);
/* cli_parse_num in [0, max] with the default words. */
int cli_parse_size(size_t *v, const cli_args_t *a, const char *name, const char *text,
                   size_t max);
double cli_now(void);

/* Progress of a loop on stderr, shown only once the loop has run for a second (and never
 * with --quiet): cli_progress_start, then cli_progress after each step. */
typedef struct {
    const char *what;
    double t0;
    int shown, quiet;
} cli_progress_t;
void cli_progress_start(cli_progress_t *p, const char *what, int quiet);
void cli_progress(cli_progress_t *p, size_t done, size_t total);

/* --- inputs.c: rows of integers from CSV, IDX or .npy --------------------------------- */

/* A file's bytes: cli_map_file (files.c). */
typedef struct {
    uint8_t *p;
    size_t len;
    int mapped;
} cli_bytes_t;

typedef struct {
    size_t rows, cols;
    int64_t *v;      /* rows * cols, row-major */
    cli_bytes_t map; /* the file v points into (a .npy of int64), else empty */
    char wide[128];  /* where the first value outside int64 is, and its text (saturated in
                      * v; cli_check_range refuses it with the range); "" when none */
} cli_matrix_t;

void cli_matrix_clear(cli_matrix_t *m);
/* Reads path as rows of cols integers. format: "csv", "idx", "npy" or NULL (from the
 * name: *.csv, *.npy, and *.idx / *-ubyte / *.idxN-ubyte for IDX). CSV values are
 * separated by commas or tabs; a UTF-8 byte order mark is skipped. A file whose rows do
 * not hold cols values, a value that is not an integer (floats only when integral), no
 * inputs, an unsupported dtype or layout, a shape too large: 1, with the reason (file, row
 * and column) in err. An integer beyond int64 is kept saturated and noted in m->wide, for
 * cli_check_range to refuse with the range. */
int cli_read_matrix(cli_matrix_t *m, const char *path, const char *format, size_t cols,
                    char *err, size_t errlen);
/* cli_read_matrix for a labels file (--labels, --calib-labels; cols 1): the messages speak
 * of labels ("one integer class per line, 0 to classes - 1"), not of the model's inputs. */
int cli_read_labels(cli_matrix_t *m, const char *path, const char *format, size_t cols,
                    char *err, size_t errlen);
/* 0 when every value of m (read from path) lies in [lo, hi]; else 1, with a value beyond
 * int64 (m->wide) or the first value
 * outside named in err (file, input and value from 1, what the range is: "the model's input
 * range", "the class indices") and, for 8-bit data given to a model of fewer bits, the
 * shift that maps it. */
int cli_check_range(const cli_matrix_t *m, const char *path, int64_t lo, int64_t hi,
                    const char *what, char *err, size_t errlen);

/* --input-shift N (0..62; NULL: 0): 0 or CLI_USAGE with the reason printed. */
int cli_parse_shift(unsigned *shift, const cli_args_t *a, const char *text);
/* The inputs a command encrypts or calibrates on: path read as by cli_read_matrix, every
 * value shifted right by shift bits (floor(v / 2^shift): --input-shift, e.g. 4 maps MNIST's
 * 8-bit pixels 0..255 to the 4 bits 0..15 the example model takes; docs/cli.md), then
 * checked against [lo, hi] by cli_check_range (a value that still does not fit after the
 * shift is refused, and the message says it was shifted). 0, or 1 with the reason in err. */
int cli_read_inputs(cli_matrix_t *m, const char *path, const char *format, size_t cols,
                    unsigned shift, int64_t lo, int64_t hi, char *err, size_t errlen);
/* 1 when path is read as a .npy file (--format npy, or by its name when format is NULL). */
int cli_inputs_npy(const char *path, const char *format);
/* cli_read_inputs of a .npy file whose bytes b were read already (cli_map_file, before
 * the plan said the shape: infer reads them from its start); b is owned (released, or
 * kept in m->map with m->v pointing into it) and emptied. */
int cli_read_inputs_npy(cli_matrix_t *m, cli_bytes_t *b, const char *path, size_t cols,
                        unsigned shift, int64_t lo, int64_t hi, char *err, size_t errlen);

/* --- files.c ----------------------------------------------------------------------- */

/* The files the tool reads, by the header that says what they are. */
typedef enum {
    CLI_FILE_MODEL,
    CLI_FILE_PLAN,
    CLI_FILE_KEY, /* a client key (client state) */
    CLI_FILE_EVAL_KEYS,
    CLI_FILE_BATCH,
    CLI_FILE_REPLY
} cli_file_kind;
/* 0 unless path's first bytes say it is another kind of file than want (a plan, a client
 * key, evaluation keys, a batch, a reply, a model, a library object of docs/format.md);
 * then 1 with "PATH is a plan, not a client key (the key made by `cryptonets keygen -o`)"
 * in err. A file that cannot be read, is not a regular file (a FIFO is not read twice) or
 * whose header is not recognised: 0 (the loader says why). */
int cli_check_kind(const char *path, cli_file_kind want, char *err, size_t errlen);
/* 1 when the bytes b[0..n) begin a file the tool recognises, with what it is in what ("a
 * plan", "a reply", "a library object, a ciphertext (type 0x7)", ...); else 0. */
int cli_what_is(char *what, size_t cap, const uint8_t *b, size_t n);
/* 0 when path opens for reading as a regular file; else 1 with the reason (the system's,
 * or "is a directory", "not a regular file"). For the inputs checked before any work. */
int cli_check_input(const char *path, char *err, size_t errlen);
/* The whole of a regular file (a directory or a missing file: 1 with the reason). */
int cli_read_file(uint8_t **buf, size_t *len, const char *path, char *err, size_t errlen);
/* A whole regular file's bytes for reading, mapped where it can be (a private,
 * copy-on-write mapping of the page cache: no copy and no fresh pages, which cost about
 * 4 ms per MB on the project's VM; docs/benchmarks.md, "inputs read"), read into
 * malloc'd memory otherwise (an empty file, a file system without mmap). Writes to the
 * bytes never reach the file. A file cut short by another program while it is mapped
 * ends the process with a message naming it and status 1 (SIGBUS handler). Released with
 * cli_bytes_free. Thread-safe. */
int cli_map_file(cli_bytes_t *b, const char *path, char *err, size_t errlen);
void cli_bytes_free(cli_bytes_t *b);

/* 1 when paths a and b name one file: the same device and inode when both exist; when
 * neither exists yet, the same name in the same directory (its realpath), so that
 * "./k.key" and "k.key" are one file; else 0. */
int cli_same_file(const char *a, const char *b);
/* Where an output named path goes (docs/cli.md, "Outputs"): symbolic links followed (at
 * most 40), then by what is there:
 *   CLI_TARGET_NEW      nothing: path (a dangling link: its target) is created;
 *   CLI_TARGET_REGULAR  a regular file: written under a temporary name in its directory
 *                       (a link's target's), then renamed over it (the link is kept);
 *   CLI_TARGET_STREAM   a FIFO, a character device (/dev/null, a tty), or a file named
 *                       through a /proc link (/dev/stdout): written in place through path
 *                       (no temporary file: a failure cannot be undone).
 * A directory, a socket or a block device: 1 with the reason in err ("PATH: ..."). */
typedef enum { CLI_TARGET_NEW, CLI_TARGET_REGULAR, CLI_TARGET_STREAM } cli_target_kind;
typedef struct {
    cli_target_kind kind;
    char path[4096];  /* the file written: path with its links followed (STREAM: path) */
    const char *what; /* STREAM: "a FIFO", "a character device", ... */
    int exists;       /* something is there already (REGULAR, STREAM) */
    dev_t dev;        /* and its identity */
    ino_t ino;
} cli_target_t;
int cli_out_target(cli_target_t *t, const char *path, char *err, size_t errlen);
/* 0 when path can be written as an output, checked before any work: cli_out_target's kind
 * and, for a file to create or replace, its directory exists and is writable. Else 1 with
 * the reason in err ("PATH" what ": ..."; what is "" or, e.g., " (-o)"). */
int cli_check_output(const char *path, const char *what, char *err, size_t errlen);

/* A file written under TARGET.partial-PID and renamed to TARGET (path, its links followed)
 * by cli_out_close when every write succeeded, so that a failed or interrupted command
 * leaves no partial file under the name and keeps a file already there; path NULL writes
 * to stdout; a FIFO or a character device is written in place (stream 1). err holds the
 * errno of the first failing write, flush or close (0: none), named in the message. */
typedef struct {
    FILE *f;
    const char *path;
    char tmp[4200], target[4096];
    int err, stream;
} cli_out_t;
/* private_mode: created with mode 0600 (keys, decrypted results), else 0666 less the
 * umask. 0, or 1 with the reason. */
int cli_out_open(cli_out_t *o, const char *path, int private_mode, char *err, size_t errlen);
/* Records errno (EIO when 0) as the reason of a failed write, if none is recorded yet. */
void cli_out_failed(cli_out_t *o);
/* Flushes, closes and renames: 0, or 1 with "PATH: write failed: REASON" in err and the
 * temporary file removed. */
int cli_out_close(cli_out_t *o, char *err, size_t errlen);
/* Closes and removes the temporary file (after a failure elsewhere). */
void cli_out_abandon(cli_out_t *o);
/* Writes len bytes to path through a cli_out_t (mode 0666 less the umask). */
int cli_write_file(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* Makes SIGINT, SIGTERM and SIGHUP (unless ignored) remove the temporary files being
 * written (cli_out_t, cli_writer_t and those named to cli_partial_add), print "cryptonets
 * CMD: interrupted by SIG..." and exit with status 128 + the signal's number. For the
 * commands whose files one thread writes (not serve, whose writers run in threads). */
void cli_catch_signals(const char *cmd);
/* The command a file cut short while mapped (cli_map_file) is reported for ("cryptonets
 * CMD: PATH: the file was cut short ..."), and an async-signal-safe cleanup the report
 * calls first (NULL: none), e.g. infer's temporary directory. */
void cli_map_context(const char *cmd, void (*cleanup)(void));
/* A temporary file to remove on a signal (after cli_catch_signals; else nothing), and
 * its removal from that list once renamed or removed. At most 4 at a time. */
void cli_partial_add(const char *tmp);
void cli_partial_drop(const char *tmp);

/* A plan from its file (its bytes also kept, for the digest). */
typedef struct {
    cn_plan_t *plan;
    uint8_t digest[32]; /* SHA-256 of the plan bytes: what the tool's files record */
} cli_plan_t;
/* 0, CLI_ERROR or CLI_MISMATCH with the message printed. */
int cli_plan_load(cli_plan_t *p, const cli_args_t *a, const char *path);
void cli_plan_clear(cli_plan_t *p);

/* The options a model file's loader takes (the input range and scale override the
 * model's; ONNX files need them, .cnm files carry them). */
typedef struct {
    int has_range, has_scale;
    int64_t in_min, in_max;
    double in_scale;
} cli_model_opts_t;
/* Loads a model, by the file's extension (.cnm; .onnx); 0 or an exit status, with the
 * message printed. */
int cli_model_load(cn_model_t *m, const cli_args_t *a, const char *path,
                   const cli_model_opts_t *o);

/* The key id the tool's files record: SHA-256 of a label and the client's state bytes
 * (which hold the plan digest), so it names one key for one plan and says nothing about
 * the key. */
int cli_key_id(uint8_t id[32], const cn_client_t *c);

/* The tool's containers (docs/cli.md, "Files"): a header naming the kind, the plan (its
 * digest), the key (its id), the number of records and the inputs they hold, then the
 * records, each one count (inputs), a length and the library's bytes. */
typedef enum { CLI_KIND_KEYS = 0, CLI_KIND_BATCH = 1, CLI_KIND_REPLY = 2 } cli_kind;
typedef struct {
    cli_kind kind;
    uint8_t digest[32], key_id[32];
    uint64_t records, inputs;
    cn_layout_kind layout; /* the header's minor version: 0 batched, 1 packed */
} cli_head_t;
/* keygen's files: the client key saved by save(client, path, diag) and the evaluation keys
 * keys[0..klen) in a container of header h, neither written unless both are (commands.c) */
typedef cn_status (*cli_save_fn)(const void *client, const char *path, cn_net_diag_t *diag);
int cli_keygen_write(cli_args_t *a, const cli_head_t *h, const uint8_t *keys, size_t klen,
                     cli_save_fn save, const void *client);

/* Writing: open with the header, then each record in turn, then close (which checks
 * that every announced record was written). The bytes go to PATH.partial-PID and are
 * renamed to PATH only when complete, so an interrupted or failed command never leaves a
 * partial file under the name, nor destroys a file already there. */
typedef struct {
    FILE *f; /* o.f while open */
    const char *path;
    cli_out_t o;
    uint64_t left;
    int bad;
} cli_writer_t;
int cli_writer_open(cli_writer_t *w, const char *path, const cli_head_t *h, char *err,
                    size_t errlen);
int cli_writer_put(cli_writer_t *w, uint64_t count, const uint8_t *buf, size_t len, char *err,
                   size_t errlen);
int cli_writer_close(cli_writer_t *w, char *err, size_t errlen);

/* Reading: the header (of the kind expected), then each record in turn (count in
 * [1, max_count] except for evaluation keys, whose count is 0), then the end. */
typedef struct {
    FILE *f;
    const char *path;
    cli_head_t h;
    uint64_t left, size, pos;
} cli_reader_t;
int cli_reader_open(cli_reader_t *r, const char *path, cli_kind kind, char *err, size_t errlen);
int cli_reader_next(cli_reader_t *r, uint64_t *count, uint8_t **buf, size_t *len,
                    uint64_t max_count, char *err, size_t errlen);
int cli_reader_end(cli_reader_t *r, char *err, size_t errlen);
void cli_reader_close(cli_reader_t *r);
const char *cli_kind_name(cli_kind k);
/* 0, or CLI_MISMATCH with the message printed when the container h at path is of another
 * layout than plan's. */
int cli_check_layout(const cli_args_t *a, const cli_head_t *h, const char *path,
                     const cn_plan_t *plan);

/* --- commands.c: pieces the packed commands share ---------------------------------- */

int cli_parse_threads(int *t, const cli_args_t *a);
int cli_write_predictions(const cli_args_t *a, const char *path, const cn_int128 *out,
                          size_t rows, size_t k, double scale);
size_t cli_argmax(const cn_int128 *v, size_t k);

/* --- packed_cmds.c: the commands on a plan of the packed layout (p->plan packed) ------- */

int cli_keygen_packed(cli_args_t *a, const cli_plan_t *p);
/* The key id of a packed client (as cli_key_id): 0, or 1 out of memory. */
int cli_packed_key_id(uint8_t id[32], const cn_packed_client_t *c);
int cli_encrypt_packed(cli_args_t *a, const cli_plan_t *p, int threads);
int cli_eval_packed(cli_args_t *a, const cli_plan_t *p, int threads);
int cli_decrypt_packed(cli_args_t *a, const cli_plan_t *p);
/* decrypt of a batched-layout reply (a->pos[1]) with the plan and client key loaded (id: the
 * key's id): `cryptonets infer`, which has them from its encryption (commands.c). */
int cli_decrypt_loaded(cli_args_t *a, const cli_plan_t *p, cn_client_t *c,
                       const uint8_t id[32]);
/* run's loop (after compiling): x inputs, lab labels (rows 0: none), m for the float
 * network's accuracy */
/* What one `run` measured (seconds summed over batches or requests; bytes of the first). */
typedef struct {
    size_t rows, nbatch, correct, float_correct, differ, up, down, keys, nsteps;
    double t_compile, t_keygen, t_enc, t_srv, t_dec;
    cn_server_timing_t steps; /* the server's steps (nsteps 0: none reported) */
    int packed;               /* packed layout: nbatch counts requests of up to per inputs */
    size_t per;
} cli_run_stats_t;
/* The report of a run: text on stdout, or with --json one JSON object (docs/cli.md). */
void cli_run_report(const cli_args_t *a, const cli_run_stats_t *r, const cn_plan_t *plan,
                    int threads, int labels);
int cli_run_packed(cli_args_t *a, const cn_plan_t *plan, const cli_matrix_t *x,
                   const cli_matrix_t *lab, const cn_model_t *m, int threads, double t_compile);

#endif
