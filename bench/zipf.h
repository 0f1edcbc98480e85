/* A Zipf distribution over the ranks 0..n-1 of a key list: rank r is picked with probability
 * proportional to 1 / (r + 1)^s. Lookups on a public keyserver are skewed this way (a few
 * well-known keys are asked for far more often than the rest); the benchmarks use it beside
 * uniform picks. The table is the cumulative distribution, one double per rank. */
#ifndef OKS_BENCH_ZIPF_H
#define OKS_BENCH_ZIPF_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_zipf bench_zipf;

/* n >= 1, s > 0 and finite. NULL on bad arguments or when out of memory. */
bench_zipf *bench_zipf_new(size_t n, double s);
void bench_zipf_free(bench_zipf *z);
/* The rank of a uniform draw u (any 64-bit value). */
size_t bench_zipf_pick(const bench_zipf *z, uint64_t u);
/* The probability that a pick falls among the first k ranks (k <= n). */
double bench_zipf_mass(const bench_zipf *z, size_t k);

#endif
