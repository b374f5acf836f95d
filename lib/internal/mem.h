/* Internal memory helpers: overflow-checked aligned allocation and wiping. */
#ifndef CN_INTERNAL_MEM_H
#define CN_INTERNAL_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sodium.h>

/* Alignment of every array the library allocates (one cache line, one zmm). */
#define CN_ALIGN 64

/* count * size bytes aligned to CN_ALIGN, or NULL on overflow or failure.
 * count == 0 gives a valid pointer to free. */
static inline void *cn_alloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    size_t bytes = count * size;
    bytes = (bytes + CN_ALIGN - 1) & ~(size_t)(CN_ALIGN - 1);
    if (bytes == 0)
        bytes = CN_ALIGN;
    return aligned_alloc(CN_ALIGN, bytes);
}

/* As cn_alloc, zero-filled. */
static inline void *cn_calloc(size_t count, size_t size)
{
    void *p = cn_alloc(count, size);
    if (p) {
        size_t bytes = count * size;
        for (unsigned char *c = p; bytes--;)
            *c++ = 0;
    }
    return p;
}

/* Overwrites len bytes so the compiler cannot drop the stores (secrets): libsodium's
 * sodium_memzero (explicit_bzero or an equivalent the optimizer cannot remove). */
static inline void cn_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

#endif
