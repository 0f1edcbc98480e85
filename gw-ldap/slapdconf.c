/*
 * The slapd side of the gateway: a slapd.conf whose sock database holds [ldap] base_dn and
 * talks to [ldap] socket, and the schema of the key entries (GnuPG's LDAP keyserver schema,
 * version 2, in slapd.conf syntax). slapd checks filters, modifications and the entries the
 * gateway returns against it, so every attribute the gateway writes is defined here or in
 * core / cosine.
 */
#include "gw-ldap/gwl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DSTR "SYNTAX 1.3.6.1.4.1.1466.115.121.1.15"
#define CI "EQUALITY caseIgnoreMatch"
#define CIS "EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch"
#define CIOS CIS " ORDERING caseIgnoreOrderingMatch"

static const char schema[] =
    "# OpenPGP keyserver schema (GnuPG's, version 2), written by oks-gw-ldap slapd-conf\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.8 NAME 'pgpBaseKeySpaceDN'\n"
    "  SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.9 NAME 'pgpSoftware' " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.10 NAME 'pgpVersion' " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.11 NAME 'pgpKey'\n"
    "  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.12 NAME 'pgpCertID' " CIS " " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.13 NAME 'pgpDisabled' " CI " " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.14 NAME 'pgpKeyID' " CIS " " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.15 NAME 'pgpKeyType' " CIS " " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.16 NAME 'pgpUserID' " CIS " " DSTR " )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.17 NAME 'pgpKeyCreateTime' " CIOS " " DSTR
    " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.18 NAME 'pgpSignerID' " CIS " " DSTR " )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.19 NAME 'pgpRevoked' " CI " " DSTR " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.20 NAME 'pgpSubKeyID' " CIS " " DSTR " )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.21 NAME 'pgpKeySize' " CIOS " " DSTR " )\n"
    "attributetype ( 1.3.6.1.4.1.3401.8.2.22 NAME 'pgpKeyExpireTime' " CIOS " " DSTR
    " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.11591.2.4.1.1 NAME 'gpgFingerprint' " CIS " " DSTR
    " SINGLE-VALUE )\n"
    "attributetype ( 1.3.6.1.4.1.11591.2.4.1.2 NAME 'gpgSubFingerprint' " CIS " " DSTR " )\n"
    "attributetype ( 1.3.6.1.4.1.11591.2.4.1.3 NAME 'gpgMailbox' " CIS " " DSTR " )\n"
    "objectclass ( 1.3.6.1.4.1.3401.8.2.23 NAME 'pgpServerInfo' SUP top STRUCTURAL\n"
    "  MUST ( cn $ pgpBaseKeySpaceDN ) MAY ( pgpSoftware $ pgpVersion ) )\n"
    "objectclass ( 1.3.6.1.4.1.3401.8.2.24 NAME 'pgpKeyInfo' SUP top STRUCTURAL\n"
    "  MUST ( pgpCertID $ pgpKey )\n"
    "  MAY ( pgpDisabled $ pgpKeyID $ pgpKeyType $ pgpUserID $ pgpKeyCreateTime $\n"
    "        pgpSignerID $ pgpRevoked $ pgpSubKeyID $ pgpKeySize $ pgpKeyExpireTime $\n"
    "        gpgFingerprint $ gpgSubFingerprint $ gpgMailbox ) )\n";

static int write_file(const char *path, const char *text, size_t n, oks_err *e)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: %s", path, strerror(errno));
    size_t w = fwrite(text, 1, n, f);
    if (fclose(f) || w != n)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: write failed", path);
    return 0;
}

int gwl_slapd_conf(const gwl *g, const gwl_slapd_paths *p, oks_err *e)
{
    char path[4096];
    int rc;
    snprintf(path, sizeof path, "%s/oks-pgp.schema", p->dir);
    if ((rc = write_file(path, schema, sizeof schema - 1, e)))
        return rc;
    const gwl_conf *c = &g->conf;
    oks_buf t = OKS_BUF_INIT;
    oks_buf_printf(&t,
                   "# slapd.conf for oks-gw-ldap, written by `oks-gw-ldap slapd-conf` from %s\n"
                   "# (docs/ldap.md). Start: slapd -f THIS -h ldap://HOST:PORT/\n"
                   "include %s/core.schema\n"
                   "include %s/cosine.schema\n"
                   "include %s/oks-pgp.schema\n"
                   "pidfile %s/slapd.pid\n"
                   "argsfile %s/slapd.args\n"
                   "modulepath %s\n"
                   "moduleload back_sock\n"
                   "# no per-operation log lines (loglevel stats writes one syslog line per\n"
                   "# operation; the gateway logs its errors itself)\n"
                   "loglevel 0\n"
                   "# slapd holds a pool thread for the whole of each operation (it waits on the\n"
                   "# gateway's answer): as many as [ldap] threads, the operations the gateway\n"
                   "# takes at once (slapd's minimum is 2)\n"
                   "threads %u\n"
                   "# what one search may return and take (the gateway applies the same bounds)\n"
                   "sizelimit %u\n"
                   "timelimit %u\n"
                   "%s"
                   "\n"
                   "database sock\n"
                   "suffix \"%s\"\n"
                   "socketpath %s\n"
                   "# %s\n"
                   "access to dn.subtree=\"%s\" by * %s\n",
                   g->cluster.path ? g->cluster.path : "the cluster config", p->schema_dir,
                   p->schema_dir, p->dir, p->dir, p->dir, p->module_dir,
                   c->threads < 2 ? 2u : c->threads, c->size_limit, c->time_limit,
                   c->allow_upload ? "# gpg --send-keys writes without binding\nallow update_anon\n"
                                   : "",
                   c->base_dn, c->socket,
                   c->allow_upload ? "[ldap] allow_upload = yes: adds and modifies reach the "
                                     "gateway, which sends the keys to the cluster"
                                   : "[ldap] allow_upload = no: read-only",
                   c->base_dn, c->allow_upload ? "write" : "read");
    snprintf(path, sizeof path, "%s/slapd.conf", p->dir);
    rc = write_file(path, (const char *)t.data, t.len, e);
    oks_buf_release(&t);
    return rc;
}
