/* Files of the tool (docs/cli.md, "Files"): whole files, the plan and model loaders, the
 * key id, and the tool's containers for evaluation keys, batches and replies. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <dirent.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 1;
}

/* A regular file opened for reading, and its size; 1 with the reason otherwise. */
static int open_regular(FILE **f, uint64_t *size, const char *path, char *err, size_t errlen)
{
    *f = fopen(path, "rb");
    if (!*f)
        return fail(err, errlen, "%s: %s", path, strerror(errno));
    struct stat sb;
    const int ok = fstat(fileno(*f), &sb) == 0;
    if (!ok || !S_ISREG(sb.st_mode)) {
        const char *why = !ok                   ? strerror(errno)
                          : S_ISDIR(sb.st_mode) ? "is a directory"
                                                : "not a regular file";
        fclose(*f);
        *f = NULL;
        return fail(err, errlen, "%s: %s", path, why);
    }
    *size = (uint64_t)sb.st_size;
    return 0;
}

int cli_read_file(uint8_t **buf, size_t *len, const char *path, char *err, size_t errlen)
{
    FILE *f;
    uint64_t size;
    if (open_regular(&f, &size, path, err, errlen))
        return 1;
    uint8_t *b = size < SIZE_MAX ? malloc(size ? (size_t)size : 1) : NULL;
    if (!b) {
        fclose(f);
        return fail(err, errlen, "%s: out of memory (%llu bytes)", path,
                    (unsigned long long)size);
    }
    errno = 0;
    const size_t got = fread(b, 1, (size_t)size, f);
    const int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (e || got != size) {
        free(b);
        if (!e)
            return fail(err, errlen, "%s: read error (%llu of %llu bytes: the file shrank)",
                        path, (unsigned long long)got, (unsigned long long)size);
        return fail(err, errlen, "%s: read error (%s)", path, strerror(e));
    }
    *buf = b;
    *len = (size_t)size;
    return 0;
}

/* The files mapped by cli_map_file, for the SIGBUS handler: a mapping's pages are read
 * when used, so a file cut short by another program meanwhile faults there. The handler
 * names the file and ends the process with status 1 (an error, not a crash); a fault
 * elsewhere goes to the handler that was there before. Slots are taken and given back
 * under map_mu; the handler only reads them (lock-free atomics). */
#define MAP_SLOTS 16
static struct {
    atomic_uintptr_t lo, hi; /* [lo, hi): lo 0 when the slot is free */
    char path[256];
} maps[MAP_SLOTS];
static pthread_mutex_t map_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t map_once = PTHREAD_ONCE_INIT;
static struct sigaction map_old;

static int remove_partials(void);
static void say_raw(const char *s);
static char map_line[64] = "cryptonets: "; /* "cryptonets CMD: " (cli_map_context) */
static void (*map_cleanup)(void);          /* cli_map_context's */

void cli_map_context(const char *cmd, void (*cleanup)(void))
{
    snprintf(map_line, sizeof map_line, "cryptonets %s: ", cmd);
    map_cleanup = cleanup;
}

/* Async-signal-safe (POSIX.1-2017, 2.4.3): unlink, write, strlen, _exit, and the
 * cleanup of cli_map_context, which must be too. */
static void map_sigbus(int sig, siginfo_t *si, void *uc)
{
    const uintptr_t a = (uintptr_t)si->si_addr;
    for (size_t i = 0; i < MAP_SLOTS; i++) {
        const uintptr_t lo = atomic_load(&maps[i].lo), hi = atomic_load(&maps[i].hi);
        if (lo && a >= lo && a < hi) {
            const int removed = remove_partials();
            if (map_cleanup)
                map_cleanup();
            say_raw(map_line);
            say_raw(maps[i].path); /* NUL-terminated by snprintf */
            say_raw(": the file was cut short while it was read (changed by another "
                    "program); stopped");
            say_raw(removed ? "; the partial output was removed\n" : "\n");
            _exit(1);
        }
    }
    /* not a mapped file's: the previous disposition, then the fault again */
    if (map_old.sa_flags & SA_SIGINFO) {
        map_old.sa_sigaction(sig, si, uc);
        return;
    }
    sigaction(SIGBUS, &map_old, NULL);
}

static void map_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = map_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &map_old);
}

int cli_map_file(cli_bytes_t *b, const char *path, char *err, size_t errlen)
{
    *b = (cli_bytes_t){0};
    FILE *f;
    uint64_t size;
    if (open_regular(&f, &size, path, err, errlen))
        return 1;
    void *p = MAP_FAILED;
    size_t slot = MAP_SLOTS;
    if (size > 0 && size < SIZE_MAX) {
        pthread_once(&map_once, map_install);
        pthread_mutex_lock(&map_mu);
        for (slot = 0; slot < MAP_SLOTS && atomic_load(&maps[slot].lo); slot++)
            ;
        if (slot < MAP_SLOTS) {
            /* private and writable: in-place changes (an --input-shift) copy the pages
             * they touch and never reach the file */
            p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), 0);
            if (p != MAP_FAILED) {
                snprintf(maps[slot].path, sizeof maps[slot].path, "%s", path);
                atomic_store(&maps[slot].hi, (uintptr_t)p + (size_t)size);
                atomic_store(&maps[slot].lo, (uintptr_t)p);
            }
        }
        pthread_mutex_unlock(&map_mu);
    }
    fclose(f);
    if (p == MAP_FAILED) /* empty, no slot, or a file system without mmap: read */
        return cli_read_file(&b->p, &b->len, path, err, errlen);
    (void)madvise(p, (size_t)size, MADV_WILLNEED); /* advice only */
    b->p = p;
    b->len = (size_t)size;
    b->mapped = 1;
    return 0;
}

void cli_bytes_free(cli_bytes_t *b)
{
    if (b->mapped) {
        pthread_mutex_lock(&map_mu);
        for (size_t i = 0; i < MAP_SLOTS; i++)
            if (atomic_load(&maps[i].lo) == (uintptr_t)b->p) {
                atomic_store(&maps[i].lo, 0);
                break;
            }
        pthread_mutex_unlock(&map_mu);
        munmap(b->p, b->len);
    } else {
        free(b->p);
    }
    *b = (cli_bytes_t){0};
}

int cli_check_input(const char *path, char *err, size_t errlen)
{
    FILE *f;
    uint64_t size;
    if (open_regular(&f, &size, path, err, errlen))
        return 1;
    fclose(f);
    return 0;
}

/* --- what a file is, from its header (docs/format.md, "Framing"; the containers below) -- */

static const char *const kind_short[] = {"a model",         "a plan",  "a client key",
                                         "evaluation keys", "a batch", "a reply"};
static const char *const kind_long[] = {
    "a model (a .cnm or .onnx file)",
    "a plan (made by `cryptonets compile`)",
    "a client key (the key made by `cryptonets keygen -o`)",
    "evaluation keys (made by `cryptonets keygen --eval-keys`)",
    "a batch (made by `cryptonets encrypt`)",
    "a reply (made by `cryptonets eval`)"};

/* The library's own object types 1..8 (docs/format.md, "Layout") */
static const char *const object_names[] = {
    "parameters",  "a secret key", "a public key", "a relinearization key",
    "Galois keys", "a plaintext",  "a ciphertext", "a ciphertext batch"};

/* What the bytes b[0..n) begin: one of cli_file_kind, or -1 with a library object's name
 * (type 1..8, or an unknown code) in what, or -2 when nothing is recognised. */
static int identify(char *what, size_t cap, const uint8_t *b, size_t n)
{
    static const char *const cnt[3] = {"CNTK", "CNTB", "CNTR"};
    static const cli_file_kind cnt_kind[3] = {CLI_FILE_EVAL_KEYS, CLI_FILE_BATCH,
                                              CLI_FILE_REPLY};
    if (n >= 4)
        for (int k = 0; k < 3; k++)
            if (!memcmp(b, cnt[k], 4))
                return (int)cnt_kind[k];
    if (n >= 4 && !memcmp(b, "CNMD", 4)) /* the models and plans of format 1 */
        return CLI_FILE_MODEL;
    if (n >= 4 && !memcmp(b, "CNPL", 4))
        return CLI_FILE_PLAN;
    if (n < 10 || memcmp(b, "CNHE", 4) != 0)
        return -2;
    const unsigned type = b[8] | (unsigned)b[9] << 8;
    if (type >= 0x100 && type <= 0x102)
        return (int)(CLI_FILE_MODEL + (type - 0x100));
    if (type >= 1 && type <= 8)
        snprintf(what, cap, "a library object, %s (type 0x%x)", object_names[type - 1], type);
    else
        snprintf(what, cap, "a cryptonets object of unknown type 0x%x", type);
    return -1;
}

int cli_what_is(char *what, size_t cap, const uint8_t *b, size_t n)
{
    const int k = identify(what, cap, b, n);
    if (k >= 0)
        snprintf(what, cap, "%s", kind_short[k]);
    return k != -2;
}

int cli_check_kind(const char *path, cli_file_kind want, char *err, size_t errlen)
{
    /* only a regular file is looked at: a FIFO is neither opened (that would wait for a
     * writer) nor read twice; the loader alone reads it, and says what it thinks */
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0; /* the loader names the reason */
    uint8_t b[16];
    const size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    char what[96];
    const int k = identify(what, sizeof what, b, n);
    if (k == (int)want || k == -2)
        return 0;
    return fail(err, errlen, "%s is %s, not %s", path, k >= 0 ? kind_short[k] : what,
                kind_long[want]);
}

/* the temporary name a file is written under before it is renamed to path */
static int temp_name(char *tmp, size_t cap, const char *path)
{
    const int k = snprintf(tmp, cap, "%s.partial-%ld", path, (long)getpid());
    return k < 0 || (size_t)k >= cap;
}

/* --- paths ------------------------------------------------------------------------------ */

/* The directory that holds path, into d (cap bytes): "." for a bare name, "/" for "/x". */
static void parent_dir(char *d, size_t cap, const char *path)
{
    snprintf(d, cap, "%s", path);
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/') /* "dir/x/" names x */
        d[--n] = 0;
    char *slash = strrchr(d, '/');
    if (!slash)
        snprintf(d, cap, ".");
    else
        slash[slash == d ? 1 : 0] = 0;
}

/* The last component of path (trailing slashes dropped) into b. */
static void base_name(char *b, size_t cap, const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t k = n;
    while (k && path[k - 1] != '/')
        k--;
    snprintf(b, cap, "%.*s", (int)(n - k), path + k);
}

/* The descriptor N of this process that the link t names, when t is an entry of this
 * process's descriptor directory (/proc/PID/fd/N or /proc/PID/task/TID/fd/N, however it is
 * spelled: /dev/fd/N, /proc/self/fd/N, /proc/thread-self/fd/N), judged by the real path of
 * t's directory; else -1. Such a link names an open file, not a path (proc(5)). */
static int own_fd(const char *t)
{
    char d[4096], r[PATH_MAX], b[64], pre[48];
    parent_dir(d, sizeof d, t);
    base_name(b, sizeof b, t);
    if (!b[0] || strspn(b, "0123456789") != strlen(b) || strlen(b) > 9 || !realpath(d, r))
        return -1;
    const int k = snprintf(pre, sizeof pre, "/proc/%ld/", (long)getpid());
    if (strncmp(r, pre, (size_t)k) != 0)
        return -1;
    const char *rest = r + k;
    if (!strncmp(rest, "task/", 5)) { /* /proc/PID/task/TID/fd */
        rest += 5;
        rest += strspn(rest, "0123456789");
        if (*rest != '/')
            return -1;
        rest++;
    }
    return strcmp(rest, "fd") == 0 ? atoi(b) : -1;
}

/* Follows the symbolic links of path (at most 40, as Linux's MAXSYMLINKS), into t: the
 * name a file written to path ends up under, whether it exists or not (a dangling link
 * names the file it would create). *magic is set when a link leads into /proc (the
 * "magic" links of /dev/stdout and /dev/fd/N name open files, not paths), and *fdn
 * (else -1) when the link is one of this process's descriptors N (own_fd). 0, or 1 with
 * the reason (a loop, a name too long) in err. */
static int follow_links(char *t, size_t cap, int *magic, int *fdn, const char *path, char *err,
                        size_t errlen)
{
    *magic = 0;
    *fdn = -1;
    if ((size_t)snprintf(t, cap, "%s", path) >= cap)
        return fail(err, errlen, "%s: name too long", path);
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(t, &sb) != 0 || !S_ISLNK(sb.st_mode))
            return 0;
        if ((*fdn = own_fd(t)) >= 0) { /* /dev/fd/N, /proc/self/fd/N: whatever it points to */
            *magic = 1;
            return 0;
        }
        if (hops == 40)
            return fail(err, errlen, "%s: %s", path, strerror(ELOOP));
        char link[4096], next[8200];
        const ssize_t k = readlink(t, link, sizeof link - 1);
        if (k < 0)
            return fail(err, errlen, "%s: %s", path, strerror(errno));
        link[k] = 0;
        if (link[0] == '/') {
            snprintf(next, sizeof next, "%s", link);
        } else { /* relative to the link's directory */
            char d[4096];
            parent_dir(d, sizeof d, t);
            snprintf(next, sizeof next, "%s/%s", d, link);
        }
        if (!strncmp(next, "/proc/", 6)) {
            *magic = 1;
            *fdn = own_fd(next); /* /dev/stdout -> /proc/self/fd/1 */
        }
        if (strlen(next) >= cap)
            return fail(err, errlen, "%s: name too long", path);
        memcpy(t, next, strlen(next) + 1);
        if (*magic)
            return 0;
    }
}

/* cli_out_target, and in *fdn the descriptor of this process the output names (own_fd;
 * else -1) */
static int out_target(cli_target_t *t, int *fdn, const char *path, char *err, size_t errlen)
{
    *t = (cli_target_t){0};
    int magic;
    if (follow_links(t->path, sizeof t->path, &magic, fdn, path, err, errlen))
        return 1;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT || magic)
            return fail(err, errlen, "%s: %s", path, strerror(errno));
        t->kind = CLI_TARGET_NEW; /* t->path is created (a dangling link's target) */
        return 0;
    }
    t->exists = 1;
    t->dev = sb.st_dev;
    t->ino = sb.st_ino;
    if (S_ISDIR(sb.st_mode))
        return fail(err, errlen, "%s: is a directory (name a file)", path);
    if (S_ISSOCK(sb.st_mode) || S_ISBLK(sb.st_mode))
        return fail(err, errlen,
                    "%s: is a %s; an output is a regular file (written under a temporary "
                    "name, then renamed), a FIFO or a character device (written in place)",
                    path, S_ISSOCK(sb.st_mode) ? "socket" : "block device");
    if (S_ISREG(sb.st_mode) && !magic) {
        t->kind = CLI_TARGET_REGULAR;
        return 0;
    }
    /* a FIFO, a character device (/dev/null, a tty) or an open file named through /proc:
     * written in place, through path itself */
    snprintf(t->path, sizeof t->path, "%s", path);
    t->kind = CLI_TARGET_STREAM;
    t->what = S_ISFIFO(sb.st_mode)  ? "a FIFO"
              : S_ISCHR(sb.st_mode) ? "a character device"
                                    : "an open file named through /proc";
    return 0;
}

int cli_out_target(cli_target_t *t, const char *path, char *err, size_t errlen)
{
    int fdn;
    return out_target(t, &fdn, path, err, errlen);
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    const int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea && eb)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb)
        return 0; /* one exists and the other does not */
    /* neither exists yet: the names they would be created under (links followed), the
     * same directory (resolved) and the same name in it */
    char ta[4096], tb[4096], err[64];
    int ma, mb, fa, fb;
    if (follow_links(ta, sizeof ta, &ma, &fa, a, err, sizeof err))
        snprintf(ta, sizeof ta, "%s", a);
    if (follow_links(tb, sizeof tb, &mb, &fb, b, err, sizeof err))
        snprintf(tb, sizeof tb, "%s", b);
    char da[4096], db[4096], ra[PATH_MAX], rb[PATH_MAX], na[1024], nb[1024];
    parent_dir(da, sizeof da, ta);
    parent_dir(db, sizeof db, tb);
    base_name(na, sizeof na, ta);
    base_name(nb, sizeof nb, tb);
    if (strcmp(na, nb) != 0)
        return 0;
    if (realpath(da, ra) && realpath(db, rb))
        return strcmp(ra, rb) == 0;
    return strcmp(da, db) == 0; /* a missing directory: the text decides */
}

int cli_check_output(const char *path, const char *what, char *err, size_t errlen)
{
    cli_target_t t;
    /* "PATH: REASON": room for any path (a longer one read past a fixed buffer) */
    const size_t n = strlen(path), cap = n + 512;
    char *e = malloc(cap);
    if (!e)
        return fail(err, errlen, "%.100s%s: out of memory", path, what);
    if (cli_out_target(&t, path, e, cap)) {
        const char *r = !strncmp(e, path, n) ? e + n : ": cannot be written";
        if (n > 240) /* its first and last 100 bytes, so that the reason fits in err */
            fail(err, errlen, "%.100s...%s%s%s", path, path + n - 100, what, r);
        else
            fail(err, errlen, "%s%s%s", path, what, r);
        free(e);
        return 1;
    }
    free(e);
    if (t.kind == CLI_TARGET_STREAM)
        return 0; /* written in place: nothing is created */
    /* the file is written under a temporary name in its (the link target's) directory,
     * then renamed */
    struct stat sb;
    char d[4096];
    parent_dir(d, sizeof d, t.path);
    if (stat(d, &sb) != 0)
        return fail(err, errlen, "%s%s: cannot be created (%s: %s)", path, what, d,
                    strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return fail(err, errlen, "%s%s: cannot be created (%s: not a directory)", path, what,
                    d);
    if (access(d, W_OK | X_OK) != 0)
        return fail(err, errlen, "%s%s: cannot be created (%s: %s)", path, what, d,
                    strerror(errno));
    return 0;
}

/* --- interruption: partial files removed (docs/cli.md, "Exit status") -------------------
 * The temporary files being written are listed in slots the handler reads: a path is
 * copied in before its slot is marked used, and the mark is cleared before the slot is
 * reused, so the handler sees either no path or a whole one. Only the commands that call
 * cli_catch_signals (one thread writes their files) fill the slots. */

#define NSLOTS 4
static volatile sig_atomic_t slot_used[NSLOTS], catching;
static char slot_path[NSLOTS][4200];
static char signal_line[160]; /* "cryptonets CMD: interrupted by " */

static void say_raw(const char *s)
{
    ssize_t k = write(2, s, strlen(s));
    (void)k;
}

/* The partial files listed removed: 1 when one was. Async-signal-safe. */
static int remove_partials(void)
{
    int removed = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (slot_used[i]) {
            removed |= unlink(slot_path[i]) == 0;
            slot_used[i] = 0;
        }
    return removed;
}

/* Async-signal-safe (POSIX.1-2017, 2.4.3): unlink, write, strlen, _exit. */
static void on_signal(int sig)
{
    const int removed = remove_partials();
    say_raw(signal_line);
    say_raw(sig == SIGINT    ? "SIGINT"
            : sig == SIGTERM ? "SIGTERM"
            : sig == SIGQUIT ? "SIGQUIT"
                             : "SIGHUP");
    say_raw(removed ? "; the partial output was removed\n" : "\n");
    _exit(128 + sig);
}

void cli_catch_signals(const char *cmd)
{
    snprintf(signal_line, sizeof signal_line, "cryptonets %s: interrupted by ", cmd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask); /* one handler at a time */
    /* SIGQUIT too: its default action (a core dump) would leave the partial file */
    const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (int i = 0; i < 4; i++) {
        struct sigaction old;
        /* a signal ignored by the parent (nohup, a background job) stays ignored */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            (void)sigaction(sigs[i], &sa, NULL);
    }
    catching = 1;
}

void cli_partial_add(const char *tmp)
{
    if (!catching)
        return;
    for (int i = 0; i < NSLOTS; i++)
        if (!slot_used[i]) {
            snprintf(slot_path[i], sizeof slot_path[i], "%s", tmp);
            slot_used[i] = 1;
            return;
        }
}

void cli_partial_drop(const char *tmp)
{
    for (int i = 0; i < NSLOTS; i++)
        if (slot_used[i] && !strcmp(slot_path[i], tmp))
            slot_used[i] = 0;
}

/* --- whole files written under a temporary name ----------------------------------------- */

/* Removes the temporary files of earlier runs that were killed where no handler runs
 * (SIGKILL, a power cut): in target's directory, TARGET.partial-PID and
 * TARGET.partial-PID-XXXXXXXX that are regular files of this user whose PID is no running
 * process (kill(2) says ESRCH), each named on stderr. A file of a live process, of another
 * user, or not a regular file is left alone (docs/cli.md, "Outputs"). */
static void remove_stale_partials(const char *target)
{
    char d[4096], b[512], pre[560];
    parent_dir(d, sizeof d, target);
    base_name(b, sizeof b, target);
    const int np = snprintf(pre, sizeof pre, "%s.partial-", b);
    if (np < 0 || (size_t)np >= sizeof pre)
        return;
    DIR *dir = opendir(d);
    if (!dir)
        return;
    const struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, pre, (size_t)np) != 0)
            continue;
        const char *q = e->d_name + np;
        char *end;
        errno = 0;
        const long pid = *q >= '1' && *q <= '9' ? strtol(q, &end, 10) : 0;
        if (pid <= 0 || errno || pid == (long)getpid() || (pid_t)pid != pid ||
            (*end && (end[0] != '-' || strlen(end + 1) != 8 ||
                      strspn(end + 1, "0123456789abcdef") != 8)))
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or another user's live process) */
        char f[4700];
        struct stat st;
        if ((size_t)snprintf(f, sizeof f, "%s/%s", d, e->d_name) >= sizeof f ||
            lstat(f, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        if (unlink(f) == 0)
            fprintf(stderr,
                    "cryptonets: removed %s, the partial output of a run that ended without "
                    "cleaning up (process %ld is gone)\n",
                    f, pid);
    }
    closedir(dir);
}

int cli_out_open(cli_out_t *o, const char *path, int private_mode, char *err, size_t errlen)
{
    *o = (cli_out_t){.path = path};
    if (!path) {
        o->f = stdout;
        return 0;
    }
    cli_target_t t;
    int fdn;
    if (out_target(&t, &fdn, path, err, errlen))
        return 1;
    if (t.kind == CLI_TARGET_STREAM) { /* in place: nothing to create, nothing to rename */
        /* this process's descriptor N (/dev/stdout, /dev/fd/N): written through a copy of
         * it, so the shell's offset, append mode and truncation hold (reopening the path
         * would start a second description at offset 0, over what is there) */
        const int fd =
            fdn >= 0 ? fcntl(fdn, F_DUPFD_CLOEXEC, 3) : open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return fail(err, errlen, "%s: %s", path, strerror(errno));
        /* what was opened is what was checked: the same file and, opened by name, still a
         * FIFO or a character device (not a regular file put there since, which a write
         * in place would clobber from offset 0) */
        struct stat sb, so;
        if (fstat(fd, &sb) != 0 || sb.st_dev != t.dev || sb.st_ino != t.ino ||
            (fdn < 0 && !S_ISFIFO(sb.st_mode) && !S_ISCHR(sb.st_mode))) {
            close(fd);
            return fail(err, errlen,
                        "%s: changed while it was opened (no longer the FIFO or device "
                        "checked); nothing was written",
                        path);
        }
        if (fdn >= 0 && !S_ISCHR(sb.st_mode) && fstat(1, &so) == 0 && so.st_dev == sb.st_dev &&
            so.st_ino == sb.st_ino) {
            /* the output is the file stdout writes (-o /dev/stdout): the command's report
             * goes to stderr from here on, so that it does not land inside the output */
            fflush(stdout);
            if (dup2(2, 1) < 0) {
                const int e = errno;
                close(fd);
                return fail(err, errlen, "%s: %s", path, strerror(e));
            }
        }
        o->f = fdopen(fd, "wb");
        if (!o->f) {
            const int e = errno;
            close(fd);
            return fail(err, errlen, "%s: %s", path, strerror(e));
        }
        o->stream = 1;
        return 0;
    }
    snprintf(o->target, sizeof o->target, "%s", t.path); /* a link's target: renamed over */
    remove_stale_partials(o->target);
    if (temp_name(o->tmp, sizeof o->tmp, o->target))
        return fail(err, errlen, "%s: name too long", path);
    /* created, never reused: O_EXCL | O_NOFOLLOW, so that a file or link planted under the
     * name in a shared directory does not receive the output (decrypted results into
     * someone else's file); then TARGET.partial-PID-XXXXXXXX, a random suffix, up to 8
     * times */
    int fd = -1;
    for (int tries = 0; fd < 0; tries++) {
        cli_partial_add(o->tmp); /* before the file exists: a signal never misses it */
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  private_mode ? 0600 : 0666);
        if (fd >= 0)
            break;
        const int e = errno;
        cli_partial_drop(o->tmp);
        if (e != EEXIST || tries == 8)
            return fail(err, errlen, "%s: %s (temporary file %s)", path, strerror(e), o->tmp);
        uint32_t r;
        randombytes_buf(&r, sizeof r);
        char base[sizeof o->tmp];
        if (temp_name(base, sizeof base, o->target) ||
            (size_t)snprintf(o->tmp, sizeof o->tmp, "%s-%08x", base, (unsigned)r) >=
                sizeof o->tmp)
            return fail(err, errlen, "%s: name too long", path);
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        const int e = errno;
        close(fd);
        cli_out_abandon(o);
        return fail(err, errlen, "%s: %s", path, strerror(e));
    }
    return 0;
}

void cli_out_failed(cli_out_t *o)
{
    if (!o->err)
        o->err = errno ? errno : EIO;
}

void cli_out_abandon(cli_out_t *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    o->f = NULL;
    if (o->path && o->tmp[0]) {
        remove(o->tmp);
        cli_partial_drop(o->tmp);
    }
    o->tmp[0] = 0;
}

int cli_out_close(cli_out_t *o, char *err, size_t errlen)
{
    const char *name = o->path ? o->path : "stdout";
    if (!o->f)
        return fail(err, errlen, "%s: not open", name);
    errno = 0;
    if (!o->err && (fflush(o->f) != 0 || ferror(o->f)))
        cli_out_failed(o);
    if (o->f == stdout) {
        o->f = NULL;
        return o->err ? fail(err, errlen, "%s: write failed: %s", name, strerror(o->err)) : 0;
    }
    if (o->stream) { /* written in place: closed, nothing to rename */
        errno = 0;
        if (fclose(o->f) != 0)
            cli_out_failed(o);
        o->f = NULL;
        return o->err ? fail(err, errlen, "%s: write failed: %s", name, strerror(o->err)) : 0;
    }
    errno = 0;
    if (fclose(o->f) != 0)
        cli_out_failed(o);
    o->f = NULL;
    errno = 0;
    if (!o->err && rename(o->tmp, o->target) != 0)
        cli_out_failed(o);
    if (o->err) {
        const int e = o->err;
        cli_out_abandon(o);
        return fail(err, errlen, "%s: write failed: %s", name, strerror(e));
    }
    cli_partial_drop(o->tmp);
    o->tmp[0] = 0;
    return 0;
}

int cli_write_file(const char *path, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
    cli_out_t o;
    if (cli_out_open(&o, path, 0, err, errlen))
        return 1;
    errno = 0;
    if (fwrite(buf, 1, len, o.f) != len)
        cli_out_failed(&o);
    return cli_out_close(&o, err, errlen);
}

/* --- plans and models ------------------------------------------------------------------ */

int cli_plan_load(cli_plan_t *p, const cli_args_t *a, const char *path)
{
    *p = (cli_plan_t){0};
    char err[512];
    uint8_t *b;
    size_t len;
    if (cli_read_file(&b, &len, path, err, sizeof err))
        return cli_fail(CLI_ERROR, a, "%s", err);
    cn_net_diag_t d = {{0}};
    const cn_status st = cn_plan_from_bytes(&p->plan, b, len, 0, &d);
    if (st == CN_OK)
        crypto_hash_sha256(p->digest, b, len);
    free(b);
    if (st != CN_OK)
        return cli_fail(CLI_ERROR, a, "%s: %s", path, d.msg[0] ? d.msg : cn_strerror(st));
    return 0;
}

void cli_plan_clear(cli_plan_t *p)
{
    cn_plan_free(p->plan);
    p->plan = NULL;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ONNX models (docs/onnx.md): --input-range and --input-scale say what the file does not
 * (the raw integers the client encrypts and their float value); by default the
 * importer's (8-bit pixels read as raw / 255). A final Softmax is dropped (argmax is
 * unchanged); the importer's note is in diag. */
static cn_status load_onnx_model(cn_model_t *m, const char *path, const cli_model_opts_t *o,
                                 cn_net_diag_t *diag)
{
    cn_onnx_opts_t oo = {0};
    if (o->has_range) {
        oo.input_min = o->in_min;
        oo.input_max = o->in_max;
    }
    if (o->has_scale)
        oo.input_scale = o->in_scale;
    oo.drop_final_softmax = 1;
    return cn_model_load_onnx(m, path, &oo, diag);
}

int cli_model_load(cn_model_t *m, const cli_args_t *a, const char *path,
                   const cli_model_opts_t *o)
{
    cn_net_diag_t d = {{0}};
    cn_status st;
    *m = (cn_model_t){0};
    if (!ends_with(path, ".onnx") && !ends_with(path, ".cnm"))
        return cli_fail(CLI_USAGE, a, "%s: unknown model type (a .cnm or .onnx file)", path);
    /* missing, a directory, empty: the reason, before the loaders (a FIFO goes to them) */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return cli_fail(CLI_ERROR, a, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return cli_fail(CLI_ERROR, a, "%s: is a directory", path);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0)
        return cli_fail(CLI_ERROR, a, "%s: empty file (0 bytes), not %s", path,
                        ends_with(path, ".onnx") ? "an ONNX model" : "a model");
    if (ends_with(path, ".onnx")) {
        /* the importer takes the options itself (it may fold a normalization into the
         * input scale): nothing to override afterwards */
        st = load_onnx_model(m, path, o, &d);
        if (st != CN_OK)
            return cli_fail(CLI_ERROR, a, "%s", d.msg[0] ? d.msg : cn_strerror(st));
        if (d.msg[0] && !a->quiet) /* the importer's note (it names the file) */
            fprintf(stderr, "cryptonets %s: %s\n", a->cmd, d.msg);
        return 0;
    }
    if (!ends_with(path, ".cnm"))
        return cli_fail(CLI_USAGE, a, "%s: unknown model type (a .cnm or .onnx file)", path);
    st = cn_model_load(m, path, &d);
    if (st != CN_OK)
        return cli_fail(CLI_ERROR, a, "%s", d.msg[0] ? d.msg : cn_strerror(st));
    /* the options override what the file says about the raw inputs */
    if (o->has_range) {
        m->input_min = o->in_min;
        m->input_max = o->in_max;
    }
    if (o->has_scale)
        m->input_scale = o->in_scale;
    return 0;
}

int cli_key_id(uint8_t id[32], const cn_client_t *c)
{
    static const char label[] = "cryptonets key id 1";
    uint8_t *s;
    size_t len;
    if (cn_client_to_bytes(&s, &len, c) != CN_OK)
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

/* --- containers ------------------------------------------------------------------------
 * header (96 bytes): magic "CNTK" / "CNTB" / "CNTR" (keys, batch, reply), u16 major 1,
 * u16 minor 0, plan digest (32), key id (32), u64 records, u64 inputs, u64 checksum
 * (format.md's, cn_io_checksum) of the 88 bytes before; each record (24 bytes, then the
 * payload): u64 count, u64 length, u64 checksum of those 16 bytes, then length bytes (the
 * library's objects, which carry their own checksums). Nothing follows the last record. */

#define HEAD_BYTES 88 /* the header before its checksum */
#define REC_BYTES 24
static const char *const magics[3] = {"CNTK", "CNTB", "CNTR"};

const char *cli_kind_name(cli_kind k)
{
    return k == CLI_KIND_KEYS ? "evaluation keys" : k == CLI_KIND_BATCH ? "batch" : "reply";
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int cli_writer_open(cli_writer_t *w, const char *path, const cli_head_t *h, char *err,
                    size_t errlen)
{
    *w = (cli_writer_t){.path = path, .left = h->records};
    uint8_t full[HEAD_BYTES + 8] = {0};
    memcpy(full, magics[h->kind], 4);
    full[4] = 1; /* major 1, minor 0 (batched layout) or 1 (packed) */
    full[6] = h->layout == CN_LAYOUT_PACKED ? 1 : 0;
    memcpy(full + 8, h->digest, 32);
    memcpy(full + 40, h->key_id, 32);
    put64(full + 72, h->records);
    put64(full + 80, h->inputs);
    put64(full + HEAD_BYTES, cn_io_checksum(full, HEAD_BYTES));
    if (cli_out_open(&w->o, path, 0, err, errlen))
        return 1;
    w->f = w->o.f;
    errno = 0;
    if (fwrite(full, 1, sizeof full, w->f) != sizeof full) {
        cli_out_failed(&w->o);
        w->bad = 1;
        return fail(err, errlen, "%s: write failed: %s", path, strerror(w->o.err));
    }
    return 0;
}

int cli_writer_put(cli_writer_t *w, uint64_t count, const uint8_t *buf, size_t len, char *err,
                   size_t errlen)
{
    uint8_t r[REC_BYTES];
    put64(r, count);
    put64(r + 8, len);
    put64(r + 16, cn_io_checksum(r, 16));
    if (w->left == 0) {
        w->bad = 1;
        return fail(err, errlen, "%s: more records than announced", w->path);
    }
    errno = 0;
    if (fwrite(r, 1, REC_BYTES, w->f) != REC_BYTES || fwrite(buf, 1, len, w->f) != len) {
        cli_out_failed(&w->o);
        w->bad = 1;
        return fail(err, errlen, "%s: write failed: %s", w->path, strerror(w->o.err));
    }
    w->left--;
    return 0;
}

int cli_writer_close(cli_writer_t *w, char *err, size_t errlen)
{
    if (!w->f)
        return 1;
    w->f = NULL;
    if (w->bad || w->left) {
        const int e = w->o.err;
        cli_out_abandon(&w->o);
        if (!e) /* an earlier step failed and said why; this in case it did not */
            return fail(err, errlen, "%s: incomplete (%llu records not written)", w->path,
                        (unsigned long long)w->left);
        return fail(err, errlen, "%s: write failed: %s", w->path, strerror(e));
    }
    return cli_out_close(&w->o, err, errlen);
}

int cli_reader_open(cli_reader_t *r, const char *path, cli_kind kind, char *err, size_t errlen)
{
    *r = (cli_reader_t){.path = path};
    if (open_regular(&r->f, &r->size, path, err, errlen))
        return 1;
    uint8_t b[HEAD_BYTES + 8];
    const size_t got = fread(b, 1, sizeof b, r->f);
    r->pos = got;
    if (got == 0)
        return fail(err, errlen, "%s: empty file (0 bytes), not %s", path,
                    kind_long[CLI_FILE_EVAL_KEYS + kind]);
    if (got < 4 || memcmp(b, magics[kind], 4) != 0) { /* what it is, when it says */
        char what[96];
        const int k = identify(what, sizeof what, b, got);
        if (k != -2)
            return fail(err, errlen, "%s is %s, not %s", path, k >= 0 ? kind_short[k] : what,
                        kind_long[CLI_FILE_EVAL_KEYS + kind]);
        return fail(err, errlen, "%s: not a cryptonets %s file (bad magic)", path,
                    cli_kind_name(kind));
    }
    if (got < sizeof b)
        return fail(err, errlen, "%s: truncated (%zu bytes)", path, got);
    const unsigned major = b[4] | (unsigned)b[5] << 8, minor = b[6] | (unsigned)b[7] << 8;
    if (major != 1)
        return fail(err, errlen, "%s: file format version %u; this tool reads 1.x", path,
                    major);
    if (minor > 1)
        return fail(err, errlen, "%s: file format version 1.%u; this tool reads up to 1.1",
                    path, minor);
    if (cn_io_checksum(b, HEAD_BYTES) != get64(b + HEAD_BYTES))
        return fail(err, errlen, "%s: header checksum mismatch (damaged)", path);
    r->h.kind = kind;
    r->h.layout = minor == 1 ? CN_LAYOUT_PACKED : CN_LAYOUT_BATCHED;
    memcpy(r->h.digest, b + 8, 32);
    memcpy(r->h.key_id, b + 40, 32);
    r->h.records = get64(b + 72);
    r->h.inputs = get64(b + 80);
    r->left = r->h.records;
    if (r->h.records == 0 || r->h.records > (r->size - r->pos) / REC_BYTES)
        return fail(err, errlen, "%s: %llu records announced in %llu bytes", path,
                    (unsigned long long)r->h.records, (unsigned long long)r->size);
    return 0;
}

int cli_reader_next(cli_reader_t *r, uint64_t *count, uint8_t **buf, size_t *len,
                    uint64_t max_count, char *err, size_t errlen)
{
    const uint64_t idx = r->h.records - r->left + 1;
    uint8_t h[REC_BYTES];
    if (r->left == 0)
        return fail(err, errlen, "%s: no record %llu", r->path, (unsigned long long)idx);
    if (fread(h, 1, REC_BYTES, r->f) != REC_BYTES)
        return fail(err, errlen, "%s: truncated before record %llu", r->path,
                    (unsigned long long)idx);
    r->pos += REC_BYTES;
    if (cn_io_checksum(h, 16) != get64(h + 16))
        return fail(err, errlen, "%s: record %llu: header checksum mismatch (damaged)", r->path,
                    (unsigned long long)idx);
    const uint64_t c = get64(h), l = get64(h + 8);
    if (r->h.kind == CLI_KIND_KEYS ? c != 0 : (c == 0 || c > max_count))
        return fail(err, errlen, "%s: record %llu: %llu inputs (a batch holds 1 to %llu)",
                    r->path, (unsigned long long)idx, (unsigned long long)c,
                    (unsigned long long)max_count);
    if (l == 0 || l > r->size - r->pos)
        return fail(err, errlen, "%s: record %llu: %llu bytes announced, %llu left (truncated)",
                    r->path, (unsigned long long)idx, (unsigned long long)l,
                    (unsigned long long)(r->size - r->pos));
    uint8_t *b = malloc((size_t)l);
    if (!b)
        return fail(err, errlen, "%s: out of memory", r->path);
    errno = 0;
    if (fread(b, 1, (size_t)l, r->f) != l) {
        const int e = ferror(r->f) ? (errno ? errno : EIO) : 0;
        free(b);
        return fail(err, errlen, "%s: record %llu: read error (%s)", r->path,
                    (unsigned long long)idx, e ? strerror(e) : "the file shrank");
    }
    r->pos += l;
    r->left--;
    *count = c;
    *buf = b;
    *len = (size_t)l;
    return 0;
}

int cli_reader_end(cli_reader_t *r, char *err, size_t errlen)
{
    if (r->left)
        return fail(err, errlen, "%s: %llu records missing", r->path,
                    (unsigned long long)r->left);
    if (fgetc(r->f) != EOF)
        return fail(err, errlen, "%s: bytes after the last record", r->path);
    return 0;
}

int cli_check_layout(const cli_args_t *a, const cli_head_t *h, const char *path,
                     const cn_plan_t *plan)
{
    const cn_layout_kind want = cn_plan_layout(plan);
    if (h->layout == want)
        return 0;
    return cli_fail(CLI_MISMATCH, a, "%s: %s of the %s layout, but the plan uses the %s layout",
                    path, cli_kind_name(h->kind),
                    h->layout == CN_LAYOUT_PACKED ? "packed" : "batched",
                    want == CN_LAYOUT_PACKED ? "packed" : "batched");
}

void cli_reader_close(cli_reader_t *r)
{
    if (r->f)
        fclose(r->f);
    r->f = NULL;
}
