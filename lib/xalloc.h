/*
 * The out-of-memory policy of every OKS program: memory for the program's own work is taken
 * with these functions, which never return NULL — when the allocator fails, the process logs
 * what it asked for and aborts (as Redis's zmalloc and git's xmalloc do). A keyserver that runs
 * out of memory cannot answer correctly; stopping at once (systemd restarts it, and no
 * acknowledged key is lost: every add is answered only once synced) beats answering with
 * truncated bodies or missing keys. Input never decides an allocation's size without a limit
 * checked first (see oks_pgp_limits and the protocol's limits), so abort is reached by memory
 * pressure, not by a request.
 * oks_buf grows through oks_xrealloc: its functions cannot fail for want of memory.
 */
#ifndef OKS_XALLOC_H
#define OKS_XALLOC_H

#include <stddef.h>

void *oks_xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *oks_xcalloc(size_t count, size_t size) __attribute__((malloc, returns_nonnull));
void *oks_xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *oks_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *oks_xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

/* Logs "out of memory (N bytes for WHAT)" and aborts; for allocators other than malloc
 * (protobuf-c, libraries) whose failure the caller sees. */
void oks_oom(size_t n, const char *what) __attribute__((noreturn));

#endif
