/*
 * oksctl sync: administration of the sync worker (oks-sync).
 *   oksctl sync rebuild [--tree DIR] [--timeout S]
 *     Rebuilds the worker's prefix tree from the shards' change logs. When the worker runs (its
 *     pid is in the state file named by `[sync] state` of oks.conf) it is asked to do it
 *     itself (SIGUSR1) and the command waits until the state file reports the rebuild; when it
 *     does not run, `oks-sync rebuild` (installed next to oksctl) rebuilds the tree named by
 *     --tree or `[sync] tree`.
 *   oksctl sync status
 *     Prints the state file: partners, when each was last synced, what recent rounds moved.
 */
#include "oksctl/oksctl.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/cluster.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: oksctl sync rebuild [-c CONFIG] [--tree DIR] [--timeout SECONDS]\n"
               "       oksctl sync status [-c CONFIG]\n"
               "  rebuild: the sync worker's prefix tree, from the shards' change logs (the\n"
               "  running worker rebuilds its own; otherwise oks-sync rebuild runs here).\n"
               "  status: partners, last sync, recent rounds (the worker's state file).\n");
}

/* value of "key=" in the "sync " record of the state file, or -1 */
static long long state_value(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    long long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "sync ", 5) != 0)
            continue;
        for (char *p = strchr(line, ' '); p; p = strchr(p + 1, ' '))
            if (strncmp(p + 1, key, kl) == 0 && p[1 + kl] == '=')
                v = strtoll(p + 2 + kl, NULL, 10);
        break;
    }
    fclose(f);
    return v;
}

/* pid of a live oks-sync, or 0 */
static pid_t worker_pid(const char *state)
{
    long long pid = state ? state_value(state, "pid") : -1;
    if (pid <= 0 || pid > INT_MAX || kill((pid_t)pid, 0) != 0)
        return 0;
    char p[64], comm[64] = "";
    snprintf(p, sizeof p, "/proc/%lld/comm", pid);
    FILE *f = fopen(p, "r");
    if (f) {
        if (!fgets(comm, sizeof comm, f))
            comm[0] = '\0';
        fclose(f);
    }
    return strncmp(comm, "oks-sync", 8) == 0 ? (pid_t)pid : 0;
}

static int run_oks_sync(const char *conf, const char *tree)
{
    char self[PATH_MAX], prog[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "oksctl: cannot find my own path: %s\n", strerror(errno));
        return 1;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(prog, sizeof prog, "%s/oks-sync", self);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "oksctl: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        execl(prog, "oks-sync", "rebuild", "-c", conf, "--tree", tree, (char *)NULL);
        fprintf(stderr, "oksctl: cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "oksctl: oks-sync rebuild failed (is the worker running with another "
                        "state file? its tree is locked while it runs)\n");
        return 1;
    }
    printf("tree %s rebuilt (sync worker not running)\n", tree);
    return 0;
}

static int cmd_rebuild(const char *conf, oks_cluster *c, int argc, char **argv)
{
    const char *tree_opt = NULL;
    int timeout_s = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--tree") == 0)
            tree_opt = argv[++i];
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_s = atoi(argv[++i]);
        else {
            usage(stderr);
            return 2;
        }
    }
    if (timeout_s <= 0) {
        usage(stderr);
        return 2;
    }
    char *state = c->sync.state[0] ? oks_xstrdup(c->sync.state) : NULL;
    const char *t = tree_opt ? tree_opt : c->sync.tree;
    char *tree = t[0] ? oks_xstrdup(t) : NULL;
    int rc = 1;
    pid_t pid = tree_opt ? 0 : worker_pid(state);
    if (pid) {
        long long before = state_value(state, "rebuilds");
        if (kill(pid, SIGUSR1) != 0) {
            fprintf(stderr, "oksctl: signal to oks-sync (pid %d): %s\n", (int)pid,
                    strerror(errno));
        } else {
            time_t end = time(NULL) + timeout_s;
            long long now = before;
            while (now <= before && time(NULL) < end && kill(pid, 0) == 0) {
                struct timespec ts = {0, 100000000};
                nanosleep(&ts, NULL);
                now = state_value(state, "rebuilds");
            }
            if (now > before) {
                printf("tree rebuilt by the running sync worker (pid %d): %lld hashes\n",
                       (int)pid, state_value(state, "tree"));
                rc = 0;
            } else
                fprintf(stderr, "oksctl: the sync worker (pid %d) did not report the rebuild "
                                "within %d s (see its log)\n", (int)pid, timeout_s);
        }
    } else if (!tree) {
        fprintf(stderr, "oksctl: no running sync worker found (state file %s) and no tree "
                        "directory: give --tree DIR or set [sync] tree in %s\n",
                state ? state : "not configured", conf);
    } else
        rc = run_oks_sync(conf, tree);
    free(state);
    free(tree);
    return rc;
}

static int cmd_status(oks_cluster *c)
{
    char *state = c->sync.state[0] ? oks_xstrdup(c->sync.state) : NULL;
    FILE *f = state ? fopen(state, "r") : NULL;
    if (!f) {
        fprintf(stderr, "oksctl: no sync state (%s)\n",
                state ? state : "[sync] state not set in the config");
        free(state);
        return 1;
    }
    char line[2048];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "oks-sync-state", 14) != 0)
            fputs(line, stdout);
    fclose(f);
    free(state);
    return 0;
}

int oksctl_sync(int argc, char **argv)
{
    /* -c/--config FILE anywhere after "sync" */
    const char *conf = NULL;
    int n = 0;
    for (int k = 0; k < argc; k++) {
        if (k > 0 && k + 1 < argc && (strcmp(argv[k], "-c") == 0 || strcmp(argv[k], "--config") == 0))
            conf = argv[++k];
        else
            argv[n++] = argv[k];
    }
    argc = n;
    int i = 1;
    if (i >= argc || strcmp(argv[i], "--help") == 0) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? 2 : 0;
    }
    if (!conf)
        conf = getenv("OKS_CONFIG");
    if (!conf) {
        fprintf(stderr, "oksctl: no cluster config: use -c FILE or set OKS_CONFIG\n");
        return 2;
    }
    oks_cluster c;
    oks_err e;
    if (oks_cluster_load(conf, &c, &e)) {
        fprintf(stderr, "oksctl: %s\n", e.msg);
        return 2;
    }
    int rc;
    if (strcmp(argv[i], "rebuild") == 0)
        rc = cmd_rebuild(conf, &c, argc - i, argv + i);
    else if (strcmp(argv[i], "status") == 0)
        rc = cmd_status(&c);
    else {
        usage(stderr);
        rc = 2;
    }
    oks_cluster_release(&c);
    return rc;
}
