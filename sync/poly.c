/*
 * sync/poly: polynomials over Z/pZ for recon, and the interpolation of protocols.md §2.9:
 * Gauss-Jordan on the 5 first sample points (a column without pivot leaves its unknown at 0),
 * gcd to remove the spurious common factor, check at the 6th point, split check z^p == z mod P,
 * Cantor-Zassenhaus root finding with a deterministic generator (any a works with probability
 * about 1/2, so a few tries suffice).
 */
#include "sync/poly.h"

#include <string.h>

static void trim(oks_poly *p)
{
    while (p->deg >= 0 && oks_zzp_is_zero(p->c[p->deg]))
        p->deg--;
}

void oks_poly_zero(oks_poly *p)
{
    p->deg = -1;
    for (int i = 0; i <= OKS_POLY_MAX; i++)
        p->c[i] = oks_zzp_zero();
}

oks_zzp oks_poly_eval(const oks_poly *p, oks_zzp x)
{
    oks_zzp r = oks_zzp_zero();
    for (int i = p->deg; i >= 0; i--)
        r = oks_zzp_add(oks_zzp_mul(r, x), p->c[i]);
    return r;
}

int oks_poly_divmod(const oks_poly *a, const oks_poly *b, oks_poly *q, oks_poly *r)
{
    if (b->deg < 0)
        return OKS_E_ARG;
    oks_poly rem = *a, quo;
    oks_poly_zero(&quo);
    oks_zzp lead_inv = oks_zzp_inv(b->c[b->deg]);
    trim(&rem);
    while (rem.deg >= b->deg) {
        int shift = rem.deg - b->deg;
        oks_zzp f = oks_zzp_mul(rem.c[rem.deg], lead_inv);
        quo.c[shift] = f;
        if (quo.deg < shift)
            quo.deg = shift;
        for (int i = 0; i <= b->deg; i++)
            rem.c[i + shift] = oks_zzp_sub(rem.c[i + shift], oks_zzp_mul(f, b->c[i]));
        rem.c[rem.deg] = oks_zzp_zero(); /* exact, whatever rounding of the loop */
        trim(&rem);
    }
    if (q)
        *q = quo;
    if (r)
        *r = rem;
    return 0;
}

static void make_monic(oks_poly *p)
{
    if (p->deg < 0)
        return;
    oks_zzp inv = oks_zzp_inv(p->c[p->deg]);
    for (int i = 0; i <= p->deg; i++)
        p->c[i] = oks_zzp_mul(p->c[i], inv);
}

int oks_poly_gcd(const oks_poly *a, const oks_poly *b, oks_poly *g)
{
    oks_poly x = *a, y = *b, r;
    trim(&x);
    trim(&y);
    while (y.deg >= 0) {
        int rc = oks_poly_divmod(&x, &y, NULL, &r);
        if (rc)
            return rc;
        x = y;
        y = r;
    }
    make_monic(&x);
    *g = x;
    return 0;
}

/* r = a * b mod f, deg a, deg b < deg f <= OKS_POLY_MAX / 2 */
static void mulmod(const oks_poly *a, const oks_poly *b, const oks_poly *f, oks_poly *r)
{
    oks_poly t;
    oks_poly_zero(&t);
    if (a->deg >= 0 && b->deg >= 0) {
        for (int i = 0; i <= a->deg; i++)
            for (int j = 0; j <= b->deg; j++)
                t.c[i + j] = oks_zzp_add(t.c[i + j], oks_zzp_mul(a->c[i], b->c[j]));
        t.deg = a->deg + b->deg;
        trim(&t);
    }
    oks_poly_divmod(&t, f, NULL, r);
}

/* base^e mod f, e as three little-endian limbs */
static void powmod(const oks_poly *base, const uint64_t e[3], const oks_poly *f, oks_poly *r)
{
    oks_poly acc, b;
    oks_poly_zero(&acc);
    acc.c[0] = oks_zzp_one();
    acc.deg = 0;
    oks_poly_divmod(base, f, NULL, &b);
    for (int i = 2; i >= 0; i--) {
        for (int bit = 63; bit >= 0; bit--) {
            mulmod(&acc, &acc, f, &acc);
            if ((e[i] >> bit) & 1)
                mulmod(&acc, &b, f, &acc);
        }
    }
    oks_poly_divmod(&acc, f, NULL, r);
}

static void poly_z(oks_poly *z)
{
    oks_poly_zero(z);
    z->c[1] = oks_zzp_one();
    z->deg = 1;
}

int oks_poly_splits(const oks_poly *f)
{
    if (f->deg < 0 || f->deg > OKS_POLY_MAX / 2)
        return 0;
    if (f->deg <= 1)
        return 1;
    oks_poly z, zp, zmod;
    poly_z(&z);
    powmod(&z, oks_zzp_p, f, &zp);
    oks_poly_divmod(&z, f, NULL, &zmod);
    if (zp.deg != zmod.deg)
        return 0;
    for (int i = 0; i <= zp.deg; i++)
        if (!oks_zzp_eq(zp.c[i], zmod.c[i]))
            return 0;
    return 1;
}

static uint64_t next_rand(uint64_t *s)
{
    /* splitmix64: reproducible, good enough to pick splitting shifts */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int roots_rec(const oks_poly *f, oks_zzp *roots, int *n, uint64_t *seed, int depth)
{
    if (f->deg <= 0)
        return 0;
    if (f->deg == 1) {
        /* c1 z + c0: root -c0/c1 */
        roots[(*n)++] = oks_zzp_neg(oks_zzp_div(f->c[0], f->c[1]));
        return 0;
    }
    if (depth > 64)
        return OKS_E_LIMIT;
    for (int tries = 0; tries < 128; tries++) {
        oks_poly za, h, g;
        poly_z(&za);
        za.c[0] = oks_zzp_from_int((int64_t)(next_rand(seed) >> 2));
        powmod(&za, oks_zzp_p_half, f, &h);
        /* h - 1 */
        if (h.deg < 0) {
            h.c[0] = oks_zzp_from_int(-1);
            h.deg = 0;
        } else {
            h.c[0] = oks_zzp_sub(h.c[0], oks_zzp_one());
            trim(&h);
        }
        if (oks_poly_gcd(f, &h, &g))
            return OKS_E_ARG;
        if (g.deg > 0 && g.deg < f->deg) {
            oks_poly q;
            oks_poly_divmod(f, &g, &q, NULL);
            int rc = roots_rec(&g, roots, n, seed, depth + 1);
            if (rc == 0)
                rc = roots_rec(&q, roots, n, seed, depth + 1);
            return rc;
        }
    }
    return OKS_E_LIMIT;
}

int oks_poly_roots(const oks_poly *f, oks_zzp *roots, int *n)
{
    uint64_t seed = 0x6f6b732d7265636fULL;
    oks_poly g = *f;
    trim(&g);
    *n = 0;
    if (g.deg < 0 || g.deg > OKS_POLY_MAX / 2)
        return OKS_E_ARG;
    return roots_rec(&g, roots, n, &seed, 0);
}

oks_zzp oks_recon_point(int i)
{
    int64_t v = (i + 1) / 2;
    return oks_zzp_from_int(i % 2 ? -v : v);
}

static oks_zzp zpow_small(oks_zzp x, int k)
{
    oks_zzp r = oks_zzp_one();
    for (int i = 0; i < k; i++)
        r = oks_zzp_mul(r, x);
    return r;
}

int oks_recon_interpolate(const oks_zzp values[OKS_RECON_SAMPLES], int64_t d,
                          oks_zzp *remote_only, int *n_remote, oks_zzp *local_only, int *n_local,
                          oks_err *e)
{
    int m = OKS_RECON_MBAR;
    *n_remote = *n_local = 0;
    if (d > m || d < -m)
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "low mbar: size difference %lld",
                           (long long)d);
    if ((m + d) % 2)
        m--;
    int ma = (int)((m + d) / 2), mb = (int)((m - d) / 2);
    /* m x (m+1) augmented matrix; columns a_0..a_{ma-1}, b_0..b_{mb-1}, rhs */
    oks_zzp mat[OKS_RECON_MBAR][OKS_RECON_MBAR + 1];
    for (int j = 0; j < m; j++) {
        oks_zzp k = oks_recon_point(j), f = values[j], kp = oks_zzp_one();
        for (int i = 0; i < ma; i++) {
            mat[j][i] = kp;
            kp = oks_zzp_mul(kp, k);
        }
        kp = oks_zzp_one();
        for (int i = 0; i < mb; i++) {
            mat[j][ma + i] = oks_zzp_neg(oks_zzp_mul(f, kp));
            kp = oks_zzp_mul(kp, k);
        }
        mat[j][m] = oks_zzp_sub(oks_zzp_mul(f, zpow_small(k, mb)), zpow_small(k, ma));
    }
    /* Gauss-Jordan; pivcol[r] = column of row r's pivot */
    int pivcol[OKS_RECON_MBAR], rows = 0;
    for (int c = 0; c < m && rows < m; c++) {
        int pr = -1;
        for (int r = rows; r < m; r++)
            if (!oks_zzp_is_zero(mat[r][c])) {
                pr = r;
                break;
            }
        if (pr < 0)
            continue;
        if (pr != rows)
            for (int i = 0; i <= m; i++) {
                oks_zzp t = mat[pr][i];
                mat[pr][i] = mat[rows][i];
                mat[rows][i] = t;
            }
        oks_zzp inv = oks_zzp_inv(mat[rows][c]);
        for (int i = 0; i <= m; i++)
            mat[rows][i] = oks_zzp_mul(mat[rows][i], inv);
        for (int r = 0; r < m; r++) {
            if (r == rows || oks_zzp_is_zero(mat[r][c]))
                continue;
            oks_zzp f = mat[r][c];
            for (int i = 0; i <= m; i++)
                mat[r][i] = oks_zzp_sub(mat[r][i], oks_zzp_mul(f, mat[rows][i]));
        }
        pivcol[rows++] = c;
    }
    oks_zzp x[OKS_RECON_MBAR];
    for (int i = 0; i < m; i++)
        x[i] = oks_zzp_zero();
    for (int r = 0; r < rows; r++)
        x[pivcol[r]] = mat[r][m];
    oks_poly p, q, g, pr, qr;
    oks_poly_zero(&p);
    oks_poly_zero(&q);
    for (int i = 0; i < ma; i++)
        p.c[i] = x[i];
    p.c[ma] = oks_zzp_one();
    p.deg = ma;
    for (int i = 0; i < mb; i++)
        q.c[i] = x[ma + i];
    q.c[mb] = oks_zzp_one();
    q.deg = mb;
    oks_poly_gcd(&p, &q, &g);
    oks_poly_divmod(&p, &g, &pr, NULL);
    oks_poly_divmod(&q, &g, &qr, NULL);
    /* check at the last point */
    oks_zzp k5 = oks_recon_point(OKS_RECON_MBAR);
    oks_zzp qv = oks_poly_eval(&qr, k5);
    if (oks_zzp_is_zero(qv) ||
        !oks_zzp_eq(oks_zzp_div(oks_poly_eval(&pr, k5), qv), values[OKS_RECON_MBAR]))
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "low mbar: interpolation fails at the check point");
    if (!oks_poly_splits(&pr) || !oks_poly_splits(&qr))
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "low mbar: polynomial does not split into distinct roots");
    if (oks_poly_roots(&pr, remote_only, n_remote) || oks_poly_roots(&qr, local_only, n_local) ||
        *n_remote != pr.deg || *n_local != qr.deg) {
        *n_remote = *n_local = 0;
        return oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "low mbar: root finding failed");
    }
    return 0;
}
