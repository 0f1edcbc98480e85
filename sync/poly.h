/*
 * sync/poly: small polynomials over Z/pZ and the rational-function interpolation of SKS recon
 * (protocols.md §2.9): from the ratios f_j = chi_R(k_j)/chi_L(k_j) at the 6 sample points and
 * d = |R| - |L|, recover R\L and L\R when together they hold at most 5 elements. Degrees are
 * bounded (OKS_POLY_MAX), no allocation; pure functions.
 */
#ifndef OKS_SYNC_POLY_H
#define OKS_SYNC_POLY_H

#include "lib/err.h"
#include "sync/zzp.h"

#define OKS_POLY_MAX 16
#define OKS_RECON_MBAR 5
#define OKS_RECON_SAMPLES (OKS_RECON_MBAR + 1)

typedef struct oks_poly {
    int deg;                         /* -1 for the zero polynomial */
    oks_zzp c[OKS_POLY_MAX + 1];     /* c[i] is the coefficient of z^i */
} oks_poly;

void oks_poly_zero(oks_poly *p);
/* Evaluates at x (Horner). */
oks_zzp oks_poly_eval(const oks_poly *p, oks_zzp x);
/* q = a / b, r = a mod b (q or r may be NULL); fails if b is zero. */
int oks_poly_divmod(const oks_poly *a, const oks_poly *b, oks_poly *q, oks_poly *r);
/* Monic gcd. */
int oks_poly_gcd(const oks_poly *a, const oks_poly *b, oks_poly *g);
/* 1 if f (degree >= 1) is a product of distinct linear factors: z^p == z (mod f). */
int oks_poly_splits(const oks_poly *f);
/* Roots of f, which must split into distinct linear factors (Cantor-Zassenhaus). */
int oks_poly_roots(const oks_poly *f, oks_zzp *roots, int *n);

/* The sample points 0, -1, 1, -2, 2, -3. */
oks_zzp oks_recon_point(int i);

/*
 * Interpolation step of the responder: values[i] = rsamples[i] / lsamples[i], d = rsize - lsize.
 * On success fills remote_only (roots of P: elements only the requester has) and local_only
 * (roots of Q), each at most OKS_RECON_MBAR, and returns 0; returns OKS_E_LIMIT ("low mbar")
 * when the difference cannot be recovered at this node.
 */
int oks_recon_interpolate(const oks_zzp values[OKS_RECON_SAMPLES], int64_t d,
                          oks_zzp *remote_only, int *n_remote, oks_zzp *local_only, int *n_local,
                          oks_err *e);

#endif
