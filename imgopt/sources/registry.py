"""Images in a registry, read through the OCI distribution API without a pull.

``docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`` (the containers/image transport syntax). The manifest
(or index, then the manifest for the platform) and the config are fetched as documents; each
layer blob is streamed from the registry straight into the one layer parser (gzip/zstd decoded on
the fly): nothing is written to disk, no layer is held in memory. Every blob is hashed as it
streams and must match its digest and size; a dropped connection resumes with ``Range`` where the
registry allows it.

Behaviour follows docker, skopeo and go-containerregistry:

* the scheme: https, verified; plain http only with ``insecure`` or for a loopback host (tried
  after https fails, as docker does for ``localhost``);
* auth: the ``/v2/`` challenge decides. ``Basic`` sends the credentials; ``Bearer`` asks the
  realm for a token scoped ``repository:REPO:pull`` (Basic credentials to the realm, or an
  identity token as an OAuth2 refresh token, as ggcr does);
* credentials: ``RegistryOptions.creds``, then ``$IMGOPT_REGISTRY_CREDS``, then the Docker
  client configuration (``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``:
  ``credHelpers``, ``credsStore`` through the ``docker-credential-*`` helper protocol, ``auths``);
* TLS: ``cert_dir`` as skopeo's ``--cert-dir`` (``*.crt`` CA certificates, ``*.cert``/``*.key``
  client pairs); otherwise ``/etc/containers/certs.d/HOST`` and ``/etc/docker/certs.d/HOST``
  when they exist, on top of the system CAs;
* retries: 408, 429 (honouring ``Retry-After``), 5xx and dropped connections, with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .._version import __version__
from ..errors import (
    AuthError,
    CorruptArchive,
    ImageNotFound,
    MissingBlob,
    ReferenceError_,
    RegistryError,
    UnsupportedMediaType,
)
from ..model import Image
from .archive import INDEX_TYPES, MANIFEST_TYPES, assemble, parse_blob
from .core import Blob, BlobInfo, BlobStore, Read, RegistryOptions
from .streams import AsideHasher, IterSource

log = logging.getLogger(__name__)

ACCEPT = ", ".join(sorted(INDEX_TYPES | MANIFEST_TYPES))
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
MAX_DOC = 8 << 20
BLOB_CHUNK = 256 << 10  # a dropped connection loses at most the chunk being read; the rest resumes
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


# --------------------------------------------------------------------------------------------
# references


@dataclass(frozen=True, slots=True)
class RegistryRef:
    host: str  # as written (docker.io for Docker Hub)
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def reference(self) -> str:
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        return f"docker://{self.host}/{self.repository}" + (f"@{self.digest}" if self.digest else f":{self.reference}")


def parse_registry_ref(text: str) -> RegistryRef:
    """``//HOST[:PORT]/REPO[:TAG|@DIGEST]`` (what follows ``docker:``); a first component that is
    not a host (no dot, no port, not localhost) means Docker Hub, as docker and skopeo read it."""
    if not text.startswith("//"):
        raise ReferenceError_(f"docker:{text}: a registry reference is docker://HOST/REPO[:TAG|@DIGEST]")
    rest = text[2:]
    digest = None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _DIGEST.match(digest):
            raise ReferenceError_(f"docker:{text}: {digest!r} is not a digest")
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise ReferenceError_(f"docker:{text}: {tag!r} is not a valid tag")
    first, sep, path = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        host, repo = first, path
    else:
        host, repo = DOCKER_HUB, rest
        if "/" not in repo:
            repo = "library/" + repo
    if not repo or not _NAME.match(repo):
        raise ReferenceError_(f"docker:{text}: {repo!r} is not a valid repository name")
    return RegistryRef(host, repo, tag, digest)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# credentials


def _docker_config() -> dict[str, Any]:
    directory = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    path = os.path.join(directory, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("ignoring %s: %s", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def _helper(name: str, server: str) -> tuple[str, str] | None:
    """The docker-credential-helpers protocol: ``docker-credential-NAME get``, server on stdin,
    ``{"Username", "Secret"}`` on stdout."""
    exe = shutil.which(f"docker-credential-{name}")
    if exe is None:
        raise AuthError(f"credential helper docker-credential-{name} (named for {server}) is not on PATH")
    try:
        out = subprocess.run([exe, "get"], input=server.encode(), capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AuthError(f"credential helper docker-credential-{name} failed for {server}: {e}") from e
    if out.returncode != 0:
        text = (out.stdout or out.stderr).decode("utf-8", "replace").strip()
        if "credentials not found" in text.lower():
            return None
        raise AuthError(f"credential helper docker-credential-{name} failed for {server}: {text[:200]}")
    try:
        data = json.loads(out.stdout)
        return str(data["Username"]), str(data["Secret"])
    except (ValueError, KeyError, TypeError) as e:
        raise AuthError(f"credential helper docker-credential-{name} gave no credentials for {server}") from e


def _server_keys(host: str) -> list[str]:
    if host == DOCKER_HUB:
        return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
    return [host, f"https://{host}", f"http://{host}", f"https://{host}/v2/", f"https://{host}/v1/"]


def find_credentials(host: str, options: RegistryOptions) -> tuple[str, str] | None:
    """(user, secret) for ``host``, or None for anonymous. A user of ``<token>`` means the secret
    is an identity (refresh) token, as the Docker configuration stores it."""
    if options.creds is not None:
        return options.creds
    env = os.environ.get("IMGOPT_REGISTRY_CREDS")
    if env:
        user, sep, secret = env.partition(":")
        if not sep:
            raise AuthError("$IMGOPT_REGISTRY_CREDS must be USER:PASSWORD")
        return user, secret
    cfg = _docker_config()
    keys = _server_keys(host)
    helpers = cfg.get("credHelpers") or {}
    for key in keys:
        if isinstance(helpers, dict) and key in helpers:
            return _helper(str(helpers[key]), key)
    auths = cfg.get("auths") or {}
    for key in keys:
        entry = auths.get(key) if isinstance(auths, dict) else None
        if not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return "<token>", str(entry["identitytoken"])
        if entry.get("auth"):
            try:
                user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError) as e:
                raise AuthError(f"the Docker configuration's auth for {key} is not base64 USER:PASSWORD") from e
            return user, secret
        if entry.get("username"):
            return str(entry["username"]), str(entry.get("password", ""))
    store = cfg.get("credsStore")
    if isinstance(store, str) and store:
        return _helper(store, keys[0])
    return None


# --------------------------------------------------------------------------------------------
# the HTTP client


def _challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*"([^"]*)"', rest)}
    params.update({k.lower(): v for k, v in re.findall(r'(\w+)\s*=\s*([^",\s]+)', rest) if k.lower() not in params})
    return scheme.lower(), params


def _errors_text(resp: Any) -> str:
    """The registry's own words: the distribution error body's ``errors[].message``."""
    try:
        data = resp.json()
        msgs = [f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in data.get("errors") or []]
        if msgs:
            return "; ".join(msgs)[:300]
    except (ValueError, AttributeError, TypeError):
        pass
    return (resp.reason or "").strip()[:300]


class Client:
    """One registry host: scheme, TLS, auth and retries. Thread-safe (one requests.Session,
    whose connection pool serves the parallel blob reads)."""

    def __init__(self, host: str, api_host: str, options: RegistryOptions) -> None:
        import requests

        self.host = host
        self.api_host = api_host
        self.options = options
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"imgopt/{__version__}"
        self._configure_tls()
        self._base: str | None = None
        self._auth: str | None = None  # Authorization header value
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._lock = threading.Lock()
        self.round_trips = 0

    def _configure_tls(self) -> None:
        if self.options.insecure:
            self.session.verify = False
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            return
        dirs = [self.options.cert_dir] if self.options.cert_dir else []
        if not dirs:
            dirs = [os.path.join(d, self.host) for d in ("/etc/containers/certs.d", "/etc/docker/certs.d")]
            dirs = [d for d in dirs if os.path.isdir(d)]
        if not dirs:
            return
        from requests.adapters import HTTPAdapter

        ctx = ssl.create_default_context()
        for d in dirs:
            try:
                names = sorted(os.listdir(d))
            except OSError as e:
                raise RegistryError(f"cannot read the certificate directory {d}: {e.strerror}") from e
            for name in names:
                path = os.path.join(d, name)
                try:
                    if name.endswith(".crt"):
                        ctx.load_verify_locations(cafile=path)
                    elif name.endswith(".cert"):
                        key = path[: -len(".cert")] + ".key"
                        if not os.path.exists(key):
                            raise RegistryError(f"client certificate {path} has no {os.path.basename(key)} beside it")
                        ctx.load_cert_chain(path, key)
                except (ssl.SSLError, OSError) as e:
                    raise RegistryError(f"cannot use the certificate {path}: {e}") from e

        class _Adapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                kwargs["ssl_context"] = ctx
                super().init_poolmanager(*args, **kwargs)

        self.session.mount("https://", _Adapter(pool_maxsize=max(4, self.options.parallel)))

    # -- scheme and auth

    def _ping(self) -> str:
        import requests

        schemes = ["https"]
        if self.options.insecure or is_loopback(self.api_host):
            schemes.append("http")
        last: Exception | None = None
        for scheme in schemes:
            base = f"{scheme}://{self.api_host}"
            try:
                resp = self._send("GET", base + "/v2/", {}, stream=False)
            except requests.exceptions.SSLError as e:
                last = e
                if len(schemes) == 1 or _speaks_tls(e):
                    # a TLS server whose certificate did not verify: never fall back to http
                    raise RegistryError(
                        f"TLS to {self.host} failed: {_short(e)} (a private CA: --cert-dir DIR; no TLS: --insecure)"
                    ) from e
                continue  # a plain-http server on a loopback or --insecure host
            except requests.exceptions.ConnectionError as e:
                last = e
                continue
            if resp.status_code == 401:
                self._challenge = _challenge(resp.headers.get("WWW-Authenticate", ""))
            elif resp.status_code >= 400 and resp.status_code != 404:
                raise RegistryError(f"{self.host} answered /v2/ with {resp.status_code}: {_errors_text(resp)}")
            resp.close()
            return base
        raise RegistryError(f"cannot reach the registry {self.host}: {_short(last)}")

    def base(self) -> str:
        with self._lock:
            if self._base is None:
                self._base = self._ping()
            return self._base

    def _authorize(self, scope: str) -> None:
        """Answer the challenge /v2/ (or a later 401) gave, for ``scope`` (``repository:R:pull``)."""
        challenge = self._challenge
        if challenge is None:
            return
        scheme, params = challenge
        creds = find_credentials(self.host, self.options)
        if scheme == "basic":
            if creds is None:
                raise AuthError(
                    f"{self.host} wants a user name and password (--creds USER:PASSWORD, "
                    f"$IMGOPT_REGISTRY_CREDS or docker login)"
                )
            token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            self._auth = f"Basic {token}"
        elif scheme == "bearer":
            self._auth = "Bearer " + self._token(params, scope, creds)
        else:
            raise AuthError(f"{self.host} asks for {scheme!r} authentication, which imgopt does not speak")

    def _token(self, params: dict[str, str], scope: str, creds: tuple[str, str] | None) -> str:
        realm = params.get("realm")
        if not realm:
            raise AuthError(f"{self.host} asks for a bearer token but names no realm")
        query = {"scope": scope}
        if params.get("service"):
            query["service"] = params["service"]
        if creds is not None and creds[0] == "<token>":
            form = dict(query, grant_type="refresh_token", refresh_token=creds[1], client_id="imgopt")
            resp = self._send("POST", realm, {}, stream=False, data=form)
        else:
            auth = None if creds is None else creds
            resp = self._send(
                "GET", realm + ("&" if "?" in realm else "?") + urlencode(query), {}, stream=False, auth=auth
            )
        if resp.status_code in (401, 403):
            raise AuthError(
                f"the token service of {self.host} refused the credentials ({resp.status_code}: {_errors_text(resp)})"
            )
        if resp.status_code >= 400:
            raise RegistryError(f"the token service of {self.host} answered {resp.status_code}: {_errors_text(resp)}")
        try:
            data = resp.json()
            token = data.get("token") or data.get("access_token")
        except ValueError:
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"the token service of {self.host} answered without a token")
        return token

    # -- requests

    def _send(self, method: str, url: str, headers: dict[str, str], *, stream: bool, **kw: Any) -> Any:
        """One request with retries for 408/429/5xx and broken connections."""
        import requests

        delay = 0.5
        for attempt in range(self.options.retries + 1):
            try:
                self.round_trips += 1
                resp = self.session.request(
                    method, url, headers=headers, stream=stream, timeout=self.options.timeout, **kw
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
                if isinstance(e, requests.exceptions.SSLError) or attempt == self.options.retries:
                    raise
                log.debug("retrying %s %s after %s", method, url, e)
                time.sleep(delay)
                delay *= 2
                continue
            if resp.status_code in RETRY_STATUS and attempt < self.options.retries:
                wait = _retry_after(resp.headers.get("Retry-After"), delay)
                resp.close()
                log.debug("retrying %s %s after %s (waiting %.1fs)", method, url, resp.status_code, wait)
                time.sleep(wait)
                delay *= 2
                continue
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def get(
        self,
        repository: str,
        path: str,
        *,
        what: str,
        accept: str | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> Any:
        """GET ``/v2/REPOSITORY/PATH`` authorised for pulls; errors named after ``what``."""
        return self.get_path(
            f"{repository}/{path}",
            scope=f"repository:{repository}:pull",
            what=what,
            accept=accept,
            headers=headers,
            stream=stream,
        )

    def get_path(
        self,
        path: str,
        *,
        scope: str,
        what: str,
        accept: str | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> Any:
        """GET ``/v2/PATH`` (``_catalog``, ``REPO/tags/list``...) with a token for ``scope``."""
        import requests

        for attempt in range(2):
            h = dict(headers or {})
            if accept:
                h["Accept"] = accept
            try:  # the ping, the token service and the request itself: one error for each
                url = f"{self.base()}/v2/{path}"
                with self._lock:
                    if self._auth is None and self._challenge is not None:
                        self._authorize(scope)
                    if self._auth:
                        h["Authorization"] = self._auth
                resp = self._send("GET", url, h, stream=stream)
            except requests.exceptions.RequestException as e:
                raise RegistryError(f"{what}: cannot reach {self.host} or its token service: {_short(e)}") from e
            if resp.status_code == 401 and attempt == 0:
                resp.close()
                with self._lock:
                    self._challenge = _challenge(resp.headers.get("WWW-Authenticate", ""))
                    self._auth = None
                continue
            return self._check(resp, what)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check(self, resp: Any, what: str) -> Any:
        status = resp.status_code
        if status < 400:
            return resp
        text = _errors_text(resp)
        resp.close()
        if status == 401:
            raise AuthError(f"{what}: {self.host} refused the credentials (401: {text})")
        if status == 403:
            raise AuthError(f"{what}: {self.host} denied access (403: {text})")
        if status == 404:
            raise ImageNotFound(f"{what}: not found in {self.host} (404: {text})")
        if status == 429:
            raise RegistryError(f"{what}: {self.host} kept limiting the request rate (429: {text})")
        raise RegistryError(f"{what}: {self.host} answered {status}: {text}")

    def close(self) -> None:
        self.session.close()


def _speaks_tls(e: BaseException) -> bool:
    """Whether an SSL error came from a TLS server (bad certificate) rather than from a server that
    answered the handshake in plain http."""
    text = str(e)
    return not any(
        m in text
        for m in (
            "WRONG_VERSION_NUMBER",
            "wrong version number",
            "record layer failure",
            "http request",
            "UNEXPECTED_EOF",
            "packet length too long",
        )
    )


def _retry_after(value: str | None, default: float) -> float:
    if value:
        try:
            return min(max(float(value), 0.0), 30.0)
        except ValueError:
            pass
    return default


def _short(e: BaseException | None) -> str:
    text = str(e) if e is not None else "no answer"
    m = re.search(r"\[SSL: [^\]]+\][^)'\"]*", text) or re.search(r"Errno -?\d+\][^)'\"]*|refused", text)
    return (m.group(0) if m else text.splitlines()[0] if text else type(e).__name__)[:200]


# --------------------------------------------------------------------------------------------
# the store


def _hash_of(digest: str) -> Any:
    alg = digest.partition(":")[0]
    try:
        return hashlib.new(alg)
    except ValueError as e:
        raise UnsupportedMediaType(f"digest algorithm {alg!r} of {digest} is not supported") from e


def _verify(body: bytes, digest: str, what: str) -> None:
    h = _hash_of(digest)
    h.update(body)
    if f"{digest.partition(':')[0]}:{h.hexdigest()}" != digest:
        raise CorruptArchive(f"{what} does not match its digest {digest}")


class RegistryStore(BlobStore):
    """A registry repository as a :class:`BlobStore`: ``index.json`` is the top document (an index,
    or one made around a single manifest), ``blobs/ALG/HEX`` a manifest or config by digest, and
    layers stream from the blob endpoint."""

    def __init__(self, ref: RegistryRef, client: Client, read: Read, cache: Any) -> None:
        self.ref = ref
        self.client = client
        self.read = read
        self.cache = cache  # a LayerCache for documents by digest, or None
        self._docs: dict[str, bytes] = {}
        self._manifests: set[str] = set()  # digests an index names (fetched from /manifests/)
        self._layers: dict[str, tuple[int, str]] = {}  # layer digest -> (size, media type)

    # documents

    def top(self) -> None:
        ref = self.ref
        what = f"manifest {ref}"
        resp = self.client.get(ref.repository, f"manifests/{ref.reference}", what=what, accept=ACCEPT)
        body = _read_limited(resp, what)
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if ref.digest:
            _verify(body, ref.digest, what)
            digest = ref.digest
        else:
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            claimed = resp.headers.get("Docker-Content-Digest")
            if claimed and claimed.startswith("sha256:") and claimed != digest:
                raise CorruptArchive(f"{what}: the body does not match the digest the registry gave ({claimed})")
        doc = _json(body, what)
        media = str(doc.get("mediaType") or media)
        if media in SCHEMA1 or doc.get("schemaVersion") == 1:
            raise UnsupportedMediaType(f"{what} is a Docker schema 1 manifest (deprecated; re-push the image)")
        self._remember(digest, body, doc)
        if media in INDEX_TYPES or ("manifests" in doc and "layers" not in doc):
            self._docs["index.json"] = body
        else:
            media = media or "application/vnd.oci.image.manifest.v1+json"
            wrapper = {"schemaVersion": 2, "manifests": [{"mediaType": media, "digest": digest, "size": len(body)}]}
            self._docs["index.json"] = json.dumps(wrapper).encode()
        self.manifest_digest = digest

    def _remember(self, digest: str, body: bytes, doc: dict[str, Any]) -> None:
        self._docs[digest] = body
        for d in doc.get("manifests") or []:
            if isinstance(d, dict) and isinstance(d.get("digest"), str):
                self._manifests.add(d["digest"])
        for d in doc.get("layers") or []:
            if isinstance(d, dict) and isinstance(d.get("digest"), str):
                self._layers[d["digest"]] = (int(d.get("size") or 0), str(d.get("mediaType", "")))

    def json(self, name: str) -> bytes | None:
        if name == "index.json":
            return self._docs.get(name)
        if name in ("manifest.json",):
            return None
        digest = _digest_of(name)
        if digest is None:
            return None
        if digest in self._docs:
            return self._docs[digest]
        body = self.cache.get_doc(digest) if self.cache is not None else None
        if body is None:
            manifest = digest in self._manifests
            what = f"{'manifest' if manifest else 'config blob'} {digest} of {self.ref}"
            path = f"manifests/{digest}" if manifest else f"blobs/{digest}"
            resp = self.client.get(self.ref.repository, path, what=what, accept=ACCEPT if manifest else None)
            body = _read_limited(resp, what)
            _verify(body, digest, what)
            if self.cache is not None:
                self.cache.put_doc(digest, body)
        doc = _json(body, f"document {digest}")
        self._remember(digest, body, doc)
        return body

    # layers

    def describe(self, name: str) -> BlobInfo | None:
        digest = _digest_of(name)
        if digest is None or digest not in self._layers:
            return None
        size, media = self._layers[digest]
        return BlobInfo(size, "zstd" if media.endswith("zstd") else "gzip" if media.endswith("gzip") else "none")

    def layer(self, name: str, diff_id: str | None) -> Blob | None:
        digest = _digest_of(name)
        if digest is None:
            return None
        size = self._layers.get(digest, (None, ""))[0]
        what = f"layer blob {digest} of {self.ref}"
        src = IterSource(self._stream(digest, size, what), self.read.options.progress)
        blob = parse_blob(src, size or 0, what, self.read.options)
        while src.skip(1 << 30):  # to the end: the digest is checked when the stream ends
            pass
        return blob

    def layers(self, wanted: Sequence[tuple[str, str | None]]) -> list[Blob | None]:
        options = self.read.options.registry or RegistryOptions()
        workers = max(1, min(options.parallel, len(wanted)))
        if workers == 1:
            return [self.layer(n, d) for n, d in wanted]
        with ThreadPoolExecutor(workers, thread_name_prefix="imgopt-blob") as pool:
            return list(pool.map(lambda w: self.layer(*w), wanted))

    def _stream(self, digest: str, size: int | None, what: str) -> Iterator[bytes]:
        """The blob's bytes, hashed (aside) as they pass; a dropped connection resumes with Range."""
        _hash_of(digest)  # an unknown algorithm fails here
        h = AsideHasher(digest.partition(":")[0])
        try:
            yield from self._chunks(digest, size, what, h)
        except BaseException:
            h.abandon()
            raise
        actual = f"{digest.partition(':')[0]}:{h.hexdigest()}"
        if actual != digest:
            raise CorruptArchive(f"{what} does not match its digest (got {actual})")

    def _chunks(self, digest: str, size: int | None, what: str, h: AsideHasher) -> Iterator[bytes]:
        import requests

        got = 0
        failures = 0
        while True:
            headers = {"Range": f"bytes={got}-"} if got else {}
            try:
                resp = self.client.get(self.ref.repository, f"blobs/{digest}", what=what, headers=headers, stream=True)
            except ImageNotFound as e:
                raise MissingBlob(str(e)) from e
            discard = got if got and resp.status_code != 206 else 0  # the registry ignored Range
            try:
                for chunk in resp.iter_content(BLOB_CHUNK):
                    if discard:
                        cut = min(discard, len(chunk))
                        chunk, discard = chunk[cut:], discard - cut
                        if not chunk:
                            continue
                    h.update(chunk)
                    got += len(chunk)
                    if size is not None and got > size:
                        raise CorruptArchive(f"{what} is longer than the {size} bytes the manifest gives")
                    yield chunk
                break
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as e:
                failures += 1
                if failures > self.client.options.retries:
                    raise RegistryError(f"{what}: the download broke off at byte {got} ({_short(e)})") from e
                log.debug("%s broke off at byte %d, resuming", what, got)
                time.sleep(0.2 * failures)
            finally:
                resp.close()
        if size is not None and got != size:
            raise CorruptArchive(f"{what} is truncated: {got} of {size} bytes")


def _read_limited(resp: Any, what: str) -> bytes:
    length = int(resp.headers.get("Content-Length") or 0)
    if length > MAX_DOC:
        resp.close()
        raise CorruptArchive(f"{what} is implausibly large ({length} bytes)")
    try:
        return bytes(resp.content[: MAX_DOC + 1])
    finally:
        resp.close()


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise CorruptArchive(f"{what} is not valid JSON ({e})") from e
    if not isinstance(doc, dict):
        raise CorruptArchive(f"{what} is not a JSON object")
    return doc


def _digest_of(name: str) -> str | None:
    if not name.startswith("blobs/"):
        return None
    alg, _, hexpart = name[len("blobs/") :].partition("/")
    return f"{alg}:{hexpart}" if alg and hexpart else None


def _pages(client: Client, path: str, key: str, scope: str, what: str) -> Iterator[str]:
    """Every name of a paginated listing (``Link: <...>; rel="next"``, as the distribution API pages)."""
    while path:
        resp = client.get_path(path, scope=scope, what=what)
        try:
            body = resp.json()
        except ValueError as e:
            raise CorruptArchive(f"{what}: the registry answered with something that is not JSON") from e
        finally:
            resp.close()
        yield from (str(x) for x in body.get(key) or [])
        nxt = resp.links.get("next", {}).get("url", "")
        path = nxt.split("/v2/", 1)[1] if "/v2/" in nxt else ""


def list_registry(target: str, options: RegistryOptions | None = None, *, tags: str = "latest") -> list[str]:
    """The image references of a registry, ``HOST[/PREFIX]``: repositories from ``/v2/_catalog``
    (under PREFIX), each with its tags from ``/v2/REPO/tags/list`` (``tags``: ``latest`` only, or
    ``all``; tags list no dates: the N newest are chosen by reading each image's config, in
    :func:`imgopt.fleet.newest`)."""
    host, _, prefix = target.removeprefix("docker://").partition("/")
    client = Client(host, DOCKER_HUB_API if host == DOCKER_HUB else host, options or RegistryOptions())
    try:
        repos = [
            r
            for r in _pages(client, "_catalog?n=1000", "repositories", "registry:catalog:*", f"catalog of {host}")
            if not prefix or r == prefix or r.startswith(prefix.rstrip("/") + "/")
        ]
        refs = []
        for repo in sorted(repos):
            listed = list(_pages(client, f"{repo}/tags/list", "tags", f"repository:{repo}:pull", f"tags of {repo}"))
            if tags == "latest":
                chosen = ["latest"] if "latest" in listed else sorted(listed)[-1:]
            else:
                chosen = sorted(listed)
            refs += [f"docker://{host}/{repo}:{t}" for t in chosen]
        return refs
    finally:
        client.close()


def read_registry_image(location: str, read: Read, cache: Any) -> Image:
    """Read ``docker:LOCATION`` (LOCATION = ``//HOST/REPO[:TAG|@DIGEST]``)."""
    ref = parse_registry_ref(location)
    options = read.options.registry or RegistryOptions()
    client = Client(ref.host, ref.api_host, options)
    try:
        store = RegistryStore(ref, client, read, cache)
        store.top()
        return assemble(store, read)
    finally:
        client.close()


__all__ = [
    "AuthError",
    "Client",
    "RegistryError",
    "RegistryRef",
    "RegistryStore",
    "find_credentials",
    "is_loopback",
    "list_registry",
    "parse_registry_ref",
    "read_registry_image",
]
