"""CURVE for the integration scripts' own ZeroMQ sockets (docs/security.md): every OKS link
runs CURVE, so a script that talks to a router or a shard directly does it with a key of the
cluster's config, by default the admin's (which routers and shards both answer).

    sys.path.insert(0, os.path.join(os.environ["OKS_ROOT"], "tests/integration/helpers"))
    import oks_curve
    oks_curve.client(sock, conf_path, "shard")   # before sock.connect()
"""
import re


def setting(conf_path, key):
    m = re.search(r"^%s = (\S+)$" % re.escape(key), open(conf_path).read(), re.M)
    if not m:
        raise SystemExit(f"{conf_path}: no [security] {key}")
    return m.group(1)


def z85(path):
    return open(path, "rb").read().strip()


def client(sock, conf_path, server_role, role="admin"):
    """Sets sock's CURVE keys: role's keypair, the public key of server_role ("router" or
    "shard")."""
    secret = setting(conf_path, role + "_key")
    sock.curve_secretkey = z85(secret)
    sock.curve_publickey = z85(secret + ".pub")
    sock.curve_serverkey = z85(setting(conf_path, server_role + "_key") + ".pub")
