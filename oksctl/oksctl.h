/*
 * oksctl subcommands. Each takes (argc, argv) with argv[0] = the command name and returns the
 * process exit status. Add a command: write oksctl/NAME.c, declare it here, list it in main.c.
 */
#ifndef OKSCTL_H
#define OKSCTL_H

typedef struct oksctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} oksctl_command;

int oksctl_inspect(int argc, char **argv);
int oksctl_import(int argc, char **argv);
int oksctl_export(int argc, char **argv);
int oksctl_get(int argc, char **argv);
int oksctl_search(int argc, char **argv);
int oksctl_stats(int argc, char **argv);
int oksctl_delete(int argc, char **argv);
int oksctl_undelete(int argc, char **argv);
int oksctl_tombstones(int argc, char **argv);
int oksctl_repair(int argc, char **argv);
int oksctl_sync(int argc, char **argv);
int oksctl_config(int argc, char **argv);
int oksctl_keygen(int argc, char **argv);
int oksctl_backup(int argc, char **argv);
int oksctl_restore(int argc, char **argv);
int oksctl_map(int argc, char **argv);
int oksctl_slots(int argc, char **argv);

#endif
