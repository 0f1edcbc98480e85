/*
 * A budget for log lines an outsider can cause (refused connections): at most `per_minute`
 * lines in each 60-second window, and a source (a key, an address: any bytes) that already has a
 * line in this window gets no second one, so one peer retrying in a loop cannot spend the lines
 * that other peers' refusals need. What is not logged is counted, and the count is handed back
 * once when the window turns, for one summary line.
 */
#ifndef OKS_LOGBUDGET_H
#define OKS_LOGBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define OKS_LOGBUDGET_MAX 64 /* per_minute at most */

typedef struct oks_logbudget {
    unsigned per_minute;
    time_t window;
    unsigned logged, dropped;
    uint64_t seen[OKS_LOGBUDGET_MAX]; /* sources with a line in this window (hashes) */
} oks_logbudget;

void oks_logbudget_init(oks_logbudget *b, unsigned per_minute);
/* Whether a line about `src` (len bytes; len 0: no source, only the count applies) may be
 * written at `now`. *summary is set to the lines dropped in the window that just ended (0 if
 * none, or if the window did not turn). */
bool oks_logbudget_take(oks_logbudget *b, time_t now, const void *src, size_t len,
                        unsigned *summary);

#endif
