/* Shared pieces of the bench programs (common.h). */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0;
}

static int io_full(int fd, uint8_t *p, size_t len, int wr)
{
    while (len) {
        const ssize_t r = wr ? write(fd, p, len) : read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int read_full(int fd, void *buf, size_t len)
{
    return io_full(fd, buf, len, 0);
}

int write_full(int fd, const void *buf, size_t len)
{
    return io_full(fd, (uint8_t *)(uintptr_t)buf, len, 1); /* write() only reads it */
}

int send_msg(int fd, char tag, const void *b, uint64_t len)
{
    return write_full(fd, &tag, 1) || write_full(fd, &len, sizeof len) ||
           (len && write_full(fd, b, (size_t)len));
}

int recv_msg(int fd, char *tag, uint8_t **buf, size_t *cap, uint64_t *len)
{
    if (read_full(fd, tag, 1) || read_full(fd, len, sizeof *len))
        return -1;
    if (*len > *cap) {
        uint8_t *nb = realloc(*buf, (size_t)*len);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = (size_t)*len;
    }
    return *len ? read_full(fd, *buf, (size_t)*len) : 0;
}
