/* oks-bench: load generator for the benchmarks under bench/. */
#include "bench/bench.h"

#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage:\n"
               "  oks-bench mint --count N --seed S (--out FILE | --dump-dir DIR) [...]\n"
               "      deterministic synthetic keys (oks-bench mint --help)\n"
               "  oks-bench upload --url http://127.0.0.1:PORT --keys KEYRING [...]\n"
               "  oks-bench mixed --url http://127.0.0.1:PORT --list LIST [...]\n"
               "      HKP load: distinct uploads, or get/index/add mix (oks-bench upload --help)\n"
               "  oks-bench router-lookup CONFIG FPR_FILE WINDOW SECONDS\n"
               "      get-by-fingerprint through the router, WINDOW requests in flight\n"
               "  oks-bench direct-lookup CONFIG FPR_FILE SECONDS\n"
               "      the same lookups straight from the shards' LevelDB (cluster stopped)\n"
               "  oks-bench transport-floor CONFIG FPR_FILE WINDOW SECONDS\n"
               "      the same lookups over bare ZeroMQ (client, forwarder, 2 answering\n"
               "      processes doing no work; answer sizes learnt through CONFIG's router)\n"
               "  oks-bench seal-cost BYTES SECONDS\n"
               "      libsodium's seal and open of one frame, as CURVE does them (the floor\n"
               "      of what a CURVE link adds per frame)\n"
               "  oks-bench ldap-search PORT LIST SECONDS fpr|keyid|email CONNS\n"
               "      dirmngr's LDAP searches against slapd on 127.0.0.1:PORT (bench/ldap.sh)\n"
               "  oks-bench smtp-sink --port P --maildir DIR [--fsync]\n"
               "      SMTP server delivering into a maildir, for bench/mail.sh\n"
               "FPR_FILE holds one 40-hex fingerprint per line. Output: one line with rps and\n"
               "latency percentiles.\n");
}

int main(int argc, char **argv)
{
    gcry_check_version(NULL);
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    if (argc >= 2 && strcmp(argv[1], "mint") == 0)
        return bench_cmd_mint(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "upload") == 0 || strcmp(argv[1], "mixed") == 0))
        return bench_cmd_load(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "smtp-sink") == 0)
        return bench_smtp_sink(argc - 1, argv + 1);
    if (argc == 6 && strcmp(argv[1], "router-lookup") == 0)
        return bench_router_lookup(argv[2], argv[3], (unsigned)atoi(argv[4]), atof(argv[5]));
    if (argc == 6 && strcmp(argv[1], "transport-floor") == 0)
        return bench_transport_floor(argv[2], argv[3], (unsigned)atoi(argv[4]), atof(argv[5]));
    if (argc == 7 && strcmp(argv[1], "ldap-search") == 0)
        return bench_ldap_search((unsigned)atoi(argv[2]), argv[3], atof(argv[4]), argv[5],
                                 (unsigned)atoi(argv[6]));
    if (argc == 4 && strcmp(argv[1], "seal-cost") == 0)
        return bench_seal_cost(strtoul(argv[2], NULL, 10), atof(argv[3]));
    if (argc == 5 && strcmp(argv[1], "direct-lookup") == 0)
        return bench_direct_lookup(argv[2], argv[3], atof(argv[4]));
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
