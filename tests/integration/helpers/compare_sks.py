#!/usr/bin/env python3
"""Checks `oksctl inspect` output against a running SKS built from the same keyrings.
Usage: compare_sks.py OKS_MR_OUTPUT HKP_PORT STEP [LABEL]
Every key's SKS hash must be found by op=hget (200) and OKS must list as many keys as SKS holds
(op=stats), so the two hash sets are equal; for every STEP-th key a corrupted hash must not be
found (SKS answers 500 for an unknown hash), and (unless STEP is given as -STEP, for cleaned
keys whose revoked user IDs OKS flags and SKS does not) the mr index lines must equal SKS's own
(`op=index&options=mr&search=0x<fpr>`) except for SKS's escaping bugs (`%` as `%%`, control
bytes unescaped), which OKS fixes on purpose. Prints ok / not ok lines; exits 1 on failure."""
import re, sys, urllib.request, urllib.error

def get(port, query):
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/pks/lookup?{query}', timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

def sks_norm(line):
    # SKS writes '%' as '%%' and leaves bytes < 0x20 and 0x7f raw: bring it to the OKS rule
    line = line.replace(b'%%', b'%25')
    return re.sub(rb'[\x00-\x1f\x7f]', lambda m: b'%%%02X' % m.group(0)[0], line)

def main():
    path, port, step = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    check_mr = step > 0
    step = abs(step)
    label = sys.argv[4] + ': ' if len(sys.argv) > 4 else ''
    keys, cur = [], None
    with open(path, 'rb') as f:
        for line in f:
            line = line.rstrip(b'\n')
            if line.startswith(b'pub:'):
                cur = {'lines': [line]}
                keys.append(cur)
            elif line.startswith(b'hash:'):
                cur['hash'] = line[5:].decode()
            else:
                cur['lines'].append(line)
    sample = keys[::step]
    hget_bad, wrong_ok, mr_bad = [], [], []
    for k in keys:
        st, _ = get(port, f'op=hget&search={k["hash"]}')
        if st != 200:
            hget_bad.append((k['lines'][0].split(b':')[1].decode(), k['hash'], st))
    st, body = get(port, 'op=stats')
    m = re.search(rb'Total number of keys: *([0-9]+)', body)
    sks_total = int(m.group(1)) if st == 200 and m else -1
    for k in sample:
        wrong = ('0' if k['hash'][0] != '0' else '1') + k['hash'][1:]
        st, _ = get(port, f'op=hget&search={wrong}')
        if st == 200:
            wrong_ok.append(k['hash'])
        fpr = k['lines'][0].split(b':')[1].decode()
        st, body = get(port, f'op=index&options=mr&search=0x{fpr}')
        sks = [sks_norm(l) for l in body.replace(b'\r\n', b'\n').split(b'\n')
               if l and not l.startswith(b'info:')]
        if check_mr and (st != 200 or sks != k['lines']):
            mr_bad.append((fpr, sks, k['lines']))
    for h in hget_bad[:20]:
        print('# SKS does not hold our hash: fingerprint %s hash %s (op=hget %d)' % h)
    for m in mr_bad[:5]:
        print('# mr differs for', m[0])
        print('#   sks:', m[1])
        print('#   oks:', m[2])
    n, all_n = len(sample), len(keys)
    print(('ok' if not hget_bad and all_n >= 10 else 'not ok') +
          f' - {label}SKS finds our hash of {all_n - len(hget_bad)}/{all_n} keys (op=hget 200)')
    print(('ok' if sks_total == all_n else 'not ok') +
          f' - {label}SKS holds as many keys as we list ({sks_total} / {all_n})')
    print(('ok' if not wrong_ok else 'not ok') +
          f' - {label}SKS does not find corrupted hashes ({len(wrong_ok)}/{n} wrongly found)')
    if check_mr:
        print(('ok' if not mr_bad else 'not ok') +
              f' - {label}mr index lines equal SKS for {n - len(mr_bad)}/{n} sampled keys')
    return 1 if hget_bad or sks_total != all_n or wrong_ok or mr_bad or n < 10 else 0

sys.exit(main())
