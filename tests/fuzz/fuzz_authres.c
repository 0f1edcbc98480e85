/* Fuzz target: the Authentication-Results parser (gw-mail/authres.c) on one header value, and
 * the reply-authentication decision over a mail whose header block is the input (so several
 * headers, Reply-To and From are fuzzed together). The gateway units are compiled in here
 * because fuzz targets link only lib/. */
#include "gw-mail/authres.c"
#include "gw-mail/parse.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size + 1);
    if (v == NULL)
        return 0;
    memcpy(v, data, size);
    v[size] = '\0';
    oks_mail_authres a;
    oks_err e;
    if (oks_mail_authres_parse(v, &a, &e) == 0) {
        if (a.n > OKS_MAIL_AUTHRES_MAX_RESULTS || strlen(a.authserv_id) >= sizeof(a.authserv_id))
            __builtin_trap();
        for (size_t i = 0; i < a.n; i++)
            if (a.res[i].n_props > OKS_MAIL_AUTHRES_MAX_PROPS)
                __builtin_trap();
    }
    oks_mail_msg m;
    if (oks_mail_parse_head(v, size, NULL, &m, &e) == 0) {
        (void)oks_mail_reply_authenticated(&m, "mx.test", NULL);
        (void)oks_mail_reply_authenticated(&m, a.authserv_id, NULL);
    }
    oks_mail_msg_release(&m);
    free(v);
    return 0;
}
