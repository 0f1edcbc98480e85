/* bench/zipf.h: inverse-transform sampling on the cumulative table (binary search). */
#include "bench/zipf.h"

#include <math.h>
#include <stdlib.h>

struct bench_zipf {
    size_t n;
    double *cdf; /* cdf[r]: probability of a rank <= r; cdf[n - 1] is 1 */
};

bench_zipf *bench_zipf_new(size_t n, double s)
{
    if (n == 0 || !(s > 0) || !isfinite(s) || n > SIZE_MAX / sizeof(double))
        return NULL;
    bench_zipf *z = malloc(sizeof *z);
    double *cdf = malloc(n * sizeof *cdf);
    if (!z || !cdf) {
        free(z);
        free(cdf);
        return NULL;
    }
    double t = 0;
    for (size_t r = 0; r < n; r++) {
        t += pow((double)(r + 1), -s);
        cdf[r] = t;
    }
    for (size_t r = 0; r < n; r++)
        cdf[r] /= t;
    cdf[n - 1] = 1.0;
    z->n = n;
    z->cdf = cdf;
    return z;
}

void bench_zipf_free(bench_zipf *z)
{
    if (z)
        free(z->cdf);
    free(z);
}

size_t bench_zipf_pick(const bench_zipf *z, uint64_t u)
{
    double x = (double)(u >> 11) * 0x1p-53; /* [0, 1) */
    size_t lo = 0, hi = z->n - 1;           /* the first rank whose cdf exceeds x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double bench_zipf_mass(const bench_zipf *z, size_t k)
{
    if (k == 0)
        return 0;
    return z->cdf[(k > z->n ? z->n : k) - 1];
}
