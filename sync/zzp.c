/*
 * sync/zzp: Z/pZ for recon (see zzp.h). Montgomery multiplication, CIOS form, 3 limbs,
 * R = 2^192. Since p < 2^129 < R/4, one final subtraction keeps every result below p.
 */
#include "sync/zzp.h"

#include <pthread.h>
#include <string.h>

typedef unsigned __int128 u128;

const uint64_t oks_zzp_p[3] = {0xc91f85d930a5431bULL, 0x8f1d10e4878b1fdfULL, 0x1ULL};
const uint64_t oks_zzp_p_half[3] = {0xe48fc2ec9852a18dULL, 0xc78e887243c58fefULL, 0x0ULL};
static const uint64_t P_MINUS_2[3] = {0xc91f85d930a54319ULL, 0x8f1d10e4878b1fdfULL, 0x1ULL};
/* -p^-1 mod 2^64 */
static const uint64_t NINV = 0x6320d927c830a0edULL;
/* R^2 mod p and R mod p (Montgomery one), computed once by init() */
static uint64_t r2[3], rone[3];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int geq(const uint64_t *a, const uint64_t *b)
{
    for (int i = 2; i >= 0; i--) {
        if (a[i] != b[i])
            return a[i] > b[i];
    }
    return 1;
}

static void sub_p(uint64_t *a)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        u128 d = (u128)a[i] - oks_zzp_p[i] - borrow;
        a[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) ? 1 : 0;
    }
}

static void mont_mul(uint64_t r[3], const uint64_t a[3], const uint64_t b[3])
{
    uint64_t t[5] = {0};
    for (int i = 0; i < 3; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 3; j++) {
            u128 s = (u128)a[j] * b[i] + t[j] + carry;
            t[j] = (uint64_t)s;
            carry = (uint64_t)(s >> 64);
        }
        u128 s = (u128)t[3] + carry;
        t[3] = (uint64_t)s;
        t[4] = (uint64_t)(s >> 64);
        uint64_t m = t[0] * NINV;
        s = (u128)m * oks_zzp_p[0] + t[0];
        carry = (uint64_t)(s >> 64);
        for (int j = 1; j < 3; j++) {
            s = (u128)m * oks_zzp_p[j] + t[j] + carry;
            t[j - 1] = (uint64_t)s;
            carry = (uint64_t)(s >> 64);
        }
        s = (u128)t[3] + carry;
        t[2] = (uint64_t)s;
        t[3] = t[4] + (uint64_t)(s >> 64);
    }
    /* t < 2p < 2^130 fits in t[0..2] with t[3] == 0 */
    if (t[3] || geq(t, oks_zzp_p))
        sub_p(t);
    memcpy(r, t, 3 * sizeof *r);
}

/* plain (non-Montgomery) a + b mod p for reduced a, b */
static void add_plain(uint64_t r[3], const uint64_t a[3], const uint64_t b[3])
{
    uint64_t carry = 0;
    for (int i = 0; i < 3; i++) {
        u128 s = (u128)a[i] + b[i] + carry;
        r[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    if (geq(r, oks_zzp_p))
        sub_p(r);
}

static void compute_constants(void)
{
    /* 2^192 mod p and 2^384 mod p by doubling 1 */
    uint64_t x[3] = {1, 0, 0}, o[3] = {0};
    for (int i = 0; i < 384; i++) {
        add_plain(x, x, x);
        if (i == 191)
            memcpy(o, x, sizeof o);
    }
    memcpy(rone, o, sizeof rone);
    memcpy(r2, x, sizeof r2);
}

static void init(void)
{
    pthread_once(&once, compute_constants);
}

static oks_zzp to_mont(const uint64_t v[3])
{
    init();
    oks_zzp z;
    mont_mul(z.w, v, r2);
    return z;
}

static void from_mont(oks_zzp a, uint64_t v[3])
{
    static const uint64_t one[3] = {1, 0, 0};
    mont_mul(v, a.w, one);
}

oks_zzp oks_zzp_zero(void)
{
    return (oks_zzp){{0, 0, 0}};
}

oks_zzp oks_zzp_one(void)
{
    init();
    oks_zzp z;
    memcpy(z.w, rone, sizeof z.w);
    return z;
}

oks_zzp oks_zzp_from_int(int64_t v)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t w[3] = {m, 0, 0};
    oks_zzp z = to_mont(w);
    return v < 0 ? oks_zzp_neg(z) : z;
}

oks_zzp oks_zzp_from_bytes(const uint8_t b[OKS_ZZP_BYTES])
{
    uint64_t w[3] = {0, 0, 0};
    for (int i = 0; i < OKS_ZZP_BYTES; i++)
        w[i / 8] |= (uint64_t)b[i] << (8 * (i % 8));
    /* w < 2^136: mont_mul(w, R^2) = w*R mod p exactly (w*R^2/R < p*2^136/2^192 < p) */
    return to_mont(w);
}

void oks_zzp_to_bytes(oks_zzp a, uint8_t b[OKS_ZZP_BYTES])
{
    uint64_t v[3];
    from_mont(a, v);
    for (int i = 0; i < OKS_ZZP_BYTES; i++)
        b[i] = (uint8_t)(v[i / 8] >> (8 * (i % 8)));
}

oks_zzp oks_zzp_from_hash(const uint8_t h[16])
{
    uint8_t b[OKS_ZZP_BYTES];
    memcpy(b, h, 16);
    b[16] = 0;
    return oks_zzp_from_bytes(b);
}

int oks_zzp_to_hash(oks_zzp a, uint8_t h[16])
{
    uint8_t b[OKS_ZZP_BYTES];
    oks_zzp_to_bytes(a, b);
    memcpy(h, b, 16);
    return b[16] ? -1 : 0;
}

char *oks_zzp_to_dec(oks_zzp a, char *out, size_t size)
{
    uint64_t v[3];
    from_mont(a, v);
    char tmp[48];
    int n = 0;
    do {
        /* divide v by 10 */
        u128 rem = 0;
        for (int i = 2; i >= 0; i--) {
            u128 cur = (rem << 64) | v[i];
            v[i] = (uint64_t)(cur / 10);
            rem = cur % 10;
        }
        tmp[n++] = (char)('0' + (int)rem);
    } while (v[0] || v[1] || v[2]);
    size_t k = 0;
    while (n > 0 && k + 1 < size)
        out[k++] = tmp[--n];
    if (size)
        out[k] = '\0';
    return out;
}

oks_zzp oks_zzp_add(oks_zzp a, oks_zzp b)
{
    oks_zzp r;
    add_plain(r.w, a.w, b.w);
    return r;
}

oks_zzp oks_zzp_neg(oks_zzp a)
{
    if (oks_zzp_is_zero(a))
        return a;
    oks_zzp r;
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        u128 d = (u128)oks_zzp_p[i] - a.w[i] - borrow;
        r.w[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) ? 1 : 0;
    }
    return r;
}

oks_zzp oks_zzp_sub(oks_zzp a, oks_zzp b)
{
    return oks_zzp_add(a, oks_zzp_neg(b));
}

oks_zzp oks_zzp_mul(oks_zzp a, oks_zzp b)
{
    oks_zzp r;
    mont_mul(r.w, a.w, b.w);
    return r;
}

oks_zzp oks_zzp_pow(oks_zzp a, const uint64_t e[3])
{
    oks_zzp r = oks_zzp_one();
    for (int i = 2; i >= 0; i--) {
        for (int bit = 63; bit >= 0; bit--) {
            r = oks_zzp_mul(r, r);
            if ((e[i] >> bit) & 1)
                r = oks_zzp_mul(r, a);
        }
    }
    return r;
}

oks_zzp oks_zzp_inv(oks_zzp a)
{
    return oks_zzp_pow(a, P_MINUS_2);
}

oks_zzp oks_zzp_div(oks_zzp a, oks_zzp b)
{
    return oks_zzp_mul(a, oks_zzp_inv(b));
}

int oks_zzp_eq(oks_zzp a, oks_zzp b)
{
    return a.w[0] == b.w[0] && a.w[1] == b.w[1] && a.w[2] == b.w[2];
}

int oks_zzp_is_zero(oks_zzp a)
{
    return !(a.w[0] | a.w[1] | a.w[2]);
}

int oks_zzp_cmp(oks_zzp a, oks_zzp b)
{
    uint64_t x[3], y[3];
    from_mont(a, x);
    from_mont(b, y);
    for (int i = 2; i >= 0; i--) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}
