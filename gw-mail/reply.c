/*
 * Building reply mails with libetpan's writer: From/To/Subject/In-Reply-To/References/
 * Message-ID/Date through mailimf_fields, Auto-Submitted and X-KeyServer-Sent as custom fields,
 * and a multipart/mixed body (a UTF-8 quoted-printable text part, plus an application/pgp-keys
 * part when keys are returned). libetpan writes header text as given, so non-ASCII header text
 * is RFC 2047-encoded here first.
 */
#include "gw-mail/mail.h"
#include "lib/xalloc.h"

#include <libetpan/libetpan.h>
#include <stdlib.h>
#include <string.h>

static bool needs_encoding(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x7f || c < 0x20)
            return true;
    }
    return false;
}

int oks_mail_header_encode(const char *text, oks_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!needs_encoding(text))
        return oks_buf_append(out, text, strlen(text));
    const char *pre = "=?utf-8?q?", *post = "?=";
    size_t word = 0; /* characters in the current encoded word */
    int r = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && r == 0;) {
        /* one UTF-8 sequence at a time, so no character is split across words */
        size_t seq = 1;
        if (*p >= 0xC0)
            while (seq < 4 && (p[seq] & 0xC0) == 0x80)
                seq++;
        size_t need = 0;
        for (size_t i = 0; i < seq; i++) {
            unsigned char c = p[i];
            bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == ' ' || c == '!' || c == '*' ||
                         c == '+' || c == '-' || c == '/';
            need += plain ? 1 : 3;
        }
        if (word == 0 || word + need + 2 > 75) {
            if (word)
                r = oks_buf_append(out, "?= ", 3);
            if (r == 0)
                r = oks_buf_append(out, pre, strlen(pre));
            word = strlen(pre);
        }
        for (size_t i = 0; i < seq && r == 0; i++) {
            unsigned char c = p[i];
            bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z') || c == '!' || c == '*' || c == '+' ||
                         c == '-' || c == '/';
            if (c == ' ')
                r = oks_buf_putc(out, '_');
            else if (plain)
                r = oks_buf_putc(out, c);
            else {
                char t[3] = {'=', hex[c >> 4], hex[c & 15]};
                r = oks_buf_append(out, t, 3);
            }
        }
        word += need;
        p += seq;
    }
    if (r == 0 && word)
        r = oks_buf_append(out, post, strlen(post));
    return r;
}

bool oks_mail_addr_valid(const char *a)
{
    const char *at = a ? strrchr(a, '@') : NULL;
    if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 254)
        return false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[]\\,;:\"", *p))
            return false;
    return strchr(a, '@') == at;
}

static char *encoded_dup(const char *s)
{
    oks_buf b = OKS_BUF_INIT;
    if (oks_mail_header_encode(s, &b) != 0 || oks_buf_terminate(&b) != 0) {
        oks_buf_release(&b);
        return NULL;
    }
    size_t n;
    return (char *)oks_buf_detach(&b, &n);
}

/* A clist of strdup'd msg-ids from a space separated list (at most 20). */
static clist *msgid_list(const char *a, const char *more)
{
    clist *l = clist_new();
    if (l == NULL)
        return NULL;
    const char *srcs[2] = {more, a};
    for (int k = 0; k < 2; k++) {
        const char *s = srcs[k];
        while (s && *s && clist_count(l) < 20) {
            while (*s == ' ' || *s == '<')
                s++;
            size_t n = strcspn(s, " <>");
            if (n) {
                char *id = oks_xstrndup(s, n);
                if (id == NULL || clist_append(l, id) != 0) {
                    free(id);
                    break;
                }
            }
            s += n;
            while (*s == '>')
                s++;
        }
    }
    if (clist_count(l) == 0) {
        clist_free(l);
        return NULL;
    }
    return l;
}

static void free_msgids(clist *l)
{
    if (l) {
        for (clistiter *it = clist_begin(l); it; it = clist_next(it))
            free(clist_content(it));
        clist_free(l);
    }
}

static int add_custom(struct mailimf_fields *hf, const char *name, const char *value)
{
    char *n = oks_xstrdup(name), *v = encoded_dup(value);
    struct mailimf_field *f = (n && v) ? mailimf_field_new_custom(n, v) : NULL;
    if (f == NULL) {
        free(n);
        free(v);
        return OKS_E_NOMEM;
    }
    if (mailimf_fields_add(hf, f) != MAILIMF_NO_ERROR) {
        mailimf_field_free(f);
        return OKS_E_NOMEM;
    }
    return 0;
}

static struct mailmime *text_part(const char *type, const char *charset, int mechanism,
                                  const char *body, size_t len)
{
    struct mailmime_content *ct = mailmime_content_new_with_str(type);
    if (ct == NULL)
        return NULL;
    if (charset) {
        struct mailmime_parameter *p = mailmime_param_new_with_data("charset", (char *)charset);
        if (p == NULL || clist_append(ct->ct_parameters, p) != 0) {
            if (p)
                mailmime_parameter_free(p);
            mailmime_content_free(ct);
            return NULL;
        }
    }
    struct mailmime_fields *mf = mailmime_fields_new_encoding(mechanism);
    if (mf == NULL) {
        mailmime_content_free(ct);
        return NULL;
    }
    struct mailmime *part = mailmime_new_empty(ct, mf);
    if (part == NULL) {
        mailmime_fields_free(mf);
        mailmime_content_free(ct);
        return NULL;
    }
    mailmime_set_body_text(part, (char *)body, len);
    return part;
}

int oks_mail_reply_build(const oks_mail_reply *r, oks_buf *out, oks_err *e)
{
    if (r->from == NULL || r->to == NULL || r->subject == NULL || r->text == NULL)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "reply needs from, to, subject, text");
    if (!oks_mail_addr_valid(r->to) || !oks_mail_addr_valid(r->from))
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "address not usable for a reply");
    int rc = OKS_E_NOMEM;
    struct mailmime *msg = NULL;
    struct mailimf_fields *hf = NULL;
    struct mailimf_mailbox_list *from = mailimf_mailbox_list_new_empty();
    struct mailimf_address_list *to = mailimf_address_list_new_empty();
    clist *irt = r->in_reply_to ? msgid_list(r->in_reply_to, NULL) : NULL;
    clist *refs = r->in_reply_to ? msgid_list(r->in_reply_to, r->references) : NULL;
    char *subject = encoded_dup(r->subject);
    char *mid = r->message_id ? oks_xstrdup(r->message_id) : mailimf_get_message_id();
    struct mailimf_date_time *date = mailimf_get_current_date();
    if (!from || !to || !subject || !mid || !date)
        goto fail;
    char *name = r->from_name ? encoded_dup(r->from_name) : NULL;
    char *addr = oks_xstrdup(r->from);
    struct mailimf_mailbox *mb = addr ? mailimf_mailbox_new(name, addr) : NULL;
    if (mb == NULL || mailimf_mailbox_list_add(from, mb) != MAILIMF_NO_ERROR) {
        if (mb)
            mailimf_mailbox_free(mb);
        else {
            free(name);
            free(addr);
        }
        goto fail;
    }
    if (mailimf_address_list_add_parse(to, (char *)r->to) != MAILIMF_NO_ERROR) {
        rc = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "recipient address not usable");
        goto fail;
    }
    hf = mailimf_fields_new_with_data_all(date, from, NULL, NULL, to, NULL, NULL, mid, irt, refs,
                                          subject);
    if (hf == NULL)
        goto fail;
    from = NULL, to = NULL, irt = NULL, refs = NULL, subject = NULL, mid = NULL, date = NULL;
    if (r->auto_replied && add_custom(hf, "Auto-Submitted", "auto-replied") != 0)
        goto fail;
    for (size_t i = 0; i < r->n_extra; i++)
        if (add_custom(hf, r->extra_names[i], r->extra_values[i]) != 0)
            goto fail;
    msg = mailmime_new_message_data(NULL);
    if (msg == NULL)
        goto fail;
    mailmime_set_imf_fields(msg, hf);
    hf = NULL;
    struct mailmime *text = text_part("text/plain", "utf-8", MAILMIME_MECHANISM_QUOTED_PRINTABLE,
                                      r->text, strlen(r->text));
    if (text == NULL)
        goto fail;
    if (r->keys && r->keys_len) {
        struct mailmime *mp = mailmime_multiple_new("multipart/mixed");
        struct mailmime *keys = text_part("application/pgp-keys", NULL, MAILMIME_MECHANISM_7BIT,
                                          r->keys, r->keys_len);
        if (mp == NULL || keys == NULL || mailmime_smart_add_part(msg, mp) != MAILIMF_NO_ERROR) {
            if (mp)
                mailmime_free(mp);
            if (keys)
                mailmime_free(keys);
            mailmime_free(text);
            goto fail;
        }
        if (mailmime_smart_add_part(mp, text) != MAILIMF_NO_ERROR) {
            mailmime_free(text);
            mailmime_free(keys);
            goto fail;
        }
        if (mailmime_smart_add_part(mp, keys) != MAILIMF_NO_ERROR) {
            mailmime_free(keys);
            goto fail;
        }
    } else if (mailmime_smart_add_part(msg, text) != MAILIMF_NO_ERROR) {
        mailmime_free(text);
        goto fail;
    }
    MMAPString *s = mmap_string_new("");
    int col = 0;
    if (s == NULL)
        goto fail;
    if (mailmime_write_mem(s, &col, msg) != MAILIMF_NO_ERROR) {
        mmap_string_free(s);
        goto fail;
    }
    rc = oks_buf_append(out, s->str, s->len);
    mmap_string_free(s);
    mailmime_free(msg);
    return rc;
fail:
    if (msg)
        mailmime_free(msg);
    if (hf)
        mailimf_fields_free(hf);
    if (from)
        mailimf_mailbox_list_free(from);
    if (to)
        mailimf_address_list_free(to);
    free_msgids(irt);
    free_msgids(refs);
    free(subject);
    free(mid);
    if (date)
        mailimf_date_time_free(date);
    if (rc == OKS_E_NOMEM)
        return oks_err_set(e, rc, OKS_NO_OFFSET, "out of memory building a reply");
    return rc;
}
