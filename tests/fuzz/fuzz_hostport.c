/* Fuzz target: HOST:PORT parsing (lib/net.c) on arbitrary text. Whatever it accepts has a port
 * of 1..65535 and a NUL-terminated host that fits the buffer; whatever it refuses has a reason. */
#include "lib/net.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char host[64];
    unsigned port = 0;
    oks_err e;
    oks_err_clear(&e);
    if (oks_hostport_split(s, host, sizeof host, &port, &e) == 0) {
        if (port < 1 || port > 65535 || memchr(host, '\0', sizeof host) == NULL || !host[0])
            __builtin_trap();
    } else if (e.code != OKS_E_FORMAT || !e.msg[0]) {
        __builtin_trap();
    }
    int p = oks_port_parse((const char *)data, size);
    if (p != -1 && (p < 1 || p > 65535))
        __builtin_trap();
    free(s);
    return 0;
}
