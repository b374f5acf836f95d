/* The private-inference service (docs/service.md): `cryptonets serve` (an HTTP server on
 * libmicrohttpd that holds the plan and the tenants' public evaluation keys, and
 * evaluates uploaded batches with a pool of workers) and `cryptonets infer` (its client,
 * on libcurl). The service lives in the tool only: libcryptonets does not link either
 * HTTP library. Files:
 *   service_state.c  the state directory, the job table, the worker pool
 *   serve.c          the HTTP server: routes, authentication, streamed uploads, metrics
 *   infer.c          the client
 *   service_notes.c  what a start logs about state it does not serve */
#ifndef CN_TOOLS_SERVICE_H
#define CN_TOOLS_SERVICE_H

#include <pthread.h>
#include <stdint.h>

#include "cli.h"

int cli_serve(int argc, char **argv);
int cli_infer(int argc, char **argv);

/* Job states (docs/service.md, "Jobs"). */
typedef enum { SVC_QUEUED = 0, SVC_RUNNING = 1, SVC_DONE = 2, SVC_FAILED = 3 } svc_state;
const char *svc_state_name(svc_state s);

/* One accepted job. Its files are STATE/tenants/TENANT/jobs/ID.{job,batch,reply,failed}. */
typedef struct svc_job {
    char id[65], key[65]; /* lowercase hex SHA-256 */
    size_t tenant;
    svc_state state;
    int deleted; /* deleted while running: the worker removes its files at the end */
    /* accepted but not yet durable (docs/service.md, "Evaluation before the 202"): the
     * upload's fsync and renames are in progress on the HTTP thread, which answers 202
     * only after them; a worker may evaluate meanwhile but publishes nothing (no reply,
     * failure or description) until pending is 0; a failed fsync deletes the job */
    int pending;
    /* done and visible, its description's timings and the batch's removal still being
     * written by its worker: a DELETE waits for the worker, as for a running job */
    int finishing;
    int has_src; /* src_fd: the upload's file (read-only), the batch before its rename */
    int src_fd;
    double created, started, finished, seconds; /* Unix time; seconds of evaluation */
    uint64_t records, inputs, bytes_in, bytes_out;
    char code[32], reason[256]; /* failed: the error code and message */
    struct svc_job *next;       /* the table */
    struct svc_job *qnext;      /* the queue */
} svc_job_t;

typedef struct {
    char name[65];
    uint8_t token_hash[32]; /* SHA-256 of the token: compared in constant time */
    size_t jobs;            /* queued and running */
    size_t uploads;         /* jobs being uploaded (counted against --tenant-jobs too) */
} svc_tenant_t;

#define SVC_JOB_KEY_BYTES 64
/* batch files kept for reuse at most (docs/service.md, "Reused upload files") */
#define SVC_SPARES 4

/* Reasons a request is refused, counted in /metrics. */
enum {
    SVC_R_BAD_REQUEST,
    SVC_R_UNAUTHORIZED,
    SVC_R_FORBIDDEN,
    SVC_R_NOT_FOUND,
    SVC_R_MISMATCH,
    SVC_R_TOO_LARGE,
    SVC_R_FULL,
    SVC_R_TENANT_FULL,
    SVC_R_TIMEOUT,
    SVC_R_ABORTED,
    SVC_R_OTHER,
    SVC_NREASONS
};

typedef struct {
    /* configuration */
    const char *state_dir;
    size_t workers, max_jobs, tenant_jobs, max_records;
    uint64_t mem_limit; /* bytes; 0: no limit */
    int threads;        /* per evaluation; 0: every core */
    double expire;      /* seconds a finished job is kept */
    svc_tenant_t *tenants;
    size_t ntenants;
    int auth;  /* 1 with a tokens file */
    int quiet; /* no log lines (the repairs at start among them) */
    /* set by svc_state_open: finished jobs found past their expiry and removed; whether
     * the state directory was made by this start (svc_state_undo removes it again) */
    size_t expired_at_start;
    int created_dir;
    /* the plan */
    cli_plan_t plan;
    const cn_packed_t *packed; /* the plan's packed layout; NULL: the batched layout */
    uint8_t *plan_bytes;
    size_t plan_len;
    char plan_hex[65];
    /* the job ids' secret key (docs/service.md, "Identifiers"): AES-256 key of the GMAC
     * over the upload, then HMAC-SHA-256 key of the id; made at the first start, kept in
     * STATE/job-id.key */
    uint8_t job_key[SVC_JOB_KEY_BYTES];
    size_t n; /* inputs in one record: n (batched) or the packed layout's batch */
    size_t nin;
    uint64_t batch_bytes; /* one record of a batch: exactly this many bytes */
    uint64_t key_bytes;   /* an evaluation-key container: exactly this many bytes */
    uint64_t job_mem;     /* estimated peak memory of one evaluation */
    uint64_t warm_mem;    /* estimated memory of a warm evaluator kept idle: job_mem (the
                           * buffers, the keys and the input buffer are all kept) */
    double warm_idle;     /* seconds an idle worker keeps its evaluator; 0: never */
    /* the jobs; everything below is under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    svc_job_t *jobs, *qhead, *qtail;
    size_t nqueued, nrunning;
    size_t uploads;         /* jobs being uploaded, all tenants (counted against --max-jobs) */
    uint64_t mem_reserved;  /* running jobs' job_mem plus the warm evaluators' warm_mem */
    uint64_t warm_reserved; /* the part of mem_reserved held by idle warm evaluators */
    size_t nwarm;           /* warm evaluators kept by idle workers */
    uint64_t warm_drop;     /* bumped to ask idle workers to free their evaluators */
    int stopping;
    uint64_t done_total, failed_total, bytes_in, bytes_out, requests;
    /* finished jobs' batch files kept for reuse by later uploads (svc_spare_put): their
     * names in STATE/tmp, spares[0, nspares) */
    char spares[SVC_SPARES][4096];
    size_t nspares;
    size_t spares_pending; /* being renamed into tmp/ (svc_spare_put) */
    unsigned long spare_seq;
    uint64_t rejected[SVC_NREASONS];
    double eval_seconds;
    uint64_t eval_count;
    /* called (mu held) when a job changes state or is deleted: wakes its long polls */
    void (*on_change)(const svc_job_t *j);
} svc_t;

/* --- service_state.c --------------------------------------------------------------- */

/* Refuses a directory that is not a state directory (no STATE/plan) unless it is empty or
 * holds only what an interrupted first start left; creates the directories, checks that
 * the state belongs to this plan (STATE/plan), and
 * loads every job found (queued and running ones are queued again, in order of
 * acceptance; finished ones past their expiry are removed). 0 or 1 with err set. */
int svc_state_open(svc_t *s, char *err, size_t errlen);
/* A finished job's batch file at path (or a job upload's file that was not accepted):
 * renamed into STATE/tmp as a spare for a later upload to write over (docs/service.md,
 * "Reused upload files"), the rename made durable (fsync of tmp/); removed instead when
 * min(workers + 1, SVC_SPARES) spares are kept or being kept already, the server is
 * stopping, the file system has less than twice its size free, or the rename or fsync
 * fails. Takes mu (not across the rename and fsync). */
void svc_spare_put(svc_t *s, const char *path);
/* A spare's name into out (cap bytes), taken out of the pool: 1, or 0 when there is none.
 * The caller writes the file from offset 0 and truncates it to what it wrote. Takes mu. */
int svc_spare_take(svc_t *s, char *out, size_t cap);
/* Removes every spare (a clean stop: a stopped server leaves none; a write that fails for
 * want of space): how many there were. Takes mu. */
size_t svc_spare_drop_all(svc_t *s);
/* CRYPTONETS_SERVE_FAULT (tests, docs/service.md): 1 when a write of what ("reply" or
 * "upload") is to fail as on a full disk: WHAT=enospc, every one; WHAT=enospc-spare, every
 * one while a spare batch file is kept (a disk the spares fill). Takes mu. */
int svc_fault_nospace(svc_t *s, const char *what);
/* Logs each directory under STATE/tenants of a tenant the server does not serve (not in
 * --tokens; `anonymous` when tokens are given): its key sets and jobs, which no request
 * reaches and nothing expires (service_notes.c). */
void svc_note_unlisted_tenants(const svc_t *s, FILE *log);
/* After a start that failed past svc_state_open: removes what it created when the state
 * directory did not exist before (empty directories and its own files only). */
void svc_state_undo(const svc_t *s);
/* Directory of a tenant's keys or jobs, and a file in it: 0, or 1 when too long. */
int svc_path(char *out, size_t cap, const svc_t *s, size_t tenant, const char *sub,
             const char *name, const char *suffix);
/* Writes len bytes as path, atomically: a temporary file, fsync, rename, fsync of the
 * directory. 0 or 1 with err. */
int svc_write_atomic(const char *path, const void *buf, size_t len, char *err, size_t errlen);
/* An evaluator of the plan's layout, from a tenant's evaluation-key bytes: the batched
 * server (cn_server_t) or the packed one (cn_packed_server_t). */
typedef struct {
    cn_server_t *b;
    cn_packed_server_t *p;
} svc_eval_t;
/* cn_server_create or cn_packed_server_create; diag says why keys are refused. */
cn_status svc_eval_create(svc_eval_t *e, const svc_t *s, const uint8_t *keys, size_t len,
                          int threads, cn_net_diag_t *diag);
/* cn_server_eval or cn_packed_server_eval of one record. */
cn_status svc_eval_run(uint8_t **out, size_t *outlen, svc_eval_t *e, const uint8_t *in,
                       size_t len, cn_net_diag_t *diag);
void svc_eval_free(svc_eval_t *e);
/* Fsyncs the directory holding path. */
int svc_sync_dir(const char *path);
/* Adds an accepted job (mu held): into the table and the queue. */
void svc_job_add(svc_t *s, svc_job_t *j);
/* The tenant's job id (mu held), or NULL. */
svc_job_t *svc_job_find(svc_t *s, size_t tenant, const char *id);
/* Deletes a job's files, and the job unless it is running (mu held). */
void svc_job_delete(svc_t *s, svc_job_t *j);
/* Waits (mu not held) until job j of the table is durable: 0 to publish its outcome, 1
 * when it was deleted or its acceptance failed (nothing may be written for it). */
int svc_job_wait_durable(svc_t *s, svc_job_t *j);
/* Writes a job's description (ID.job) atomically. */
int svc_job_save(const svc_t *s, const svc_job_t *j, char *err, size_t errlen);
/* Removes the finished jobs older than the expiry (mu held). */
void svc_expire(svc_t *s, double now);
/* The worker pool: starts s->workers threads; svc_workers_stop lets running jobs finish
 * and joins them (queued jobs stay on disk for the next start). */
int svc_workers_start(svc_t *s, pthread_t *th);
void svc_workers_stop(svc_t *s, pthread_t *th);
double svc_time(void);

/* --- writeback.c ------------------------------------------------------------------- */

/* An upload's write-back, started chunk by chunk as it arrives (zero-initialized). */
typedef struct {
    uint64_t started; /* bytes from the start whose write-back was started */
} svc_wb_t;
/* Called after each write with the bytes written so far to fd: starts the write-back of
 * every complete 8 MiB chunk not started yet, and waits for the one two chunks behind. */
void svc_writeback(svc_wb_t *w, int fd, uint64_t written);
void svc_hex(char *out, const uint8_t *b, size_t len);

/* --- timeline.c --------------------------------------------------------------------- */

/* 1 when CRYPTONETS_TIMELINE asks for the timeline (docs/service.md, "Timeline"). */
int svc_timeline_on(void);
/* One line "cryptonets CMD: timeline SECONDS EVENT" on stderr when it does, else nothing. */
void svc_timeline(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
