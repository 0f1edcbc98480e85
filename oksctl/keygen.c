/* oksctl keygen: CURVE keypairs for the [security] section (docs/security.md). */
#include "lib/zsec.h"
#include "oksctl/oksctl.h"

#include <stdio.h>
#include <string.h>

static const char keygen_usage[] =
    "usage: oksctl keygen PATH...\n"
    "\n"
    "Writes a new CURVE keypair for each PATH: the secret key to PATH (Z85, mode 0600) and the\n"
    "public key to PATH.pub. Refuses to overwrite either. Name the secret key in oks.conf as\n"
    "[security] ROLE_key = PATH; list PATH.pub where that role's keys are accepted. The key's\n"
    "name in logs and in the audit log is the file name without directory and .pub.\n";

int oksctl_keygen(int argc, char **argv)
{
    if (argc < 2) {
        fputs(keygen_usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(keygen_usage, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        oks_err e;
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "oksctl keygen: unknown option %s\n", argv[i]);
            return 2;
        }
        if (oks_zsec_keygen(argv[i], &e) != 0) {
            fprintf(stderr, "oksctl keygen: %s\n", e.msg);
            return 1;
        }
        printf("%s %s.pub\n", argv[i], argv[i]);
    }
    return 0;
}
