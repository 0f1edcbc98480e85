/* Fuzz target: one recon message body (type byte + body) through the parser; whatever parses
 * must write back and parse again to the same message, a Config goes through the peer check and
 * a Poly request's samples through the interpolation. The sync units are compiled in here because
 * fuzz targets link only lib/. */
#include "sync/poly.c"
#include "sync/recon_wire.c"
#include "sync/zzp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_recon_limits lim;
    oks_recon_limits_default(&lim);
    lim.max_elements = 4096;
    oks_recon_msg m, back;
    oks_err e;
    if (oks_recon_msg_parse(data, size, &lim, &m, &e) != 0)
        return 0;
    oks_buf b = OKS_BUF_INIT;
    uint32_t len;
    if (oks_recon_msg_write(&b, &m) != 0 || oks_recon_frame_len(b.data, &lim, &len, &e) != 0 ||
        len != b.len - 4 || oks_recon_msg_parse(b.data + 4, len, &lim, &back, &e) != 0)
        __builtin_trap();
    if (back.type != m.type || back.nelems != m.nelems || back.nkv != m.nkv ||
        back.size != m.size || back.prefix.nbits != m.prefix.nbits ||
        memcmp(back.prefix.b, m.prefix.b, sizeof m.prefix.b) != 0)
        __builtin_trap();
    if (m.type == OKS_RECON_CONFIG) {
        oks_recon_config mine = {"1.1.6", 11371, 2, 5, "yminsky.dedup,yminsky.merge"};
        uint32_t port;
        oks_recon_config_check(&m, &mine, &port, &e);
    }
    if (m.type == OKS_RECON_RQST_POLY) {
        oks_zzp ro[OKS_RECON_MBAR], lo[OKS_RECON_MBAR];
        int nr, nl;
        int rc = oks_recon_interpolate(m.samples, (int64_t)m.size % 7, ro, &nr, lo, &nl, &e);
        if ((rc != 0 && rc != OKS_E_LIMIT) || nr > OKS_RECON_MBAR || nl > OKS_RECON_MBAR)
            __builtin_trap();
    }
    oks_recon_msg_release(&back);
    oks_recon_msg_release(&m);
    oks_buf_release(&b);
    return 0;
}
