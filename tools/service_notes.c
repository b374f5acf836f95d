/* What a start of `cryptonets serve` says about state it does not serve (docs/service.md,
 * "State directory"): the tenants' directories that no --tokens line (or, without
 * --tokens, not the one tenant `anonymous`) reaches. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "service.h"

/* Entries of dir whose names end with suffix. */
static size_t count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    const size_t sl = strlen(suffix);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const size_t l = strlen(e->d_name);
        n += l > sl && !strcmp(e->d_name + l - sl, suffix);
    }
    closedir(d);
    return n;
}

void svc_note_unlisted_tenants(const svc_t *s, FILE *log)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/tenants", s->state_dir);
    DIR *d = opendir(p);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (name[0] == '.')
            continue;
        int listed = 0;
        for (size_t t = 0; t < s->ntenants && !listed; t++)
            listed = !strcmp(s->tenants[t].name, name);
        if (listed)
            continue;
        char keys[4600], jobs[4600];
        snprintf(keys, sizeof keys, "%s/%.255s/keys", p, name);
        snprintf(jobs, sizeof jobs, "%s/%.255s/jobs", p, name);
        const size_t nk = count_files(keys, ".keys"), nj = count_files(jobs, ".job");
        fprintf(log,
                "cryptonets serve: %s/%.255s: %zu key set(s) and %zu job(s) of tenant "
                "'%.255s', %s: no request reaches them and they do not expire; %s, or remove "
                "the directory\n",
                p, name, nk, nj, name,
                !strcmp(name, "anonymous") ? "from a start without --tokens"
                                           : "which --tokens does not list",
                !strcmp(name, "anonymous") ? "restart without --tokens to use them"
                                           : "list the tenant in --tokens to use them");
    }
    closedir(d);
}
