/* An opt-in timeline of the service's requests (docs/service.md, "Timeline"): with
 * CRYPTONETS_TIMELINE in the environment of `cryptonets infer` or `cryptonets serve` (any
 * value but empty or "0"), each step of a job is one line on stderr,
 * "cryptonets CMD: timeline SECONDS EVENT", SECONDS the wall clock (CLOCK_REALTIME, Unix
 * seconds, microseconds shown) so that the lines of the client and of the server merge
 * into one timeline when both run on one machine; then the process's CPU seconds so far
 * (getrusage: user + system, all threads), so that the CPU of each step shows too. Off by
 * default: nothing is printed and each call costs one load of a flag. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "service.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int enabled; /* 0 or 1, set once */

static void read_env(void)
{
    const char *v = getenv("CRYPTONETS_TIMELINE");
    enabled = v && *v && strcmp(v, "0") != 0;
}

int svc_timeline_on(void)
{
    pthread_once(&once, read_env);
    return enabled;
}

void svc_timeline(const char *cmd, const char *fmt, ...)
{
    if (!svc_timeline_on())
        return;
    char line[512];
    const double t = svc_time();
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    int k = snprintf(line, sizeof line, "cryptonets %s: timeline %.6f cpu %.3f ", cmd, t, cpu);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof line)
        vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one call: lines of several threads do not mix */
}
