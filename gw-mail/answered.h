/*
 * The gateway's only state: which mails it has already answered, so that a crash between the
 * SMTP reply and the POP3 DELE never produces a second reply. A small LevelDB keyed by the
 * mail's SHA-256 digest and Message-ID, each entry holding the time it was written; entries
 * older than the expiry are removed (and so are the try counts of mails not answered yet) when the store is opened and then once per hour.
 */
#ifndef OKS_MAIL_ANSWERED_H
#define OKS_MAIL_ANSWERED_H

#include "gw-mail/mail.h"

typedef struct oks_mail_answered oks_mail_answered;

/* Opens (creating) the store in dir. expiry_s: how long an entry is kept. */
oks_mail_answered *oks_mail_answered_open(const char *dir, int64_t expiry_s, oks_err *e);
void oks_mail_answered_close(oks_mail_answered *a);
/* True when msg was answered (same digest and Message-ID). */
bool oks_mail_answered_has(oks_mail_answered *a, const oks_mail_msg *msg);
/* Records msg as answered at now. The write reaches the store's log file at once (so it
 * survives the process dying) but is made durable against a system crash only by the next
 * oks_mail_answered_sync: call that before deleting the mails recorded. */
int oks_mail_answered_put(oks_mail_answered *a, const oks_mail_msg *msg, int64_t now, oks_err *e);
/* One synced write that makes every record put so far durable. */
int oks_mail_answered_sync(oks_mail_answered *a, oks_err *e);
/* Tries of a mail that was not answered yet (keyed by its digest alone, so a mail that stops
 * the process before its headers are read is counted too). try_begin records one more try at
 * now and returns the count including it; the write reaches the log at once, so a try that
 * kills the process counts. try_undo takes back the last one (the try failed for a reason that
 * is not the mail's: the SMTP server went away). answered_put removes the count. */
unsigned oks_mail_answered_try_begin(oks_mail_answered *a, const oks_mail_msg *msg, int64_t now);
void oks_mail_answered_try_undo(oks_mail_answered *a, const oks_mail_msg *msg, int64_t now);
/* Removes entries written before now - expiry; returns how many. */
size_t oks_mail_answered_expire(oks_mail_answered *a, int64_t now);

#endif
