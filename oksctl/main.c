/*
 * oksctl: the OKS administration tool. A table of subcommands; each lives in its own file of
 * oksctl/ and is declared in oksctl/oksctl.h. libgcrypt is initialised here, before any
 * subcommand starts threads.
 */
#include "oksctl/oksctl.h"

#include <gcrypt.h>
#include <stdio.h>
#include <string.h>

static const oksctl_command commands[] = {
    {"inspect", "parse, verify and hash OpenPGP keys from files (no server needed)",
     oksctl_inspect},
    {"import", "add keyrings and SKS dump folders to the cluster", oksctl_import},
    {"export", "write every key of the cluster as dump files", oksctl_export},
    {"get", "print a key by fingerprint or key ID", oksctl_get},
    {"search", "find keys by user ID words, e-mail or exact user ID", oksctl_search},
    {"stats", "keys, bytes and slots per shard", oksctl_stats},
    {"delete", "delete a key for good: a tombstone refuses it back (administrative)",
     oksctl_delete},
    {"undelete", "lift a delete: the key may be uploaded again (administrative)",
     oksctl_undelete},
    {"tombstones", "list the deleted fingerprints with who deleted them and why", oksctl_tombstones},
    {"repair", "compare a shard with its replica peers now (administrative)", oksctl_repair},
    {"sync", "sync worker: rebuild its prefix tree, show its partners", oksctl_sync},
    {"config", "check a config file; print the reference of every setting", oksctl_config},
    {"keygen", "write CURVE keypairs for the [security] section", oksctl_keygen},
    {"backup", "copy a live shard from one snapshot to a file or stdout", oksctl_backup},
    {"restore", "load a backup into a stopped shard's empty data directory", oksctl_restore},
    {"map", "the slot map kept in etcd: put it there, show it, add a shard", oksctl_map},
    {"slots", "move slots between shards online; rebalance; drain a shard", oksctl_slots},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: oksctl COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'oksctl COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv)
{
    if (!gcry_check_version("1.10.0")) {
        fprintf(stderr, "oksctl: libgcrypt too old\n");
        return 1;
    }
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "oksctl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
