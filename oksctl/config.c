/*
 * oksctl config doc|man: prints the oks.conf reference (docs/config.md, or the oks.conf(5) page)
 * from the table of lib/conf_table.c. oksctl config check [-c FILE]: reads a config the way every daemon does at
 * start and reports the first problem as FILE:LINE: [section] key: reason.
 */
#include "lib/cluster.h"
#include "lib/conf.h"
#include "oksctl/oksctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: oksctl config doc                 print the oks.conf reference "
               "(Markdown, docs/config.md)\n"
               "       oksctl config man                 print the oks.conf(5) manual page "
               "(roff, man/oks.conf.5)\n"
               "       oksctl config check [-c FILE]     check a config (default: "
               "$OKS_CONFIG) as the daemons do at start\n");
}

int oksctl_config(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "doc") == 0)
        return oks_conf_doc(stdout) || fflush(stdout) ? 1 : 0;
    if (argc == 2 && strcmp(argv[1], "man") == 0)
        return oks_conf_man(stdout) || fflush(stdout) ? 1 : 0;
    if (argc >= 2 && strcmp(argv[1], "check") == 0) {
        const char *path = getenv("OKS_CONFIG");
        if (argc == 4 && strcmp(argv[2], "-c") == 0)
            path = argv[3];
        else if (argc != 2 || !path) {
            usage(stderr);
            return 2;
        }
        oks_cluster c;
        oks_err e;
        if (oks_cluster_load(path, &c, &e)) {
            fprintf(stderr, "oksctl: %s\n", e.msg);
            return 1;
        }
        printf("%s: ok (%zu shards, %u slots)\n", path, c.n_shards, c.n_slots);
        oks_cluster_release(&c);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
