/* A program outside the tree, built against an installed libcryptonets with
 * `cc consumer.c $(pkg-config --cflags --libs cryptonets)` in .ci/run: a negacyclic
 * product X * X^(n-1) = -1 through the installed NTT. */
#include <stdio.h>
#include <stdlib.h>

#include <cryptonets/cryptonets.h>

int main(void)
{
    const size_t n = 1024;
    uint64_t p;
    cn_ntt_table_t t;
    cn_status st = cn_primes_ntt(&p, 1, 50, n, NULL, 0, 1);
    if (st == CN_OK)
        st = cn_ntt_table_init(&t, n, p);
    if (st != CN_OK) {
        fprintf(stderr, "consumer: %s\n", cn_strerror(st));
        return 1;
    }
    uint64_t *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
    if (!a || !b)
        return 1;
    a[1] = 1;
    b[n - 1] = 1;
    cn_ntt_forward(a, &t);
    cn_ntt_forward(b, &t);
    for (size_t i = 0; i < n; i++)
        a[i] = cn_mod_mul(a[i], b[i], t.mod);
    cn_ntt_inverse(a, &t);
    int ok = a[0] == p - 1;
    for (size_t i = 1; i < n; i++)
        ok &= a[i] == 0;
    printf("consumer: libcryptonets %s: X * X^(n-1) = -1 mod (X^n + 1, %llu): %s\n",
           CN_VERSION_STRING, (unsigned long long)p, ok ? "ok" : "WRONG");
    free(a);
    free(b);
    cn_ntt_table_clear(&t);
    return ok ? 0 : 1;
}
