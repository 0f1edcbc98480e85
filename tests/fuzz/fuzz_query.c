/* Fuzz target: the HTTP gateway's request parsing on arbitrary bytes: the form decoder (query
 * strings and POST bodies), the /pks/lookup classification, and the X-Forwarded-For walk that
 * picks the client of the rate limits. The gateway units are compiled in here because fuzz
 * targets link only lib/. */
#include "gw-http/query.c"
#include "gw-http/ratelimit.c"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_form f;
    const char *why = "";
    if (gw_form_parse(&f, (const char *)data, size, &why) == 0) {
        gw_lookup l;
        int st = gw_lookup_parse(&f, &l, &why);
        if (st == 0) {
            if (l.id_len > sizeof l.id)
                __builtin_trap();
            if ((l.kind == GW_S_EMAIL || l.kind == GW_S_WORDS) && !l.text)
                __builtin_trap();
        } else if (st < 400 || st > 599 || !why || !*why) {
            __builtin_trap(); /* every rejection names an HTTP error and a reason */
        }
        gw_form_release(&f);
    } else if (!why || !*why) {
        __builtin_trap();
    }
    char *dec = malloc(size + 1);
    if (dec) {
        long n = gw_url_decode((const char *)data, size, dec);
        if (n > (long)size)
            __builtin_trap();
        free(dec);
    }
    char client[64];
    gw_rl_client("127.0.0.1", (const char *)data, size, "127.0.0.1, 10.0.0.1", client);
    if (memchr(client, '\0', sizeof client) == NULL)
        __builtin_trap();
    return 0;
}
