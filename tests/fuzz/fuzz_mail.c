/* Fuzz target: the mail gateway's whole parse path on arbitrary bytes: header parse, MIME
 * pre-scan and parse (with the boundary fix), Subject command, reply policy, reply
 * authentication, and for answerable mails the reply built and
 * parsed back. The gateway units are compiled in here because fuzz targets link only lib/. */
#include "gw-mail/authres.c"
#include "gw-mail/command.c"
#include "gw-mail/parse.c"
#include "gw-mail/reply.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_mail_msg m;
    oks_err e;
    int r = oks_mail_parse((const char *)data, size, NULL, &m, &e);
    if (r == 0) {
        oks_mail_cmd cmd;
        oks_mail_cmd_parse(m.subject, 30, &cmd);
        const char *sites[] = {"sync@example.org"}, *why;
        oks_mail_policy pol = {"keyserver@localhost", sites, 1};
        enum oks_mail_verdict v = oks_mail_decide(&m, &cmd, &pol, &why);
        (void)oks_mail_reply_authenticated(&m, "mx.test", NULL);
        if (v == OKS_MAIL_ANSWER && oks_mail_addr_valid(oks_mail_reply_address(&m))) {
            oks_buf out = OKS_BUF_INIT;
            oks_mail_reply rep = {.from = "keyserver@localhost",
                                  .to = oks_mail_reply_address(&m),
                                  .subject = m.subject ? m.subject : "",
                                  .in_reply_to = m.message_id,
                                  .references = m.references,
                                  .message_id = "fuzz@localhost",
                                  .text = (const char *)m.text.data,
                                  .keys = m.n_attachments ? (const char *)m.attachments[0].data
                                                          : NULL,
                                  .keys_len = m.n_attachments ? m.attachments[0].len : 0,
                                  .auto_replied = true};
            if (oks_mail_reply_build(&rep, &out, &e) == 0) {
                /* the reply repeats the subject, text and a key: up to three times the
                 * "multipart" words the request had, plus its own */
                oks_mail_limits lim;
                oks_mail_limits_default(&lim);
                lim.max_parts = 1000;
                lim.max_message_bytes = out.len + 1;
                oks_mail_msg back;
                if (oks_mail_parse((const char *)out.data, out.len, &lim, &back, &e) != 0)
                    __builtin_trap(); /* our own replies must always parse */
                oks_mail_msg_release(&back);
            }
            oks_buf_release(&out);
        }
        if (m.subject) {
            oks_mail_regex rx;
            if (oks_mail_regex_compile(&rx, m.subject, &e) == 0) {
                oks_mail_regex_match(&rx, m.text.data, m.text.len);
                oks_mail_regex_release(&rx);
            }
        }
    }
    oks_mail_msg_release(&m);
    return 0;
}
