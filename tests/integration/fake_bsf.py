#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A fake BSF for the UE's negative tests: it speaks Ub (TS 24.109 A.3/A.4 over RFC 3310) well
enough to get `imskms ue bootstrap` as far as its last checks, then lies in one way chosen by
the request path:

  /good/     an honest BSF (the control: the UE must bootstrap)
  /rspauth/  the 200's Authentication-Info carries a wrong rspauth (one hex digit changed)
  /realm/    the challenge names another realm than the URL's host
  /noinfo/   the 200 carries no Authentication-Info

The challenge is the one AKA vector given on the command line (RAND, AUTN, XRES, made with
`imskms crypto milenage` for the test USIM), so AUTN verifies at the UE. The Digest values are
computed here with hashlib from RFC 2617 3.2.2.1-3.2.3 and RFC 3310 3.1/3.5 (the password is
the raw octets of XRES), not with the project's code. The answer's response is checked too, so a
refusal by the UE cannot come from the fake's own mistake: every request is logged to --log as
"PATH challenge" or "PATH answer response=ok|bad".

Listens on 127.0.0.1, port 0; prints "port=N" once ready.
Usage: fake_bsf.py --rand HEX --autn HEX --xres HEX --log FILE
"""

import argparse
import base64
import hashlib
import http.server
import re
import sys
import time

PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]+)\s*,?')


def h(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def kd(secret: str, data: str) -> str:
    return h((secret + ":" + data).encode())


def parse_credentials(value: str) -> dict:
    if not value.startswith("Digest "):
        return {}
    out = {}
    for m in PARAM.finditer(value[len("Digest "):]):
        out[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return out


def digest(cred: dict, password: bytes, method: str, body: bytes) -> str:
    """RFC 2617 request-digest with qop=auth-int; method "" gives rspauth (3.2.3)."""
    ha1 = h(cred["username"].encode() + b":" + cred["realm"].encode() + b":" + password)
    ha2 = h((method + ":" + cred["uri"] + ":" + h(body)).encode())
    return kd(ha1, ":".join([cred["nonce"], cred["nc"], cred["cnonce"], "auth-int", ha2]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rand", required=True)
    ap.add_argument("--autn", required=True)
    ap.add_argument("--xres", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    rand, autn, xres = bytes.fromhex(a.rand), bytes.fromhex(a.autn), bytes.fromhex(a.xres)
    nonce = base64.b64encode(rand + autn).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the log file says what matters
            pass

        def note(self, what: str) -> None:
            with open(a.log, "a", encoding="ascii") as f:
                f.write(self.path + " " + what + "\n")

        def reply(self, status: int, headers: dict, body: bytes = b"") -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (the http.server naming)
            mode = self.path.strip("/")
            cred = parse_credentials(self.headers.get("Authorization", ""))
            if not cred.get("nonce"):
                self.note("challenge")
                realm = "bsf.elsewhere.example.org" if mode == "realm" else self.headers["Host"].split(":")[0]
                self.reply(401, {"WWW-Authenticate":
                                 f'Digest realm="{realm}", nonce="{nonce}", '
                                 'algorithm=AKAv1-MD5, qop="auth-int"'})
                return
            good = cred.get("nonce") == nonce and cred.get("response") == digest(cred, xres, "GET", b"")
            self.note("answer response=" + ("ok" if good else "bad"))
            if not good:
                self.reply(401, {})
                return
            expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            btid = base64.b64encode(rand).decode() + "@" + cred["realm"]
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<BootstrappingInfo xmlns="uri:3gpp-gba">'
                    f"<btid>{btid}</btid><lifetime>{expiry}</lifetime></BootstrappingInfo>\n").encode()
            rspauth = digest(cred, xres, "", body)
            if mode == "rspauth":
                rspauth = rspauth[:-1] + ("0" if rspauth[-1] != "0" else "1")
            headers = {"Content-Type": "application/vnd.3gpp.bsf+xml"}
            if mode != "noinfo":
                headers["Authentication-Info"] = (f'qop=auth-int, rspauth="{rspauth}", '
                                                  f'cnonce="{cred["cnonce"]}", nc={cred["nc"]}')
            self.reply(200, headers, body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"port={srv.server_address[1]}", flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
