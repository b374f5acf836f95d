/* Test vectors of docs/format.md, against an independent implementation: every expected
 * value below comes from scripts/format_reader.py (Python, standard library only, written
 * from docs/format.md without the library's code: its own ChaCha20 in Bernstein's layout,
 * its own seed expansion, its own writer of headers, fingerprints, checksums and packed
 * rows, and the NTT by direct evaluation at the documented points). Produced with
 *
 *     python3 scripts/format_reader.py cvectors
 *
 * The keystream block also equals OpenSSL 3's ChaCha20 (RFC 8439 layout, counter 0 and
 * nonce 00000000 31630000 00000000; see docs/format.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "cryptonets/cryptonets.h"
#include "io/io_internal.h"

/* the domain of seeded ciphertexts' c1, as docs/format.md states it */
#define DOC_SEED_DOMAIN 0x6331

/* seed 00 01 ... 1f; n = 8192; q_1, q_2 of the n = 8192 benchmark parameters */
static const uint64_t vec_q[2] = {17592185438209ULL, 17592184717313ULL};
static const uint64_t seed_row0[4] = {2631031558407ULL, 2833766062250ULL, 9630115354511ULL,
                                      13157642465609ULL};
static const uint64_t seed_row1[4] = {11773017205800ULL, 2396207543238ULL, 4479772377214ULL,
                                      6339171240653ULL};
static const uint8_t keystream0[64] = {
    0x07, 0x91, 0xb3, 0x95, 0x64, 0x72, 0xaa, 0x98, 0x9e, 0xc9, 0x93, 0xf2, 0x8f,
    0xd7, 0x9a, 0x2f, 0xc2, 0xc8, 0x49, 0xf1, 0x9a, 0x80, 0xf7, 0x8b, 0x57, 0xff,
    0x56, 0xae, 0x1b, 0x0b, 0x3e, 0x94, 0xfb, 0x6e, 0x17, 0x5d, 0xd4, 0xa0, 0xf7,
    0x0b, 0x43, 0xfe, 0xe6, 0x84, 0x64, 0x3a, 0x0d, 0x50, 0x06, 0xc5, 0x22, 0x96,
    0x9f, 0xd6, 0xc3, 0xa3, 0xb9, 0x6f, 0x97, 0xdb, 0x2e, 0xc3, 0xb8, 0xf0};

/* n = 16, p = 12289, psi = 1212: the NTT form of a_i = i + 1 */
static const uint64_t ntt16[16] = {1858ULL, 11886ULL, 11625ULL, 904ULL,  9366ULL,  10924ULL,
                                   2859ULL, 7918ULL,  7546ULL,  8408ULL, 12204ULL, 1340ULL,
                                   3208ULL, 9897ULL,  81ULL,    10593ULL};

/* Objects written by the Python writer: parameters n = 16, q = 524353, 524801 (20-bit
 * values, about half the candidates of the seed expansion rejected), P = 0, t = 97,
 * security "NONE"; a seeded ciphertext (seed 20 21 ... 3f) with the c0 below. */
static const uint8_t tiny_params[88] = {
    0x43, 0x4e, 0x48, 0x45, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xad, 0xc7, 0x6d, 0x53, 0xd4, 0xd4,
    0x0d, 0xf6, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x45,
    0x4e, 0x4f, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41, 0x00, 0x08, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xe1, 0x74, 0x83, 0x5d, 0x65, 0x46, 0xc1, 0xb1};
static const uint8_t tiny_ct[168] = {
    0x43, 0x4e, 0x48, 0x45, 0x01, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0xa8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xad, 0xc7, 0x6d, 0x53,
    0xd4, 0xd4, 0x0d, 0xf6, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x73, 0x74, 0x62, 0x8e, 0x4e, 0x59, 0x5d, 0xb7,
    0x18, 0x1d, 0xfe, 0x45, 0x14, 0xa7, 0x6b, 0xa3, 0x2e, 0x61, 0x31, 0x3a, 0x89, 0x17,
    0xb6, 0xbb, 0x08, 0x2e, 0x00, 0x13, 0x4a, 0x57, 0x14, 0xe9, 0x67, 0xd4, 0x25, 0xb9,
    0xd1, 0xc4, 0x62, 0x74, 0x30, 0x12, 0x80, 0x62, 0x7f, 0x1f, 0xd8, 0x67, 0xa1, 0x7b,
    0x0d, 0x9c, 0x47, 0xe0, 0x77, 0xfb, 0x5f, 0x27, 0x1f, 0x74, 0xe9, 0x23, 0x07, 0x5e,
    0x70, 0xd7, 0xe7, 0xe6, 0x9c, 0x6c, 0xc5, 0xab, 0xc6, 0xdb, 0x68, 0xb3, 0x6f, 0xa6,
    0x1a, 0x65, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
    0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
    0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0xac, 0x95, 0x5c, 0x19, 0xce, 0x39, 0x2b};
static const uint64_t tiny_c0[32] = {
    160883ULL, 321766ULL, 482649ULL, 119179ULL, 280062ULL, 440945ULL, 77475ULL,  238358ULL,
    399241ULL, 35771ULL,  196654ULL, 357537ULL, 518420ULL, 154950ULL, 315833ULL, 476716ULL,
    4656ULL,   521768ULL, 514079ULL, 506390ULL, 498701ULL, 491012ULL, 483323ULL, 475634ULL,
    467945ULL, 460256ULL, 452567ULL, 444878ULL, 437189ULL, 429500ULL, 421811ULL, 414122ULL};
static const uint64_t tiny_c1[32] = {
    48521ULL,  208787ULL, 91283ULL,  68180ULL, 209381ULL, 381489ULL, 328415ULL, 324803ULL,
    358232ULL, 171904ULL, 475858ULL, 54687ULL, 304467ULL, 207630ULL, 13141ULL,  388742ULL,
    492890ULL, 301835ULL, 121371ULL, 23943ULL, 407649ULL, 426881ULL, 219432ULL, 126214ULL,
    505383ULL, 166814ULL, 188592ULL, 35765ULL, 457110ULL, 48928ULL,  505197ULL, 449675ULL};

/* Seeded key switching keys. The domain of digit i's stream: word 14 = 0x6b31 ("k1"),
 * word 15 = i. Digit 1 of a key with seed 00..1f, n = 8192, rows mod vec_q[0], vec_q[1]
 * (one stream: row 1 begins after all 8192 values of row 0); its keystream block 0 is
 * also OpenSSL's ChaCha20 with IV 00000000 00000000 316b0000 01000000. Then objects of
 * the Python writer: parameters as tiny_params with P = 525313; a seeded
 * relinearization key (seed 40..5f, the k0 rows below) and seeded Galois keys for g = 3
 * (seed 60..7f) and g = 31 (seed 80..9f); k1 as the Python expansion gives it (digit 0's
 * rows q_1, q_2, P, then digit 1's). */
#define DOC_KSK_DOMAIN(i) (0x6b31ULL | (uint64_t)(i) << 32)
static const uint64_t ksk_row0[4] = {10628970455545ULL, 4479544411083ULL, 14672453818029ULL,
                                     10720957078718ULL};
static const uint64_t ksk_row1[4] = {10822435305229ULL, 9402700885883ULL, 9064490927746ULL,
                                     13237126163141ULL};
static const uint8_t ksk_keystream0[64] = {
    0xf9, 0x21, 0x02, 0xc0, 0xaa, 0x89, 0xcb, 0x43, 0xa7, 0xf9, 0x12, 0x04, 0xad,
    0xd6, 0x65, 0x32, 0x58, 0x1d, 0xbe, 0x9c, 0xd6, 0x2a, 0xc0, 0x49, 0x70, 0x58,
    0x50, 0xf9, 0x53, 0xc9, 0x7a, 0x59, 0x51, 0xf1, 0x63, 0x2f, 0x49, 0x98, 0xec,
    0x8f, 0xc2, 0x38, 0xd8, 0x44, 0xed, 0xbd, 0xc2, 0xf6, 0xd6, 0xa5, 0x4c, 0x38,
    0x47, 0xe4, 0x6b, 0x8c, 0x90, 0xcc, 0xf8, 0x46, 0xfb, 0x53, 0x96, 0xc7};
/* q = [524353, 524801], P = 525313 */
static const uint8_t tiny_ksk_params[88] = {
    0x43, 0x4e, 0x48, 0x45, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x58, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x1f, 0x3f, 0x39, 0x39, 0x6a,
    0xfe, 0x0a, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x45,
    0x4e, 0x4f, 0x4e, 0x01, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41, 0x00, 0x08, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0xb3, 0x0d, 0xda, 0x3c, 0x9e, 0xf6, 0x97, 0x51};
static const uint8_t tiny_rk[316] = {
    0x43, 0x4e, 0x48, 0x45, 0x01, 0x00, 0x01, 0x00, 0x04, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x3c, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x1f, 0x3f, 0x39, 0x39, 0x6a,
    0xfe, 0x0a, 0x02, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x63, 0x93, 0x62, 0x7d, 0x50, 0x49, 0x7c,
    0xb7, 0x07, 0x1f, 0xee, 0x64, 0x14, 0x96, 0x6d, 0x93, 0x4d, 0x61, 0x20, 0x3c, 0x79, 0x36,
    0xb6, 0xaa, 0x0a, 0x1e, 0x1f, 0x13, 0x39, 0x59, 0xc3, 0x07, 0x60, 0xc3, 0x27, 0xa9, 0xf0,
    0xc4, 0x51, 0x76, 0xd6, 0x1f, 0xd0, 0x1c, 0x00, 0xc5, 0xe5, 0xc7, 0x7b, 0x7c, 0xb3, 0xa9,
    0xa7, 0xba, 0x78, 0xa1, 0x6d, 0x87, 0xf9, 0x74, 0x8f, 0x31, 0x67, 0x38, 0x71, 0x7d, 0xf5,
    0x46, 0x77, 0x6d, 0x6b, 0xb9, 0x26, 0xb6, 0x69, 0x59, 0x7d, 0x06, 0xf5, 0x65, 0xca, 0xce,
    0x60, 0x0c, 0x14, 0xc2, 0xb2, 0xe1, 0x4b, 0x22, 0xba, 0x96, 0x62, 0x8b, 0x30, 0xb2, 0x7a,
    0xe3, 0xca, 0x3e, 0xaa, 0x5e, 0x64, 0x0a, 0x4d, 0xa2, 0x42, 0xe5, 0x49, 0x5b, 0x9a, 0x26,
    0x66, 0x89, 0x69, 0x92, 0x0a, 0xe7, 0xc8, 0x77, 0x7c, 0x2c, 0xf4, 0x0e, 0x6a, 0x21, 0x15,
    0x41, 0x99, 0x38, 0x07, 0xfe, 0x95, 0x23, 0x07, 0xac, 0xe6, 0xf2, 0xb1, 0x55, 0x92, 0xcf,
    0x47, 0x3c, 0x24, 0x37, 0xb8, 0xa4, 0xca, 0x72, 0xdc, 0xa0, 0xf1, 0x54, 0x41, 0xc2, 0x89,
    0x46, 0xdf, 0x0f, 0xef, 0xb8, 0x61, 0xae, 0x19, 0xdd, 0x7c, 0x41, 0xed, 0x15, 0xcb, 0x40,
    0x21, 0x2c, 0x12, 0xb9, 0x04, 0x01, 0x6b, 0x0e, 0xa7, 0xc8, 0xe0, 0xa9, 0x0a, 0x95, 0x8c,
    0xc0, 0xe8, 0x06, 0x83, 0x50, 0xa0, 0x27, 0x03, 0x71, 0x14, 0x90, 0x86, 0x7f, 0xe3, 0x67,
    0xf2, 0x9d, 0x2d, 0xdb, 0x4b, 0x73, 0xdd, 0x3b, 0xd3, 0x2f, 0xf4, 0x1c, 0x4a, 0xcb, 0x13,
    0x75, 0x5c, 0x58, 0xc3, 0xf7, 0xf5, 0x9b, 0x66, 0xbb, 0xdb, 0x76, 0xdb, 0x74, 0xb3, 0xbf,
    0xe7, 0xda, 0x02, 0xaa, 0x9f, 0x60, 0x1a, 0x11, 0x38, 0xaa, 0xb9, 0x0a, 0xdc, 0x15, 0x59,
    0x95};
static const uint64_t tiny_rk_k0[96] = {
    168803ULL, 329686ULL, 490569ULL, 127099ULL, 287982ULL, 448865ULL, 85395ULL,  246278ULL,
    407161ULL, 43691ULL,  204574ULL, 365457ULL, 1987ULL,   162870ULL, 323753ULL, 484636ULL,
    8150ULL,   461ULL,    517573ULL, 509884ULL, 502195ULL, 494506ULL, 486817ULL, 479128ULL,
    471439ULL, 463750ULL, 456061ULL, 448372ULL, 440683ULL, 432994ULL, 425305ULL, 417616ULL,
    52938ULL,  82118ULL,  111298ULL, 140478ULL, 169658ULL, 198838ULL, 228018ULL, 257198ULL,
    286378ULL, 315558ULL, 344738ULL, 373918ULL, 403098ULL, 432278ULL, 461458ULL, 490638ULL,
    273532ULL, 434415ULL, 70945ULL,  231828ULL, 392711ULL, 29241ULL,  190124ULL, 351007ULL,
    511890ULL, 148420ULL, 309303ULL, 470186ULL, 106716ULL, 267599ULL, 428482ULL, 65012ULL,
    112879ULL, 105190ULL, 97501ULL,  89812ULL,  82123ULL,  74434ULL,  66745ULL,  59056ULL,
    51367ULL,  43678ULL,  35989ULL,  28300ULL,  20611ULL,  12922ULL,  5233ULL,   522345ULL,
    157667ULL, 186847ULL, 216027ULL, 245207ULL, 274387ULL, 303567ULL, 332747ULL, 361927ULL,
    391107ULL, 420287ULL, 449467ULL, 478647ULL, 507827ULL, 11694ULL,  40874ULL,  70054ULL};
static const uint64_t tiny_rk_k1[96] = {
    16744ULL,  515623ULL, 426229ULL, 339962ULL, 376075ULL, 220093ULL, 213075ULL, 220617ULL,
    176185ULL, 100090ULL, 230457ULL, 91690ULL,  86241ULL,  454751ULL, 273072ULL, 99903ULL,
    485765ULL, 418010ULL, 164209ULL, 421400ULL, 322532ULL, 513617ULL, 376631ULL, 214665ULL,
    478887ULL, 138856ULL, 276152ULL, 211552ULL, 429800ULL, 381577ULL, 267034ULL, 158611ULL,
    180243ULL, 243295ULL, 157635ULL, 309513ULL, 264108ULL, 430906ULL, 494521ULL, 18572ULL,
    196005ULL, 221813ULL, 178548ULL, 431840ULL, 46912ULL,  342682ULL, 490953ULL, 115592ULL,
    55594ULL,  510743ULL, 415432ULL, 151867ULL, 337830ULL, 269085ULL, 95849ULL,  164028ULL,
    491561ULL, 411593ULL, 413604ULL, 409030ULL, 355930ULL, 88775ULL,  483006ULL, 451194ULL,
    489806ULL, 51513ULL,  265149ULL, 253786ULL, 299501ULL, 350642ULL, 448643ULL, 258011ULL,
    218121ULL, 496354ULL, 66236ULL,  50726ULL,  18451ULL,  328303ULL, 283799ULL, 266979ULL,
    47055ULL,  523578ULL, 178024ULL, 382934ULL, 314564ULL, 96325ULL,  303901ULL, 389369ULL,
    93116ULL,  117767ULL, 286166ULL, 357165ULL, 446755ULL, 515013ULL, 283313ULL, 180224ULL};
static const uint8_t tiny_gk[608] = {
    0x43, 0x4e, 0x48, 0x45, 0x01, 0x00, 0x01, 0x00, 0x05, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00,
    0x00, 0x60, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x1f, 0x3f, 0x39, 0x39, 0x6a,
    0xfe, 0x0a, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x60,
    0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e,
    0x7f, 0x64, 0x93, 0x72, 0x7d, 0x50, 0x4a, 0x7c, 0xc7, 0x07, 0x1f, 0xef, 0x64, 0x24, 0x96,
    0x6d, 0x94, 0x4d, 0x71, 0x20, 0x3c, 0x7a, 0x36, 0xc6, 0xaa, 0x0a, 0x1f, 0x1f, 0x23, 0x39,
    0x59, 0xc4, 0x07, 0x70, 0xc3, 0x27, 0xaa, 0xf0, 0xd4, 0x51, 0x76, 0xd7, 0x1f, 0xe0, 0x1c,
    0x00, 0xc6, 0xe5, 0xd7, 0x7b, 0x7c, 0xb4, 0xa9, 0xb7, 0xba, 0x78, 0xa2, 0x6d, 0x97, 0xf9,
    0x74, 0x90, 0x31, 0x77, 0x38, 0x71, 0x7e, 0xf5, 0x56, 0x77, 0x6d, 0x6c, 0xb9, 0x36, 0xb6,
    0x69, 0x5a, 0x7d, 0x16, 0xf5, 0x65, 0xcb, 0xce, 0x70, 0x0c, 0x14, 0xc3, 0xb2, 0xf1, 0x4b,
    0x22, 0xbb, 0x96, 0x72, 0x8b, 0x30, 0xb3, 0x7a, 0xf3, 0xca, 0x3e, 0xab, 0x5e, 0x74, 0x0a,
    0x4d, 0xa3, 0x42, 0xf5, 0x49, 0x5b, 0x9b, 0x26, 0x76, 0x89, 0x69, 0x93, 0x0a, 0xf7, 0xc8,
    0x77, 0x7d, 0x2c, 0x04, 0x0f, 0x6a, 0x22, 0x15, 0x51, 0x99, 0x38, 0x08, 0xfe, 0xa5, 0x23,
    0x07, 0xad, 0xe6, 0x02, 0xb2, 0x55, 0x93, 0xcf, 0x57, 0x3c, 0x24, 0x38, 0xb8, 0xb4, 0xca,
    0x72, 0xdd, 0xa0, 0x01, 0x55, 0x41, 0xc3, 0x89, 0x56, 0xdf, 0x0f, 0xf0, 0xb8, 0x71, 0xae,
    0x19, 0xde, 0x7c, 0x51, 0xed, 0x15, 0xcc, 0x40, 0x31, 0x2c, 0x12, 0xba, 0x04, 0x11, 0x6b,
    0x0e, 0xa8, 0xc8, 0xf0, 0xa9, 0x0a, 0x96, 0x8c, 0xd0, 0xe8, 0x06, 0x84, 0x50, 0xb0, 0x27,
    0x03, 0x72, 0x14, 0xa0, 0x86, 0x7f, 0xe4, 0x67, 0x02, 0x9e, 0x2d, 0xdc, 0x4b, 0x83, 0xdd,
    0x3b, 0xd4, 0x2f, 0x04, 0x1d, 0x4a, 0xcc, 0x13, 0x85, 0x5c, 0x58, 0xc4, 0xf7, 0x05, 0x9c,
    0x66, 0xbc, 0xdb, 0x86, 0xdb, 0x74, 0xb4, 0xbf, 0xf7, 0xda, 0x02, 0xab, 0x9f, 0x70, 0x1a,
    0x11, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x80, 0x81,
    0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90,
    0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0x65, 0x93, 0x82, 0x7d, 0x50, 0x4b, 0x7c, 0xd7, 0x07, 0x1f, 0xf0, 0x64, 0x34, 0x96, 0x6d,
    0x95, 0x4d, 0x81, 0x20, 0x3c, 0x7b, 0x36, 0xd6, 0xaa, 0x0a, 0x20, 0x1f, 0x33, 0x39, 0x59,
    0xc5, 0x07, 0x80, 0xc3, 0x27, 0xab, 0xf0, 0xe4, 0x51, 0x76, 0xd8, 0x1f, 0xf0, 0x1c, 0x00,
    0xc7, 0xe5, 0xe7, 0x7b, 0x7c, 0xb5, 0xa9, 0xc7, 0xba, 0x78, 0xa3, 0x6d, 0xa7, 0xf9, 0x74,
    0x91, 0x31, 0x87, 0x38, 0x71, 0x7f, 0xf5, 0x66, 0x77, 0x6d, 0x6d, 0xb9, 0x46, 0xb6, 0x69,
    0x5b, 0x7d, 0x26, 0xf5, 0x65, 0xcc, 0xce, 0x80, 0x0c, 0x14, 0xc4, 0xb2, 0x01, 0x4c, 0x22,
    0xbc, 0x96, 0x82, 0x8b, 0x30, 0xb4, 0x7a, 0x03, 0xcb, 0x3e, 0xac, 0x5e, 0x84, 0x0a, 0x4d,
    0xa4, 0x42, 0x05, 0x4a, 0x5b, 0x9c, 0x26, 0x86, 0x89, 0x69, 0x94, 0x0a, 0x07, 0xc9, 0x77,
    0x7e, 0x2c, 0x14, 0x0f, 0x6a, 0x23, 0x15, 0x61, 0x99, 0x38, 0x09, 0xfe, 0xb5, 0x23, 0x07,
    0xae, 0xe6, 0x12, 0xb2, 0x55, 0x94, 0xcf, 0x67, 0x3c, 0x24, 0x39, 0xb8, 0xc4, 0xca, 0x72,
    0xde, 0xa0, 0x11, 0x55, 0x41, 0xc4, 0x89, 0x66, 0xdf, 0x0f, 0xf1, 0xb8, 0x81, 0xae, 0x19,
    0xdf, 0x7c, 0x61, 0xed, 0x15, 0xcd, 0x40, 0x41, 0x2c, 0x12, 0xbb, 0x04, 0x21, 0x6b, 0x0e,
    0xa9, 0xc8, 0x00, 0xaa, 0x0a, 0x97, 0x8c, 0xe0, 0xe8, 0x06, 0x85, 0x50, 0xc0, 0x27, 0x03,
    0x73, 0x14, 0xb0, 0x86, 0x7f, 0xe5, 0x67, 0x12, 0x9e, 0x2d, 0xdd, 0x4b, 0x93, 0xdd, 0x3b,
    0xd5, 0x2f, 0x14, 0x1d, 0x4a, 0xcd, 0x13, 0x95, 0x5c, 0x58, 0xc5, 0xf7, 0x15, 0x9c, 0x66,
    0xbd, 0xdb, 0x96, 0xdb, 0x74, 0xb5, 0xbf, 0x07, 0xdb, 0x02, 0xac, 0x9f, 0x80, 0x1a, 0x11,
    0xa8, 0x1a, 0xa8, 0x1c, 0x47, 0xf8, 0x54, 0x5e};
static const uint64_t tiny_gk1_k1[96] = {
    82204ULL,  438492ULL, 252279ULL, 30066ULL,  120046ULL, 476762ULL, 238167ULL, 185571ULL,
    284930ULL, 117787ULL, 438298ULL, 36772ULL,  173339ULL, 137260ULL, 283479ULL, 76002ULL,
    113143ULL, 209586ULL, 347837ULL, 180892ULL, 353189ULL, 442992ULL, 267361ULL, 483827ULL,
    116444ULL, 2427ULL,   29380ULL,  71371ULL,  111307ULL, 491630ULL, 315435ULL, 436462ULL,
    305679ULL, 4435ULL,   379149ULL, 39544ULL,  495376ULL, 389341ULL, 338112ULL, 62488ULL,
    162604ULL, 165031ULL, 440851ULL, 232789ULL, 410153ULL, 296583ULL, 233343ULL, 82258ULL,
    220360ULL, 68153ULL,  435412ULL, 421847ULL, 165013ULL, 386813ULL, 155445ULL, 472935ULL,
    78066ULL,  453086ULL, 143194ULL, 436175ULL, 337039ULL, 308552ULL, 104044ULL, 191113ULL,
    519066ULL, 130639ULL, 266973ULL, 232354ULL, 236349ULL, 372236ULL, 396187ULL, 479932ULL,
    454533ULL, 167706ULL, 283368ULL, 317934ULL, 51859ULL,  96243ULL,  43687ULL,  74851ULL,
    362251ULL, 182828ULL, 279804ULL, 128428ULL, 255173ULL, 228670ULL, 511484ULL, 318192ULL,
    290658ULL, 83290ULL,  1811ULL,   72392ULL,  281446ULL, 455864ULL, 201495ULL, 166865ULL};

static void seed_00_1f(uint8_t seed[CN_SEED_BYTES])
{
    for (int i = 0; i < CN_SEED_BYTES; i++)
        seed[i] = (uint8_t)i;
}

/* The stream layout: key = seed, 64-bit counter from 0, domain in words 14-15. */
START_TEST(test_keystream_layout)
{
    uint8_t seed[CN_SEED_BYTES], ks[64];
    seed_00_1f(seed);
    cn_rng_t r;
    cn_rng_init_public_seed(&r, seed, DOC_SEED_DOMAIN);
    cn_rng_bytes(&r, ks, sizeof ks);
    ck_assert_mem_eq(ks, keystream0, sizeof ks);
    cn_rng_clear(&r);
}
END_TEST

/* The seed vector through the loader: a seeded ciphertext of parameters n = 8192,
 * q = vec_q is written by the library, its seed replaced by 00..1f (checksum recomputed),
 * and loaded; c1's rows must start with the Python expansion's values (row 1 only after
 * all 8192 values of row 0 are drawn from the same stream). */
START_TEST(test_seed_expansion)
{
    cn_bfv_params_t prm = {0};
    prm.n = 8192;
    prm.nq = 2;
    prm.q[0] = vec_q[0];
    prm.q[1] = vec_q[1];
    prm.nt = 1;
    prm.t[0] = 557057; /* 20 bits, 1 mod 2n */
    prm.security = CN_SEC_128;
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {0};
    cn_rng_t rng;
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    cn_bfv_secret_key_t sk = {0};
    cn_bfv_plaintext_t pt = {0};
    cn_bfv_ciphertext_t ct = {0}, back = {0};
    ck_assert_int_eq(cn_bfv_keygen_secret(&sk, ctx, &rng), CN_OK);
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, ctx, 0), CN_OK);
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&ct, &pt, &sk, ctx, &rng), CN_OK);
    const size_t len = cn_io_size_ciphertext(&ct, 0, ctx);
    /* header, record fields, c0 (44-bit values), seed, checksum */
    const size_t seed_off = 32 + 16 + 2 * (8192 * 44 / 8);
    ck_assert_uint_eq(len, seed_off + CN_SEED_BYTES + 8);
    uint8_t *buf = malloc(len);
    size_t w = 0;
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(cn_io_save_ciphertext(buf, len, &w, &ct, 0, ctx), CN_OK);
    ck_assert_mem_eq(buf + seed_off, ct.seed, CN_SEED_BYTES);
    seed_00_1f(buf + seed_off);
    cn_hash_t h;
    cn_hash_init(&h);
    cn_hash_update(&h, buf, len - 8);
    const uint64_t sum = cn_hash_final(&h);
    for (int i = 0; i < 8; i++)
        buf[len - 8 + (size_t)i] = (uint8_t)(sum >> (8 * i));
    ck_assert_int_eq(cn_io_load_ciphertext(&back, buf, len, ctx), CN_OK);
    ck_assert_int_eq(back.has_seed, 1);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(back.c[1].data[i], seed_row0[i]);
        ck_assert_uint_eq(back.c[1].data[8192 + i], seed_row1[i]);
    }
    /* the same through the public samplers: one stream, row 0 then row 1 */
    uint64_t *row = malloc(8192 * sizeof *row);
    ck_assert_ptr_nonnull(row);
    cn_rng_t r;
    seed_00_1f(seed);
    cn_rng_init_public_seed(&r, seed, DOC_SEED_DOMAIN);
    cn_sample_uniform(row, 8192, vec_q[0], &r);
    ck_assert_mem_eq(row, seed_row0, sizeof seed_row0);
    cn_sample_uniform(row, 8192, vec_q[1], &r);
    ck_assert_mem_eq(row, seed_row1, sizeof seed_row1);
    cn_rng_clear(&r);
    free(row);
    free(buf);
    cn_bfv_ciphertext_clear(&back);
    cn_bfv_ciphertext_clear(&ct);
    cn_bfv_plaintext_clear(&pt);
    cn_bfv_secret_key_clear(&sk);
    cn_rng_clear(&rng);
    cn_bfv_context_free(ctx);
}
END_TEST

/* Objects from the Python writer load (header, fingerprint, checksum, packing, seed
 * expansion with rejections, as documented) and are written back byte for byte. */
START_TEST(test_python_objects)
{
    cn_bfv_params_t prm;
    ck_assert_int_eq(cn_io_load_params(&prm, tiny_params, sizeof tiny_params, 0),
                     CN_ERR_INSECURE);
    ck_assert_int_eq(cn_io_load_params(&prm, tiny_params, sizeof tiny_params, 1), CN_OK);
    ck_assert_uint_eq(prm.n, 16);
    ck_assert_uint_eq(prm.nq, 2);
    ck_assert_uint_eq(prm.q[0], 524353);
    ck_assert_uint_eq(prm.q[1], 524801);
    ck_assert_uint_eq(prm.p, 0);
    ck_assert_uint_eq(prm.nt, 1);
    ck_assert_uint_eq(prm.t[0], 97);
    uint8_t out[sizeof tiny_ct];
    size_t w = 0;
    ck_assert_uint_eq(cn_io_size_params(&prm), sizeof tiny_params);
    ck_assert_int_eq(cn_io_save_params(out, sizeof out, &w, &prm), CN_OK);
    ck_assert_uint_eq(w, sizeof tiny_params);
    ck_assert_mem_eq(out, tiny_params, sizeof tiny_params);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    cn_bfv_ciphertext_t ct = {0};
    ck_assert_int_eq(cn_io_load_ciphertext(&ct, tiny_ct, sizeof tiny_ct, ctx), CN_OK);
    ck_assert_uint_eq(ct.size, 2);
    ck_assert_uint_eq(ct.level, 2);
    ck_assert_uint_eq(ct.t_index, 0);
    ck_assert_int_eq(ct.has_seed, 1);
    ck_assert_int_eq(ct.transparent, 0);
    ck_assert_mem_eq(ct.c[0].data, tiny_c0, sizeof tiny_c0);
    ck_assert_mem_eq(ct.c[1].data, tiny_c1, sizeof tiny_c1);
    ck_assert_uint_eq(cn_io_size_ciphertext(&ct, 0, ctx), sizeof tiny_ct);
    ck_assert_int_eq(cn_io_save_ciphertext(out, sizeof out, &w, &ct, 0, ctx), CN_OK);
    ck_assert_uint_eq(w, sizeof tiny_ct);
    ck_assert_mem_eq(out, tiny_ct, sizeof tiny_ct);
    cn_bfv_ciphertext_clear(&ct);
    cn_bfv_context_free(ctx);
}
END_TEST

/* Seeded key switching keys: the documented stream per digit, and objects of the Python
 * writer loaded (k1 expanded as documented, k0 read) and written back byte for byte. */
START_TEST(test_seeded_keys)
{
    uint8_t seed[CN_SEED_BYTES], ks[64];
    seed_00_1f(seed);
    cn_rng_t r;
    cn_rng_init_public_seed(&r, seed, DOC_KSK_DOMAIN(1));
    cn_rng_bytes(&r, ks, sizeof ks);
    ck_assert_mem_eq(ks, ksk_keystream0, sizeof ks);
    uint64_t *row = malloc(8192 * sizeof *row);
    ck_assert_ptr_nonnull(row);
    cn_rng_init_public_seed(&r, seed, DOC_KSK_DOMAIN(1));
    cn_sample_uniform(row, 8192, vec_q[0], &r);
    ck_assert_mem_eq(row, ksk_row0, sizeof ksk_row0);
    cn_sample_uniform(row, 8192, vec_q[1], &r);
    ck_assert_mem_eq(row, ksk_row1, sizeof ksk_row1);
    cn_rng_clear(&r);
    free(row);

    cn_bfv_params_t prm;
    ck_assert_int_eq(cn_io_load_params(&prm, tiny_ksk_params, sizeof tiny_ksk_params, 1),
                     CN_OK);
    ck_assert_uint_eq(prm.p, 525313);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, &prm), CN_OK);
    const size_t digit = 3 * 16; /* K = 3 rows of n = 16 */
    cn_bfv_relin_key_t rk = {0};
    ck_assert_int_eq(cn_io_load_relin_key(&rk, tiny_rk, sizeof tiny_rk, ctx), CN_OK);
    ck_assert_int_eq(rk.has_seed, 1);
    ck_assert_uint_eq(rk.ndigits, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_mem_eq(rk.k0[i].data, tiny_rk_k0 + i * digit, digit * sizeof(uint64_t));
        ck_assert_mem_eq(rk.k1[i].data, tiny_rk_k1 + i * digit, digit * sizeof(uint64_t));
    }
    uint8_t out[sizeof tiny_gk];
    size_t w = 0;
    ck_assert_uint_eq(cn_io_size_relin_key(&rk, ctx), sizeof tiny_rk);
    ck_assert_int_eq(cn_io_save_relin_key(out, sizeof out, &w, &rk, ctx), CN_OK);
    ck_assert_uint_eq(w, sizeof tiny_rk);
    ck_assert_mem_eq(out, tiny_rk, sizeof tiny_rk);
    cn_bfv_galois_keys_t gk = {0};
    ck_assert_int_eq(cn_io_load_galois_keys(&gk, tiny_gk, sizeof tiny_gk, ctx), CN_OK);
    ck_assert_uint_eq(gk.count, 2);
    ck_assert_uint_eq(gk.elt[0], 3);
    ck_assert_uint_eq(gk.elt[1], 31);
    for (size_t i = 0; i < 2; i++)
        ck_assert_mem_eq(gk.key[1].k1[i].data, tiny_gk1_k1 + i * digit,
                         digit * sizeof(uint64_t));
    ck_assert_uint_eq(cn_io_size_galois_keys(&gk, ctx), sizeof tiny_gk);
    ck_assert_int_eq(cn_io_save_galois_keys(out, sizeof out, &w, &gk, ctx), CN_OK);
    ck_assert_uint_eq(w, sizeof tiny_gk);
    ck_assert_mem_eq(out, tiny_gk, sizeof tiny_gk);
    cn_bfv_galois_keys_clear(&gk);
    cn_bfv_relin_key_clear(&rk);
    cn_bfv_context_free(ctx);
}
END_TEST

/* The NTT form's formula: psi the smallest primitive 2n-th root, entry j the value at
 * psi^(2 brv(j) + 1); the library's forward transform must give the direct evaluation. */
START_TEST(test_ntt_formula)
{
    cn_ntt_table_t t;
    ck_assert_int_eq(cn_ntt_table_init(&t, 16, 12289), CN_OK);
    ck_assert_uint_eq(t.psi, 1212);
    uint64_t a[16];
    for (size_t i = 0; i < 16; i++)
        a[i] = i + 1;
    cn_ntt_forward(a, &t);
    ck_assert_mem_eq(a, ntt16, sizeof ntt16);
    cn_ntt_inverse(a, &t);
    for (size_t i = 0; i < 16; i++)
        ck_assert_uint_eq(a[i], i + 1);
    cn_ntt_table_clear(&t);
}
END_TEST

/* ---- objects for scripts/format_reader.py check ------------------------------------ */

/* With CN_FORMAT_DUMP=DIR in the environment, test_dump_for_reader writes objects of the
 * library into DIR/small (n = 64, 3 primes, 2 plaintext moduli, insecure), DIR/bench
 * (the n = 8192 benchmark parameters) and DIR/net (two plans, their evaluation keys,
 * client batches, reference runs), for `python3 scripts/format_reader.py check
 * DIR/small DIR/bench DIR/net` to parse, decrypt and compare (docs/format.md,
 * "Independent reader"). Without it the test does nothing. */
static void put_file(const char *dir, const char *name, const void *b, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

#define DUMP(dir, name, size, save, ...)                                                       \
    do {                                                                                       \
        const size_t sz_ = (size);                                                             \
        uint8_t *b_ = malloc(sz_);                                                             \
        size_t w_ = 0;                                                                         \
        ck_assert_ptr_nonnull(b_);                                                             \
        ck_assert_int_eq(save(b_, sz_, &w_, __VA_ARGS__), CN_OK);                              \
        put_file(dir, name, b_, w_);                                                           \
        free(b_);                                                                              \
    } while (0)

static void dump_objects(const char *dir, const cn_bfv_params_t *prm, int galois)
{
    mkdir(dir, 0777);
    cn_bfv_context_t *ctx;
    ck_assert_int_eq(cn_bfv_context_create(&ctx, prm), CN_OK);
    uint8_t seed[CN_SEED_BYTES] = {7, 7, 7};
    cn_rng_t rng;
    ck_assert_int_eq(cn_rng_init_insecure_deterministic(&rng, seed, CN_RNG_INSECURE_ACK),
                     CN_OK);
    cn_bfv_secret_key_t sk = {0};
    cn_bfv_public_key_t pk = {0};
    cn_bfv_relin_key_t rk = {0};
    ck_assert_int_eq(cn_bfv_keygen_secret(&sk, ctx, &rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_public(&pk, &sk, ctx, &rng), CN_OK);
    ck_assert_int_eq(cn_bfv_keygen_relin(&rk, &sk, ctx, &rng), CN_OK);
    DUMP(dir, "params.bin", cn_io_size_params(prm), cn_io_save_params, prm);
    DUMP(dir, "sk.bin", cn_io_size_secret_key(&sk, ctx), cn_io_save_secret_key, &sk, ctx);
    DUMP(dir, "pk.bin", cn_io_size_public_key(&pk, ctx), cn_io_save_public_key, &pk, ctx);
    DUMP(dir, "rk.bin", cn_io_size_relin_key(&rk, ctx), cn_io_save_relin_key, &rk, ctx);
    rk.has_seed = 0; /* the same key in full (format 1.0), for the reader to compare */
    DUMP(dir, "rk_full.bin", cn_io_size_relin_key(&rk, ctx), cn_io_save_relin_key, &rk, ctx);
    if (galois) {
        cn_bfv_galois_keys_t gk = {0};
        const int64_t steps[] = {1, -2};
        ck_assert_int_eq(cn_bfv_keygen_galois(&gk, &sk, steps, 2, ctx, &rng), CN_OK);
        DUMP(dir, "gk.bin", cn_io_size_galois_keys(&gk, ctx), cn_io_save_galois_keys, &gk, ctx);
        cn_bfv_galois_keys_clear(&gk);
        /* keys at levels 1 and L (format 1.2) */
        const uint64_t elts[2] = {cn_bfv_galois_elt_rows(1, ctx),
                                  cn_bfv_galois_elt_columns(ctx)};
        const size_t levels[2] = {1, prm->nq};
        ck_assert_int_eq(cn_bfv_keygen_galois_levels(&gk, &sk, elts, levels, 2, ctx, &rng),
                         CN_OK);
        DUMP(dir, "gk_level.bin", cn_io_size_galois_keys(&gk, ctx), cn_io_save_galois_keys, &gk,
             ctx);
        cn_bfv_galois_keys_clear(&gk);
        /* digits of two primes at levels 2 and 3 (format 1.3): one digit of two primes;
         * a digit of two and a digit of one */
        const size_t levels2[2] = {2, 3}, dps2[2] = {2, 2};
        ck_assert_int_eq(
            cn_bfv_keygen_galois_digits(&gk, &sk, elts, levels2, 2, dps2, ctx, &rng), CN_OK);
        DUMP(dir, "gk_digits.bin", cn_io_size_galois_keys(&gk, ctx), cn_io_save_galois_keys,
             &gk, ctx);
        cn_bfv_galois_keys_clear(&gk);
        cn_bfv_relin_key_t rkd = {0};
        ck_assert_int_eq(cn_bfv_keygen_relin_digits(&rkd, &sk, prm->nq, 3, ctx, &rng), CN_OK);
        DUMP(dir, "rk_digits.bin", cn_io_size_relin_key(&rkd, ctx), cn_io_save_relin_key, &rkd,
             ctx);
        cn_bfv_relin_key_clear(&rkd);
    }
    /* slot values in [-99, 99] under the last plaintext modulus */
    const size_t n = prm->n, ti = prm->nt - 1;
    int64_t *v = malloc(n * sizeof *v);
    ck_assert_ptr_nonnull(v);
    char path[1024];
    snprintf(path, sizeof path, "%s/values.txt", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%zu", ti);
    for (size_t i = 0; i < n; i++) {
        v[i] = (int64_t)((i * 7919 + 13) % 199) - 99;
        fprintf(f, " %lld", (long long)v[i]);
    }
    fprintf(f, "\n");
    fclose(f);
    cn_bfv_plaintext_t pt = {0};
    ck_assert_int_eq(cn_bfv_plaintext_init(&pt, ctx, ti), CN_OK);
    ck_assert_int_eq(cn_bfv_encode_batch(&pt, v, n, ctx), CN_OK);
    DUMP(dir, "pt.bin", cn_io_size_plaintext(&pt, ctx), cn_io_save_plaintext, &pt, ctx);
    cn_bfv_ciphertext_t cs = {0}, cp = {0}, sq = {0}, ms = {0}, two[2] = {{0}};
    ck_assert_int_eq(cn_bfv_encrypt_symmetric(&cs, &pt, &sk, ctx, &rng), CN_OK);
    DUMP(dir, "ct_seeded.bin", cn_io_size_ciphertext(&cs, 0, ctx), cn_io_save_ciphertext, &cs,
         0, ctx);
    DUMP(dir, "ct_unseeded.bin", cn_io_size_ciphertext(&cs, CN_IO_NO_SEED, ctx),
         cn_io_save_ciphertext, &cs, CN_IO_NO_SEED, ctx);
    ck_assert_int_eq(cn_bfv_encrypt(&cp, &pt, &pk, ctx, &rng), CN_OK);
    DUMP(dir, "ct_pk.bin", cn_io_size_ciphertext(&cp, 0, ctx), cn_io_save_ciphertext, &cp, 0,
         ctx);
    ck_assert_int_eq(cn_bfv_square(&sq, &cp, ctx), CN_OK);
    DUMP(dir, "ct_sq.bin", cn_io_size_ciphertext(&sq, 0, ctx), cn_io_save_ciphertext, &sq, 0,
         ctx);
    ck_assert_int_eq(cn_bfv_mod_switch(&ms, &cs, ctx), CN_OK);
    DUMP(dir, "ct_ms.bin", cn_io_size_ciphertext(&ms, 0, ctx), cn_io_save_ciphertext, &ms, 0,
         ctx);
    ck_assert_int_eq(cn_bfv_ciphertext_copy(&two[0], &cs, ctx), CN_OK);
    ck_assert_int_eq(cn_bfv_ciphertext_copy(&two[1], &sq, ctx), CN_OK);
    DUMP(dir, "batch.bin", cn_io_size_ciphertext_batch(two, 2, 0, ctx),
         cn_io_save_ciphertext_batch, two, 2, 0, ctx);
    for (int i = 0; i < 2; i++)
        cn_bfv_ciphertext_clear(&two[i]);
    cn_bfv_ciphertext_clear(&cs);
    cn_bfv_ciphertext_clear(&cp);
    cn_bfv_ciphertext_clear(&sq);
    cn_bfv_ciphertext_clear(&ms);
    cn_bfv_plaintext_clear(&pt);
    free(v);
    cn_bfv_relin_key_clear(&rk);
    cn_bfv_public_key_clear(&pk);
    cn_bfv_secret_key_clear(&sk);
    cn_rng_clear(&rng);
    cn_bfv_context_free(ctx);
}

/* bench/micro's parameters at n = 8192: q of 44, 44, 43, 43 bits, P of 44, t of 20 */
static void bench_params(cn_bfv_params_t *p)
{
    static const unsigned bits[] = {44, 44, 43, 43};
    memset(p, 0, sizeof *p);
    p->n = 8192;
    p->nq = 4;
    p->nt = 1;
    p->security = CN_SEC_128;
    ck_assert_int_eq(cn_primes_ntt(&p->p, 1, 44, 8192, NULL, 0, 1), CN_OK);
    uint64_t used[5] = {p->p};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(cn_primes_ntt(&p->q[i], 1, bits[i], 8192, used, i + 1, 1), CN_OK);
        used[i + 1] = p->q[i];
    }
    ck_assert_int_eq(cn_primes_ntt(&p->t[0], 1, 20, 8192, NULL, 0, 0), CN_OK);
}

/* Two plans of a 16-input model: dense, square, dense (no relinearization), and with
 * one more square and dense (relinearization); their bytes, the client's evaluation
 * keys and batch of 3 inputs, and the reference run on those inputs. */
static void dump_plans(const char *dir)
{
    mkdir(dir, 0777);
    double w1[3 * 16], b1[3], w2[2 * 3], b2[2], w3[2 * 2], b3[2];
    for (int i = 0; i < 48; i++)
        w1[i] = ((i * 37) % 11 - 5) / 7.0;
    for (int i = 0; i < 3; i++)
        b1[i] = 0.25 * i - 0.3;
    for (int i = 0; i < 6; i++)
        w2[i] = ((i * 5) % 7 - 3) / 3.0;
    for (int i = 0; i < 4; i++)
        w3[i] = (i % 3 - 1) * 0.7 + 0.1;
    for (int i = 0; i < 2; i++) {
        b2[i] = -0.5 + i;
        b3[i] = 0.125 * i;
    }
    int64_t x[3 * 16];
    for (int i = 0; i < 48; i++)
        x[i] = (i * 7 + i / 16) % 16;
    for (int deep = 0; deep < 2; deep++) {
        const char *tag = deep ? "_relin" : "";
        cn_model_t m;
        ck_assert_int_eq(cn_model_init(&m, 1, 4, 4, 1.0 / 15, 0, 15), CN_OK);
        ck_assert_int_eq(cn_model_add_flatten(&m, NULL), CN_OK);
        ck_assert_int_eq(cn_model_add_dense(&m, 3, w1, b1, NULL), CN_OK);
        ck_assert_int_eq(cn_model_add_square(&m, NULL), CN_OK);
        ck_assert_int_eq(cn_model_add_dense(&m, 2, w2, b2, NULL), CN_OK);
        if (deep) {
            ck_assert_int_eq(cn_model_add_square(&m, NULL), CN_OK);
            ck_assert_int_eq(cn_model_add_dense(&m, 2, w3, b3, NULL), CN_OK);
        }
        cn_compile_opts_t o = {0};
        o.weight_bits = 6;
        cn_plan_t *pl;
        ck_assert_int_eq(cn_plan_compile(&pl, &m, &o, NULL), CN_OK);
        uint8_t *b;
        size_t len;
        char name[64];
        ck_assert_int_eq(cn_plan_to_bytes(&b, &len, pl), CN_OK);
        snprintf(name, sizeof name, "plan%s.bin", tag);
        put_file(dir, name, b, len);
        free(b);
        cn_int128 y[3 * 2];
        ck_assert_int_eq(cn_plan_eval_plain(y, pl, x, 3), CN_OK);
        char path[1024];
        snprintf(path, sizeof path, "%s/plain%s.txt", dir, tag);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        for (int i = 0; i < 48; i++)
            fprintf(f, "%lld ", (long long)x[i]);
        fprintf(f, "\n");
        for (int i = 0; i < 6; i++) /* the outputs fit in 64 bits here */
            fprintf(f, "%lld ", (long long)y[i]);
        fprintf(f, "\n");
        fclose(f);
        const uint8_t rs[CN_SEED_BYTES] = {9};
        cn_client_t *c;
        ck_assert_int_eq(cn_client_create(&c, pl, rs, CN_RNG_INSECURE_ACK), CN_OK);
        ck_assert_int_eq(cn_client_eval_keys(&b, &len, c), CN_OK);
        snprintf(name, sizeof name, "evalkeys%s.bin", tag);
        put_file(dir, name, b, len);
        free(b);
        ck_assert_int_eq(cn_client_encrypt(&b, &len, c, x, 3, NULL), CN_OK);
        snprintf(name, sizeof name, "client_batch%s.bin", tag);
        put_file(dir, name, b, len);
        free(b);
        cn_client_free(c);
        cn_plan_free(pl);
        cn_model_clear(&m);
    }
}

START_TEST(test_dump_for_reader)
{
    const char *base = getenv("CN_FORMAT_DUMP");
    if (!base || !*base)
        return;
    char dir[900];
    cn_bfv_params_t prm;
    mkdir(base, 0777);
    ck_assert_int_eq(cn_bfv_params_default(&prm, 64, 3, 30, 31, 2, 14, CN_SEC_NONE_INSECURE),
                     CN_OK);
    snprintf(dir, sizeof dir, "%s/small", base);
    dump_objects(dir, &prm, 1);
    bench_params(&prm);
    snprintf(dir, sizeof dir, "%s/bench", base);
    dump_objects(dir, &prm, 0);
    snprintf(dir, sizeof dir, "%s/net", base);
    dump_plans(dir);
}
END_TEST

CN_SUITE(format_vectors)
{
    Suite *s = suite_create("format_vectors");
    TCase *tc = cn_tcase("core", 60);
    tcase_add_test(tc, test_keystream_layout);
    tcase_add_test(tc, test_seed_expansion);
    tcase_add_test(tc, test_python_objects);
    tcase_add_test(tc, test_seeded_keys);
    tcase_add_test(tc, test_ntt_formula);
    tcase_add_test(tc, test_dump_for_reader);
    suite_add_tcase(s, tc);
    return s;
}
