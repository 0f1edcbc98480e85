/*
 * The audit log: one line per administrative operation and per refused request, appended to
 * [security] audit_log and synced (fsync) before the call returns, so it survives crashes and
 * restarts. Lines read
 *   2026-12-04T18:00:00Z PROG who=NAME role=ROLE op=OP target=HEX outcome=TEXT
 * and, for deletes and undeletes, reason="TEXT" after it.
 * Without audit_log the lines go to the daemon's log (warn level). Thread-safe.
 */
#ifndef OKS_AUDIT_H
#define OKS_AUDIT_H

#include "lib/err.h"

#include <stddef.h>
#include <stdint.h>

/* Opens (creates, mode 0600) the audit log at path for appending; NULL or "" = the daemon's
 * log. Returns 0 or OKS_E_IO. */
int oks_audit_open(const char *path, oks_err *e);
void oks_audit_close(void);
/* Writes one line. who, role, op and outcome are printed with spaces and control characters
 * replaced; target (may be NULL) as hex. */
void oks_audit(const char *who, const char *role, const char *op, const uint8_t *target,
               size_t target_len, const char *outcome);
/* The same with the operator's reason (NULL or "": none) appended as reason="TEXT", with '"',
 * '\\' and control characters written as \xHH. */
void oks_audit_reason(const char *who, const char *role, const char *op, const uint8_t *target,
                      size_t target_len, const char *outcome, const char *reason);

#endif
