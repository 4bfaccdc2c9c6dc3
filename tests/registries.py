"""Real registries on 127.0.0.1 for the tests: Debian's ``docker-registry`` (distribution 2.8),
started plain, with htpasswd Basic auth behind TLS (a CA made here with openssl), or with token
auth (a small token service here signs RS256 JWTs the registry verifies against its cert), and
images pushed into them with skopeo."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

USER, PASSWORD = "builder", "s3cret-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*cmd: str, **kw: object) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, **kw)  # type: ignore[call-overload]


def self_signed(key: str, crt: str, subject: str, *extra: str) -> None:
    """``openssl req -x509``: a new RSA key and its certificate (``extra``: -CA to have it signed)."""
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
         "-subj", subject, "-days", "2", *extra)  # fmt: skip


def make_ca(directory: str) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca.crt, server.crt, server.key)."""
    ca_key, ca_crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, crt = os.path.join(directory, "server.key"), os.path.join(directory, "server.crt")
    self_signed(ca_key, ca_crt, "/CN=imgopt test CA")
    san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    self_signed(
        key,
        crt,
        "/CN=127.0.0.1",
        "-CA",
        ca_crt,
        "-CAkey",
        ca_key,
        "-addext",
        san,
        "-addext",
        "basicConstraints=CA:FALSE",
    )
    return ca_crt, crt, key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """``GET /token?service=&scope=`` with Basic credentials -> ``{"token": JWT}`` (RS256, x5c)."""

    def __init__(self, directory: str, service: str, issuer: str) -> None:
        self.key = os.path.join(directory, "token.key")
        self.crt = os.path.join(directory, "token.crt")
        self_signed(self.key, self.crt, "/CN=token signer")
        der = subprocess.run(
            ["openssl", "x509", "-in", self.crt, "-outform", "DER"], check=True, capture_output=True
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.service, self.issuer = service, issuer
        self.requests: list[dict[str, str]] = []
        self.port = free_port()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                auth = self.headers.get("Authorization", "")
                outer.requests.append(dict(query, authorization=auth.split(" ")[0]))
                want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if auth != want:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": outer.sign(query.get("scope", ""))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, scope: str) -> str:
        access = []
        for s in scope.split(" "):
            parts = s.split(":")
            if len(parts) >= 3:
                access.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]}
        claims = {
            "iss": self.issuer,
            "sub": USER,
            "aud": self.service,
            "exp": now + 600,
            "nbf": now - 10,
            "iat": now,
            "jti": f"{now}-{len(self.requests)}",
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.key],
            input=signing_input.encode(),
            check=True,
            capture_output=True,
        ).stdout
        return f"{signing_input}.{_b64(sig)}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    mode: str  # plain | basic-tls | token
    directory: str
    ca: str | None = None  # the CA certificate (basic-tls)
    cert_dir: str | None = None  # a skopeo-style --cert-dir holding the CA
    token: TokenService | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def ref(self, name: str) -> str:
        return f"docker://{self.host}/{name}"

    def push(self, source: str, name: str, *, all_platforms: bool = False) -> None:
        """skopeo copy SOURCE (e.g. docker-archive:PATH, oci:DIR) to this registry as NAME."""
        cmd = ["skopeo", "copy", "--quiet"]
        if all_platforms:
            cmd.append("--all")
        if self.mode == "plain":
            cmd.append("--dest-tls-verify=false")
        elif self.mode == "basic-tls":
            cmd += ["--dest-cert-dir", str(self.cert_dir), "--dest-creds", f"{USER}:{PASSWORD}"]
        else:
            cmd += ["--dest-tls-verify=false", "--dest-creds", f"{USER}:{PASSWORD}"]
        cmd += [source, self.ref(name)]
        out = subprocess.run(cmd, capture_output=True, timeout=300, env=dict(os.environ, HOME=self.directory))
        if out.returncode != 0:
            raise RuntimeError(f"skopeo push failed: {out.stderr.decode()[-2000:]}")


def _config(port: int, root: str, extra: str) -> str:
    return f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{extra}"""


@contextmanager
def running_registry(mode: str) -> Iterator[Registry]:
    exe = shutil.which("docker-registry")
    if exe is None:
        raise FileNotFoundError("docker-registry")
    directory = tempfile.mkdtemp(prefix=f"imgopt-registry-{mode}-")
    port = free_port()
    reg = Registry(f"127.0.0.1:{port}", mode, directory)
    extra = ""
    if mode == "basic-tls":
        ca, crt, key = make_ca(directory)
        htpasswd = os.path.join(directory, "htpasswd")
        _run("htpasswd", "-Bbc", htpasswd, USER, PASSWORD)
        extra = f"""  tls:
    certificate: {crt}
    key: {key}
auth:
  htpasswd:
    realm: imgopt-test
    path: {htpasswd}
"""
        reg.ca = ca
        reg.cert_dir = os.path.join(directory, "certs")
        os.makedirs(reg.cert_dir)
        shutil.copy(ca, os.path.join(reg.cert_dir, "ca.crt"))
    elif mode == "token":
        reg.token = TokenService(directory, "imgopt-test-registry", "imgopt-test-issuer")
        extra = f"""auth:
  token:
    realm: {reg.token.realm}
    service: imgopt-test-registry
    issuer: imgopt-test-issuer
    rootcertbundle: {reg.token.crt}
"""
    cfg = os.path.join(directory, "config.yml")
    with open(cfg, "w") as f:
        f.write(_config(port, os.path.join(directory, "storage"), extra))
    log = open(os.path.join(directory, "registry.log"), "wb")
    reg.process = subprocess.Popen([exe, "serve", cfg], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if reg.process.poll() is not None or time.monotonic() > deadline:
                    with open(os.path.join(directory, "registry.log"), "rb") as f:
                        raise RuntimeError(f"docker-registry did not start: {f.read()[-2000:]!r}") from None
                time.sleep(0.1)
        yield reg
    finally:
        reg.process.terminate()
        try:
            reg.process.wait(10)
        except subprocess.TimeoutExpired:
            reg.process.kill()
        log.close()
        if reg.token is not None:
            reg.token.close()
        shutil.rmtree(directory, ignore_errors=True)
