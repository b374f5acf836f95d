/* Shared test helpers. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "io/io_internal.h"
#include "util.h"

uint64_t cn_test_seed(void)
{
    const char *s = getenv("CN_TEST_SEED");
    return s ? strtoull(s, NULL, 0) : 0x5eed2026ULL;
}

void cn_test_rng_init(cn_test_rng_t *r, uint64_t stream)
{
    r->s = cn_test_seed() ^ (stream * 0x9e3779b97f4a7c15ULL);
}

uint64_t cn_test_rng_next(cn_test_rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t cn_test_rng_below(cn_test_rng_t *r, uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, x;
    do
        x = cn_test_rng_next(r);
    while (x >= limit);
    return x % bound;
}

TCase *cn_tcase(const char *name, double seconds)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, seconds);
    return tc;
}

void cn_test_kat_seed(uint8_t seed[CN_SEED_BYTES], uint64_t label)
{
    for (int i = 0; i < CN_SEED_BYTES; i++)
        seed[i] = (uint8_t)i;
    for (int i = 0; i < 8; i++)
        seed[i] ^= (uint8_t)(label >> (8 * i));
}

void cn_test_kat_rng(cn_rng_t *r, uint64_t label)
{
    uint8_t seed[CN_SEED_BYTES];
    cn_test_kat_seed(seed, label);
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(r, seed, CN_RNG_INSECURE_ACK), CN_OK);
}

void cn_test_sha256_hex(char out[65], const void *p, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    ck_assert_int_eq(crypto_hash_sha256(h, p, len), 0);
    for (size_t i = 0; i < sizeof h; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int cn_test_kat_printing(void)
{
    const char *e = getenv("CN_KAT_PRINT");
    return e && strcmp(e, "1") == 0;
}

void cn_test_kat(const char *name, const void *p, size_t len, size_t want_len,
                 const char *want_sha256)
{
    char got[65];
    cn_test_sha256_hex(got, p, len);
    if (cn_test_kat_printing()) {
        fprintf(stderr, "KAT %s: %zu %s\n", name, len, got);
        return;
    }
    ck_assert_msg(len == want_len && strcmp(got, want_sha256) == 0,
                  "KAT %s: %zu bytes, sha256 %s; pinned %zu bytes, sha256 %s (a deliberate "
                  "change? CN_KAT_PRINT=1 prints the new values)",
                  name, len, got, want_len, want_sha256);
}

uint64_t cn_test_fnv1a64(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void put_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

void cn_test_reseal_io(uint8_t *b, size_t len)
{
    cn_hash_t h;
    cn_hash_init(&h);
    cn_hash_update(&h, b, len - 8);
    put_le64(b + len - 8, cn_hash_final(&h));
}

void cn_test_reseal_net(uint8_t *b, size_t len)
{
    cn_io_header_t h;
    if (len >= CN_IO_HEADER_BYTES + CN_IO_TRAILER_BYTES && memcmp(b, "CNHE", 4) == 0 &&
        cn_io_peek_header(&h, b, len) == CN_OK && (unsigned)h.type >= CN_IO_EXTERNAL_TYPE &&
        cn_io_frame_seal(b, len, (unsigned)h.type, h.count, h.fingerprint) == CN_OK)
        return; /* a frame (model, plan): header length and checksum rewritten */
    put_le64(b + len - 8, cn_test_fnv1a64(b, len - 8)); /* FNV-1a trailer (client state) */
}

void cn_test_cli_bin(char *bin, size_t cap)
{
    const char *env = getenv("CN_CLI_BIN");
    if (env) {
        snprintf(bin, cap, "%s", env);
    } else {
        char self[4000];
        const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        ck_assert(n > 0);
        self[n] = 0;
        char *p = strstr(self, "/tests/run_tests");
        ck_assert_msg(p != NULL, "cannot place the tool from %s (set CN_CLI_BIN)", self);
        *p = 0;
        snprintf(bin, cap, "%s/tools/cryptonets", self);
    }
    ck_assert_msg(access(bin, X_OK) == 0, "%s: not built (make tools)", bin);
}

void cn_test_slurp(char *buf, size_t cap, const char *file)
{
    FILE *f = fopen(file, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

pid_t cn_test_spawn(const char *const *argv, const cn_test_spawn_t *o)
{
    const pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid > 0)
        return pid;
    const int fo = open(o->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int fe = open(o->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0 || (o->cwd && chdir(o->cwd)))
        _exit(127);
    if (o->fsize_limit) {
        const struct rlimit rl = {(rlim_t)o->fsize_limit, (rlim_t)o->fsize_limit};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(127);
    }
    setenv("ASAN_OPTIONS", "exitcode=86", 1);
    setenv("UBSAN_OPTIONS", "exitcode=87:halt_on_error=1", 1);
    char threads[16];
    snprintf(threads, sizeof threads, "%d", o->threads ? o->threads : 2);
    setenv("OMP_NUM_THREADS", threads, 1);
    if (o->set_token && o->token)
        setenv("CRYPTONETS_TOKEN", o->token, 1);
    else if (o->set_token)
        unsetenv("CRYPTONETS_TOKEN");
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

void cn_test_tool_status(int status, const char *err, const char *what)
{
    ck_assert_msg(!strstr(err, "Sanitizer") && !strstr(err, "runtime error"),
                  "%s: sanitizer report:\n%s", what, err);
    if (WIFEXITED(status)) {
        const int rc = WEXITSTATUS(status);
        ck_assert_msg(rc != 86 && rc != 87 && rc != 127, "%s: exit %d\n%s", what, rc, err);
    }
}

int cn_test_run_tool(char *out, size_t out_cap, char *err, size_t err_cap,
                     const char *const *argv, const cn_test_spawn_t *o)
{
    int status;
    const pid_t pid = cn_test_spawn(argv, o);
    ck_assert(waitpid(pid, &status, 0) == pid);
    cn_test_slurp(out, out_cap, o->out);
    cn_test_slurp(err, err_cap, o->err);
    ck_assert_msg(WIFEXITED(status), "%s %s: killed by signal %d\n%s", argv[1],
                  argv[1] && argv[2] ? argv[2] : "", WTERMSIG(status), err);
    cn_test_tool_status(status, err, argv[1]);
    return WEXITSTATUS(status);
}

int cn_test_wait_port(const char *portf, pid_t pid)
{
    int port = 0;
    for (int i = 0; i < 600 && port == 0; i++) { /* 60 s at most */
        FILE *f = fopen(portf, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (!port)
            usleep(100000);
    }
    if (port == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_assert_msg(port > 0, "the server did not start (%s)", portf);
    return port;
}
