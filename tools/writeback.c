/* Write-back of an upload while it arrives (docs/service.md, "POST /v1/jobs"): the kernel
 * is asked to start writing each 8 MiB of the temporary file as soon as it is written
 * (sync_file_range(2), SYNC_FILE_RANGE_WRITE), and the receive path waits for the chunk
 * two behind (usually long on disk by then), so at most about three chunks are in flight
 * and the fsync before 202 finds little left to write, instead of the whole body (405 MB
 * for an MNIST batch). Durability is unchanged: sync_file_range neither flushes the
 * disk's cache nor the file's metadata, so the fsync before the answer stays and remains
 * what makes the upload durable. Where sync_file_range fails (a file system without it)
 * nothing is lost but the head start. */
#define _GNU_SOURCE
#include <fcntl.h>

#include "service.h"

#define WB_CHUNK ((uint64_t)8 << 20)

void svc_writeback(svc_wb_t *w, int fd, uint64_t written)
{
    while (written - w->started >= WB_CHUNK) {
        (void)sync_file_range(fd, (off_t)w->started, (off_t)WB_CHUNK, SYNC_FILE_RANGE_WRITE);
        w->started += WB_CHUNK;
        if (w->started >= 3 * WB_CHUNK) /* the chunk two behind: on disk before going on */
            (void)sync_file_range(fd, (off_t)(w->started - 3 * WB_CHUNK), (off_t)WB_CHUNK,
                                  SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                      SYNC_FILE_RANGE_WAIT_AFTER);
    }
}
