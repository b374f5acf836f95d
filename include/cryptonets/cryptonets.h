/* libcryptonets: private neural-network inference on BFV-encrypted data.
 * This header includes every public module header (not the opt-in GMP header
 * cryptonets/mpz.h). */
#ifndef CRYPTONETS_H
#define CRYPTONETS_H

#include "cryptonets/common.h"
#include "cryptonets/arith.h"
#include "cryptonets/ntt.h"
#include "cryptonets/rns.h"
#include "cryptonets/poly.h"
#include "cryptonets/rand.h"
#include "cryptonets/params.h"
#include "cryptonets/bfv.h"
#include "cryptonets/bfv_hoist.h"
#include "cryptonets/encode.h"
#include "cryptonets/io.h"
#include "cryptonets/net.h"
#include "cryptonets/packed.h"
#include "cryptonets/layout.h"
#include "cryptonets/idx.h"
#include "cryptonets/onnx.h"

#endif
