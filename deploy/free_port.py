#!/usr/bin/python3
"""Prints a free TCP port on 127.0.0.1 that this machine's OKS scripts have not handed out
recently. The kernel may return the same port to two bind(0) calls in a row when nothing is
listening on it yet; scripts that pick several ports before starting their servers would then
collide. Ports handed out are remembered (the last 2000) in a small registry file, under a lock.
"""
import fcntl, os, socket

path = os.environ.get("OKS_PORT_REGISTRY", f"/tmp/oks-ports.{os.getuid()}")
with open(path, "a+") as reg:
    fcntl.flock(reg, fcntl.LOCK_EX)
    reg.seek(0)
    recent = reg.read().split()
    seen = set(recent)
    for _ in range(100):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if str(port) not in seen:
            break
    recent = (recent + [str(port)])[-2000:]
    reg.seek(0)
    reg.truncate()
    reg.write("\n".join(recent) + "\n")
print(port)
