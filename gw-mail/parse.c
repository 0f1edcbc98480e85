/*
 * Parsing a fetched mail with libetpan: the header fields the gateway acts on, the text body
 * and key attachments. libetpan's structures point into the raw buffer, so everything kept is
 * copied into the oks_mail_msg before mailmime_free.
 *
 * Also overrides libetpan's exported mailmime_extract_boundary: the Debian 1.9.4 version copies
 * len-2 bytes of a quoted boundary without checking len >= 2, so boundary="\"" (which unquotes
 * to one byte) crashes mailmime_parse. The symbol is resolved through the PLT, so this
 * definition in the program replaces the library's (tests/fuzz/corpus/mail/boundary-quote).
 */
#include "gw-mail/mail.h"
#include "lib/xalloc.h"
#include "lib/pgp.h"

#include <gcrypt.h>
#include <libetpan/libetpan.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *mailmime_extract_boundary(struct mailmime_content *content_type)
{
    char *b = mailmime_content_param_get(content_type, "boundary");
    if (b == NULL)
        return NULL;
    size_t len = strlen(b);
    if (len >= 2 && b[0] == '"' && b[len - 1] == '"')
        return oks_xstrndup(b + 1, len - 2);
    return oks_xstrdup(b);
}

void oks_mail_limits_default(oks_mail_limits *l)
{
    l->max_message_bytes = 1u << 20;
    l->max_parts = 16;
    l->max_attachments = 8;
    l->max_text_bytes = 512u << 10;
    l->max_header_values = 32;
    l->max_depth = 8;
}

void oks_mail_msg_release(oks_mail_msg *m)
{
    free(m->from);
    free(m->reply_to);
    free(m->message_id);
    free(m->references);
    free(m->subject);
    for (size_t i = 0; i < m->n_ks_sent; i++)
        free(m->ks_sent[i]);
    free(m->ks_sent);
    for (size_t i = 0; i < m->n_auth_results; i++)
        free(m->auth_results[i]);
    free(m->auth_results);
    oks_buf_release(&m->text);
    for (size_t i = 0; i < m->n_attachments; i++)
        oks_buf_release(&m->attachments[i]);
    free(m->attachments);
    memset(m, 0, sizeof(*m));
}

const char *oks_mail_reply_address(const oks_mail_msg *m)
{
    if (m->reply_to && m->reply_to[0])
        return m->reply_to;
    if (m->from && m->from[0])
        return m->from;
    return NULL;
}

/* Copy of s with whitespace trimmed and CR/LF/controls replaced by spaces (header unfolding). */
static char *clean_copy(const char *s)
{
    if (s == NULL)
        return NULL;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    char *c = oks_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r' || ch == '\n' || ch == '\t')
            ch = ' ';
        if (ch < 0x20 || ch == 0x7f)
            continue;
        if (ch == ' ' && o > 0 && c[o - 1] == ' ')
            continue;
        c[o++] = (char)ch;
    }
    while (o > 0 && c[o - 1] == ' ')
        o--;
    c[o] = '\0';
    return c;
}

static char *first_mailbox_of_addrs(struct mailimf_address_list *al)
{
    if (al == NULL || al->ad_list == NULL)
        return NULL;
    for (clistiter *it = clist_begin(al->ad_list); it; it = clist_next(it)) {
        struct mailimf_address *a = clist_content(it);
        if (a->ad_type == MAILIMF_ADDRESS_MAILBOX && a->ad_data.ad_mailbox &&
            a->ad_data.ad_mailbox->mb_addr_spec)
            return clean_copy(a->ad_data.ad_mailbox->mb_addr_spec);
        if (a->ad_type == MAILIMF_ADDRESS_GROUP && a->ad_data.ad_group &&
            a->ad_data.ad_group->grp_mb_list && a->ad_data.ad_group->grp_mb_list->mb_list) {
            clistiter *m = clist_begin(a->ad_data.ad_group->grp_mb_list->mb_list);
            struct mailimf_mailbox *mb = m ? clist_content(m) : NULL;
            if (mb && mb->mb_addr_spec)
                return clean_copy(mb->mb_addr_spec);
        }
    }
    return NULL;
}

static char *decode_subject(const char *raw)
{
    size_t cur = 0;
    char *dec = NULL;
    if (mailmime_encoded_phrase_parse("utf-8", raw, strlen(raw), &cur, "utf-8", &dec) !=
            MAILIMF_NO_ERROR ||
        dec == NULL) {
        free(dec);
        return clean_copy(raw);
    }
    char *c = clean_copy(dec);
    free(dec);
    return c;
}

static char *join_msgids(clist *l)
{
    oks_buf b = OKS_BUF_INIT;
    if (l == NULL)
        return NULL;
    for (clistiter *it = clist_begin(l); it; it = clist_next(it)) {
        const char *id = clist_content(it);
        if (b.len > 1000)
            break; /* keep References bounded */
        if (b.len && oks_buf_putc(&b, ' ') != 0)
            goto fail;
        if (oks_buf_append(&b, id, strlen(id)) != 0)
            goto fail;
    }
    if (oks_buf_terminate(&b) != 0)
        goto fail;
    size_t n;
    char *s = (char *)oks_buf_detach(&b, &n);
    char *c = clean_copy(s);
    free(s);
    return c;
fail:
    oks_buf_release(&b);
    return NULL;
}

/* Appends a cleaned copy of v to the list (*list, *n), at most lim->max_header_values. */
static void push_value(char ***list, size_t *n, const char *v, const oks_mail_limits *lim)
{
    if (*n >= lim->max_header_values)
        return;
    *list = oks_xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = clean_copy(v);
}

static void read_headers(struct mailimf_fields *h, oks_mail_msg *m, const oks_mail_limits *lim)
{
    if (h == NULL || h->fld_list == NULL)
        return;
    for (clistiter *it = clist_begin(h->fld_list); it; it = clist_next(it)) {
        struct mailimf_field *f = clist_content(it);
        switch (f->fld_type) {
        case MAILIMF_FIELD_RETURN_PATH:
            m->has_return_path = true;
            if (f->fld_data.fld_return_path->ret_path == NULL ||
                f->fld_data.fld_return_path->ret_path->pt_addr_spec == NULL ||
                f->fld_data.fld_return_path->ret_path->pt_addr_spec[0] == '\0')
                m->null_return_path = true;
            break;
        case MAILIMF_FIELD_FROM:
            if (m->from == NULL && f->fld_data.fld_from->frm_mb_list &&
                f->fld_data.fld_from->frm_mb_list->mb_list) {
                clistiter *mi = clist_begin(f->fld_data.fld_from->frm_mb_list->mb_list);
                struct mailimf_mailbox *mb = mi ? clist_content(mi) : NULL;
                if (mb && mb->mb_addr_spec)
                    m->from = clean_copy(mb->mb_addr_spec);
            }
            break;
        case MAILIMF_FIELD_REPLY_TO:
            if (m->reply_to == NULL)
                m->reply_to = first_mailbox_of_addrs(f->fld_data.fld_reply_to->rt_addr_list);
            break;
        case MAILIMF_FIELD_MESSAGE_ID:
            if (m->message_id == NULL && f->fld_data.fld_message_id->mid_value)
                m->message_id = clean_copy(f->fld_data.fld_message_id->mid_value);
            break;
        case MAILIMF_FIELD_REFERENCES:
            if (m->references == NULL)
                m->references = join_msgids(f->fld_data.fld_references->mid_list);
            break;
        case MAILIMF_FIELD_SUBJECT:
            if (m->subject == NULL && f->fld_data.fld_subject->sbj_value)
                m->subject = decode_subject(f->fld_data.fld_subject->sbj_value);
            break;
        case MAILIMF_FIELD_OPTIONAL_FIELD: {
            const char *name = f->fld_data.fld_optional_field->fld_name;
            char *v = clean_copy(f->fld_data.fld_optional_field->fld_value);
            if (name == NULL || v == NULL) {
                free(v);
                break;
            }
            if (strcasecmp(name, "Auto-Submitted") == 0) {
                if (strcasecmp(v, "no") != 0 && strncasecmp(v, "no ", 3) != 0 &&
                    strncasecmp(v, "no;", 3) != 0)
                    m->auto_submitted = true;
            } else if (strcasecmp(name, "Precedence") == 0) {
                if (strcasecmp(v, "bulk") == 0 || strcasecmp(v, "list") == 0 ||
                    strcasecmp(v, "junk") == 0)
                    m->precedence_bulk = true;
            } else if (strcasecmp(name, "X-KeyServer-Sent") == 0) {
                push_value(&m->ks_sent, &m->n_ks_sent, v, lim);
            } else if (strcasecmp(name, "Authentication-Results") == 0) {
                push_value(&m->auth_results, &m->n_auth_results, v, lim);
            } else if (strcasecmp(name, "Return-Path") == 0) {
                /* libetpan keeps an unparsable Return-Path (e.g. "<>") as optional */
                m->has_return_path = true;
                if (strcmp(v, "<>") == 0 || v[0] == '\0')
                    m->null_return_path = true;
            }
            free(v);
            break;
        }
        default:
            break;
        }
    }
}

static bool ct_is(struct mailmime_content *ct, int discrete, const char *sub)
{
    if (ct == NULL || ct->ct_type == NULL ||
        ct->ct_type->tp_type != MAILMIME_TYPE_DISCRETE_TYPE ||
        ct->ct_type->tp_data.tp_discrete_type == NULL)
        return false;
    if (ct->ct_type->tp_data.tp_discrete_type->dt_type != discrete)
        return false;
    return sub == NULL || (ct->ct_subtype && strcasecmp(ct->ct_subtype, sub) == 0);
}

static bool is_attachment(struct mailmime *mm)
{
    if (mm->mm_mime_fields == NULL || mm->mm_mime_fields->fld_list == NULL)
        return false;
    for (clistiter *it = clist_begin(mm->mm_mime_fields->fld_list); it; it = clist_next(it)) {
        struct mailmime_field *f = clist_content(it);
        if (f->fld_type == MAILMIME_FIELD_DISPOSITION && f->fld_data.fld_disposition &&
            f->fld_data.fld_disposition->dsp_type &&
            f->fld_data.fld_disposition->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
            return true;
    }
    return false;
}

typedef struct walk {
    oks_mail_msg *m;
    const oks_mail_limits *lim;
    size_t parts;
    oks_err *e;
} walk;

static int single_part(walk *w, struct mailmime *mm)
{
    struct mailmime_data *d = mm->mm_data.mm_single;
    if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT || d->dt_data.dt_text.dt_data == NULL)
        return 0;
    struct mailmime_content *ct = mm->mm_content_type;
    bool text_plain = ct == NULL || ct_is(ct, MAILMIME_DISCRETE_TYPE_TEXT, "plain");
    bool pgp_keys = ct_is(ct, MAILMIME_DISCRETE_TYPE_APPLICATION, "pgp-keys");
    bool octets = ct_is(ct, MAILMIME_DISCRETE_TYPE_APPLICATION, "octet-stream") ||
                  ct_is(ct, MAILMIME_DISCRETE_TYPE_TEXT, NULL);
    bool attach = is_attachment(mm);
    if (!text_plain && !pgp_keys && !octets)
        return 0;
    size_t idx = 0, dlen = 0, plen = d->dt_data.dt_text.dt_length;
    char *dec = NULL;
    /* libetpan 1.9.4's quoted-printable decoder reads up to 2 bytes past a part that ends in
     * "=" (found by fuzz_mail, tests/fuzz/corpus/mail/qp-overread): decode a zero-padded copy */
    char *copy = oks_xmalloc(plen + 8);
    memcpy(copy, d->dt_data.dt_text.dt_data, plen);
    memset(copy + plen, 0, 8);
    int pr = mailmime_part_parse(copy, plen, &idx, d->dt_encoding, &dec, &dlen);
    free(copy);
    if (pr != MAILIMF_NO_ERROR)
        return 0; /* undecodable part: ignored */
    int r = 0;
    if (text_plain && !attach) {
        size_t room = w->lim->max_text_bytes - w->m->text.len;
        if (dlen > room)
            dlen = room;
        r = oks_buf_append(&w->m->text, dec, dlen);
        if (r == 0 && w->m->text.len && w->m->text.data[w->m->text.len - 1] != '\n' &&
            w->m->text.len < w->lim->max_text_bytes)
            r = oks_buf_putc(&w->m->text, '\n');
    } else if (pgp_keys || oks_armor_detect((const uint8_t *)dec, dlen)) {
        if (w->m->n_attachments >= w->lim->max_attachments) {
            w->m->attachments_dropped++;
        } else {
            oks_buf *na = oks_xrealloc(w->m->attachments, (w->m->n_attachments + 1) * sizeof(*na));
            if (na == NULL) {
                r = OKS_E_NOMEM;
            } else {
                w->m->attachments = na;
                oks_buf_init(&na[w->m->n_attachments]);
                r = oks_buf_append(&na[w->m->n_attachments], dec, dlen);
                if (r == 0)
                    r = oks_buf_terminate(&na[w->m->n_attachments]);
                w->m->n_attachments++;
            }
        }
    }
    mmap_string_unref(dec);
    return r;
}

static int walk_mime(walk *w, struct mailmime *mm, unsigned depth)
{
    if (mm == NULL)
        return 0;
    if (depth > w->lim->max_depth)
        return oks_err_set(w->e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "MIME parts nested deeper than %u levels", w->lim->max_depth);
    switch (mm->mm_type) {
    case MAILMIME_SINGLE:
        if (++w->parts > w->lim->max_parts)
            return oks_err_set(w->e, OKS_E_LIMIT, OKS_NO_OFFSET, "more than %zu MIME parts",
                               w->lim->max_parts);
        return single_part(w, mm);
    case MAILMIME_MULTIPLE:
        if (mm->mm_data.mm_multipart.mm_mp_list == NULL)
            return 0;
        for (clistiter *it = clist_begin(mm->mm_data.mm_multipart.mm_mp_list); it;
             it = clist_next(it)) {
            int r = walk_mime(w, clist_content(it), depth + 1);
            if (r != 0)
                return r;
        }
        return 0;
    case MAILMIME_MESSAGE:
        /* the top level carries the headers we read; nested message/rfc822 parts are walked
         * for their bodies only */
        return walk_mime(w, mm->mm_data.mm_message.mm_msg_mime, depth + 1);
    default:
        return 0;
    }
}

int oks_mail_mime_precheck(const char *raw, size_t len, const oks_mail_limits *lim, oks_err *e)
{
    size_t containers = 0;
    unsigned depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = raw[i];
        if (c == '\n') {
            if (i + 1 < len && raw[i + 1] != ' ' && raw[i + 1] != '\t')
                depth = 0; /* a comment spans folded lines only */
        } else if (c == '\\') {
            i++;
        } else if (c == '(') {
            if (++depth > OKS_MAIL_MAX_COMMENT_DEPTH)
                return oks_err_set(e, OKS_E_LIMIT, i, "parentheses nested deeper than %d",
                                   OKS_MAIL_MAX_COMMENT_DEPTH);
        } else if (c == ')') {
            if (depth)
                depth--;
        } else if ((c == 'm' || c == 'M') && len - i >= 9 && strncasecmp(raw + i, "multipart", 9) == 0) {
            containers++;
            i += 8;
        } else if ((c == 'r' || c == 'R') && len - i >= 6 && strncasecmp(raw + i, "rfc822", 6) == 0) {
            containers++;
            i += 5;
        }
        if (containers > lim->max_parts)
            return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                               "more than %zu multipart or message/rfc822 MIME parts",
                               lim->max_parts);
    }
    return 0;
}

static const oks_mail_limits *limits_or_default(const oks_mail_limits *lim, oks_mail_limits *def)
{
    if (lim)
        return lim;
    oks_mail_limits_default(def);
    return def;
}

/* The header block ends at the first empty line (CRLF CRLF or LF LF), or at the end. */
static size_t header_len(const char *raw, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (raw[i] != '\n')
            continue;
        if (raw[i + 1] == '\n')
            return i + 2;
        if (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n')
            return i + 3;
    }
    return len;
}

int oks_mail_parse_head(const char *raw, size_t len, const oks_mail_limits *lim, oks_mail_msg *m,
                        oks_err *e)
{
    oks_mail_limits def;
    lim = limits_or_default(lim, &def);
    memset(m, 0, sizeof(*m));
    gcry_md_hash_buffer(GCRY_MD_SHA256, m->digest, raw, len);
    if (len > lim->max_message_bytes)
        return oks_err_set(e, OKS_E_LIMIT, len, "mail of %zu bytes is over the limit of %zu",
                           len, lim->max_message_bytes);
    if (len == 0)
        return oks_err_set(e, OKS_E_FORMAT, 0, "empty mail");
    size_t hl = header_len(raw, len);
    /* libetpan's comment parser recurses per nested "(": bound the nesting first */
    oks_mail_limits hdr = *lim;
    hdr.max_parts = (size_t)-1;
    int r = oks_mail_mime_precheck(raw, hl, &hdr, e);
    if (r != 0)
        return r;
    size_t idx = 0;
    struct mailimf_fields *f = NULL;
    r = mailimf_envelope_and_optional_fields_parse(raw, hl, &idx, &f);
    if (r != MAILIMF_NO_ERROR || f == NULL)
        return oks_err_set(e, OKS_E_FORMAT, idx, "header block not parsable (libetpan %d)", r);
    read_headers(f, m, lim);
    mailimf_fields_free(f);
    return 0;
}

int oks_mail_parse_body(const char *raw, size_t len, const oks_mail_limits *lim, oks_mail_msg *m,
                        oks_err *e)
{
    oks_mail_limits def;
    lim = limits_or_default(lim, &def);
    if (len > lim->max_message_bytes)
        return oks_err_set(e, OKS_E_LIMIT, len, "mail of %zu bytes is over the limit of %zu",
                           len, lim->max_message_bytes);
    int rc = oks_mail_mime_precheck(raw, len, lim, e);
    if (rc != 0)
        return rc;
    size_t idx = 0;
    struct mailmime *mm = NULL;
    int r = mailmime_parse(raw, len, &idx, &mm);
    if (r != MAILIMF_NO_ERROR || mm == NULL)
        return oks_err_set(e, OKS_E_FORMAT, idx, "MIME structure not parsable (libetpan %d)", r);
    walk w = {m, lim, 0, e};
    rc = walk_mime(&w, mm, 0);
    if (rc == 0)
        rc = oks_buf_terminate(&m->text);
    mailmime_free(mm);
    if (rc == OKS_E_NOMEM)
        return oks_err_set(e, rc, OKS_NO_OFFSET, "out of memory while parsing a mail");
    m->body_parsed = rc == 0;
    return rc;
}

int oks_mail_parse(const char *raw, size_t len, const oks_mail_limits *lim, oks_mail_msg *m,
                   oks_err *e)
{
    int r = oks_mail_parse_head(raw, len, lim, m, e);
    return r ? r : oks_mail_parse_body(raw, len, lim, m, e);
}
