/*
 * The poll loop: every interval, one POP3 session (plain, STLS or POP3S) that fetches each mail,
 * runs it, replies over SMTP and deletes it only once the reply was accepted (or no reply is
 * due). Outages of the mailbox, the SMTP server or the cluster keep the mail and back off.
 */
#ifndef OKS_MAIL_POLLER_H
#define OKS_MAIL_POLLER_H

#include "gw-mail/answered.h"
#include "gw-mail/exec.h"
#include "gw-mail/mail.h"

#include <stdatomic.h>

enum oks_mail_tls { OKS_MAIL_TLS_NONE = 0, OKS_MAIL_TLS_STARTTLS, OKS_MAIL_TLS_IMPLICIT };

typedef struct oks_mail_conf {
    char pop3_host[256];
    unsigned pop3_port;
    enum oks_mail_tls pop3_tls;
    char user[256];
    char password[256];
    char smtp_host[256];
    unsigned smtp_port;
    enum oks_mail_tls smtp_tls;   /* NONE or STARTTLS (when offered) */
    char smtp_user[256];          /* AUTH when set */
    char smtp_password[256];
    char address[256];            /* the gateway's own address (From, envelope sender) */
    char name[128];               /* display name in From */
    unsigned poll_seconds;        /* default 30 */
    unsigned io_timeout_s;        /* POP3/SMTP timeouts; default 30 */
    unsigned backoff_max_s;       /* cap of the outage backoff; default 300 */
    unsigned max_mails_per_poll;  /* default 1000 */
    unsigned delete_batch;        /* mails handled per answered-store sync + DELEs; default 50 */
    oks_mail_limits limits;
    oks_mail_rate_conf rate;      /* mails run per reply mailbox/domain per hour and globally per
                                     minute, reply bytes per mailbox/domain per hour, MGET/LAST
                                     scan units per mailbox per hour and globally per minute */
    char auth_serv_id[128];       /* authserv-id of the receiving MTA's Authentication-Results */
    size_t unauth_reply_bytes;    /* largest reply to an unauthenticated address; default 16 KiB */
    unsigned max_tries;           /* runs of a failing mail before it is set aside; default 5 */
    char **sync_sites;            /* addresses of PKS sync peers */
    size_t n_sync_sites;
    char state_dir[512];          /* the answered store (LevelDB) */
    unsigned answered_days;       /* how long answered records are kept; default 14 */
    char *help_owned;             /* help text read from help_file (owned) */
    char templates_dir[512];      /* reply-body templates NAME.txt; empty = built-in */
    unsigned crash_after_replies; /* testing: _exit(3) after N replies, before their DELE */
} oks_mail_conf;

typedef struct oks_mail_poller {
    const oks_mail_conf *conf;
    oks_mail_exec *exec;
    oks_mail_answered *answered;
    oks_mail_rate *rate;
    unsigned replies;          /* since start */
    unsigned long polls, fetched, deleted, kept;
    atomic_int *stop;          /* set by a signal handler */
    atomic_int *reload;        /* SIGHUP: the loop calls on_reload between polls */
    void (*on_reload)(struct oks_mail_poller *p);
    const char *conf_path, *templates_override; /* for on_reload (gw-mail/reload.c) */
    oks_mail_templates *templates; /* the ones p->exec renders with, swapped by a reload */
} oks_mail_poller;

/* gw-mail/reload.c: SIGHUP in the poll loop: re-reads the [mail] templates and rate limits
 * from p->conf_path; a config or template that does not load is logged (file and line, or
 * template and byte) and the running ones stay. */
void oks_mail_reload(oks_mail_poller *p);

/* One POP3 session over the whole mailbox. Returns 0, or OKS_E_UNAVAILABLE when the mailbox,
 * SMTP or the cluster failed (mails not handled stay in the mailbox). */
int oks_mail_poll_once(oks_mail_poller *p, oks_err *e);
/* Polls until *stop, with the interval and an exponential backoff after failures. */
void oks_mail_poll_loop(oks_mail_poller *p);

#endif
