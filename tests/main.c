/* Runs every Check suite of the project (the list is generated from CN_SUITE lines).
 * CK_RUN_SUITE=name and CK_RUN_CASE=name select a part; CN_TEST_SEED=n fixes the
 * random seed (otherwise a fixed default), and the seed is printed on every run. A
 * selection that runs no check fails. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

#define X(name) Suite *name##_suite(void);
#include "suites.inc"
#undef X

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define X(name) srunner_add_suite(sr, name##_suite());
#include "suites.inc"
#undef X
    printf("test seed: %llu (set CN_TEST_SEED to change)\n",
           (unsigned long long)cn_test_seed());
    fflush(stdout);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
    srunner_free(sr);
    if (run == 0) { /* a misspelt or empty CK_RUN_SUITE / CK_RUN_CASE is not a pass */
        fprintf(stderr, "no check ran: CK_RUN_SUITE='%s', CK_RUN_CASE='%s' select nothing\n",
                getenv("CK_RUN_SUITE") ? getenv("CK_RUN_SUITE") : "",
                getenv("CK_RUN_CASE") ? getenv("CK_RUN_CASE") : "");
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
