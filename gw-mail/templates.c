/*
 * Reply-body templates (see templates.h): the built-in defaults, loading NAME.txt overrides
 * from a directory (checked at start, so a broken file stops the gateway rather than every
 * reply), dumping the defaults, and rendering as plain text.
 */
#include "gw-mail/templates.h"

#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PLURAL_IS "{{#plural}}are{{/plural}}{{^plural}}is{{/plural}}"
#define KEYS_N "{{count}} key{{#plural}}s{{/plural}}"

static const struct {
    const char *name, *text;
} builtin[OKS_MAIL_T_COUNT] = {
    [OKS_MAIL_T_HELP] = {"help", "{{help}}"},
    [OKS_MAIL_T_INVALID] = {"invalid",
        "{{#no_command}}Your mail had no command in its Subject line.\n{{/no_command}}"
        "{{#error}}Your command could not be run: {{error}}.\n{{/error}}"
        "{{#unknown}}\"{{unknown}}\" is not a command this server knows.\n{{/unknown}}"
        "\n{{help}}"},
    [OKS_MAIL_T_FAILED] = {"failed", "{{message}}\n"},
    [OKS_MAIL_T_GET] = {"get",
        "{{^found}}No keys match \"{{search}}\".\n{{/found}}"
        "{{#found}}" KEYS_N " matching \"{{search}}\" " PLURAL_IS " attached.\n{{/found}}"
        "{{#more}}({{more}} more keys match; at most {{count}} are returned per mail.)\n{{/more}}"
        "{{#partial}}(Some servers did not answer; results may be incomplete.)\n{{/partial}}"},
    [OKS_MAIL_T_INDEX] = {"index",
        "{{^found}}No keys match \"{{search}}\".\n{{/found}}"
        "{{#found}}" KEYS_N " matching \"{{search}}\":\n\n"
        "{{#keys}}"
        "{{#unreadable}}(a stored key could not be read: {{unreadable}})\n{{/unreadable}}"
        "{{^unreadable}}"
        "pub  {{algo}}{{bits}}/0x{{keyid}} {{created}}{{#revoked}} [revoked]{{/revoked}}\n"
        "     Fingerprint={{fpr}}\n"
        "{{#uids}}uid  {{uid}}\n"
        "{{#sigs}}sig  0x{{issuer}} {{created}} {{#self}}(self){{/self}}\n{{/sigs}}"
        "{{/uids}}"
        "{{#subkeys}}sub  {{algo}}{{bits}}/0x{{keyid}} {{created}}\n{{/subkeys}}"
        "\n{{/unreadable}}"
        "{{/keys}}{{/found}}"
        "{{#more}}({{more}} more keys match; at most {{count}} are returned per mail.)\n{{/more}}"
        "{{#partial}}(Some servers did not answer; results may be incomplete.)\n{{/partial}}"},
    [OKS_MAIL_T_ADD] = {"add",
        "{{^found}}No public keys were found in your mail."
        "{{#skipped}} Some key blocks could not be read.{{/skipped}}\n{{/found}}"
        "{{#found}}" KEYS_N " processed:\n\n"
        "{{#results}}{{fpr}} {{outcome}}{{#reason}}: {{reason}}{{/reason}}\n{{/results}}"
        "{{#cluster_error}}\nThe cluster reported: {{cluster_error}}\n{{/cluster_error}}"
        "{{#skipped}}\n{{skipped}} key block{{#skipped_plural}}s{{/skipped_plural}} could not be "
        "read or were over the limit of {{max_add_keys}} keys per mail.\n{{/skipped}}"
        "{{/found}}"},
    [OKS_MAIL_T_MGET] = {"mget",
        "{{^found}}No user IDs match the expression \"{{pattern}}\".\n{{/found}}"
        "{{#found}}" KEYS_N " with a user ID matching \"{{pattern}}\" " PLURAL_IS
        " attached.\n{{/found}}"
        "{{#more}}(More keys match; at most {{max_reply_keys}} are returned per mail.)\n{{/more}}"
        "{{#cut}}(Only the first {{mget_scan_max}} keys were searched.)\n{{/cut}}"},
    [OKS_MAIL_T_LAST] = {"last",
        "{{^found}}No keys were added or changed in the last {{days}} days.\n{{/found}}"
        "{{#found}}" KEYS_N " added or changed in the last {{days}} days " PLURAL_IS
        " attached.\n"
        "{{#more}}(More keys changed; at most {{max_reply_keys}} are returned per mail.)\n"
        "{{/more}}{{/found}}"},
    [OKS_MAIL_T_TOOBIG] = {"toobig",
        "Your mail of {{size}} bytes is over this server's limit of {{limit}} bytes and was "
        "not processed.\n"},
    [OKS_MAIL_T_INCREMENTAL] = {"incremental", "Keys new or changed on this server.\n"},
};

const char *oks_mail_tmpl_name(enum oks_mail_tmpl_id id)
{
    return (unsigned)id < OKS_MAIL_T_COUNT ? builtin[id].name : "?";
}

const char *oks_mail_tmpl_builtin(enum oks_mail_tmpl_id id)
{
    return (unsigned)id < OKS_MAIL_T_COUNT ? builtin[id].text : "";
}

/* Reads path into *out (NUL-terminated). 0, 1 when the file does not exist, or an error. */
static int read_file(const char *path, char **out, oks_err *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT)
            return 1;
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "template %s: %s", path, strerror(errno));
    }
    oks_buf b = OKS_BUF_INIT;
    char chunk[8192];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > OKS_MAIL_TMPL_MAX_BYTES)
            rc = oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "template %s is over %u bytes", path,
                             OKS_MAIL_TMPL_MAX_BYTES);
        else if (oks_buf_append(&b, chunk, n) != 0)
            rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    }
    if (rc == 0 && ferror(f))
        rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "template %s: read error", path);
    fclose(f);
    if (rc == 0 && memchr(b.data, '\0', b.len))
        rc = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "template %s contains a NUL byte", path);
    if (rc == 0 && oks_buf_terminate(&b) != 0)
        rc = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (rc != 0) {
        oks_buf_release(&b);
        return rc;
    }
    *out = (char *)oks_buf_detach(&b, NULL);
    return 0;
}

int oks_mail_tmpl_load(oks_mail_templates *t, const char *dir, oks_err *e)
{
    memset(t, 0, sizeof(*t));
    if (dir == NULL || *dir == '\0')
        return 0;
    struct stat st;
    errno = 0;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "template directory %s: %s", dir,
                           errno ? strerror(errno) : "not a directory");
    size_t found = 0;
    for (int i = 0; i < OKS_MAIL_T_COUNT; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s.txt", dir, builtin[i].name);
        char *text = NULL;
        int r = read_file(path, &text, e);
        if (r == 1)
            continue;
        if (r != 0) {
            oks_mail_tmpl_release(t);
            return r;
        }
        /* a broken template stops the gateway at start, not each reply */
        oks_tmpl *empty = oks_tmpl_new();
        oks_buf out = OKS_BUF_INIT;
        oks_err re;
        r = empty ? oks_tmpl_render_text(text, strlen(text), empty, &out, &re) : OKS_E_NOMEM;
        oks_tmpl_free(empty);
        oks_buf_release(&out);
        if (r != 0) {
            if (r == OKS_E_NOMEM)
                oks_err_set(e, r, OKS_NO_OFFSET, "out of memory");
            else
                oks_err_set(e, r, re.offset, "template %s: %s", path, re.msg);
            free(text);
            oks_mail_tmpl_release(t);
            return r;
        }
        t->text[i] = text;
        found++;
    }
    oks_info("mail templates: %zu from %s, %zu built-in", found, dir,
             (size_t)OKS_MAIL_T_COUNT - found);
    return 0;
}

void oks_mail_tmpl_release(oks_mail_templates *t)
{
    for (int i = 0; i < OKS_MAIL_T_COUNT; i++) {
        free(t->text[i]);
        t->text[i] = NULL;
    }
}

int oks_mail_tmpl_dump(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    for (int i = 0; i < OKS_MAIL_T_COUNT; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s.txt", dir, builtin[i].name);
        FILE *f = fopen(path, "w");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        fputs(builtin[i].text, f);
        if (fclose(f) != 0) {
            perror(path);
            return 1;
        }
        printf("%s\n", path);
    }
    return 0;
}

int oks_mail_tmpl_render(const oks_mail_templates *t, enum oks_mail_tmpl_id id,
                         const oks_tmpl *ctx, oks_buf *out, oks_err *e)
{
    if ((unsigned)id >= OKS_MAIL_T_COUNT)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "no such mail template");
    const char *src = t && t->text[id] ? t->text[id] : NULL;
    if (src) {
        size_t before = out->len;
        int r = oks_tmpl_render_text(src, strlen(src), ctx, out, e);
        if (r == 0)
            return 0;
        oks_error("mail template %s.txt: %s (at byte %zu); using the built-in one",
                  builtin[id].name, e->msg, e->offset);
        out->len = before;
    }
    return oks_tmpl_render_text(builtin[id].text, strlen(builtin[id].text), ctx, out, e);
}

int oks_mail_tmpl_num(oks_tmpl *ctx, const char *name, unsigned long long n)
{
    return oks_tmpl_setf(ctx, name, "%llu", n);
}

int oks_mail_tmpl_flag(oks_tmpl *ctx, const char *name, int on)
{
    return on ? oks_tmpl_set(ctx, name, "yes", 3) : 0;
}

int oks_mail_tmpl_str(oks_tmpl *ctx, const char *name, const char *s)
{
    return s ? oks_tmpl_set(ctx, name, s, strlen(s)) : 0;
}
