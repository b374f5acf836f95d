/* The service's state (docs/service.md, "State directory"): the plan's digest, the
 * tenants' evaluation keys and jobs as files, written atomically (temporary file, fsync,
 * rename, fsync of the directory) before a request is answered, so that a server killed
 * at any moment and started again finds every key and every accepted job. Also the job
 * table and the worker pool that evaluates queued jobs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "service.h"

#define TL(...) svc_timeline("serve", __VA_ARGS__) /* CRYPTONETS_TIMELINE (timeline.c) */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 1;
}

const char *svc_state_name(svc_state s)
{
    static const char *const names[] = {"queued", "running", "done", "failed"};
    return names[s];
}

double svc_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void svc_hex(char *out, const uint8_t *b, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = 0;
}

int svc_path(char *out, size_t cap, const svc_t *s, size_t tenant, const char *sub,
             const char *name, const char *suffix)
{
    const int k =
        snprintf(out, cap, "%s/tenants/%s/%s%s%s%s", s->state_dir, s->tenants[tenant].name, sub,
                 name ? "/" : "", name ? name : "", suffix ? suffix : "");
    return k < 0 || (size_t)k >= cap;
}

int svc_sync_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    const int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return 1;
    const int rc = fsync(fd);
    close(fd);
    return rc != 0;
}

int svc_write_atomic(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.partial-%ld", path, (long)getpid());
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return fail(err, errlen, "%s: %s", tmp, strerror(errno));
    const uint8_t *p = buf;
    size_t left = len;
    while (left) {
        const ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    const int ok = left == 0 && fsync(fd) == 0;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        const int e = errno;
        unlink(tmp);
        return fail(err, errlen, "%s: write failed (%s)", path, strerror(e));
    }
    svc_sync_dir(path);
    return 0;
}

static int mkdirs(const char *path)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                return 1;
            *c = '/';
        }
    return mkdir(p, 0700) != 0 && errno != EEXIST;
}

static int file_exists(const char *path, struct stat *sb)
{
    struct stat tmp;
    return stat(path, sb ? sb : &tmp) == 0;
}

/* --- the job table ------------------------------------------------------------------- */

void svc_job_add(svc_t *s, svc_job_t *j)
{
    j->next = s->jobs;
    s->jobs = j;
    if (j->state == SVC_QUEUED) {
        j->qnext = NULL;
        if (s->qtail)
            s->qtail->qnext = j;
        else
            s->qhead = j;
        s->qtail = j;
        s->nqueued++;
        s->tenants[j->tenant].jobs++;
    }
}

svc_job_t *svc_job_find(svc_t *s, size_t tenant, const char *id)
{
    for (svc_job_t *j = s->jobs; j; j = j->next)
        if (j->tenant == tenant && !j->deleted && !j->pending && !strcmp(j->id, id))
            return j;
    return NULL;
}

static void unlink_job_files(const svc_t *s, const svc_job_t *j)
{
    static const char *const suffixes[] = {".batch", ".reply", ".failed", ".job"};
    char p[4096];
    for (size_t i = 0; i < 4; i++)
        if (!svc_path(p, sizeof p, s, j->tenant, "jobs", j->id, suffixes[i]))
            unlink(p);
}

static void unlink_from_table(svc_t *s, svc_job_t *j)
{
    for (svc_job_t **pp = &s->jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (j->state == SVC_QUEUED) {
        svc_job_t *prev = NULL;
        for (svc_job_t *q = s->qhead; q; prev = q, q = q->qnext)
            if (q == j) {
                if (prev)
                    prev->qnext = q->qnext;
                else
                    s->qhead = q->qnext;
                if (s->qtail == q)
                    s->qtail = prev;
                break;
            }
        s->nqueued--;
        s->tenants[j->tenant].jobs--;
    }
}

void svc_job_delete(svc_t *s, svc_job_t *j)
{
    if (s->on_change)
        s->on_change(j);
    if (j->state == SVC_RUNNING || j->finishing) {
        j->deleted = 1; /* the worker removes it when the evaluation ends */
        return;
    }
    unlink_job_files(s, j);
    unlink_from_table(s, j);
    if (j->has_src)
        close(j->src_fd);
    free(j);
}

int svc_job_wait_durable(svc_t *s, svc_job_t *j)
{
    pthread_mutex_lock(&s->mu);
    while (j->pending)
        pthread_cond_wait(&s->cv, &s->mu);
    const int gone = j->deleted;
    pthread_mutex_unlock(&s->mu);
    return gone;
}

int svc_job_save(const svc_t *s, const svc_job_t *j, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:s, s:f, s:I, s:I, s:I}", "id", j->id, "key", j->key,
                          "created", j->created, "records", (json_int_t)j->records, "inputs",
                          (json_int_t)j->inputs, "bytes", (json_int_t)j->bytes_in);
    if (o && j->finished > 0) { /* a finished job's timings survive a restart */
        json_object_set_new(o, "started", json_real(j->started));
        json_object_set_new(o, "finished", json_real(j->finished));
        json_object_set_new(o, "seconds", json_real(j->seconds));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char p[4096];
    int rc = !text || svc_path(p, sizeof p, s, j->tenant, "jobs", j->id, ".job");
    if (rc)
        fail(err, errlen, "out of memory");
    else
        rc = svc_write_atomic(p, text, strlen(text), err, errlen);
    free(text);
    return rc;
}

void svc_expire(svc_t *s, double now)
{
    if (s->expire <= 0)
        return;
    for (svc_job_t *j = s->jobs, *next; j; j = next) {
        next = j->next;
        if ((j->state == SVC_DONE || j->state == SVC_FAILED) && now - j->finished > s->expire)
            svc_job_delete(s, j);
    }
}

/* --- loading the state at start ---------------------------------------------------------- */

static int is_hex_id(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* A repair of the state at start (or a file a repair leaves alone), logged on stderr. */
static void state_log(const svc_t *s, const char *what, const char *fmt, va_list ap)
{
    if (s->quiet)
        return;
    fprintf(stderr, "cryptonets serve: state %s: ", what);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

__attribute__((format(printf, 2, 3))) static void repaired(const svc_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    state_log(s, "repaired", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void kept(const svc_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    state_log(s, "not repaired", fmt, ap);
    va_end(ap);
}

/* A failed job's code and reason from its ID.failed file ({"error": ..., "message": ...}). */
static void load_failure(svc_job_t *j, const char *path)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    const char *code = NULL, *msg = NULL;
    if (o && json_unpack(o, "{s:s, s:s}", "error", &code, "message", &msg) == 0) {
        snprintf(j->code, sizeof j->code, "%s", code);
        snprintf(j->reason, sizeof j->reason, "%s", msg);
    } else {
        snprintf(j->code, sizeof j->code, "internal");
        snprintf(j->reason, sizeof j->reason, "the failure record is unreadable");
    }
    json_decref(o);
}

static int by_created(const void *a, const void *b)
{
    const svc_job_t *x = *(svc_job_t *const *)a, *y = *(svc_job_t *const *)b;
    return x->created < y->created ? -1 : x->created > y->created;
}

/* The names of the server's own temporary files, the only ones a repair removes:
 * "upload-PID-SEQ" in STATE/tmp (an upload in progress, serve.c), "spare-PID-SEQ" there
 * (a finished job's batch kept for reuse, svc_spare_put) and
 * "ID.KIND.partial-PID" in a jobs directory, KIND job, reply, failed or batch (a job's
 * file written under a temporary name and renamed: svc_write_atomic, cli_writer). */
static int digits_then(const char *s, const char *end)
{
    const size_t k = strspn(s, "0123456789");
    return k > 0 && !strcmp(s + k, end);
}

enum { TMP_OTHER, TMP_UPLOAD, TMP_SPARE };

/* Which of the server's own files in STATE/tmp name n is: TMP_UPLOAD (upload-PID-SEQ),
 * TMP_SPARE (spare-PID-SEQ, a finished job's batch kept for reuse: svc_spare_put), or
 * TMP_OTHER. */
static int tmp_name_kind(const char *n)
{
    const int kind = !strncmp(n, "upload-", 7)  ? TMP_UPLOAD
                     : !strncmp(n, "spare-", 6) ? TMP_SPARE
                                                : TMP_OTHER;
    if (kind == TMP_OTHER)
        return TMP_OTHER;
    n += kind == TMP_UPLOAD ? 7 : 6;
    const size_t k = strspn(n, "0123456789");
    return k > 0 && n[k] == '-' && digits_then(n + k + 1, "") ? kind : TMP_OTHER;
}

static int is_partial_name(const char *n)
{
    static const char *const kinds[] = {".job", ".reply", ".failed", ".batch"};
    const char *p = strstr(n, ".partial-");
    if (!p || !digits_then(p + 9, ""))
        return 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        const size_t k = strlen(kinds[i]);
        if ((size_t)(p - n) > k && !strncmp(p - k, kinds[i], k))
            return 1;
    }
    return 0;
}

/* Removes one of the server's own files (a regular file, never a directory or a link's
 * target) and logs what happened. */
static void remove_own(const svc_t *s, const char *path, const char *why)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISREG(sb.st_mode)) {
        kept(s, "%s: %s, but not a regular file (%s): left in place", path, why,
             S_ISDIR(sb.st_mode)   ? "a directory"
             : S_ISLNK(sb.st_mode) ? "a symbolic link"
                                   : "a special file");
        return;
    }
    if (unlink(path) != 0)
        kept(s, "%s: %s; cannot remove it (%s)", path, why, strerror(errno));
    else
        repaired(s, "%s: %s, removed", path, why);
}

/* Loads one tenant's jobs; removes what an interrupted write left behind. */
static int load_tenant(svc_t *s, size_t t, svc_job_t ***found, size_t *nfound, size_t *cap)
{
    char dir[4096], p[4400];
    svc_path(dir, sizeof dir, s, t, "jobs", NULL, NULL);
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (is_partial_name(name)) { /* a write of svc_write_atomic that never completed */
            snprintf(p, sizeof p, "%s/%s", dir, name);
            remove_own(s, p, "an interrupted write");
            continue;
        }
        const size_t len = strlen(name);
        if (len > 64 && is_hex_id(name, 64) && strcmp(name + 64, ".job") != 0 &&
            (!strcmp(name + 64, ".batch") || !strcmp(name + 64, ".reply") ||
             !strcmp(name + 64, ".failed"))) {
            char meta[4400]; /* a job's file without its description: never accepted */
            snprintf(meta, sizeof meta, "%s/%.64s.job", dir, name);
            snprintf(p, sizeof p, "%s/%s", dir, name);
            if (!file_exists(meta, NULL)) {
                char why[100];
                snprintf(why, sizeof why, "no %.64s.job beside it", name);
                remove_own(s, p, why);
            }
            continue;
        }
        if (len != 68 || strcmp(name + 64, ".job") || !is_hex_id(name, 64))
            continue;
        svc_job_t *j = calloc(1, sizeof *j);
        if (!j)
            break;
        memcpy(j->id, name, 64);
        j->tenant = t;
        svc_path(p, sizeof p, s, t, "jobs", j->id, ".job");
        json_error_t je;
        json_t *o = json_load_file(p, 0, &je);
        const char *key = NULL;
        json_int_t rec = 0, inp = 0, bytes = 0;
        double created = 0, started = 0, finished = 0, seconds = 0;
        if (!o ||
            json_unpack(o, "{s:s, s:F, s:I, s:I, s:I, s?F, s?F, s?F}", "key", &key, "created",
                        &created, "records", &rec, "inputs", &inp, "bytes", &bytes, "started",
                        &started, "finished", &finished, "seconds", &seconds) != 0 ||
            strlen(key) != 64 || !is_hex_id(key, 64)) {
            json_decref(o);
            unlink_job_files(s, j);
            repaired(s, "%s: unreadable (%s); the job and its files removed", p,
                     o ? "missing fields" : je.text);
            free(j);
            continue;
        }
        j->started = started;
        j->seconds = seconds;
        memcpy(j->key, key, 65);
        json_decref(o);
        j->created = created;
        j->records = (uint64_t)rec;
        j->inputs = (uint64_t)inp;
        j->bytes_in = (uint64_t)bytes;
        struct stat sb;
        char batch[4096];
        svc_path(batch, sizeof batch, s, t, "jobs", j->id, ".batch");
        if (!svc_path(p, sizeof p, s, t, "jobs", j->id, ".reply") && file_exists(p, &sb)) {
            j->state = SVC_DONE;
            j->bytes_out = (uint64_t)sb.st_size;
            j->finished = finished > 0 ? finished : (double)sb.st_mtime;
            unlink(batch); /* the reply was written, the batch not yet removed */
        } else if (!svc_path(p, sizeof p, s, t, "jobs", j->id, ".failed") &&
                   file_exists(p, &sb)) {
            j->state = SVC_FAILED;
            j->finished = finished > 0 ? finished : (double)sb.st_mtime;
            load_failure(j, p);
            unlink(batch);
        } else if (file_exists(batch, NULL)) {
            j->state = SVC_QUEUED; /* queued or running when the server stopped */
        } else {                   /* described, but its batch never arrived: not accepted */
            unlink_job_files(s, j);
            repaired(s, "%s: no batch, reply or failure beside it (never accepted), removed",
                     p);
            free(j);
            continue;
        }
        if (*nfound == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            svc_job_t **g = realloc(*found, *cap * sizeof **found);
            if (!g) {
                free(j);
                break;
            }
            *found = g;
        }
        (*found)[(*nfound)++] = j;
    }
    closedir(d);
    return 0;
}

/* Whether DIR may become (or is) a state directory: one with STATE/plan is (the plan
 * file is checked later); one without is only if it is missing, empty, or holds nothing
 * but what an interrupted first start left (lock, and tmp/ with uploads only). An
 * ordinary directory given by mistake (a home directory, with a tmp/ of its own) is
 * refused: the repairs at start must never touch a file the server did not write. */
static int check_state_dir(svc_t *s, char *err, size_t errlen)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/plan", s->state_dir);
    if (file_exists(p, NULL))
        return 0;
    DIR *d = opendir(s->state_dir);
    if (!d) {
        if (errno == ENOENT) {
            s->created_dir = 1;
            return 0;
        }
        return fail(err, errlen, "%s: cannot read the state directory (%s)", s->state_dir,
                    strerror(errno));
    }
    char other[300] = "";
    struct dirent *e;
    while (!other[0] && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, "lock"))
            continue;
        if (strcmp(name, "tmp") != 0) {
            snprintf(other, sizeof other, "%.255s", name);
            break;
        }
        snprintf(p, sizeof p, "%s/tmp", s->state_dir);
        DIR *t = opendir(p);
        struct dirent *f;
        while (t && (f = readdir(t)) != NULL)
            if (strcmp(f->d_name, ".") && strcmp(f->d_name, "..") &&
                tmp_name_kind(f->d_name) != TMP_UPLOAD)
                snprintf(other, sizeof other, "tmp/%.250s", f->d_name);
        if (!t)
            snprintf(other, sizeof other, "tmp");
        else
            closedir(t);
    }
    closedir(d);
    if (other[0])
        return fail(err, errlen,
                    "%s: not a state directory of cryptonets serve (no plan file) and not "
                    "empty (it holds %s): give a new or empty directory to --state-dir",
                    s->state_dir, other);
    return 0;
}

void svc_state_undo(const svc_t *s)
{
    if (!s->created_dir)
        return;
    char p[4200];
    for (size_t t = 0; t < s->ntenants; t++) {
        static const char *const subs[] = {"keys", "jobs", ""};
        for (size_t i = 0; i < 3; i++)
            if (!svc_path(p, sizeof p, s, t, subs[i], NULL, NULL))
                rmdir(p); /* empty ones only */
    }
    static const char *const names[] = {"plan", "job-id.key", "lock"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", s->state_dir, names[i]);
        unlink(p);
    }
    static const char *const dirs[] = {"tmp", "tenants", ""};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", s->state_dir, dirs[i]);
        rmdir(p);
    }
}

/* The job ids' key (docs/service.md, "Identifiers"): STATE/job-id.key, 64 bytes from the
 * OS written atomically at the first start (or the first start of a state directory made
 * before job ids were keyed), read back at every later one, so that an upload repeated
 * after a restart still finds its job. Anything but 64 bytes stops the start: a new key
 * would silently give every retried upload a new job. */
static int job_key(svc_t *s, char *err, size_t errlen)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/job-id.key", s->state_dir);
    const int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return fail(err, errlen, "%s: cannot read (%s)", p, strerror(errno));
    if (fd >= 0) {
        uint8_t extra;
        const ssize_t got = read(fd, s->job_key, sizeof s->job_key);
        const ssize_t more = got == (ssize_t)sizeof s->job_key ? read(fd, &extra, 1) : 0;
        close(fd);
        if (got != (ssize_t)sizeof s->job_key || more != 0)
            return fail(err, errlen,
                        "%s: damaged (not %d bytes); the job ids' key cannot be replaced "
                        "without changing every id: restore it, or give a new --state-dir",
                        p, SVC_JOB_KEY_BYTES);
        return 0;
    }
    if (getrandom(s->job_key, sizeof s->job_key, 0) != (ssize_t)sizeof s->job_key)
        return fail(err, errlen, "no randomness from the operating system");
    return svc_write_atomic(p, s->job_key, sizeof s->job_key, err, errlen);
}

/* The state directory's plan file against the server's plan: *have 1 when it exists
 * (and is this plan's), 0 when there is none; 1 with the reason when it is another's or
 * cannot be read. */
static int check_plan_file(const svc_t *s, int *have, char *err, size_t errlen)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/plan", s->state_dir);
    FILE *pf = fopen(p, "r");
    *have = pf != NULL;
    if (pf) {
        char line[80] = {0};
        const int ok = fgets(line, sizeof line, pf) != NULL;
        fclose(pf);
        if (!ok || strncmp(line, s->plan_hex, 64) != 0)
            return fail(err, errlen,
                        "%s: this state directory belongs to another plan (its plan's "
                        "SHA-256 is in %s); give another --state-dir",
                        s->state_dir, p);
    } else if (errno != ENOENT) {
        return fail(err, errlen, "%s: cannot read (%s)", p, strerror(errno));
    }
    return 0;
}

int svc_state_open(svc_t *s, char *err, size_t errlen)
{
    char p[4096];
    if (check_state_dir(s, err, errlen))
        return 1;
    /* the state belongs to one plan: checked before anything in it is created, locked or
     * removed, so that a refused directory is left exactly as it was */
    int have_plan;
    if (check_plan_file(s, &have_plan, err, errlen))
        return 1;
    snprintf(p, sizeof p, "%s/tmp", s->state_dir);
    if (mkdirs(p))
        return fail(err, errlen, "%s: cannot create (%s)", p, strerror(errno));
    /* one server per state directory: a second one would empty tmp/ under the first's
     * uploads and evaluate its queue twice. The lock (flock(2), released by the kernel
     * when the process ends, however it ends) is held until exit: its descriptor is
     * never closed. */
    snprintf(p, sizeof p, "%s/lock", s->state_dir);
    const int lk = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lk < 0)
        return fail(err, errlen, "%s: cannot open (%s)", p, strerror(errno));
    if (flock(lk, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        close(lk);
        if (e == EWOULDBLOCK)
            return fail(err, errlen,
                        "%s: another server is using this state directory (%s is locked); "
                        "stop it or give another --state-dir",
                        s->state_dir, p);
        return fail(err, errlen, "%s: cannot lock (%s)", p, strerror(e));
    }
    /* again under the lock: another server may have made the directory its own between
     * the first check and the lock (it held the lock then, and has ended since) */
    if (check_plan_file(s, &have_plan, err, errlen)) {
        close(lk);
        return 1;
    }
    snprintf(p, sizeof p, "%s/tmp", s->state_dir);
    /* uploads that were in progress when the server stopped were never accepted: the
     * server's own files only (upload-PID-SEQ); anything else is left where it is */
    DIR *d = opendir(p);
    if (d) {
        struct dirent *e;
        char f[4400];
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            const int kind = tmp_name_kind(e->d_name);
            if (kind == TMP_UPLOAD)
                remove_own(s, f, "an upload in progress when the server stopped");
            else if (kind == TMP_SPARE)
                remove_own(s, f, "a batch file kept for reuse when the server stopped");
            else
                kept(s, "%s: not a file of this server: left in place", f);
        }
        closedir(d);
    }
    snprintf(p, sizeof p, "%s/plan", s->state_dir);
    if (!have_plan) { /* a new state directory: its plan from now on */
        char line[80];
        snprintf(line, sizeof line, "%s\n", s->plan_hex);
        if (svc_write_atomic(p, line, strlen(line), err, errlen))
            return 1;
    }
    if (job_key(s, err, errlen))
        return 1;
    svc_job_t **found = NULL;
    size_t nfound = 0, cap = 0;
    for (size_t t = 0; t < s->ntenants; t++) {
        char dir[4096];
        if (svc_path(dir, sizeof dir, s, t, "keys", NULL, NULL) || mkdirs(dir) ||
            svc_path(dir, sizeof dir, s, t, "jobs", NULL, NULL) || mkdirs(dir) ||
            load_tenant(s, t, &found, &nfound, &cap)) {
            free(found);
            return fail(err, errlen, "%s: cannot create or read (%s)", dir, strerror(errno));
        }
    }
    if (nfound)
        qsort(found, nfound, sizeof *found, by_created);
    for (size_t i = 0; i < nfound; i++)
        svc_job_add(s, found[i]);
    free(found);
    svc_expire(s, svc_time());
    size_t left = 0;
    for (const svc_job_t *j = s->jobs; j; j = j->next)
        left++;
    s->expired_at_start = nfound - left;
    return 0;
}

/* --- the workers ------------------------------------------------------------------------ */

/* A batch file, read record by record. A worker that keeps its evaluator between jobs
 * (--warm-idle > 0) reads each record (pread) into an input buffer (svc_inbuf_t) it keeps
 * with it: the bytes the upload put in the page cache a moment before are copied (0.07 s
 * for MNIST's 629 MB on the test VM) into memory whose pages are already there. Mapping
 * the file instead costs every job the mapping's page faults (about 2 us a page on the
 * test VM: the evaluation's load step 0.62 s against 0.30 s), but nothing up front,
 * where a new input buffer's pages cost a worker's first job about 1.4 s: so a worker
 * that keeps nothing (--warm-idle 0) maps the file. */
typedef struct {
    int fd;
    const uint8_t *map; /* the file mapped read-only, or NULL: read into the buffer */
    uint64_t size, pos, left, index;
} batch_file_t;

/* A worker's input buffer: the record being evaluated. */
typedef struct {
    uint8_t *p;
    size_t cap;
} svc_inbuf_t;

static void inbuf_free(svc_inbuf_t *b)
{
    if (b->p)
        munmap(b->p, b->cap);
    *b = (svc_inbuf_t){0};
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The file of r (opened, its header checked by cli_reader_open), from its first record:
 * mapped when map, else read. 0, or 1 with reason. */
static int batch_open(batch_file_t *m, const cli_reader_t *r, int map, char *reason,
                      size_t rlen)
{
    *m = (batch_file_t){.fd = fileno(r->f), .size = r->size, .pos = 96, .left = r->h.records};
    if (!map || !r->size)
        return 0;
    void *p = mmap(NULL, (size_t)r->size, PROT_READ, MAP_PRIVATE, m->fd, 0);
    if (p == MAP_FAILED) {
        snprintf(reason, rlen, "the batch cannot be mapped: %s", strerror(errno));
        return 1;
    }
    madvise(p, (size_t)r->size, MADV_SEQUENTIAL);
    m->map = p;
    return 0;
}

static void batch_close(batch_file_t *m)
{
    if (m->map)
        munmap((void *)m->map, (size_t)m->size);
    m->map = NULL;
}

/* len bytes at offset off of fd into p (short reads and EINTR retried): 0, or -1 with
 * errno (0 for a file that ended early). */
static int pread_all(int fd, uint8_t *p, size_t len, uint64_t off)
{
    while (len) {
        const ssize_t k = pread(fd, p, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = 0;
            return -1;
        }
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Room for len bytes in the worker's input buffer (an anonymous mapping, kept between
 * jobs and grown when a record is longer): 0, or 1 when out of memory. A new buffer's
 * pages are made present at once, in 16 MiB slices on the evaluation's threads
 * (MADV_POPULATE_WRITE, advice only): the pread's own faults, taken one page at a time
 * inside the kernel, cost a cold MNIST job 2.5 s more on the test VM. */
static int inbuf_reserve(svc_inbuf_t *b, size_t len, int threads)
{
    if (len <= b->cap)
        return 0;
    const size_t mb2 = (size_t)2 << 20, cap = (len + mb2 - 1) / mb2 * mb2;
    uint8_t *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
#ifdef MADV_POPULATE_WRITE
    const size_t slice = (size_t)16 << 20;
    const long ns = (long)((cap + slice - 1) / slice);
#pragma omp parallel for num_threads(threads > 0 ? threads : omp_get_max_threads())            \
    schedule(dynamic, 1)
    for (long i = 0; i < ns; i++) {
        const size_t a = (size_t)i * slice, e = a + slice < cap ? a + slice : cap;
        (void)madvise(p + a, e - a, MADV_POPULATE_WRITE);
    }
#else
    (void)threads;
#endif
    inbuf_free(b);
    b->p = p;
    b->cap = cap;
    return 0;
}

/* batch_next's reason when pread failed (errno set by pread_all: 0 at the file's end). */
static int read_failed(char *reason, size_t rlen, unsigned long long idx)
{
    snprintf(reason, rlen, "the stored batch cannot be read (record %llu: %s)", idx,
             errno ? strerror(errno) : "the file ended early");
    return 1;
}

/* The next record, checked as cli_reader_next checks it (header checksum, 1 to n inputs,
 * a length that fits): 0 with in and len pointing into the mapped file, or into buf
 * where it was read, or 1 with reason. */
static int batch_next(batch_file_t *m, svc_inbuf_t *buf, int threads, uint64_t *count,
                      const uint8_t **in, size_t *len, uint64_t n, char *reason, size_t rlen)
{
    const unsigned long long idx = (unsigned long long)++m->index;
    uint8_t hb[24];
    const uint8_t *h = hb;
    if (m->left == 0 || m->size - m->pos < 24)
        return snprintf(reason, rlen, "truncated before record %llu", idx), 1;
    if (m->map)
        h = m->map + m->pos;
    else if (pread_all(m->fd, hb, 24, m->pos) != 0)
        return read_failed(reason, rlen, idx);
    if (cn_io_checksum(h, 16) != le64(h + 16))
        return snprintf(reason, rlen, "record %llu: header checksum mismatch (damaged)", idx),
               1;
    const uint64_t c = le64(h), l = le64(h + 8);
    if (c == 0 || c > n)
        return snprintf(reason, rlen, "record %llu: %llu inputs (a batch holds 1 to %llu)", idx,
                        (unsigned long long)c, (unsigned long long)n),
               1;
    m->pos += 24;
    if (l == 0 || l > m->size - m->pos)
        return snprintf(reason, rlen, "record %llu: %llu bytes announced, %llu left", idx,
                        (unsigned long long)l, (unsigned long long)(m->size - m->pos)),
               1;
    if (m->map) {
        *in = m->map + m->pos;
    } else {
        if (l > SIZE_MAX || inbuf_reserve(buf, (size_t)l, threads))
            return snprintf(reason, rlen, "record %llu: no memory for its %llu bytes", idx,
                            (unsigned long long)l),
                   1;
        if (pread_all(m->fd, buf->p, (size_t)l, m->pos) != 0)
            return read_failed(reason, rlen, idx);
        *in = buf->p;
    }
    *count = c;
    *len = (size_t)l;
    m->pos += l;
    m->left--;
    return 0;
}

/* A file operation's error for a client: err without the server's path (cli_reader_* and
 * cli_writer_* messages start with "PATH: "), after what ("the key ...", "the stored
 * batch"); no path of the server is ever in a message a client reads. */
static void client_reason(char *reason, size_t rlen, const char *what, const char *err,
                          const char *path, const char *state_dir)
{
    const size_t n = strlen(path);
    if (!strncmp(err, path, n) && !strncmp(err + n, ": ", 2))
        err += n + 2;
    if (strstr(err, state_dir) || strstr(err, "/tenants/") || strstr(err, "/tmp/"))
        err = "cannot be read or written";
    snprintf(reason, rlen, "%s: %s", what, err);
}

int svc_fault_nospace(svc_t *s, const char *what)
{
    const char *f = getenv("CRYPTONETS_SERVE_FAULT");
    const size_t k = strlen(what);
    if (!f || strncmp(f, what, k) != 0 || strncmp(f + k, "=enospc", 7) != 0)
        return 0;
    if (!strcmp(f + k + 7, "-spare")) {
        pthread_mutex_lock(&s->mu);
        const int some = s->nspares > 0;
        pthread_mutex_unlock(&s->mu);
        return some;
    }
    return !f[k + 7];
}

/* CRYPTONETS_SERVE_FAULT=finish=S (tests, docs/service.md): a worker holds S seconds
 * once a job is done and visible, before its description's timings are written and its
 * batch removed (a test deletes the job, or kills the server, there). 0: none. */
static double finish_fault(void)
{
    const char *f = getenv("CRYPTONETS_SERVE_FAULT");
    return f && !strncmp(f, "finish=", 7) ? strtod(f + 7, NULL) : 0;
}

/* The system's reason e (ENOSPC, EIO, ...) after reason, unless it is there already: a
 * reply that could not be written says why (no server path is in strerror's text). */
static void add_errno(char *reason, size_t rlen, int e)
{
    const size_t k = strlen(reason);
    if (e > 0 && !strstr(reason, strerror(e)) && k + 4 < rlen)
        snprintf(reason + k, rlen - k, " (%s)", strerror(e));
}

/* FLINT's: frees the calling thread's caches (FLINT 2.9, flint.h; declared here rather
 * than including flint.h, whose ulong macro the tool has no use for). The packed server
 * uses FLINT integers on the calling thread (a worker, or the HTTP thread that checks a
 * key upload), whose cached blocks would be lost when that thread ends (LeakSanitizer:
 * 256 KiB each). */
void flint_cleanup(void);

cn_status svc_eval_create(svc_eval_t *e, const svc_t *s, const uint8_t *keys, size_t len,
                          int threads, cn_net_diag_t *diag)
{
    *e = (svc_eval_t){0};
    if (!s->packed)
        return cn_server_create(&e->b, s->plan.plan, keys, len, threads, diag);
    const cn_status st = cn_packed_server_create(&e->p, s->packed, keys, len, threads, diag);
    if (st != CN_OK)
        flint_cleanup();
    return st;
}

cn_status svc_eval_run(uint8_t **out, size_t *outlen, svc_eval_t *e, const uint8_t *in,
                       size_t len, cn_net_diag_t *diag)
{
    return e->p ? cn_packed_server_eval(out, outlen, e->p, in, len, NULL, diag)
                : cn_server_eval(out, outlen, e->b, in, len, NULL, diag);
}

void svc_eval_free(svc_eval_t *e)
{
    cn_server_free(e->b);
    if (e->p) {
        cn_packed_server_free(e->p);
        flint_cleanup();
    }
    *e = (svc_eval_t){0};
}

/* A worker's evaluator, kept between jobs (docs/service.md, "Warm evaluators"): the
 * server object built from a tenant's key, whose buffers its first job faulted in. */
typedef struct {
    svc_eval_t ev; /* both NULL: none */
    int has;       /* 1 when ev holds an evaluator */
    size_t tenant;
    char key[65];
    uint8_t key_id[32]; /* the key container's header's key id */
    double used;        /* svc_time() at the end of its last job */
    svc_inbuf_t in;     /* the input buffer (batch_next), kept with the evaluator */
} svc_warm_t;

static int warm_matches(const svc_warm_t *w, const svc_job_t *j)
{
    return w->has && w->tenant == j->tenant && !strcmp(w->key, j->key);
}

/* Evaluates job j (its copy: the table's entry tbl may only be read under mu) with the
 * keys it names; the reply is written as ID.reply, once the job is durable (a job still
 * pending is read from its upload's file, j->src_fd, and its reply waits for the HTTP
 * thread's fsync and renames; an acceptance that failed leaves no reply). warm is the worker's
 * evaluator: used when it was built from j's key (which must still be registered: a deleted key
 * fails the job as before), else freed and replaced by one for j's key, which the worker keeps.
 * 0, or 1 with code and reason set (the library's diagnostic for a batch it refuses, as
 * `cryptonets eval` gives it). */
static int run_job(svc_t *s, const svc_job_t *j, svc_job_t *tbl, svc_warm_t *warm, char *code,
                   size_t codelen, char *reason, size_t rlen, uint64_t *out_bytes,
                   double *evaluated)
{
    char kpath[4096], bpath[4096], rpath[4096], err[512] = "", what[128];
    svc_path(kpath, sizeof kpath, s, j->tenant, "keys", j->key, ".keys");
    if (j->has_src) /* the same inode as the upload, wherever its name is by now */
        snprintf(bpath, sizeof bpath, "/proc/self/fd/%d", j->src_fd);
    else
        svc_path(bpath, sizeof bpath, s, j->tenant, "jobs", j->id, ".batch");
    svc_path(rpath, sizeof rpath, s, j->tenant, "jobs", j->id, ".reply");
    cli_reader_t kr = {0}, br = {0};
    batch_file_t bm = {0};
    svc_eval_t *ev = &warm->ev;
    uint8_t *keys = NULL;
    size_t klen = 0;
    uint64_t kc;
    int rc = 1;
    cn_net_diag_t d = {{0}};
    snprintf(code, codelen, "internal");
    snprintf(what, sizeof what, "key %.64s", j->key);
    cn_status st;
    if (warm_matches(warm, j) && access(kpath, F_OK) == 0) {
        /* the same id is the same bytes: already checked */
    } else {
        svc_eval_free(&warm->ev); /* another key's (or a deleted key's) */
        warm->has = 0;
        if (cli_reader_open(&kr, kpath, CLI_KIND_KEYS, err, sizeof err) ||
            cli_reader_next(&kr, &kc, &keys, &klen, 0, err, sizeof err) ||
            cli_reader_end(&kr, err, sizeof err)) {
            snprintf(code, codelen, "unknown_key");
            client_reason(reason, rlen, what, err, kpath, s->state_dir);
            goto done;
        }
        st = svc_eval_create(ev, s, keys, klen, s->threads, &d);
        if (st != CN_OK) {
            snprintf(code, codelen, "bad_key");
            snprintf(reason, rlen, "evaluation keys: %.200s",
                     d.msg[0] ? d.msg : cn_strerror(st));
            goto done;
        }
        TL("job %.16s: evaluation keys loaded", j->id);
        warm->has = 1;
        warm->tenant = j->tenant;
        memcpy(warm->key_id, kr.h.key_id, 32);
        snprintf(warm->key, sizeof warm->key, "%s", j->key);
    }
    if (cli_reader_open(&br, bpath, CLI_KIND_BATCH, err, sizeof err)) {
        client_reason(reason, rlen, "the stored batch", err, bpath, s->state_dir);
        goto done;
    }
    if (batch_open(&bm, &br, s->warm_idle <= 0, reason, rlen))
        goto done;
    if (memcmp(br.h.key_id, warm->key_id, 32) != 0) {
        snprintf(code, codelen, "key_mismatch");
        snprintf(reason, rlen, "the batch was encrypted under another key");
        goto done;
    }
    cli_head_t h = br.h;
    h.kind = CLI_KIND_REPLY;
    cli_writer_t w;
    int failed, nospace, retried = 0;
    uint64_t bytes;
again:
    if (cli_writer_open(&w, rpath, &h, err, sizeof err)) {
        client_reason(reason, rlen, "the reply", err, rpath, s->state_dir);
        if (w.f)
            (void)cli_writer_close(&w, err, sizeof err);
        goto done;
    }
    bytes = 96;
    failed = 0;  /* reason says why: cli_writer_close must not overwrite it */
    nospace = 0; /* the reply's write failed for want of space */
    for (uint64_t b = 0; b < h.records && !failed; b++) {
        uint64_t count;
        const uint8_t *in = NULL;
        uint8_t *out = NULL;
        size_t ilen, olen;
        if (batch_next(&bm, &warm->in, s->threads, &count, &in, &ilen, s->n, reason, rlen)) {
            failed = 1;
            break;
        }
        st = svc_eval_run(&out, &olen, ev, in, ilen, &d);
        if (st != CN_OK) {
            snprintf(code, codelen, "bad_batch");
            snprintf(reason, rlen, "batch %llu: %.200s", (unsigned long long)b + 1,
                     d.msg[0] ? d.msg : cn_strerror(st));
            failed = 1;
            break;
        }
        int put_bad;
        if (svc_fault_nospace(s, "reply")) { /* as cli_writer_put says it on a full disk */
            snprintf(err, sizeof err, "%.400s: write failed: %s", rpath, strerror(ENOSPC));
            errno = ENOSPC;
            put_bad = 1;
        } else {
            put_bad = cli_writer_put(&w, count, out, olen, err, sizeof err);
        }
        if (put_bad) {
            const int e = errno;
            client_reason(reason, rlen, "the reply", err, rpath, s->state_dir);
            add_errno(reason, rlen, e);
            nospace = e == ENOSPC || e == EDQUOT;
            failed = 1;
        }
        bytes += 24 + olen;
        free(out);
    }
    if (!failed && bm.pos != bm.size) {
        snprintf(reason, rlen, "bytes after the last record");
        failed = 1;
    }
    /* the reply is durable before its name appears (a crash between the rename and an
     * fsync after it could leave a damaged ID.reply that a restart would take as done) */
    if (!failed && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0)) {
        const int e = errno;
        snprintf(reason, rlen, "the reply: cannot be written");
        add_errno(reason, rlen, e);
        nospace = e == ENOSPC || e == EDQUOT;
        failed = 1;
    }
    /* the batch files kept for reuse give their room back, and the reply is written
     * again from the first record, once: so that a spare does not cost the job its result */
    size_t dropped;
    if (nospace && !retried && (dropped = svc_spare_drop_all(s)) > 0) {
        retried = 1; /* once: spares put since (other jobs end) do not make it loop */
        if (!s->quiet)
            fprintf(stderr,
                    "cryptonets serve: job %.16s...: the disk is full: %zu batch file%s kept "
                    "for reuse removed, the reply written again\n",
                    j->id, dropped, dropped == 1 ? "" : "s");
        w.bad = 1;
        (void)cli_writer_close(&w, err, sizeof err);
        bm.pos = 96;
        bm.left = h.records;
        bm.index = 0;
        reason[0] = 0;
        TL("job %.16s: the reply's disk is full: spares removed, the reply written again",
           j->id);
        goto again;
    }
    *evaluated = svc_time(); /* the job's seconds end here, not after the wait below */
    TL("job %.16s: evaluated, reply fsynced", j->id);
    /* published only once the job is durable: no result for a job that was not accepted */
    if (!failed && svc_job_wait_durable(s, tbl)) {
        snprintf(code, codelen, "abandoned");
        snprintf(reason, rlen, "the job was deleted or not accepted");
        failed = 1;
    }
    if (failed)
        w.bad = 1;
    if (cli_writer_close(&w, err, sizeof err) != 0 && !failed) {
        const int e = errno;
        client_reason(reason, rlen, "the reply", err, rpath, s->state_dir);
        add_errno(reason, rlen, e);
    } else if (!failed) {
        svc_sync_dir(rpath);
        TL("job %.16s: reply renamed, directory fsynced", j->id);
        *out_bytes = bytes;
        rc = 0;
    }
done:
    free(keys);
    batch_close(&bm);
    cli_reader_close(&kr);
    cli_reader_close(&br);
    return rc;
}

/* The next job that fits in memory (mu held), for a worker whose own warm evaluator
 * holds own_warm bytes of the reservation (given back or reused when it takes a job):
 * the queue's head when its estimate fits beside the running jobs and the other workers'
 * warm evaluators, else none. Warm evaluators never keep a job waiting: when they are
 * what stands in the way, the idle workers are asked to free theirs (warm_drop), and the
 * job is taken once they have. With nothing running and no warm evaluator elsewhere, a
 * job always may start. First in, first out: a large job is not overtaken forever. */
static svc_job_t *next_job(svc_t *s, uint64_t own_warm, int *asked)
{
    *asked = 0;
    svc_job_t *j = s->qhead;
    if (!j)
        return NULL;
    const uint64_t others_warm = s->warm_reserved - own_warm;
    if (s->mem_limit && s->mem_reserved - own_warm + s->job_mem > s->mem_limit) {
        if (others_warm > 0) {
            s->warm_drop++;
            *asked = 1;
            pthread_cond_broadcast(&s->cv);
            return NULL;
        }
        if (s->nrunning > 0)
            return NULL;
    }
    s->qhead = j->qnext;
    if (!s->qhead)
        s->qtail = NULL;
    s->nqueued--;
    return j;
}

/* Frees the worker's warm evaluator and gives back its reservation (mu held on entry and
 * exit; released while the memory is returned, which takes a while for a large plan). */
static void warm_free(svc_t *s, svc_warm_t *w)
{
    svc_eval_t ev = w->ev;
    svc_inbuf_t in = w->in;
    w->ev = (svc_eval_t){0};
    w->in = (svc_inbuf_t){0};
    w->has = 0;
    pthread_mutex_unlock(&s->mu);
    svc_eval_free(&ev);
    inbuf_free(&in);
    pthread_mutex_lock(&s->mu);
    s->mem_reserved -= s->warm_mem;
    s->warm_reserved -= s->warm_mem;
    s->nwarm--;
    pthread_cond_broadcast(&s->cv);
}

/* Seconds a worker waits, once a job is done, for its client's DELETE before it writes the
 * description's timings and removes the batch (worker). */
#define BOOKKEEP_WAIT 1.0

/* How a job's evaluation ended, for end_job. */
typedef struct {
    int bad, gone;             /* failed (code, reason); deleted or not accepted meanwhile */
    const char *code, *reason; /* when bad */
    double finished, secs;     /* Unix time; seconds of evaluation */
    uint64_t out;              /* the reply's bytes, when done */
} job_end_t;

/* The worker's evaluator after a job: freed at once with --warm-idle 0, else kept from
 * now (mu not held). */
static void warm_keep(const svc_t *s, svc_warm_t *warm)
{
    if (warm->has && s->warm_idle <= 0) {
        svc_eval_free(&warm->ev);
        warm->has = 0;
    }
    warm->used = svc_time();
}

/* The job ends in the table (mu held): it no longer counts as running, its reservation is
 * given back (a kept evaluator's share stays), its state, timings and counters are set
 * and its long polls answered. */
static void end_job(svc_t *s, svc_job_t *j, const svc_warm_t *warm, const job_end_t *e)
{
    s->nrunning--;
    s->mem_reserved -= s->job_mem;
    if (warm->has) { /* kept: its share of the job's reservation stays */
        s->mem_reserved += s->warm_mem;
        s->warm_reserved += s->warm_mem;
        s->nwarm++;
    }
    s->tenants[j->tenant].jobs--;
    j->finished = e->finished;
    j->seconds = e->secs;
    if (e->bad) {
        j->state = SVC_FAILED;
        snprintf(j->code, sizeof j->code, "%s", e->code);
        snprintf(j->reason, sizeof j->reason, "%s", e->reason);
        s->failed_total += !e->gone;
    } else {
        j->state = SVC_DONE;
        j->bytes_out = e->out;
        s->done_total++;
        s->eval_seconds += e->secs;
        s->eval_count++;
    }
    if (s->on_change)
        s->on_change(j);
}

static void *worker(void *arg)
{
    svc_t *s = arg;
    svc_warm_t warm = {0};
    pthread_mutex_lock(&s->mu);
    uint64_t drop_seen = s->warm_drop;
    for (;;) {
        svc_job_t *j = NULL;
        int asked = 0;
        while (!s->stopping && !(j = next_job(s, warm.has ? s->warm_mem : 0, &asked))) {
            if (asked) /* this worker's own request: the others free theirs */
                drop_seen = s->warm_drop;
            if (warm.has && s->warm_drop != drop_seen) {
                warm_free(s, &warm); /* memory for a job that waits */
                continue;
            }
            drop_seen = s->warm_drop;
            if (!warm.has) {
                pthread_cond_wait(&s->cv, &s->mu);
                continue;
            }
            const double until = warm.used + s->warm_idle;
            struct timespec ts = {.tv_sec = (time_t)until,
                                  .tv_nsec = (long)((until - (double)(time_t)until) * 1e9)};
            if (svc_time() >= until || pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
                if (svc_time() >= until)
                    warm_free(s, &warm); /* idle for --warm-idle seconds */
        }
        if (!j)
            break;
        j->state = SVC_RUNNING;
        j->started = svc_time();
        if (s->on_change)
            s->on_change(j);
        s->nrunning++;
        /* the job's estimate covers its evaluator: a warm one's reservation becomes part
         * of it, whether it is reused or replaced */
        s->mem_reserved += s->job_mem;
        if (warm.has) {
            s->mem_reserved -= s->warm_mem;
            s->warm_reserved -= s->warm_mem;
            s->nwarm--;
        }
        const svc_job_t copy = *j;
        j->has_src = 0; /* the upload's descriptor is this worker's now */
        pthread_mutex_unlock(&s->mu);

        char code[32], reason[256] = "", p[4096];
        uint64_t out = 0;
        const double t0 = svc_time();
        TL("job %.16s: evaluation starts", copy.id);
        double t1 = 0;
        const int bad =
            run_job(s, &copy, j, &warm, code, sizeof code, reason, sizeof reason, &out, &t1);
        const double secs = (t1 > 0 ? t1 : svc_time()) - t0;
        if (!warm.has) /* no evaluator kept (its creation failed): nor its buffer; with
                        * --warm-idle 0 the batch is mapped, so there is none */
            inbuf_free(&warm.in);
        if (copy.has_src)
            close(copy.src_fd);
        /* nothing is written for a job deleted, or whose acceptance failed, meanwhile */
        int gone = svc_job_wait_durable(s, j);
        const job_end_t e = {.bad = bad,
                             .gone = gone,
                             .code = code,
                             .reason = reason,
                             .finished = svc_time(),
                             .secs = secs,
                             .out = out};
        int published = 0;
        if (!bad && !gone) {
            /* done at once: the reply is durable under its name, which is all a restart
             * needs to find the job done (docs/service.md, "State directory"); its
             * description's timings and the batch's removal follow, and a DELETE
             * meanwhile waits for them as for a running job (finishing) */
            warm_keep(s, &warm);
            pthread_mutex_lock(&s->mu);
            if (!j->deleted) {
                end_job(s, j, &warm, &e);
                j->finishing = published = 1;
            }
            pthread_mutex_unlock(&s->mu);
            TL("job %.16s: done, long polls woken", copy.id);
            const double hold = finish_fault();
            struct timespec ts = {.tv_sec = (time_t)hold,
                                  .tv_nsec = (long)((hold - (double)(time_t)hold) * 1e9)};
            while (hold > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            /* the bookkeeping waits for the client, up to BOOKKEEP_WAIT seconds: its
             * DELETE (every file then goes at once, no description is written), or the
             * time to download and decrypt, so that the batch's unlink (the kernel
             * dropping 385 MB of page cache for MNIST: 0.05 to 0.25 s of CPU) does not
             * compete with that on the same cores; a queued job or the server's stop ends
             * the wait at once */
            pthread_mutex_lock(&s->mu);
            const double until = svc_time() + BOOKKEEP_WAIT;
            while (published && !j->deleted && !s->qhead && !s->stopping &&
                   svc_time() < until) {
                struct timespec w = {.tv_sec = (time_t)until,
                                     .tv_nsec = (long)((until - (double)(time_t)until) * 1e9)};
                pthread_cond_timedwait(&s->cv, &s->mu, &w);
            }
            gone = gone || j->deleted;
            pthread_mutex_unlock(&s->mu);
        }
        if (bad && !gone) {
            if (!s->quiet) /* the operator sees every failure, with its reason */
                fprintf(stderr, "cryptonets serve: job %.16s... failed: %s: %s\n", copy.id,
                        code, reason);
            json_t *o = json_pack("{s:s, s:s}", "error", code, "message", reason);
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            char err[512];
            if (text && !svc_path(p, sizeof p, s, copy.tenant, "jobs", copy.id, ".failed"))
                (void)svc_write_atomic(p, text, strlen(text), err, sizeof err);
            free(text);
            json_decref(o);
        }
        svc_job_t timed = copy; /* its description again, with its timings */
        timed.finished = e.finished;
        timed.seconds = secs;
        char err2[512];
        if (!gone) {
            (void)svc_job_save(s, &timed, err2, sizeof err2);
            TL("job %.16s: description saved", copy.id);
        }
        /* the batch is not needed once the reply or the failure is on disk, nor after a
         * DELETE (the job stays in the table until svc_job_delete below, so no upload of
         * the same id can write this name meanwhile): kept for the next upload to write
         * over, or unlinked (svc_spare_put), here, outside the lock, since an unlink
         * dropping its page cache (385 MB for MNIST) takes about 0.05 s that a request
         * waiting for the lock, the client's next GET /v1/plan say, would pay */
        if (!svc_path(p, sizeof p, s, copy.tenant, "jobs", copy.id, ".batch")) {
            svc_spare_put(s, p);
            TL("job %.16s: batch removed", copy.id);
        }

        if (!published)
            warm_keep(s, &warm);
        pthread_mutex_lock(&s->mu);
        if (!published) {
            end_job(s, j, &warm, &e);
            TL("job %.16s: %s, long polls woken", copy.id, svc_state_name(j->state));
        }
        j->finishing = 0;
        if (j->deleted) {
            j->deleted = 0;
            svc_job_delete(s, j);
            TL("job %.16s: deleted, its files removed", copy.id);
        }
        pthread_cond_broadcast(&s->cv);
    }
    if (warm.has)
        warm_free(s, &warm);
    pthread_mutex_unlock(&s->mu);
    flint_cleanup();
    return NULL;
}

int svc_workers_start(svc_t *s, pthread_t *th)
{
    for (size_t i = 0; i < s->workers; i++)
        if (pthread_create(&th[i], NULL, worker, s) != 0) {
            s->workers = i;
            return 1;
        }
    return 0;
}

void svc_workers_stop(svc_t *s, pthread_t *th)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->workers; i++)
        pthread_join(th[i], NULL);
}

/* --- reused upload files ---------------------------------------------------------------
 * A job's batch is hundreds of MB (629 MB for MNIST at n = 16384) written through the page
 * cache as it arrives. Written into a new file, every page is a new page the kernel must
 * find, zero and charge (on a virtual machine that returns freed memory to its host, a
 * fault to the host as well): measured 0.37 s of the receiving thread's CPU per 600 MB,
 * against 0.11 s to write over pages already cached. So a finished job's batch file is
 * not removed but renamed into STATE/tmp, and the next upload writes over it and
 * truncates it to its own length; the renamed file is one of the server's own (removed at
 * the next start, and at a clean stop). Its bytes are another job's ciphertexts, never
 * read: a reused file is read only after it is written over and truncated. */

static size_t spares_max(const svc_t *s)
{
    return s->workers + 1 < SVC_SPARES ? s->workers + 1 : SVC_SPARES;
}

/* 1 when the state directory's file system has at least twice size bytes free: a spare
 * holds its blocks while idle, and replies, descriptions and keys need room (a reply that
 * cannot be written fails its job for good). */
static int room_for_spare(const svc_t *s, uint64_t size)
{
    struct statvfs v;
    if (statvfs(s->state_dir, &v) != 0)
        return 0;
    const uint64_t avail = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
    return size <= UINT64_MAX / 2 && avail >= 2 * size;
}

void svc_spare_put(svc_t *s, const char *path)
{
    struct stat sb;
    char to[sizeof s->spares[0]];
    int want = 0;
    pthread_mutex_lock(&s->mu);
    if (!s->stopping && s->nspares + s->spares_pending < spares_max(s)) {
        snprintf(to, sizeof to, "%s/tmp/spare-%ld-%lu", s->state_dir, (long)getpid(),
                 ++s->spare_seq);
        s->spares_pending++;
        want = 1;
    }
    pthread_mutex_unlock(&s->mu);
    /* renamed, and the rename made durable, before any upload may write over the file:
     * else a crash could bring the old name back with another upload's bytes in it */
    const char *drop = path; /* the file's name, removed unless it becomes a spare */
    int ready = 0;
    if (want && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) &&
        room_for_spare(s, (uint64_t)sb.st_size) && rename(path, to) == 0) {
        drop = to;
        ready = svc_sync_dir(to) == 0;
    }
    pthread_mutex_lock(&s->mu);
    if (want)
        s->spares_pending--;
    if (ready && !s->stopping && s->nspares < SVC_SPARES) {
        snprintf(s->spares[s->nspares++], sizeof s->spares[0], "%s", to);
        drop = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (drop)
        unlink(drop);
}

int svc_spare_take(svc_t *s, char *out, size_t cap)
{
    pthread_mutex_lock(&s->mu);
    const int got = s->nspares > 0 && strlen(s->spares[s->nspares - 1]) < cap;
    if (got)
        snprintf(out, cap, "%s", s->spares[--s->nspares]);
    pthread_mutex_unlock(&s->mu);
    return got;
}

size_t svc_spare_drop_all(svc_t *s)
{
    /* the names taken out under the lock, the files unlinked outside it: an unlink that
     * drops a batch's page cache takes 0.05 s or more, which no request should wait for */
    char names[SVC_SPARES][sizeof s->spares[0]]; /* 16 KiB */
    pthread_mutex_lock(&s->mu);
    const size_t k = s->nspares;
    memcpy(names, s->spares, k * sizeof names[0]);
    s->nspares = 0;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < k; i++)
        unlink(names[i]);
    return k;
}
