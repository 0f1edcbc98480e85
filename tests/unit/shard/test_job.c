/* shard/job: queues hand jobs over in order and stop without blocking; a job expires only once
 * its own deadline, counted from when the shard received it, has passed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "shard/job.h"

#include <stdlib.h>

static oks_job *job_with_deadline(uint32_t deadline_ms, uint64_t received_ms)
{
    oks_job *j = calloc(1, sizeof *j);
    zmq_msg_init(&j->conn);
    zmq_msg_init(&j->rid);
    j->req = calloc(1, sizeof *j->req);
    oks__request__init(j->req);
    j->req->deadline_ms = deadline_ms;
    j->received_ms = received_ms;
    return j;
}

static void a_job_expires_after_its_deadline_only(void **state)
{
    (void)state;
    oks_job *j = job_with_deadline(1000, 50000);
    assert_false(oks_job_expired(j, 50000, 0));
    assert_false(oks_job_expired(j, 51000, 0)); /* exactly at the deadline: still wanted */
    assert_true(oks_job_expired(j, 51001, 0));
    assert_false(oks_job_expired(j, 40000, 0)); /* a clock that went back: not expired */
    assert_true(oks_job_expired(j, 51001, 5000)); /* its own deadline, not the default */
    oks_job_free(j);
}

static void a_job_without_deadline_never_expires(void **state)
{
    (void)state;
    oks_job *j = job_with_deadline(0, 1);
    assert_false(oks_job_expired(j, UINT64_MAX, 0));
    oks_job_free(j);
}

/* deadline_ms 0 means the receiver's default: the router's deadline, after which nobody waits */
static void a_job_without_deadline_takes_the_default(void **state)
{
    (void)state;
    oks_job *j = job_with_deadline(0, 1000);
    assert_false(oks_job_expired(j, 6000, 5000));
    assert_true(oks_job_expired(j, 6001, 5000));
    oks_job_free(j);
}

static void queues_keep_order_and_stop(void **state)
{
    (void)state;
    oks_jobq q;
    oks_jobq_init(&q);
    oks_job *a = job_with_deadline(1, 1), *b = job_with_deadline(2, 2);
    oks_jobq_push(&q, a);
    oks_jobq_push(&q, b);
    assert_ptr_equal(oks_jobq_pop(&q), a);
    oks_jobq_stop(&q);
    assert_ptr_equal(oks_jobq_pop(&q), b); /* stopped: what was queued still comes out */
    assert_null(oks_jobq_pop(&q));        /* then nothing, without blocking */
    oks_jobq_drain(&q);
    oks_job_free(a);
    oks_job_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_job_expires_after_its_deadline_only),
        cmocka_unit_test(a_job_without_deadline_never_expires),
        cmocka_unit_test(a_job_without_deadline_takes_the_default),
        cmocka_unit_test(queues_keep_order_and_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
