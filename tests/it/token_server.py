#!/usr/bin/env python3
"""A registry token server for the tests, after the Docker token authentication spec that
Docker Hub, GHCR and GitLab follow: GET /token?service=S&scope=repository:NAME:ACTIONS
answers {"token": JWT} after checking HTTP basic credentials, the JWT signed RS256 by a key
whose certificate the registry trusts (`auth.token.rootcertbundle`), named in the `x5c`
header. The registry (distribution 2.8) checks the signature, issuer, audience, expiry
and the access claims itself.

Usage: token_server.py PORT TLS_CERT TLS_KEY TOKEN_CERT TOKEN_KEY USER PASSWORD ISSUER
Signs with the openssl command-line tool (no Python crypto package needed).
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse

port, tls_cert, tls_key, token_cert, token_key, user, password, issuer = sys.argv[1:9]
DER = subprocess.run(
    ["openssl", "x509", "-in", token_cert, "-outform", "DER"], capture_output=True, check=True
).stdout


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        wanted = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if url.path != "/token" or self.headers.get("Authorization", "") != wanted:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(DER).decode()]}
        claims = {
            "iss": issuer,
            "sub": user,
            "aud": query.get("service", [""])[0],
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", token_key],
            input=signing.encode(),
            capture_output=True,
            check=True,
        ).stdout
        body = json.dumps({"token": signing + "." + b64url(signature), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(tls_cert, tls_key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
