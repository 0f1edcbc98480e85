#!/usr/bin/env python3
"""Compares `oksctl inspect --json` output with `gpg --with-colons --import-options show-only
--import` for the same file. Usage: compare_gpg.py OKS_JSON GPG_COLONS LABEL
Prints "ok - ..." / "not ok - ..." lines; exits 1 on any mismatch.

Compared per key: fingerprint, key ID, creation time, algorithm, size, curve, user IDs, user
attribute count, subkeys (fingerprint, key ID, creation, algorithm, size, curve). When oksctl
verified self-signatures the user ID / subkey sets must be equal; otherwise gpg's (which drops
components without a valid self-signature) must be a subset of ours. Pass --require-verified
to fail when oksctl did not verify."""
import json, re, sys

def unescape(s):
    # gpg --with-colons escapes ':' and control bytes as \xNN
    b = s.encode('utf-8', 'surrogateescape')
    b = re.sub(rb'\\x([0-9a-fA-F]{2})', lambda m: bytes([int(m.group(1), 16)]), b)
    return b.decode('utf-8', 'replace')

def gpg_keys(path):
    keys, cur, last = {}, None, None
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for line in f:
            fl = line.rstrip('\n').split(':')
            t = fl[0]
            if t == 'pub':
                cur = {'keyid': fl[4], 'created': int(fl[5]), 'algo': int(fl[3]),
                       'bits': int(fl[2] or 0), 'curve': fl[16] or None, 'uids': [],
                       'uat': 0, 'subkeys': {}}
                last = cur
            elif t == 'sub':
                last = {'keyid': fl[4], 'created': int(fl[5]), 'algo': int(fl[3]),
                        'bits': int(fl[2] or 0), 'curve': fl[16] or None}
                cur['pending'] = last
            elif t == 'fpr':
                if last is cur:
                    keys[fl[9]] = cur
                else:
                    cur['subkeys'][fl[9]] = last
            elif t == 'uid':
                cur['uids'].append(unescape(fl[9]))
            elif t == 'uat':
                cur['uat'] += 1
    return keys

def main():
    oks_path, gpg_path, label = sys.argv[1:4]
    require_verified = '--require-verified' in sys.argv[4:]
    gk = gpg_keys(gpg_path)
    ok_lines, bad = 0, []
    verified = None
    ours = {}
    with open(oks_path, encoding='utf-8') as f:
        for line in f:
            k = json.loads(line)
            ours[k['fingerprint']] = k
            verified = k['verified']
    for fpr, g in gk.items():
        k = ours.get(fpr)
        if k is None:
            bad.append(f'{fpr}: printed by gpg, missing from oksctl')
            continue
        for f in ('keyid', 'created', 'algo', 'bits', 'curve'):
            ov = k['algorithm'] if f == 'algo' else k[f]
            if ov != g[f]:
                bad.append(f'{fpr}: {f} oksctl {ov!r} gpg {g[f]!r}')
        ou, gu = sorted(k['uids']), sorted(g['uids'])
        if verified and ou != gu:
            bad.append(f'{fpr}: user IDs differ: only oksctl {sorted(set(ou) - set(gu))!r} '
                       f'only gpg {sorted(set(gu) - set(ou))!r}')
        elif not verified and not set(gu) <= set(ou):
            bad.append(f'{fpr}: gpg user IDs missing: {sorted(set(gu) - set(ou))!r}')
        if verified and k['user_attributes'] != g['uat']:
            bad.append(f'{fpr}: user attributes oksctl {k["user_attributes"]} gpg {g["uat"]}')
        osk = {s['fingerprint']: s for s in k['subkeys']}
        for sf, gs in g['subkeys'].items():
            s = osk.get(sf)
            if s is None:
                bad.append(f'{fpr}: subkey {sf} missing from oksctl')
                continue
            for f in ('keyid', 'created', 'algo', 'bits', 'curve'):
                ov = s['algorithm'] if f == 'algo' else s[f]
                if ov != gs[f]:
                    bad.append(f'{fpr}: subkey {sf} {f} oksctl {ov!r} gpg {gs[f]!r}')
        if verified and set(osk) != set(g['subkeys']):
            bad.append(f'{fpr}: subkeys only oksctl {sorted(set(osk) - set(g["subkeys"]))}')
        ok_lines += 1
    if verified:
        extra = sorted(set(ours) - set(gk))
        for fpr in extra:
            bad.append(f'{fpr}: printed by oksctl, not by gpg')
    if require_verified and not verified:
        bad.append('oksctl did not verify self-signatures')
    for b in bad[:30]:
        print('#', b)
    mode = 'verified' if verified else 'unverified (subset check)'
    if bad:
        print(f'not ok - {label}: {len(bad)} mismatches over {len(gk)} gpg keys [{mode}]')
        return 1
    print(f'ok - {label}: {len(gk)} keys equal to gpg [{mode}]')
    return 0

sys.exit(main())
