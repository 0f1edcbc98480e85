/*
 * OpenPGP transferable public keys as a keyserver keeps them (RFC 4880, RFC 9580).
 *
 * A key is built only by parsing a binary packet sequence (oks_pgp_key_parse). The parsed key
 * owns one private copy of the input (key->storage); every body pointer in the structures below
 * points into that copy and stays valid until oks_pgp_key_free. Parsing always yields the
 * canonical form: packets a keyserver does not keep are dropped (trust, marker, padding,
 * private/experimental tags), duplicate packets removed, repeated user IDs / subkeys merged with
 * their signature lists unioned (subkeys by fingerprint: of two packets that differ only after
 * the key material, the greater by (length, bytes) is kept), and everything put in one
 * deterministic order:
 *   primary; direct-key signatures; user IDs and user attributes sorted by (body length, tag,
 *   body bytes) as SKS orders them, each followed by its signatures; subkeys sorted by (body
 *   length, body bytes), each followed by its signatures; signatures of one list sorted by
 *   (creation time, body bytes, length).
 * So merge(a, b) == merge(b, a), merge(a, a) == a, and the served bytes of a key are stable.
 *
 * Verification (oks_pgp_key_verify) is a separate step: it checks self-signatures with
 * libgcrypt within a work budget, drops the ones that fail, then drops user IDs and subkeys
 * left without a valid self-signature, and keeps third-party signatures (unverified, wherever
 * they sit) within a budget fixed by the key's content, oldest first.
 * Signatures parsed with OKS_PGP_TRUSTED (stored keys, already verified) are never verified
 * again.
 */
#ifndef OKS_PGP_H
#define OKS_PGP_H

#include "lib/buf.h"
#include "lib/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---------------------------------------------------------------------------- */

typedef struct oks_pgp_limits {
    size_t max_key_bytes;        /* whole key as serialized; default 1 MiB (larger: rejected) */
    size_t max_packet_bytes;     /* key, subkey, user ID packets; default 8 KiB (larger: dropped) */
    size_t max_attribute_bytes;  /* user attribute packets; default 64 KiB (larger: dropped) */
    size_t max_sig_bytes;        /* signature packets; default 64 KiB (larger: dropped) */
    size_t max_packets;          /* packets per key; default 20000 (more: rejected) */
    size_t max_uids;             /* user IDs + attributes per key; default 256 (more: rejected) */
    size_t max_subkeys;          /* default 256 (more: rejected) */
    size_t max_sigs_per_uid;     /* all signatures on one user ID before cleaning; default 5000 */
    size_t max_third_party_per_uid; /* third-party signatures kept per user ID after cleaning,
                                       oldest first; default 256 */
    size_t max_third_party_per_key; /* shared by the user IDs (each keeps at most this / user
                                       IDs, at least 1); the primary and the subkeys share a
                                       sixteenth of it; default 2048 */
    size_t max_third_party_sig_bytes; /* larger third-party signatures dropped; default 3 KiB
                                         (the largest of debian-keyring: 2162) */
    size_t max_verify_cost; /* public-key work per cleaning, in units of one RSA-2048 check
                               (see oks_pgp_verify_cost); more: key refused; default 10000 */
} oks_pgp_limits;

/* What GnuPG 2.2 / 2.4 refuse to import (the whole key fails, "invalid packet"); such packets
 * are dropped while parsing, so no stored or served key carries them. */
#define OKS_PGP_MAX_SUBPACKET_AREA 10000 /* hashed or unhashed subpacket area of a signature */
#define OKS_PGP_MAX_UID_BYTES 2048       /* user ID packet body */
#define OKS_PGP_MAX_MPI_BITS 16384       /* any MPI of a key or signature */
/* RSA public exponents longer than this are refused (OpenSSL's limit for moduli over 3072
 * bits; real keys use 3 .. 65537): verification costs time linear in the exponent's length. */
#define OKS_PGP_MAX_RSA_EXP_BITS 64

void oks_pgp_limits_default(oks_pgp_limits *l);

/* ---- packets --------------------------------------------------------------------------- */

enum oks_pgp_tag {
    OKS_PGP_TAG_SIG = 2,
    OKS_PGP_TAG_SECKEY = 5,
    OKS_PGP_TAG_PUBKEY = 6,
    OKS_PGP_TAG_SECSUBKEY = 7,
    OKS_PGP_TAG_MARKER = 10,
    OKS_PGP_TAG_TRUST = 12,
    OKS_PGP_TAG_UID = 13,
    OKS_PGP_TAG_PUBSUBKEY = 14,
    OKS_PGP_TAG_UAT = 17,
    OKS_PGP_TAG_PADDING = 21,
};

typedef struct oks_pgp_packet {
    uint8_t tag;
    bool new_format;
    size_t offset;       /* of the header in the input */
    size_t header_len;
    const uint8_t *body; /* borrowed from the input */
    size_t len;
} oks_pgp_packet;

/* Reads one packet at *off of p[0..n); advances *off. Rejects partial body lengths and
 * indeterminate lengths (never valid in key material), and lengths past the end. */
int oks_pgp_packet_next(const uint8_t *p, size_t n, size_t *off, oks_pgp_packet *pkt,
                        oks_err *e);

/* Appends a packet header + body. Old format for tags < 16 unless force_new; otherwise new. */
int oks_pgp_packet_write(oks_buf *out, uint8_t tag, const uint8_t *body, size_t len,
                         bool force_new);

/* The form of a stored key served to clients: key packets (tag 6, 14) with bytes after their
 * last public field lose those bytes (gpg ignores them, sq refuses the key); nothing else
 * changes, and the fingerprints and signatures are the same. Returns 1 with the packets
 * appended to out, 0 when the key has no such bytes (or does not parse: served as stored;
 * out untouched), or a negative OKS_E_* (out of memory). Stored keys, their SKS hashes and
 * GetByHash answers (recon, replicas) keep the form as received. */
int oks_pgp_key_client_form(const uint8_t *p, size_t n, oks_buf *out);

/* ---- keys ------------------------------------------------------------------------------ */

enum oks_pgp_algo {
    OKS_PGP_RSA = 1, OKS_PGP_RSA_E = 2, OKS_PGP_RSA_S = 3, OKS_PGP_ELGAMAL_E = 16,
    OKS_PGP_DSA = 17, OKS_PGP_ECDH = 18, OKS_PGP_ECDSA = 19, OKS_PGP_ELGAMAL = 20,
    OKS_PGP_EDDSA = 22, OKS_PGP_X25519 = 25, OKS_PGP_X448 = 26, OKS_PGP_ED25519 = 27,
    OKS_PGP_ED448 = 28,
};

typedef struct oks_pgp_pubkey {
    const uint8_t *body; /* tag 6 / 14 packet body */
    size_t len;
    uint8_t tag;
    uint8_t version; /* 3, 4 or 6 (others are refused) */
    uint8_t algo;
    uint32_t created;
    uint16_t v3_days;          /* v3 validity in days, 0 = none */
    unsigned bits;             /* as gpg prints it: modulus / p bits; curve size for ECC */
    const char *curve;         /* static gpg name ("nistp256", "ed25519", "cv25519", ...) or NULL */
    const uint8_t *material;   /* algorithm-specific public fields */
    size_t material_len;
    size_t hashed_len;         /* body[0..hashed_len) is what the fingerprint and signatures hash:
                                  for v4 keys of a known algorithm the body up to the end of its
                                  last public field (bytes after it are ignored, as gpg ignores
                                  them), otherwise len. body[0..len) is stored, served and
                                  SKS-hashed as received. */
    uint8_t fpr[32];
    uint8_t fpr_len; /* 16 (v3), 20 (v4), 32 (v6) */
    uint8_t keyid[8];
} oks_pgp_pubkey;

enum oks_pgp_sig_state {
    OKS_SIG_UNCHECKED = 0, /* not looked at yet */
    OKS_SIG_GOOD,          /* a self-signature that verified (or came from a trusted store) */
    OKS_SIG_THIRD_PARTY,   /* issued by another key: kept, not verified */
};

typedef struct oks_pgp_sig {
    const uint8_t *body;
    size_t len;
    uint8_t version; /* 3, 4 or 6 */
    uint8_t type;
    uint8_t algo;
    uint8_t hash_algo;
    uint8_t left16[2];
    uint32_t created;
    uint32_t sig_expires;    /* seconds after creation, 0 = never */
    uint32_t key_expires;    /* seconds after key creation, valid if has_key_expires */
    bool has_key_expires;
    bool has_issuer;
    uint8_t issuer[8];
    uint8_t issuer_fpr_len;  /* 0, 20 or 32 */
    uint8_t issuer_fpr[32];
    bool has_key_flags;
    uint8_t key_flags;
    bool primary_uid;
    bool has_revocation_reason;
    uint8_t revocation_reason;
    bool exportable;         /* false when an exportable-certification subpacket says 0 */
    size_t hashed_end;       /* body[0..hashed_end) is what the v4/v6 trailer hashes; 0 for v3
                                (v3 hashes body[2..7): type and creation time) */
    const uint8_t *hashed;   /* hashed subpacket area (v4/v6); NULL for v3 */
    size_t hashed_len;
    const uint8_t *salt;     /* v6 only */
    size_t salt_len;
    const uint8_t *mpis;     /* signature material after left16 (and salt) */
    size_t mpis_len;
    const uint8_t *embedded; /* body of an embedded signature (subpacket 32), or NULL */
    size_t embedded_len;
    size_t unhashed_len;     /* unhashed subpacket area (v4/v6) */
    const uint8_t *attested; /* attested certifications (subpacket 37, hashed area only): digests
                                of third-party certifications under hash_algo, or NULL */
    size_t attested_len;
    enum oks_pgp_sig_state state;
} oks_pgp_sig;

typedef struct oks_pgp_sigs {
    oks_pgp_sig *v;
    size_t n;
} oks_pgp_sigs;

typedef struct oks_pgp_uid {
    uint8_t tag; /* 13 user ID, 17 user attribute */
    const uint8_t *body;
    size_t len;
    oks_pgp_sigs sigs;
} oks_pgp_uid;

typedef struct oks_pgp_subkey {
    oks_pgp_pubkey key;
    oks_pgp_sigs sigs;
} oks_pgp_subkey;

typedef struct oks_pgp_key {
    oks_pgp_pubkey primary;
    oks_pgp_sigs sigs; /* direct-key signatures and key revocations */
    oks_pgp_uid *uids;
    size_t n_uids;
    oks_pgp_subkey *subkeys;
    size_t n_subkeys;
    uint8_t *storage; /* owns every body above */
    size_t storage_len;
    size_t dropped_packets; /* packets dropped while parsing (unkept tags, over-size, unparsable) */
} oks_pgp_key;

enum {
    /* stored, known-good keys: signatures issued by the primary key are marked OKS_SIG_GOOD,
     * the others OKS_SIG_THIRD_PARTY, so verification does not check them again */
    OKS_PGP_TRUSTED = 1 << 0,
};

/* Parses a public-key / public-subkey packet body (tag 6 or 14) and computes its fingerprint
 * and key ID; off is the packet's offset, used in error messages. v3 (RSA only), v4 and v6 are
 * accepted; an unknown algorithm is kept opaque (bits 0, curve NULL). pk borrows body. */
int oks_pgp_pubkey_parse(const uint8_t *body, size_t len, uint8_t tag, size_t off,
                         oks_pgp_pubkey *pk, oks_err *e);
/* Parses a signature packet body (v3, v4, v6) and the subpackets listed in oks_pgp_sig; also
 * usable on an embedded signature. s borrows body; s->state is OKS_SIG_UNCHECKED. */
int oks_pgp_sig_parse(const uint8_t *body, size_t len, size_t off, oks_pgp_sig *s, oks_err *e);
/* Short lowercase algorithm name ("rsa", "dsa", "eddsa", "ed25519", ...; "unknown"). */
const char *oks_pgp_algo_name(uint8_t algo);

/* Parses one transferable public key: p[0..n) must start with a tag-6 packet and contain no
 * other tag-6 packet. On success *out is a new canonical key (free with oks_pgp_key_free).
 * lim NULL means the defaults; error offsets are relative to p. Packets over their size limit, unparsable signatures and subkeys
 * are dropped (counted in dropped_packets); limits on counts and on the key size reject it. */
int oks_pgp_key_parse(const uint8_t *p, size_t n, const oks_pgp_limits *lim, unsigned flags,
                      oks_pgp_key **out, oks_err *e);
void oks_pgp_key_free(oks_pgp_key *key);

/* Splits a keyring / dump stream: at *off, finds the next key's packet range [start, end) and
 * advances *off past it. Returns 0, 1 at the end of input, or an error for structure that is not
 * a key (e.g. a signature before any key packet, secret keys, broken packet framing); after an
 * error *off has moved to the next tag-6 packet (after broken framing: the next offset where a
 * plausible public-key packet starts) or the end, so the caller can go on with the next key. */
int oks_pgp_split_next(const uint8_t *p, size_t n, size_t *off, oks_slice *key, oks_err *e);

/* Union of two copies of the same key (same primary fingerprint; when the primary packets
 * differ, only in bytes after the key material, the greater by (length, bytes) is kept).
 * Signature states are kept (the "most verified" state wins for a signature present in both). */
int oks_pgp_key_merge(const oks_pgp_key *a, const oks_pgp_key *b, const oks_pgp_limits *lim,
                      oks_pgp_key **out, oks_err *e);

/* Binary packets of the key in canonical order (appended to out). */
int oks_pgp_key_serialize(const oks_pgp_key *key, oks_buf *out);

/* SKS key hash: MD5 over the packets sorted by (tag, body), each as BE32 tag, BE32 len, body. */
void oks_pgp_key_sks_hash(const oks_pgp_key *key, uint8_t out[16]);

/* v3: MD5(n || e); v4: SHA-1(0x99 || BE16 hashed_len || body[0..hashed_len));
 * v6: SHA-256(0x9B || BE32 len || body). */
int oks_pgp_fingerprint(oks_pgp_pubkey *pk, oks_err *e);

/* ---- verification ---------------------------------------------------------------------- */

typedef struct oks_pgp_verify_stats {
    size_t self_verified;  /* self-signatures checked now and good */
    size_t self_trusted;   /* self-signatures already known good (not checked again) */
    size_t self_dropped;   /* self-signatures that failed or could not be checked: dropped */
    size_t third_party;    /* third-party certifications kept */
    size_t attested;       /* of which attested by the key's owner */
    size_t third_party_dropped; /* over max_third_party_per_uid, or structurally misplaced */
    size_t uids_dropped;   /* user IDs / attributes left without a valid self-signature */
    size_t subkeys_dropped;/* subkeys left without a valid binding signature */
    size_t pk_ops;         /* public-key operations performed (signatures whose digest prefix
                              matched and that reached libgcrypt / libcrypto) */
    size_t verify_cost;    /* their cost (oks_pgp_verify_cost summed) */
} oks_pgp_verify_stats;

/* Verifies one signature made by signer over: the primary key alone (types 0x1F, 0x20), the
 * primary key + uid (0x10..0x13, 0x16, 0x30), or the primary key + subkey (0x18, 0x19, 0x28).
 * Returns 0 if good, OKS_E_BADSIG if it does not verify, another error if it cannot be checked
 * (unsupported algorithm, malformed material). */
int oks_pgp_sig_verify(const oks_pgp_pubkey *signer, const oks_pgp_pubkey *primary,
                       const oks_pgp_uid *uid, const oks_pgp_pubkey *subkey,
                       const oks_pgp_sig *sig, oks_err *e);

/* The acceptance policy, the one the shard applies before storing a key and oksctl inspect
 * before listing it: 0 when a parsed key may be stored, else OKS_E_UNSUPPORTED (v3 keys; RSA
 * primary keys with a modulus over OKS_PGP_MAX_MPI_BITS or a public exponent over
 * OKS_PGP_MAX_RSA_EXP_BITS). Cleaning (oks_pgp_key_verify) comes after it and may still refuse
 * the key. */
int oks_pgp_key_acceptable(const oks_pgp_key *key, oks_err *e);

/* Cost of one public-key check by signer, in units of an RSA-2048 check with e = 65537: RSA
 * (modulus bytes / 256)^2 x (exponent bits / 17), at least 1; other algorithms 1. */
size_t oks_pgp_verify_cost(const oks_pgp_pubkey *signer);

/* The most public-key work (in oks_pgp_verify_cost units) cleaning the parsed key could do:
 * every signature that claims to be a self-signature and is not yet known good, checked with
 * the primary key, at most lim->max_verify_cost (lim NULL: the defaults); 0 for a key the
 * acceptance policy refuses. Cheap (no hashing): what a gateway charges a client before
 * sending the key on. */
size_t oks_pgp_key_verify_estimate(const oks_pgp_key *key, const oks_pgp_limits *lim);

/* Cleans the key in place as described at the top. Fails (OKS_E_NOTKEY) when nothing usable
 * is left: no valid user ID, no valid direct-key self-signature (v6) and no valid subkey; fails
 * (OKS_E_UNSUPPORTED) at once for an RSA primary key the acceptance policy refuses; fails
 * (OKS_E_LIMIT) before any public-key operation that would take the work past
 * lim->max_verify_cost. The result depends only on the key's content (never on the time, the
 * order copies arrived in, or other keys), so cleaning the union of any copies gives the same
 * bytes on every server. */
int oks_pgp_key_verify(oks_pgp_key *key, const oks_pgp_limits *lim, oks_pgp_verify_stats *st,
                       oks_err *e);

/* Serialized size of the key without its third-party signatures: what max_key_bytes limits
 * (the owner's material always fits; third-party material has its own budget). */
size_t oks_pgp_key_owner_bytes(const oks_pgp_key *key);

/* ---- derived facts --------------------------------------------------------------------- */

/* Key expiration (Unix seconds, 0 = none) from the newest valid self-signature carrying a
 * key-expiration subpacket (v3: days field). */
uint32_t oks_pgp_key_expires(const oks_pgp_key *key);
/* True when the key carries a verified self-revocation (type 0x20). */
bool oks_pgp_key_revoked(const oks_pgp_key *key);
bool oks_pgp_subkey_revoked(const oks_pgp_key *key, const oks_pgp_subkey *sk);

/* The HKP machine-readable index record of one key: "pub:..." then one "uid:..." line per user
 * ID (and "uat::::" per attribute), '\n' line ends, exactly as /pks/lookup?op=index&options=mr
 * prints them (see protocols.md 1.5, OKS rule). */
int oks_pgp_key_mr_index(const oks_pgp_key *key, oks_buf *out);

/* Normalised (lowercased) e-mail address of a user ID "Name <addr>" or a bare address; returns
 * its length, 0 if the user ID has none. out must hold len+1 bytes. */
size_t oks_pgp_uid_email(const uint8_t *uid, size_t len, char *out, size_t out_size);

/* SKS word splitting (protocols.md 1.3): lowercased maximal runs of [A-Za-z0-9] and bytes
 * 0xC0-0xFF (continuation bytes 0x80-0xBF split words); calls fn for each word. */
void oks_pgp_words(const uint8_t *text, size_t len,
                   void (*fn)(const char *word, size_t len, void *arg), void *arg);

/* ---- ASCII armor ----------------------------------------------------------------------- */

/* Decodes the next "-----BEGIN PGP PUBLIC KEY BLOCK-----" block found at or after *off in text,
 * appending the binary packets to out and moving *off past the END line. Returns 0, 1 when no
 * further block exists, or an error (OKS_E_ARMOR, OKS_E_CRC) naming the offset. Accepts CRLF or
 * LF, trailing whitespace, header lines, a missing CRC; rejects a wrong CRC. After an error
 * nothing is appended to out and *off points just after the BEGIN line, so the caller can go on
 * with the next block. */
int oks_armor_decode(const char *text, size_t len, size_t *off, oks_buf *out, oks_err *e);
/* Armors binary packets as a PUBLIC KEY BLOCK: no headers, 64-column lines, CRC present. */
int oks_armor_encode(const uint8_t *p, size_t n, oks_buf *out);
/* True when p[0..n) is ASCII armor rather than binary packets: its first byte is not a packet
 * header (bit 7 clear, as gpg decides) and "-----BEGIN PGP" appears in it, after any text (a
 * mail, a web page, a form dump). Whether a public key block is there is oks_armor_decode's
 * answer. The one armor detector of every entry point that takes keys: oksctl inspect and
 * import, /pks/add, /vks/v1/upload and the mail gateway. */
bool oks_armor_detect(const uint8_t *p, size_t n);
/* Plain base64 (no armor lines, no CRC; whitespace and padding skipped) appended to out.
 * Returns 0 or OKS_E_FORMAT for a character outside the alphabet. */
int oks_base64_decode(const uint8_t *s, size_t n, oks_buf *out);

#endif
