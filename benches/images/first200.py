#!/usr/bin/env python3
"""Poll https://127.0.0.1:PORT/ until it answers 200; print seconds since T0 (epoch).

Usage: first200.py T0 PORT CAFILE [TIMEOUT]
Run inside the container's network namespace (nsenter --net=...). Polls every 10 ms.
"""
import http.client
import ssl
import sys
import time

t0, port, cafile = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
deadline = time.time() + (float(sys.argv[4]) if len(sys.argv) > 4 else 60)
ctx = ssl.create_default_context(cafile=cafile)
while time.time() < deadline:
    try:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=ctx)
        c.request("GET", "/")
        if c.getresponse().status == 200:
            print(f"{time.time() - t0:.3f}")
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.01)
sys.exit("no 200 before the timeout")
