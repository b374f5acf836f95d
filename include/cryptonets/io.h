/* Serialization: every public object to bytes and back, with strict validation.
 *
 * One binary format (docs/format.md): a fixed little-endian header (magic, version,
 * object type, flags, count, total length, parameter fingerprint), a body written field
 * by field with residues packed to the bit width of their prime, and a 64-bit checksum.
 * Loading checks everything against the context it loads into and never trusts a length
 * it has not checked: bad input gives CN_ERR_TRUNCATED, CN_ERR_FORMAT, CN_ERR_VERSION or
 * CN_ERR_CONTEXT_MISMATCH, never a crash or a silently wrong object.
 *
 * For each object type X there are:
 *   size_t    cn_io_size_X(obj, ctx)              exact bytes that save will write
 *   cn_status cn_io_save_X(buf, cap, &written, obj, ctx)
 *   cn_status cn_io_write_X(FILE *, obj, ctx)
 *   cn_status cn_io_load_X(obj, buf, len, ctx)    len must be the object's exact length
 *   cn_status cn_io_read_X(obj, FILE *, ctx)      reads exactly one object
 * Saving into a buffer that is too small gives CN_ERR_OUT_OF_RANGE (nothing useful is
 * written). The object a loader fills must be zero-initialized (= {0}) or hold an earlier
 * object of its type, which is replaced (its memory reused or released); clear it as
 * usual afterwards. On failure it is left cleared.
 *
 * The secret key has functions of its own (cn_io_*_secret_key) and a type code that
 * every other loader refuses; nothing writes it by accident.
 *
 * A ciphertext batch can also be written record by record from many threads
 * (cn_io_batch_writer_t) and loaded with its seeds' expansion left to the caller
 * (CN_IO_DEFER_SEED); docs/io.md shows both.
 *
 * Other formats (net/'s model, plan and client-state files) frame their own bodies with
 * this format's header and checksum and write them with the little-endian byte writer and
 * reader at the end of this header (cn_io_writer_t, cn_io_reader_t). */
#ifndef CRYPTONETS_IO_H
#define CRYPTONETS_IO_H

#include <stdio.h>

#include "cryptonets/bfv.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_IO_MAGIC "CNHE"
#define CN_IO_VERSION_MAJOR 1
/* The minor version of objects in their 1.0 form. Seeded key switching keys are written
 * as 1.1 (docs/format.md, "Versions"): each object carries the lowest version that reads
 * it. */
#define CN_IO_VERSION_MINOR 0
#define CN_IO_HEADER_BYTES 32
#define CN_IO_TRAILER_BYTES 8
/* Most ciphertexts one batch may hold. */
#define CN_IO_MAX_BATCH ((size_t)1 << 24)

typedef enum {
    CN_IO_PARAMS = 1,
    CN_IO_SECRET_KEY = 2,
    CN_IO_PUBLIC_KEY = 3,
    CN_IO_RELIN_KEY = 4,
    CN_IO_GALOIS_KEYS = 5,
    CN_IO_PLAINTEXT = 6,
    CN_IO_CIPHERTEXT = 7,
    CN_IO_CIPHERTEXT_BATCH = 8
} cn_io_type;

/* Flags of cn_io_save_ciphertext and cn_io_save_ciphertext_batch. */
#define CN_IO_ALLOW_TRANSPARENT 1u /* write ciphertexts known to encrypt without randomness */
#define CN_IO_NO_SEED 2u           /* write c1 in full even where a seed would do */

/* Parameters (no context needed). Loading refuses parameters that declare no security
 * (CN_SEC_NONE_INSECURE) with CN_ERR_INSECURE unless allow_insecure is set, and runs
 * cn_bfv_params_validate. */
CN_API size_t cn_io_size_params(const cn_bfv_params_t *prm);
CN_API CN_WARN_UNUSED cn_status cn_io_save_params(uint8_t *buf, size_t cap, size_t *written,
                                                  const cn_bfv_params_t *prm);
CN_API CN_WARN_UNUSED cn_status cn_io_write_params(FILE *f, const cn_bfv_params_t *prm);
CN_API CN_WARN_UNUSED cn_status cn_io_load_params(cn_bfv_params_t *prm, const uint8_t *buf,
                                                  size_t len, int allow_insecure);
CN_API CN_WARN_UNUSED cn_status cn_io_read_params(cn_bfv_params_t *prm, FILE *f,
                                                  int allow_insecure);

/* Public key. */
CN_API size_t cn_io_size_public_key(const cn_bfv_public_key_t *pk, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_public_key(uint8_t *buf, size_t cap, size_t *written,
                                                      const cn_bfv_public_key_t *pk,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_public_key(FILE *f, const cn_bfv_public_key_t *pk,
                                                       const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_public_key(cn_bfv_public_key_t *pk,
                                                      const uint8_t *buf, size_t len,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_public_key(cn_bfv_public_key_t *pk, FILE *f,
                                                      const cn_bfv_context_t *ctx);

/* Relinearization key. A key with its seed (has_seed: every key keygen makes) is written
 * seeded, as its k0 rows and the 32-byte seed of k1 (format 1.1, about half the bytes);
 * one without (loaded from a 1.0 file) in full, as 1.0. The loader reads both and expands
 * the seed. */
CN_API size_t cn_io_size_relin_key(const cn_bfv_relin_key_t *rk, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_relin_key(uint8_t *buf, size_t cap, size_t *written,
                                                     const cn_bfv_relin_key_t *rk,
                                                     const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_relin_key(FILE *f, const cn_bfv_relin_key_t *rk,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_relin_key(cn_bfv_relin_key_t *rk, const uint8_t *buf,
                                                     size_t len, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_relin_key(cn_bfv_relin_key_t *rk, FILE *f,
                                                     const cn_bfv_context_t *ctx);

/* Galois keys: seeded (1.1) when every key has its seed, else in full (1.0), as the
 * relinearization key. */
CN_API size_t cn_io_size_galois_keys(const cn_bfv_galois_keys_t *gk,
                                     const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_galois_keys(uint8_t *buf, size_t cap,
                                                       size_t *written,
                                                       const cn_bfv_galois_keys_t *gk,
                                                       const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_galois_keys(FILE *f, const cn_bfv_galois_keys_t *gk,
                                                        const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_galois_keys(cn_bfv_galois_keys_t *gk,
                                                       const uint8_t *buf, size_t len,
                                                       const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_galois_keys(cn_bfv_galois_keys_t *gk, FILE *f,
                                                       const cn_bfv_context_t *ctx);

/* Plaintext. */
CN_API size_t cn_io_size_plaintext(const cn_bfv_plaintext_t *pt, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_plaintext(uint8_t *buf, size_t cap, size_t *written,
                                                     const cn_bfv_plaintext_t *pt,
                                                     const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_plaintext(FILE *f, const cn_bfv_plaintext_t *pt,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_plaintext(cn_bfv_plaintext_t *pt, const uint8_t *buf,
                                                     size_t len, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_plaintext(cn_bfv_plaintext_t *pt, FILE *f,
                                                     const cn_bfv_context_t *ctx);

/* Ciphertext (size 2 or 3, any level). A fresh secret-key encryption (has_seed) is
 * written with its 32-byte seed in place of c1 unless CN_IO_NO_SEED; the loader expands
 * it. A transparent ciphertext is refused (CN_ERR_UNSUPPORTED) unless
 * CN_IO_ALLOW_TRANSPARENT: it would reveal its plaintext's origin (see docs/bfv.md). */
CN_API size_t cn_io_size_ciphertext(const cn_bfv_ciphertext_t *ct, unsigned flags,
                                    const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_ciphertext(uint8_t *buf, size_t cap, size_t *written,
                                                      const cn_bfv_ciphertext_t *ct,
                                                      unsigned flags,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_ciphertext(FILE *f, const cn_bfv_ciphertext_t *ct,
                                                       unsigned flags,
                                                       const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_ciphertext(cn_bfv_ciphertext_t *ct,
                                                      const uint8_t *buf, size_t len,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_ciphertext(cn_bfv_ciphertext_t *ct, FILE *f,
                                                      const cn_bfv_context_t *ctx);

/* A batch of count ciphertexts under one header (the shape of a network's input or
 * output). Loading allocates *cts (count entries; free with cn_io_free_ciphertexts);
 * memory grows with the ciphertexts actually read, never with a declared count. */
CN_API size_t cn_io_size_ciphertext_batch(const cn_bfv_ciphertext_t *cts, size_t count,
                                          unsigned flags, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_ciphertext_batch(uint8_t *buf, size_t cap,
                                                            size_t *written,
                                                            const cn_bfv_ciphertext_t *cts,
                                                            size_t count, unsigned flags,
                                                            const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_ciphertext_batch(FILE *f,
                                                             const cn_bfv_ciphertext_t *cts,
                                                             size_t count, unsigned flags,
                                                             const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_ciphertext_batch(cn_bfv_ciphertext_t **cts,
                                                            size_t *count, const uint8_t *buf,
                                                            size_t len,
                                                            const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_ciphertext_batch(cn_bfv_ciphertext_t **cts,
                                                            size_t *count, FILE *f,
                                                            const cn_bfv_context_t *ctx);
CN_API void cn_io_free_ciphertexts(cn_bfv_ciphertext_t *cts, size_t count);

/* Flag of cn_io_load_ciphertext_batch_flags: leave seeded records unexpanded. */
#define CN_IO_DEFER_SEED 4u
/* As cn_io_load_ciphertext_batch (same checks, errors and result), with flags 0 or
 * CN_IO_DEFER_SEED. Expanding a seeded record's c1 from its seed (a fresh secret-key
 * encryption, see cn_bfv_encrypt_symmetric) is most of the cost of loading, and the
 * loader runs on one thread; deferred, it is left to the caller, who can spread it over
 * threads. With CN_IO_DEFER_SEED a seeded record loads as a ciphertext with has_seed = 1
 * whose c1 is allocated but not yet computed (its contents are unspecified); the caller
 * must run cn_bfv_expand_seed on every such ciphertext (independent calls: any order,
 * any threads) before passing it to any other function than cn_bfv_ciphertext_clear or
 * cn_io_free_ciphertexts. A record saved in full (has_seed = 0) needs nothing. Expanded,
 * the ciphertexts equal those of cn_io_load_ciphertext_batch. Other flags:
 * CN_ERR_INVALID_ARG. */
CN_API CN_WARN_UNUSED cn_status cn_io_load_ciphertext_batch_flags(cn_bfv_ciphertext_t **cts,
                                                                  size_t *count,
                                                                  const uint8_t *buf,
                                                                  size_t len, unsigned flags,
                                                                  const cn_bfv_context_t *ctx);

/* --- streaming batch writer ------------------------------------------------------- */
/* A ciphertext batch written into the caller's buffer one record at a time, as its
 * ciphertexts are produced, by any number of threads (no array of ciphertexts is held,
 * and no thread waits for another), in the init / update / final shape of libsodium's
 * streaming APIs:
 *     total = cn_io_batch_writer_size(count, &shape, ctx);   buf = malloc(total);
 *     cn_io_batch_writer_init(&w, buf, total, count, &shape, flags, ctx);
 *     cn_io_batch_writer_put(&w, i, &ct_i);      for every i in [0, count), any order
 *     cn_io_batch_writer_final(&w, &written);    header and checksum
 *     cn_io_batch_writer_clear(&w);
 * Every record has one shape, hence one length: record i lies at a fixed offset and can
 * be written before the others. The result is the batch that cn_io_save_ciphertext_batch
 * writes for the same ciphertexts in index order, byte for byte, with flags, plus
 * CN_IO_NO_SEED when the shape is not seeded; cn_io_load_ciphertext_batch reads it. */

/* The shape of every record of a streamed batch. */
typedef struct {
    size_t size;  /* polynomials per ciphertext: 2 or 3 */
    size_t level; /* ciphertext primes in use: 1..L */
    int seeded;   /* 1: fresh cn_bfv_encrypt_symmetric results (size 2, level L, has_seed),
                   * each written with its 32-byte seed in place of c1; 0: every
                   * polynomial is written in full (has_seed is ignored) */
} cn_io_batch_shape_t;

/* The writer's state. The first three fields may be read after init; the rest is
 * private. */
typedef struct {
    size_t count;        /* records */
    size_t record_bytes; /* bytes of one record */
    size_t total;        /* bytes of the batch: header, records, checksum */
    uint8_t *buf_;
    cn_io_batch_shape_t shape_;
    unsigned flags_;
    const cn_bfv_context_t *ctx_;
    uint8_t *done_;    /* [count] 1 once record i is written */
    int head_;         /* 1 once cn_io_batch_writer_head wrote the header */
    size_t absorbed_;  /* bytes hashed by cn_io_batch_writer_absorb (from the start) */
    uint64_t hash_[4]; /* their running checksum */
} cn_io_batch_writer_t;

/* The shape cn_io_save_ciphertext(_batch) would give ct under flags (seeded when ct
 * has_seed, size 2 at level L, and flags lack CN_IO_NO_SEED): to stream ciphertexts like
 * an existing one. Reads ct's size, level and has_seed only. */
CN_API void cn_io_batch_shape_of(cn_io_batch_shape_t *shape, const cn_bfv_ciphertext_t *ct,
                                 unsigned flags, const cn_bfv_context_t *ctx);
/* Bytes of a streamed batch of count records of the given shape; 0 when the shape or
 * count is invalid (see cn_io_batch_writer_init). */
CN_API size_t cn_io_batch_writer_size(size_t count, const cn_io_batch_shape_t *shape,
                                      const cn_bfv_context_t *ctx);
/* Starts a batch of count (at most CN_IO_MAX_BATCH) records of the given shape in
 * buf[0, cap), with flags 0 or CN_IO_ALLOW_TRANSPARENT (CN_IO_NO_SEED is implied by an
 * unseeded shape, and refused with a seeded one). Writes nothing yet. The buffer must
 * stay valid until final. CN_ERR_INVALID_ARG (count, shape or flags out of range, a
 * seeded shape not of size 2 at level L), CN_ERR_OUT_OF_RANGE (buf NULL or cap below
 * cn_io_batch_writer_size), CN_ERR_NO_MEMORY. On failure w needs no clear. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_writer_init(cn_io_batch_writer_t *w, uint8_t *buf,
                                                        size_t cap, size_t count,
                                                        const cn_io_batch_shape_t *shape,
                                                        unsigned flags,
                                                        const cn_bfv_context_t *ctx);
/* Writes ct as record i (0 <= i < count) at its offset, replacing an earlier record i.
 * Thread-safe for distinct i: calls with different i may run at the same time (and
 * must all return before final); two calls with the same i may not overlap.
 * CN_ERR_INVALID_ARG (i out of range), ct's own errors as cn_io_save_ciphertext
 * (CN_ERR_CONTEXT_MISMATCH, CN_ERR_UNSUPPORTED for a transparent ciphertext without
 * CN_IO_ALLOW_TRANSPARENT, ...), CN_ERR_SHAPE_MISMATCH (size or level other than the
 * shape's, or a seeded shape and ct without a seed). On failure record i is not
 * written (an earlier record i stays). */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_writer_put(cn_io_batch_writer_t *w, size_t i,
                                                       const cn_bfv_ciphertext_t *ct);
/* Writes the header (buf[0, CN_IO_HEADER_BYTES)) now, before the records: its bytes do
 * not depend on them, so a batch can be sent while it is written (header, then each
 * record as it is put, then the checksum, which final writes). final then leaves the
 * header's bytes untouched. CN_ERR_INVALID_ARG when w was not initialized. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_writer_head(cn_io_batch_writer_t *w);
/* Hashes buf[0, upto) into the checksum now, from where the last call stopped, so that
 * final does not read those bytes again: for a batch written through a window whose
 * earlier bytes are overwritten once read (cn_client_encrypt_window). The caller vouches
 * that the header (cn_io_batch_writer_head) and every record in that range are written
 * and final. upto may not pass the records' end (total minus the checksum's 8 bytes) nor
 * go back. CN_ERR_INVALID_ARG otherwise or when w was not initialized. Not thread-safe:
 * one call at a time, and none during final. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_writer_absorb(cn_io_batch_writer_t *w, size_t upto);
/* Writes the header and the checksum, once every record is in, making buf[0, total) a
 * complete batch; *written = total (written may be NULL). CN_ERR_INVALID_ARG while a
 * record is missing (or w was not initialized): the header is then not written, so
 * the buffer holds no loadable batch. May be called again after more puts. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_writer_final(cn_io_batch_writer_t *w,
                                                         size_t *written);
/* Releases the writer's memory (not the buffer). Safe on a zeroed writer. */
CN_API void cn_io_batch_writer_clear(cn_io_batch_writer_t *w);

/* Reading a ciphertext batch from a buffer record by record, from many threads: the
 * writer's counterpart (docs/io.md, "Batch reader").
 *     cn_io_batch_reader_init(&r, buf, len, ctx);    header, every record's offset
 *     cn_io_batch_reader_get(&r, i, &ct_i);          any i in [0, count), any threads
 *     cn_io_batch_reader_check(&r);                  the checksum (beside the gets)
 *     cn_io_batch_reader_clear(&r);
 * The bytes a batch loader accepts are the bytes the reader accepts: with every get and
 * the check CN_OK, the ciphertexts equal those of cn_io_load_ciphertext_batch (seeds
 * expanded), and any byte sequence one refuses the other refuses (the error code may
 * differ when several checks fail). A get decodes into the caller's ciphertext, reusing
 * its polynomials where they have the record's shape, so a caller can keep buffers
 * across batches. */
typedef struct {
    size_t count; /* records */
    const uint8_t *buf_;
    size_t len_;
    size_t *off_; /* [count] each record's offset in buf_ */
    const cn_bfv_context_t *ctx_;
} cn_io_batch_reader_t;

/* Checks the header of the batch in buf[0, len) (as cn_io_load_ciphertext_batch: magic,
 * version, type, length, ctx's fingerprint, count at most CN_IO_MAX_BATCH) and walks the
 * record headers (size, level, plaintext modulus index, flags), which must fill the body
 * exactly. Decodes no residue. The buffer must stay valid until the last get or check.
 * Errors as cn_io_load_ciphertext_batch; on failure r needs no clear. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_reader_init(cn_io_batch_reader_t *r,
                                                        const uint8_t *buf, size_t len,
                                                        const cn_bfv_context_t *ctx);
/* Record i's shape (size, level, seeded) and plaintext modulus index (t_index may be
 * NULL), as checked by init. CN_ERR_INVALID_ARG for i out of range. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_reader_info(cn_io_batch_shape_t *shape,
                                                        size_t *t_index,
                                                        const cn_io_batch_reader_t *r,
                                                        size_t i);
/* ct = record i (0 <= i < count), its seed expanded. ct is an initialized or zeroed
 * ciphertext; its polynomials are reused where their row count is the record's level
 * (others are reallocated, an unused third one released). Thread-safe for distinct ct:
 * gets may run at the same time as each other and as the check. CN_ERR_INVALID_ARG (i
 * out of range), CN_ERR_FORMAT (a residue not below its prime, padding bits not zero),
 * CN_ERR_NO_MEMORY. On failure ct holds no valid ciphertext (clear it, or get again). */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_reader_get(const cn_io_batch_reader_t *r, size_t i,
                                                       cn_bfv_ciphertext_t *ct);
/* The batch's checksum: CN_ERR_FORMAT when it does not match the bytes. */
CN_API CN_WARN_UNUSED cn_status cn_io_batch_reader_check(const cn_io_batch_reader_t *r);
/* Releases the reader's memory (not the buffer). Safe on a zeroed reader. */
CN_API void cn_io_batch_reader_clear(cn_io_batch_reader_t *r);

/* The secret key, for its owner only: written as ternary coefficients (2 bits each).
 * The bytes are as secret as the key; the caller is responsible for them. */
CN_API size_t cn_io_size_secret_key(const cn_bfv_secret_key_t *sk, const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_save_secret_key(uint8_t *buf, size_t cap, size_t *written,
                                                      const cn_bfv_secret_key_t *sk,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_write_secret_key(FILE *f, const cn_bfv_secret_key_t *sk,
                                                       const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_load_secret_key(cn_bfv_secret_key_t *sk,
                                                      const uint8_t *buf, size_t len,
                                                      const cn_bfv_context_t *ctx);
CN_API CN_WARN_UNUSED cn_status cn_io_read_secret_key(cn_bfv_secret_key_t *sk, FILE *f,
                                                      const cn_bfv_context_t *ctx);

/* The header of a serialized object, without checking more than its first 32 bytes (for
 * tools that dispatch on the type). CN_ERR_TRUNCATED, CN_ERR_FORMAT (bad magic),
 * CN_ERR_VERSION (newer major version). */
typedef struct {
    unsigned major, minor;
    cn_io_type type;
    unsigned flags;
    uint32_t count;
    uint64_t total_length;
    uint64_t fingerprint;
} cn_io_header_t;
CN_API CN_WARN_UNUSED cn_status cn_io_peek_header(cn_io_header_t *h, const uint8_t *buf,
                                                  size_t len);

/* --- framing the objects of other modules (docs/format.md, "Framing") -------------
 * net/'s model and plan files use this format's header and checksum around a body of
 * their own: a type code at or above CN_IO_EXTERNAL_TYPE (lib/io never loads those), the
 * count and fingerprint fields as the module defines them. One header, one checksum,
 * for every file the library writes. */
#define CN_IO_EXTERNAL_TYPE 0x100

/* The checksum of format.md over buf[0, len) (corruption, not authenticity). */
CN_API uint64_t cn_io_checksum(const uint8_t *buf, size_t len);
/* Completes the frame buf[0, len): writes the header (this format's version, type,
 * flags 0, count, total length len, fingerprint) into buf[0, 32) and the checksum of
 * buf[0, len - 8) into its last 8 bytes; the body buf[32, len - 8) is the caller's.
 * CN_ERR_INVALID_ARG when type < CN_IO_EXTERNAL_TYPE or len < 40. */
CN_API CN_WARN_UNUSED cn_status cn_io_frame_seal(uint8_t *buf, size_t len, unsigned type,
                                                 uint32_t count, uint64_t fingerprint);
/* Checks a frame of the given type: magic, version (CN_ERR_VERSION when newer), type and
 * flags (CN_ERR_FORMAT), total length against len (CN_ERR_TRUNCATED when shorter,
 * CN_ERR_FORMAT when longer) and checksum (CN_ERR_FORMAT); the header in *h and the body
 * in *body, *body_len. */
CN_API CN_WARN_UNUSED cn_status cn_io_frame_open(cn_io_header_t *h, const uint8_t **body,
                                                 size_t *body_len, const uint8_t *buf,
                                                 size_t len, unsigned type);

/* --- little-endian byte writer and reader (docs/io.md, "Bytes of other formats") -----
 * For the bodies of framed files (net/'s model, plan and client state) and any other
 * fixed layout: integers in little-endian byte order whatever the host's, a double as the
 * 8 bytes of its IEEE 754 binary64 bit pattern taken as a u64 (NaNs and -0.0 kept bit for
 * bit). Both keep a sticky status: the first failure is recorded, and every later call
 * does nothing (a writer appends nothing, a reader reads zeros), so a caller writes or
 * reads a whole record and checks once. A reader never touches a byte outside its
 * buf[0, len) and allocates nothing; a fixed writer never writes outside buf[0, cap) and
 * allocates nothing. One writer or reader is used by one thread at a time; any number of
 * readers may share one buffer. */

/* A writer. buf[0, len) holds the bytes written so far. status is CN_OK or the first
 * failure: CN_ERR_NO_MEMORY (growable: an allocation failed, or the length would overflow
 * a size_t), CN_ERR_OUT_OF_RANGE (fixed: a write would pass cap), CN_ERR_INVALID_ARG (a
 * misused frame, below). The three public fields may be read; only these functions
 * change them. */
typedef struct {
    uint8_t *buf;
    size_t len;
    cn_status status;
    size_t cap_;
    int fixed_;  /* 1: buf is the caller's (cn_io_writer_init_fixed) */
    int framed_; /* 1: cn_io_writer_frame_begin reserved buf[0, 32) */
} cn_io_writer_t;

/* An empty growable writer: its memory comes from malloc and doubles as needed (a
 * zeroed writer, = {0}, is the same). Growing copies the bytes and frees the old block
 * unwiped: write secrets with a fixed writer over a buffer of their exact size. */
CN_API void cn_io_writer_init(cn_io_writer_t *w);
/* An empty writer into buf[0, cap), the caller's (buf may be NULL when cap is 0). */
CN_API void cn_io_writer_init_fixed(cn_io_writer_t *w, uint8_t *buf, size_t cap);
/* Appends n bytes (src may be NULL when n is 0). */
CN_API void cn_io_put_bytes(cn_io_writer_t *w, const void *src, size_t n);
/* Appends v as 2, 4 or 8 little-endian bytes. */
CN_API void cn_io_put_u16(cn_io_writer_t *w, uint16_t v);
CN_API void cn_io_put_u32(cn_io_writer_t *w, uint32_t v);
CN_API void cn_io_put_u64(cn_io_writer_t *w, uint64_t v);
/* Appends the bit pattern of v as a u64 (8 bytes). */
CN_API void cn_io_put_f64(cn_io_writer_t *w, double v);
/* Appends n zero bytes and returns where they start, for the caller to fill in place
 * (an object that serializes itself into a buffer: no copy); NULL after a failure. A
 * growable writer may move its memory on the next append: fill the bytes first. */
CN_API uint8_t *cn_io_put_reserve(cn_io_writer_t *w, size_t n);
/* Starts a frame (see "framing" above): reserves the 32 header bytes. Must be the
 * writer's first call (CN_ERR_INVALID_ARG otherwise). */
CN_API void cn_io_writer_frame_begin(cn_io_writer_t *w);
/* Ends the frame begun by cn_io_writer_frame_begin: appends the 8 checksum bytes and
 * runs cn_io_frame_seal(buf, len, type, count, fingerprint) over buf[0, len), so the
 * bytes are a complete frame whose body is everything written between begin and seal.
 * CN_ERR_INVALID_ARG in status when no frame was begun or type is not an external type
 * (below CN_IO_EXTERNAL_TYPE or above 0xffff). Write nothing after it. */
CN_API void cn_io_writer_frame_seal(cn_io_writer_t *w, unsigned type, uint32_t count,
                                    uint64_t fingerprint);
/* Hands the bytes over and returns status. CN_OK: *buf, *len are buf and len (growable:
 * the caller frees *buf with free(); NULL when nothing was written); on failure *buf =
 * NULL, *len = 0 and a growable writer's memory is freed. Either way w is left empty as
 * after cn_io_writer_init. */
CN_API CN_WARN_UNUSED cn_status cn_io_writer_release(uint8_t **buf, size_t *len,
                                                     cn_io_writer_t *w);
/* Frees a growable writer's memory (a fixed writer's buffer stays the caller's) and
 * leaves w empty as after cn_io_writer_init. Safe on a zeroed writer. */
CN_API void cn_io_writer_clear(cn_io_writer_t *w);

/* A reader of buf[0, len); pos is the next byte. status is CN_OK, CN_ERR_TRUNCATED (a read
 * wanted more bytes than remained: nothing of it was consumed) or what the caller set with
 * cn_io_reader_fail; fail_pos and fail_want say where: pos at the failure and the bytes
 * the read wanted (0 for cn_io_reader_fail). The fields may be read; only these
 * functions change them. */
typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    cn_status status;
    size_t fail_pos, fail_want;
} cn_io_reader_t;

/* A reader at the start of buf[0, len) (buf may be NULL when len is 0). */
CN_API void cn_io_reader_init(cn_io_reader_t *r, const uint8_t *buf, size_t len);
/* Copies the next n bytes to dst, or zeros dst[0, n) once the reader has failed. */
CN_API void cn_io_get_bytes(cn_io_reader_t *r, void *dst, size_t n);
/* The next n bytes in place (a pointer into buf, valid as long as buf), consumed; NULL
 * once the reader has failed. */
CN_API const uint8_t *cn_io_get_view(cn_io_reader_t *r, size_t n);
/* The next 2, 4 or 8 bytes as a little-endian integer; 0 once the reader has failed. */
CN_API uint16_t cn_io_get_u16(cn_io_reader_t *r);
CN_API uint32_t cn_io_get_u32(cn_io_reader_t *r);
CN_API uint64_t cn_io_get_u64(cn_io_reader_t *r);
/* The next 8 bytes as the bit pattern of a double (any pattern, NaNs included: the
 * caller checks the value); 0.0 once the reader has failed. */
CN_API double cn_io_get_f64(cn_io_reader_t *r);
/* Bytes left to read: len - pos, or 0 once the reader has failed. */
CN_API size_t cn_io_reader_remaining(const cn_io_reader_t *r);
/* Records a failure found by the caller (a value out of range: CN_ERR_FORMAT, say) at
 * the current position; the first failure stays. st must not be CN_OK. */
CN_API void cn_io_reader_fail(cn_io_reader_t *r, cn_status st);
/* The reader's state in words, for a diagnostic, in msg[0, cap) (cut to fit, always
 * terminated when cap > 0): "ok", "truncated: 8 bytes wanted at offset 40 of 44" or
 * "<cn_strerror(status)> at offset 40 of 44". Returns msg. */
CN_API const char *cn_io_reader_reason(char *msg, size_t cap, const cn_io_reader_t *r);

#ifdef __cplusplus
}
#endif

#endif
