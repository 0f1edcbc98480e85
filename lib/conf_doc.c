/*
 * The reference of oks.conf generated from the settings table (lib/conf_table.c): docs/config.md
 * (`oksctl config doc`, Markdown) and the oks.conf(5) manual page (`oksctl config man`, roff).
 * A unit test fails while either file in the tree differs from what the table generates.
 */
#include "lib/conf.h"
#include "lib/cluster.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const section_docs[][2] = {
    {"cluster", "The cluster: slots, routers, message size (every program)."},
    {"shard.*", "One `[shard.NAME]` per shard (NAME: letters, digits, `_`, `-`, `.`): where it "
                "listens, where it stores, which slots it holds. Every slot must be held by "
                "exactly `[cluster] replicas` shards (one by default); the digest of this map is "
                "checked on every request."},
    {"router", "oks-router."},
    {"shard", "Settings shared by every oks-shard (docs/shard.md \"Shard memory\")."},
    {"limits", "OpenPGP input limits applied by the shards (docs/lib.md \"Limits\")."},
    {"http", "oks-gw-http, the HKP/VKS/WKD gateway."},
    {"mail", "oks-gw-mail, one process per mailbox; its command-line options override these."},
    {"sync", "oks-sync, the SKS recon worker (its command-line options override these)."},
    {"dns", "oks-gw-dns, the OPENPGPKEY (DANE) gateway (docs/dns.md)."},
    {"ldap", "oks-gw-ldap, the LDAP keyserver gateway behind slapd's back-sock (docs/ldap.md)."},
    {"security", "CURVE keypairs and accepted public keys of every ZeroMQ link, the audit log "
                 "(docs/security.md). Every program refuses to start without its ROLE_key."},
};

/* The type of e as text; the names of an enum are joined by sep. */
static const char *type_name(const oks_conf_entry *e, const char *sep, char *buf, size_t n)
{
    switch (e->type) {
    case OKS_CONF_UINT: return "integer";
    case OKS_CONF_SIZE: return "size (K, M, G = x1024)";
    case OKS_CONF_DECIMAL: return "decimal";
    case OKS_CONF_BOOL: return "yes/no";
    case OKS_CONF_STRING: return "text";
    case OKS_CONF_HOSTPORT: return "HOST:PORT";
    case OKS_CONF_ENUM: {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; e->names[i] && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? sep : "", e->names[i]);
        return buf;
    }
    case OKS_CONF_LIST: return "list";
    case OKS_CONF_NETS: return "networks";
    case OKS_CONF_ZMQ: return "ZeroMQ endpoint";
    case OKS_CONF_ZMQ_BIND: return "ZeroMQ endpoint to bind";
    case OKS_CONF_ZMQ_LIST: return "list of ZeroMQ endpoints";
    case OKS_CONF_SLOTS: return "slot list";
    }
    return "?";
}

static void print_size(FILE *out, unsigned long long x)
{
    static const char units[] = "GMK";
    for (int i = 0; i < 3; i++) {
        unsigned shift = 30 - 10 * (unsigned)i;
        if (x && x % (1ull << shift) == 0) {
            fprintf(out, "%llu%c", x >> shift, units[i]);
            return;
        }
    }
    fprintf(out, "%llu", x);
}

static void print_bounds(FILE *out, const oks_conf_entry *e)
{
    if (e->type == OKS_CONF_SIZE) {
        print_size(out, e->min);
        fputs("..", out);
        print_size(out, e->max);
    } else if (e->type == OKS_CONF_UINT)
        fprintf(out, "%llu..%llu", e->min, e->max);
    else if (e->type == OKS_CONF_DECIMAL)
        fprintf(out, "%.15g..%.15g", e->dmin, e->dmax);
    else if (e->type == OKS_CONF_STRING || e->type == OKS_CONF_LIST || e->type == OKS_CONF_ZMQ ||
             e->type == OKS_CONF_ZMQ_BIND || e->type == OKS_CONF_NETS)
        fprintf(out, "< %zu bytes", e->size);
    else if (e->type == OKS_CONF_ZMQ_LIST)
        fprintf(out, "at most %d", OKS_MAX_ROUTERS);
}

static void print_readers(FILE *out, unsigned r)
{
    static const char *const names[] = {"shard", "router", "gw-http", "gw-mail", "sync",
                                        "oksctl", "gw-dns", "gw-ldap"};
    if (r == OKS_CONF_ALL) {
        fputs("all", out);
        return;
    }
    for (int i = 0, first = 1; i < 8; i++)
        if (r & (1u << i)) {
            fprintf(out, "%s%s", first ? "" : ", ", names[i]);
            first = 0;
        }
}

/* Whether every section of the table has its text in section_docs (else its keys would be left
 * out of both references). */
static bool sections_documented(const oks_conf_entry *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t s = 0; !found && s < sizeof section_docs / sizeof section_docs[0]; s++)
            found = strcmp(t[i].section, section_docs[s][0]) == 0;
        if (!found)
            return false;
    }
    return true;
}

int oks_conf_doc(FILE *out)
{
    size_t n;
    const oks_conf_entry *t = oks_conf_table(&n);
    if (!sections_documented(t, n))
        return OKS_E_STATE;
    fputs("# oks.conf reference\n\n"
          "<!-- generated from lib/conf_table.c by `make config-doc` (oksctl config doc): do not edit -->\n\n"
          "One INI file configures every program (`-c FILE` or `OKS_CONFIG=FILE`); "
          "`deploy/oks.conf.example` is a commented example. Every program reads and checks the "
          "whole file at start: an unknown section or key, a key given twice, or a value "
          "outside its type or bounds is refused with `FILE:LINE: [section] key: reason`, and "
          "the program exits with status 1. Comments start with `;` or `#`; `;` after a value "
          "starts a comment too. Sizes take a K, M or G suffix (x1024). \"read by\" names the "
          "programs that use a key.\n",
          out);
    for (size_t s = 0; s < sizeof section_docs / sizeof section_docs[0]; s++) {
        const char *sec = section_docs[s][0];
        fprintf(out, "\n## [%s]\n\n%s\n\n", strcmp(sec, "shard.*") ? sec : "shard.NAME",
                section_docs[s][1]);
        fputs("| key | type | default | bounds | read by | meaning |\n"
              "|---|---|---|---|---|---|\n", out);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(t[i].section, sec))
                continue;
            char tb[160];
            fprintf(out, "| `%s` | %s | %s%s%s | ", t[i].key,
                    type_name(&t[i], " \\| ", tb, sizeof tb),
                    t[i].def[0] ? "`" : "", t[i].def[0] ? t[i].def : "unset",
                    t[i].def[0] ? "`" : "");
            print_bounds(out, &t[i]);
            fputs(" | ", out);
            print_readers(out, t[i].readers);
            fprintf(out, " | %s |\n", t[i].doc);
        }
    }
    return ferror(out) ? OKS_E_IO : 0;
}

/* ---- oks.conf(5) ------------------------------------------------------------------------- */

/* Writes text as roff: `code` becomes bold, backslashes and a leading dot or quote are
 * escaped. */
static void roff_text(FILE *out, const char *t)
{
    bool bold = false, bol = true;
    for (const char *p = t; *p; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs("\\&", out);
        bol = false;
        if (*p == '`') {
            fputs(bold ? "\\fR" : "\\fB", out);
            bold = !bold;
        } else if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else {
            fputc(*p, out);
            bol = *p == '\n';
        }
    }
    if (bold)
        fputs("\\fR", out);
}

int oks_conf_man(FILE *out)
{
    size_t n;
    const oks_conf_entry *t = oks_conf_table(&n);
    if (!sections_documented(t, n))
        return OKS_E_STATE;
    fputs(".\\\" generated from lib/conf_table.c by `make config-doc` (oksctl config man): do not "
          "edit\n"
          ".TH OKS.CONF 5 \"\" \"OKS\" \"File Formats\"\n"
          ".SH NAME\noks.conf \\- configuration of the OKS keyserver daemons\n"
          ".SH SYNOPSIS\n/etc/oks/oks.conf\n"
          ".SH DESCRIPTION\n"
          "One INI file configures every program of OKS\n.RB ( \\-c\n.I FILE\nor\n.BR OKS_CONFIG ).\n"
          "Every program reads and checks the whole file at start: an unknown section or key, a key "
          "given twice, or a value outside its type or bounds is refused with\n"
          ".IR FILE : LINE :\n[section] key: reason, and the program exits with status 1.\n"
          "Comments start with\n.B ;\nor\n.BR # ;\n.B ;\nafter a value starts a comment too.\n"
          "Sizes take a K, M or G suffix (x1024).\n"
          "Each key below gives its type, default, bounds and the programs that read it.\n",
          out);
    for (size_t s = 0; s < sizeof section_docs / sizeof section_docs[0]; s++) {
        const char *sec = section_docs[s][0];
        fprintf(out, ".SH [%s]\n", strcmp(sec, "shard.*") ? sec : "shard.NAME");
        roff_text(out, section_docs[s][1]);
        fputc('\n', out);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(t[i].section, sec))
                continue;
            char tb[160];
            fprintf(out, ".TP\n.B %s\n(", t[i].key);
            roff_text(out, type_name(&t[i], " | ", tb, sizeof tb));
            fputs("; default ", out);
            roff_text(out, t[i].def[0] ? t[i].def : "unset");
            if (t[i].type == OKS_CONF_SIZE || t[i].type == OKS_CONF_UINT ||
                t[i].type == OKS_CONF_DECIMAL || t[i].type == OKS_CONF_ZMQ_LIST) {
                fputs("; ", out);
                print_bounds(out, &t[i]);
            }
            fputs("; read by ", out);
            print_readers(out, t[i].readers);
            fputs(")\n", out);
            roff_text(out, t[i].doc);
            fputc('\n', out);
        }
    }
    fputs(".SH FILES\n.TP\n.I /etc/oks/oks.conf\nthe configuration read by the installed units\n"
          ".SH SEE ALSO\n.BR oksctl (1),\n.BR oks\\-shard (8),\n.BR oks\\-router (8),\n"
          ".BR oks\\-gw\\-http (8),\n.BR oks\\-gw\\-mail (8),\n.BR oks\\-sync (8)\n",
          out);
    return ferror(out) ? OKS_E_IO : 0;
}
