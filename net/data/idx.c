/* IDX files (the MNIST format of LeCun et al.): unsigned-byte tensors, validated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../net_internal.h"

void cn_idx_clear(cn_idx_t *t)
{
    free(t->data);
    memset(t, 0, sizeof *t);
}

cn_status cn_idx_load(cn_idx_t *t, const char *path, cn_net_diag_t *diag)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) {
        cn_diag_set(diag, "%s: %s", path, strerror(errno));
        return CN_ERR_IO;
    }
    uint8_t h[4 + 4 * CN_IDX_MAX_DIMS];
    cn_status st = CN_OK;
    if (fread(h, 1, 4, f) != 4) {
        cn_diag_set(diag, "%s: truncated header", path);
        st = CN_ERR_TRUNCATED;
    } else if (h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] == 0 || h[3] > CN_IDX_MAX_DIMS) {
        cn_diag_set(diag, "%s: not an IDX file of unsigned bytes (magic %02x %02x %02x %02x)",
                    path, h[0], h[1], h[2], h[3]);
        st = CN_ERR_FORMAT;
    }
    size_t count = 1;
    if (st == CN_OK) {
        t->ndims = h[3];
        if (fread(h + 4, 4, t->ndims, f) != t->ndims) {
            cn_diag_set(diag, "%s: truncated header", path);
            st = CN_ERR_TRUNCATED;
        }
        for (size_t i = 0; st == CN_OK && i < t->ndims; i++) {
            const uint8_t *d = h + 4 + 4 * i;
            t->dims[i] = (size_t)d[0] << 24 | (size_t)d[1] << 16 | (size_t)d[2] << 8 | d[3];
            if (t->dims[i] == 0 || t->dims[i] > CN_IDX_MAX_ELEMENTS ||
                count > CN_IDX_MAX_ELEMENTS / t->dims[i]) {
                cn_diag_set(diag, "%s: dimension %zu of %zu out of range", path, i, t->dims[i]);
                st = CN_ERR_FORMAT;
            } else {
                count *= t->dims[i];
            }
        }
    }
    if (st == CN_OK) {
        t->data = malloc(count);
        if (!t->data) {
            st = CN_ERR_NO_MEMORY;
        } else if (fread(t->data, 1, count, f) != count) {
            cn_diag_set(diag, "%s: %zu data bytes expected, the file is shorter", path, count);
            st = CN_ERR_TRUNCATED;
        } else if (fgetc(f) != EOF) {
            cn_diag_set(diag, "%s: bytes after the %zu data bytes", path, count);
            st = CN_ERR_FORMAT;
        }
        t->count = count;
    }
    fclose(f);
    if (st != CN_OK)
        cn_idx_clear(t);
    return st;
}
