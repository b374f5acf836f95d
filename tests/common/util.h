/* Shared test helpers: the fixed seed, a seeded generator, suite declaration, and the
 * pieces of known-answer tests (a fixed library generator, SHA-256 pins, resealing). */
#ifndef CN_TEST_UTIL_H
#define CN_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cryptonets/rand.h"

/* Marks a suite constructor `Suite *name_suite(void)` for the generated list. Write it
 * alone on a line at file scope: CN_SUITE(ntt) */
#define CN_SUITE(name) Suite *name##_suite(void)

/* The run's seed: CN_TEST_SEED from the environment, or a fixed default. */
uint64_t cn_test_seed(void);

/* A small deterministic generator (splitmix64) for test inputs only, never secrets. */
typedef struct {
    uint64_t s;
} cn_test_rng_t;
void cn_test_rng_init(cn_test_rng_t *r, uint64_t stream);
uint64_t cn_test_rng_next(cn_test_rng_t *r);
/* Uniform in [0, bound), bound > 0. */
uint64_t cn_test_rng_below(cn_test_rng_t *r, uint64_t bound);

/* Known-answer tests (KATs) pin the exact bytes the library produces from a fixed seed,
 * against regressions: their expected values come from the code under test (at the
 * commit each KAT file names), which is allowed for KATs only. */

/* The 32-byte seed of a KAT: bytes 0, 1, ..., 31 with the first eight xored with label
 * (little-endian). It does not depend on CN_TEST_SEED: a KAT's bytes never vary. */
void cn_test_kat_seed(uint8_t seed[CN_SEED_BYTES], uint64_t label);

/* The library's deterministic generator (insecure mode, asked for by name with
 * CN_RNG_INSECURE_ACK) keyed by cn_test_kat_seed(label). */
void cn_test_kat_rng(cn_rng_t *r, uint64_t label);

/* SHA-256 (FIPS 180-4, libsodium's crypto_hash_sha256: code independent of ours) of
 * len bytes, as 64 lowercase hex digits and a NUL. */
void cn_test_sha256_hex(char out[65], const void *p, size_t len);

/* Checks that the len bytes at p are want_len long with SHA-256 want_sha256 (hex). With
 * CN_KAT_PRINT=1 in the environment it checks nothing and prints
 * "KAT <name>: <len> <sha256>" on stderr instead: how the values are regenerated after a
 * deliberate change of the bytes. */
void cn_test_kat(const char *name, const void *p, size_t len, size_t want_len,
                 const char *want_sha256);

/* 1 when CN_KAT_PRINT=1 (regeneration mode). */
int cn_test_kat_printing(void);

/* FNV-1a, 64 bits (the checksum of net/'s model and plan bytes, written from its
 * definition: offset basis 0xcbf29ce484222325, prime 0x100000001b3). */
uint64_t cn_test_fnv1a64(const void *p, size_t len);

/* Rewrites the 8-byte checksum that ends a lib/io object (docs/format.md) after a test
 * edited the bytes before it, so that only the check under test can refuse them. */
void cn_test_reseal_io(uint8_t *b, size_t len);

/* The same for net/ bytes: model and plan files are lib/io frames (the header's length and
 * the checksum are rewritten, so a test may also change the length); other net/ bytes
 * (client state) end with FNV-1a of the rest, little-endian. */
void cn_test_reseal_net(uint8_t *b, size_t len);

/* The command-line tool the tool suites run, into bin (cap bytes): $CN_CLI_BIN, or
 * tools/cryptonets in the build directory that holds this runner
 * (build/tests/run_tests -> build/tools/cryptonets); fails the test if it is not there. */
void cn_test_cli_bin(char *bin, size_t cap);

/* The file's first cap - 1 bytes into buf, NUL-terminated (empty if it cannot be read). */
void cn_test_slurp(char *buf, size_t cap, const char *file);

/* How cn_test_spawn starts the tool. */
typedef struct {
    const char *out, *err; /* files for its stdout and stderr (created, mode 0600) */
    const char *cwd;       /* its working directory; NULL: the runner's */
    long fsize_limit;      /* RLIMIT_FSIZE in bytes, SIGXFSZ ignored (writes past it fail
                              with EFBIG); 0: none */
    int threads;           /* OMP_NUM_THREADS; 0: 2 */
    int set_token;         /* 1: CRYPTONETS_TOKEN = token, or unset when token is NULL */
    const char *token;
} cn_test_spawn_t;

/* Starts argv[0] (the tool, e.g. from cn_test_cli_bin) with the NULL-terminated argv in a
 * child process as o says, with sanitizer findings mapped to exit statuses 86 (ASan) and 87
 * (UBSan); a failure to start is exit status 127. Returns the child's pid. */
pid_t cn_test_spawn(const char *const *argv, const cn_test_spawn_t *o);

/* Fails the test when the waitpid status of a tool started by cn_test_spawn says it
 * reported a sanitizer finding or could not start (86, 87, 127), or when err (its stderr)
 * holds a sanitizer report; what names the run in the message. */
void cn_test_tool_status(int status, const char *err, const char *what);

/* cn_test_spawn, then waits for the tool and reads its stdout and stderr (o->out, o->err)
 * into out and err (cap bytes each, NUL-terminated); fails the test when it was killed by a
 * signal or cn_test_tool_status objects. Returns its exit status. */
int cn_test_run_tool(char *out, size_t out_cap, char *err, size_t err_cap,
                     const char *const *argv, const cn_test_spawn_t *o);

/* The port a server started as pid writes to its --port-file portf: polls the file for up
 * to 60 s; when none appears, kills pid (so that no server outlives the test) and fails the
 * test. */
int cn_test_wait_port(const char *portf, pid_t pid);

/* A test case with a generous time limit (seconds, scaled by CK_TIMEOUT_MULTIPLIER). */
TCase *cn_tcase(const char *name, double seconds);

#endif
