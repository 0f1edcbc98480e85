/*
 * oks-bench seal-cost BYTES SECONDS: what libzmq's CURVE does to each frame, alone. libzmq 4.3
 * seals a frame with libsodium's crypto_box_easy_afternm (XSalsa20-Poly1305 under the key agreed
 * at the handshake) and opens it with crypto_box_open_easy_afternm; this times both on a buffer
 * of BYTES random bytes, in cache, with nothing else around them (in CPU time of the thread, so
 * other work on the box counts little): the least CPU a CURVE link adds per frame of that size. bench/curve.sh uses it for the floor of CURVE / plain.
 */
#include "bench/bench.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CPU time of this thread, s: other work on the box does not count */
static double cpu_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int bench_seal_cost(size_t bytes, double seconds)
{
    if (sodium_init() < 0 || bytes == 0 || bytes > (64u << 20) || !(seconds > 0)) {
        fprintf(stderr, "oks-bench seal-cost: BYTES 1..64 MiB, SECONDS > 0\n");
        return 2;
    }
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    unsigned char k[crypto_box_BEFORENMBYTES], nonce[crypto_box_NONCEBYTES];
    unsigned char *plain = malloc(bytes), *box = malloc(bytes + crypto_box_MACBYTES),
                  *back = malloc(bytes);
    int rc = 1;
    if (!plain || !box || !back)
        goto out;
    crypto_box_keypair(pk, sk);
    if (crypto_box_beforenm(k, pk, sk) != 0)
        goto out;
    randombytes_buf(plain, bytes);
    randombytes_buf(nonce, sizeof nonce);
    double seal_s = 0, open_s = 0;
    unsigned long n = 0;
    double end = bench_now_s() + seconds;
    while (bench_now_s() < end) {
        double t0 = cpu_now_s();
        for (int i = 0; i < 64; i++)
            crypto_box_easy_afternm(box, plain, bytes, nonce, k);
        double t1 = cpu_now_s();
        for (int i = 0; i < 64; i++)
            if (crypto_box_open_easy_afternm(back, box, bytes + crypto_box_MACBYTES, nonce, k))
                goto out;
        open_s += cpu_now_s() - t1;
        seal_s += t1 - t0;
        n += 64;
    }
    printf("seal bytes=%zu frames=%lu seal_us=%.2f open_us=%.2f\n", bytes, n, seal_s * 1e6 / n,
           open_s * 1e6 / n);
    rc = 0;
out:
    free(plain);
    free(box);
    free(back);
    return rc;
}
