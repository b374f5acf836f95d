/* Runs every Check suite of the project (the list is generated from CN_SUITE lines).
 * CK_RUN_SUITE=name and CK_RUN_CASE=name select a part, CN_SKIP_SUITES=a,b leaves suites
 * out (CI's runs of the other kernel builds); CN_TEST_SEED=n fixes the
 * random seed (otherwise a fixed default), and the seed is printed on every run. A
 * selection that runs no check fails. Each suite runs in a runner of its own, so that a
 * line with its checks and seconds is printed as it finishes (some suites take minutes). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"

#define X(name) Suite *name##_suite(void);
#include "suites.inc"
#undef X

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1 when name is one of the comma-separated names of list (NULL: none). */
static int listed(const char *list, const char *name)
{
    const size_t len = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        const size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == len && strncmp(p, name, len) == 0)
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Runs suite s (named name, as its suite_create) unless CK_RUN_SUITE names another or
 * CN_SKIP_SUITES names it; adds its checks run and failed to the counts. */
static void run_suite(const char *name, Suite *s, int *run, int *failed)
{
    SRunner *sr = srunner_create(s);
    const char *only = getenv("CK_RUN_SUITE");
    if ((only && *only && strcmp(only, name) != 0) || listed(getenv("CN_SKIP_SUITES"), name)) {
        srunner_free(sr);
        return;
    }
    const double t0 = now();
    srunner_run_all(sr, CK_NORMAL);
    const int r = srunner_ntests_run(sr), f = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (r)
        printf("suite %s: %d checks, %d failed, %.1f s\n", name, r, f, now() - t0);
    fflush(stdout);
    *run += r;
    *failed += f;
}

/* The suites' names, for CN_SKIP_SUITES' check. */
static const char *const suite_names[] = {
#define X(name) #name,
#include "suites.inc"
#undef X
};

/* 1, with a message, when CN_SKIP_SUITES names a suite that does not exist (a misspelt
 * name would otherwise leave out nothing, silently). */
static int skip_list_bad(void)
{
    const char *list = getenv("CN_SKIP_SUITES");
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        const size_t l = e ? (size_t)(e - p) : strlen(p);
        int found = 0;
        for (size_t i = 0; i < sizeof suite_names / sizeof *suite_names && !found; i++)
            found = strlen(suite_names[i]) == l && strncmp(suite_names[i], p, l) == 0;
        if (!found) {
            fprintf(stderr, "CN_SKIP_SUITES: no suite is named '%.*s'\n", (int)l, p);
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int main(void)
{
    if (skip_list_bad())
        return EXIT_FAILURE;
    printf("test seed: %llu (set CN_TEST_SEED to change)\n",
           (unsigned long long)cn_test_seed());
    fflush(stdout);
    int run = 0, failed = 0;
    const double t0 = now();
#define X(name) run_suite(#name, name##_suite(), &run, &failed);
#include "suites.inc"
#undef X
    if (run == 0) { /* a misspelt or empty CK_RUN_SUITE / CK_RUN_CASE is not a pass */
        fprintf(stderr, "no check ran: CK_RUN_SUITE='%s', CK_RUN_CASE='%s' select nothing\n",
                getenv("CK_RUN_SUITE") ? getenv("CK_RUN_SUITE") : "",
                getenv("CK_RUN_CASE") ? getenv("CK_RUN_CASE") : "");
        return EXIT_FAILURE;
    }
    printf("all: %d checks, %d failed, %.1f s\n", run, failed, now() - t0);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
