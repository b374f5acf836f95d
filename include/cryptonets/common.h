/* Common definitions of libcryptonets: status codes, export and attribute macros. */
#ifndef CRYPTONETS_COMMON_H
#define CRYPTONETS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CN_API __attribute__((visibility("default")))
#define CN_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define CN_API
#define CN_WARN_UNUSED
#endif

/* Signed 128-bit integers (GCC and Clang): the plaintext values of net/'s plans, whose
 * compiler refuses anything wider than 126 bits, and their CRT decoding (encode.h). */
__extension__ typedef __int128 cn_int128;

/* Library version. */
#define CN_VERSION_MAJOR 0
#define CN_VERSION_MINOR 1
#define CN_VERSION_PATCH 0
#define CN_VERSION_STRING "0.1.0"

/* Every public function that can fail returns a cn_status; CN_OK is 0. */
typedef enum {
    CN_OK = 0,
    CN_ERR_INVALID_ARG,         /* an argument is out of its documented range */
    CN_ERR_NO_MEMORY,           /* an allocation failed or a size overflowed */
    CN_ERR_NOT_POWER_OF_TWO,    /* ring degree n is not a power of two in range */
    CN_ERR_NOT_PRIME,           /* a modulus is not prime */
    CN_ERR_NOT_NTT_FRIENDLY,    /* a prime is not 1 mod 2n */
    CN_ERR_MODULUS_TOO_LARGE,   /* a modulus is >= 2^61 */
    CN_ERR_MODULI_NOT_DISTINCT, /* two moduli of one base are equal */
    CN_ERR_NOT_ENOUGH_PRIMES,   /* a prime search found fewer primes than asked */
    CN_ERR_FORM_MISMATCH,       /* coefficient form where NTT form is needed, or vice versa */
    CN_ERR_SHAPE_MISMATCH,      /* shapes differ: degrees, prime counts, counts, layers */
    CN_ERR_NOT_INVERTIBLE,      /* an element has no inverse modulo the modulus */
    CN_ERR_OUT_OF_RANGE,        /* a value does not fit the representation asked for */
    CN_ERR_INSECURE,            /* parameters below the requested security level */
    CN_ERR_CONTEXT_MISMATCH,    /* objects come from different parameters */
    CN_ERR_LEVEL_MISMATCH,      /* objects are at incompatible levels */
    CN_ERR_NOISE_EXHAUSTED,     /* a ciphertext's noise budget is used up */
    CN_ERR_RANDOMNESS,          /* the operating system gave no randomness */
    CN_ERR_FORMAT,              /* a serialized object is malformed */
    CN_ERR_TRUNCATED,           /* a serialized object ends early */
    CN_ERR_VERSION,             /* a serialized object has an unsupported version */
    CN_ERR_IO,                  /* reading or writing a file failed */
    CN_ERR_UNSUPPORTED,         /* the operation is not supported for these arguments */
    CN_ERR_PLAIN_MODULUS,       /* a plaintext modulus is invalid or too large for q */
    CN_ERR_NO_KEY,              /* no evaluation key for the operation (e.g. a rotation) */
    CN_STATUS_COUNT_            /* number of codes; not a status */
} cn_status;

/* A static, human-readable message for a status code (never NULL). */
CN_API const char *cn_strerror(cn_status status);

/* SIMD instruction sets, as bits of cn_cpu_features(). */
enum {
    CN_CPU_AVX2 = 1u << 0,
    CN_CPU_AVX512F = 1u << 1,    /* AVX-512 F with VL, DQ and BW */
    CN_CPU_AVX512IFMA = 1u << 2, /* AVX-512 IFMA with F, VL, DQ and BW */
};

/* The instruction sets the library's kernels may use in this process: those the CPU has
 * (cpuid), less everything when the environment variable CN_SIMD is "portable" at the
 * first call (the portable kernels then run everywhere), less the sets whose kernel
 * files the build leaves out (CN_NO_AVX512, CN_NO_AVX512IFMA). Detected once;
 * thread-safe. */
CN_API unsigned cn_cpu_features(void);

#ifdef __cplusplus
}
#endif

#endif
