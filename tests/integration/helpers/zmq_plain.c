/* A plain ZeroMQ client (no CURVE): sends one Health request to ENDPOINT and waits up to MS
 * milliseconds for any answer. Exit 0: answered; 1: no answer; 2: usage or socket error.
 * Built and run by tests/integration/90-security-curve.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: zmq_plain ENDPOINT MS\n");
        return 2;
    }
    void *z = zmq_ctx_new(), *s = zmq_socket(z, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(s, argv[1]) != 0)
        return 2;
    /* Request{version: 1, health: {}} */
    static const unsigned char req[] = {0x08, 0x01, 0x92, 0x01, 0x00};
    unsigned char id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    zmq_send(s, id, sizeof id, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(s, req, sizeof req, ZMQ_DONTWAIT);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int r = zmq_poll(&it, 1, atoi(argv[2]));
    printf("%s\n", r > 0 ? "answered" : "no answer");
    zmq_close(s);
    zmq_ctx_term(z);
    return r > 0 ? 0 : 1;
}
