/* Messages for status codes. */
#include "cryptonets/common.h"

static const char *const messages[CN_STATUS_COUNT_] = {
    [CN_OK] = "success",
    [CN_ERR_INVALID_ARG] = "invalid argument",
    [CN_ERR_NO_MEMORY] = "out of memory or size overflow",
    [CN_ERR_NOT_POWER_OF_TWO] = "ring degree is not a supported power of two",
    [CN_ERR_NOT_PRIME] = "modulus is not prime",
    [CN_ERR_NOT_NTT_FRIENDLY] = "prime is not congruent to 1 modulo 2n",
    [CN_ERR_MODULUS_TOO_LARGE] = "modulus is too large (must be below 2^61)",
    [CN_ERR_MODULI_NOT_DISTINCT] = "moduli are not distinct",
    [CN_ERR_NOT_ENOUGH_PRIMES] = "not enough primes of the requested size",
    [CN_ERR_FORM_MISMATCH] = "polynomial is in the wrong form (coefficient or NTT)",
    [CN_ERR_SHAPE_MISMATCH] =
        "shapes do not match (ring degree, prime count, ciphertext count or layer shape)",
    [CN_ERR_NOT_INVERTIBLE] = "element is not invertible modulo the modulus",
    [CN_ERR_OUT_OF_RANGE] = "value out of range",
    [CN_ERR_INSECURE] = "parameters are below the requested security level",
    [CN_ERR_CONTEXT_MISMATCH] = "objects belong to different parameters",
    [CN_ERR_LEVEL_MISMATCH] = "objects are at incompatible levels",
    [CN_ERR_NOISE_EXHAUSTED] = "noise budget exhausted: decryption cannot be trusted",
    [CN_ERR_RANDOMNESS] = "the operating system did not provide randomness",
    [CN_ERR_FORMAT] = "malformed serialized object",
    [CN_ERR_TRUNCATED] = "serialized object is truncated",
    [CN_ERR_VERSION] = "unsupported format version",
    [CN_ERR_IO] = "input/output error",
    [CN_ERR_UNSUPPORTED] = "operation not supported for these arguments",
    [CN_ERR_PLAIN_MODULUS] = ("plaintext modulus is invalid, shares a factor with q, or is too "
                              "large for the ciphertext modulus"),
    [CN_ERR_NO_KEY] = "no evaluation key for this operation (generate the Galois key first)",
};

const char *cn_strerror(cn_status status)
{
    if ((unsigned)status >= CN_STATUS_COUNT_ || messages[status] == NULL)
        return "unknown status code";
    return messages[status];
}
