/* IDX files, the format of the MNIST data set (Y. LeCun et al., "The MNIST database of
 * handwritten digits": magic 00 00 08 d, d big-endian 32-bit sizes, then the bytes): the
 * reader the examples, the command-line tool and the tests use for their inputs. Not
 * part of the network API: a data loader beside it. */
#ifndef CRYPTONETS_IDX_H
#define CRYPTONETS_IDX_H

#include "cryptonets/net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_IDX_MAX_DIMS 4
#define CN_IDX_MAX_ELEMENTS ((size_t)1 << 31)
typedef struct {
    size_t ndims;
    size_t dims[CN_IDX_MAX_DIMS];
    size_t count;  /* product of dims */
    uint8_t *data; /* count bytes, row-major */
} cn_idx_t;
/* Loads an IDX file of unsigned bytes (magic 00 00 08 d, d dims, big-endian sizes, data),
 * checking the magic, every dimension and that the file holds exactly the data:
 * CN_ERR_IO, CN_ERR_FORMAT or CN_ERR_TRUNCATED with the reason in diag. */
CN_API CN_WARN_UNUSED cn_status cn_idx_load(cn_idx_t *t, const char *path, cn_net_diag_t *diag);
CN_API void cn_idx_clear(cn_idx_t *t);

#ifdef __cplusplus
}
#endif

#endif
