"""Images read from real registries on 127.0.0.1 (Debian's docker-registry, distribution 2.8),
pushed with skopeo: anonymous over http, htpasswd Basic auth behind TLS with a CA made here, and
bearer tokens from a token service here. The numbers must equal those of the docker-archive the
image was pushed from."""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import socket
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import REQUIRE_DOCKER, fixture
from registries import PASSWORD, USER, Registry, running_registry

import imgopt
from imgopt.cli import main
from imgopt.errors import AuthError, CorruptArchive, ImageNotFound, PlatformNotFound, RegistryError
from imgopt.sources import RegistryOptions, load_image, source_settings
from imgopt.sources.registry import find_credentials, parse_registry_ref

pytestmark = pytest.mark.registry

WASTE = fixture("waste-docker.tar")
ZSTD = fixture("waste-oci-zstd")
MULTI = fixture("multiplatform-oci")


def _need_tools() -> None:
    missing = [t for t in ("docker-registry", "skopeo", "htpasswd", "openssl") if shutil.which(t) is None]
    if missing:
        if REQUIRE_DOCKER:
            pytest.fail(f"registry tests need {', '.join(missing)} (CI installs them)")
        pytest.skip(f"{', '.join(missing)} not installed (apt install docker-registry skopeo apache2-utils)")


@pytest.fixture(scope="module")
def plain() -> Iterator[Registry]:
    _need_tools()
    with running_registry("plain") as reg:
        reg.push(f"docker-archive:{WASTE}", "app:1")
        reg.push(f"oci:{ZSTD}", "zstd:1")
        reg.push(f"oci:{MULTI}", "multi:1", all_platforms=True)
        yield reg


@pytest.fixture(scope="module")
def secured() -> Iterator[Registry]:
    _need_tools()
    with running_registry("basic-tls") as reg:
        reg.push(f"docker-archive:{WASTE}", "team/app:1")
        yield reg


@pytest.fixture(scope="module")
def token() -> Iterator[Registry]:
    _need_tools()
    with running_registry("token") as reg:
        reg.push(f"docker-archive:{WASTE}", "app:1")
        yield reg


def _numbers(result: Any) -> dict[str, Any]:
    """An analysis as JSON without what names or stores the image (ref, source, compressed
    sizes, the digests of compressed blobs and the manifest)."""
    d = json.loads(result.to_json())
    d["image"] = {k: v for k, v in d["image"].items() if k not in ("ref", "source", "manifest_digest", "repo_tags")}
    d.pop("compressed_size_bytes")
    for layer in d["layers"]:
        for k in ("digest", "media_type", "compressed_size_bytes"):
            layer.pop(k)
    return d


@pytest.fixture(scope="module")
def archive_numbers() -> dict[str, Any]:
    with source_settings(cache=False):
        return _numbers(imgopt.analyze(WASTE))


def test_plain_registry_gives_the_archive_numbers(plain: Registry, archive_numbers: dict[str, Any]) -> None:
    with source_settings(cache=False):
        image = load_image(plain.ref("app:1"))
        result = imgopt.analyze(image)
    assert _numbers(result) == archive_numbers
    assert image.source == "docker" and image.ref == f"docker://{plain.host}/app:1"
    # the compressed sizes are the manifest's, exactly
    manifest = json.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"http://{plain.host}/v2/app/manifests/1",
                headers={
                    "Accept": "application/vnd.docker.distribution.manifest.v2+json,"
                    "application/vnd.oci.image.manifest.v1+json"
                },
            )
        ).read()
    )
    assert [lr.compressed_size for lr in image.layers] == [d["size"] for d in manifest["layers"]]
    assert image.manifest_digest and image.manifest_digest.startswith("sha256:")


def test_by_digest_and_zstd_layers(plain: Registry) -> None:
    with source_settings(cache=False):
        by_tag = load_image(plain.ref("zstd:1"))
        by_digest = load_image(f"docker://{plain.host}/zstd@{by_tag.manifest_digest}")
        local = load_image(f"oci:{ZSTD}")
    assert [lr.media_type for lr in by_tag.layers] == [lr.media_type for lr in local.layers]
    assert any(lr.media_type.endswith("zstd") for lr in by_tag.layers)
    assert [(lr.diff_id, lr.entries, lr.compressed_size) for lr in by_digest.layers] == [
        (lr.diff_id, lr.entries, lr.compressed_size) for lr in local.layers
    ]


def test_multi_platform_index(plain: Registry) -> None:
    with source_settings(cache=False):
        arm = load_image(plain.ref("multi:1"), platform="linux/arm64")
        local = load_image(f"oci:{MULTI}", platform="linux/arm64")
        assert arm.architecture == "arm64" and arm.id == local.id
        with pytest.raises(PlatformNotFound, match="linux/s390x"):
            load_image(plain.ref("multi:1"), platform="linux/s390x")


def test_basic_auth_behind_tls_with_a_private_ca(secured: Registry, archive_numbers: dict[str, Any]) -> None:
    ref = secured.ref("team/app:1")
    with source_settings(cache=False):
        # the CA is private: without --cert-dir, TLS fails and says what to do
        with pytest.raises(RegistryError, match="cert-dir"):
            load_image(ref)
        opts = RegistryOptions(cert_dir=secured.cert_dir)
        with source_settings(registry=opts), pytest.raises(AuthError, match="user name and password"):
            load_image(ref)
        wrong = RegistryOptions(cert_dir=secured.cert_dir, creds=(USER, "wrong"))
        with source_settings(registry=wrong), pytest.raises(AuthError, match="401"):
            load_image(ref)
        with source_settings(registry=RegistryOptions(cert_dir=secured.cert_dir, creds=(USER, PASSWORD))):
            assert _numbers(imgopt.analyze(ref)) == archive_numbers


def test_credentials_from_the_docker_config(
    secured: Registry, tmp_path: str, monkeypatch: pytest.MonkeyPatch, archive_numbers: dict[str, Any]
) -> None:
    import base64

    cfg = os.path.join(str(tmp_path), "config.json")
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    with open(cfg, "w") as f:
        json.dump({"auths": {secured.host: {"auth": auth}}}, f)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("IMGOPT_REGISTRY_CREDS", raising=False)
    assert find_credentials(secured.host, RegistryOptions()) == (USER, PASSWORD)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["analyze", secured.ref("team/app:1"), "--cert-dir", str(secured.cert_dir), "--format", "json"], out, err
    )
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue())["final_size_bytes"] == archive_numbers["final_size_bytes"]


def test_a_credential_helper_is_asked(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The docker-credential-helpers protocol: the server on stdin, JSON on stdout."""
    bindir = os.path.join(str(tmp_path), "bin")
    os.makedirs(bindir)
    helper = os.path.join(bindir, "docker-credential-imgopttest")
    with open(helper, "w") as f:
        f.write(
            '#!/bin/sh\nread server\n[ "$1" = get ] || exit 3\n'
            'if [ "$server" = "reg.example:5000" ]; then echo \'{"Username":"u","Secret":"p"}\'; '
            'else echo "credentials not found in native keychain"; exit 1; fi\n'
        )
    os.chmod(helper, 0o755)
    with open(os.path.join(str(tmp_path), "config.json"), "w") as f:
        json.dump({"credHelpers": {"reg.example:5000": "imgopttest"}, "credsStore": "imgopttest"}, f)
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.delenv("IMGOPT_REGISTRY_CREDS", raising=False)
    assert find_credentials("reg.example:5000", RegistryOptions()) == ("u", "p")
    assert find_credentials("other.example", RegistryOptions()) is None  # the store has none: anonymous


def test_token_auth(token: Registry, archive_numbers: dict[str, Any]) -> None:
    assert token.token is not None
    with source_settings(cache=False):
        with pytest.raises(AuthError, match="token service .* refused"):
            load_image(token.ref("app:1"))
        with source_settings(registry=RegistryOptions(creds=(USER, PASSWORD))):
            assert _numbers(imgopt.analyze(token.ref("app:1"))) == archive_numbers
    pulls = [r for r in token.token.requests if r.get("scope") == "repository:app:pull"]
    assert pulls and pulls[-1]["service"] == "imgopt-test-registry" and pulls[-1]["authorization"] == "Basic"


def test_missing_things_are_named(plain: Registry) -> None:
    with source_settings(cache=False):
        with pytest.raises(ImageNotFound, match="nosuch"):
            load_image(plain.ref("nosuch:1"))
        with pytest.raises(ImageNotFound, match="app:2"):
            load_image(plain.ref("app:2"))
    err = io.StringIO()
    assert main(["analyze", plain.ref("app:2")], io.StringIO(), err) == 3
    assert err.getvalue().count("\n") == 1 and "app:2" in err.getvalue() and "Traceback" not in err.getvalue()


def test_bad_references_fail_before_any_io() -> None:
    for bad in ("docker://127.0.0.1:1/UPPER:1", "docker://127.0.0.1:1/a:b:c:d", "docker://h/r@nodigest", "docker:/x"):
        err = io.StringIO()
        assert main(["analyze", bad], io.StringIO(), err) == 2, bad
        assert "Traceback" not in err.getvalue()
    assert parse_registry_ref("//debian:bookworm").repository == "library/debian"
    assert parse_registry_ref("//localhost:5000/a/b@sha256:" + "0" * 64).host == "localhost:5000"


def test_unreachable_registry_is_one_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    no_retries = RegistryOptions(retries=0)
    with source_settings(cache=False, registry=no_retries), pytest.raises(RegistryError, match=f"127.0.0.1:{port}"):
        load_image(f"docker://127.0.0.1:{port}/app:1")


# ---------------------------------------------------------------------------------------------
# a proxy in front of the real registry that misbehaves on purpose


class _Proxy:
    """Forwards to the registry; ``plan`` says what to do to blob GETs: ``cut`` (close after
    ``cut_at`` bytes, once), ``corrupt`` (flip a byte), ``throttle`` (429 once), ``no-range``
    (ignore Range headers)."""

    def __init__(self, upstream: str, plan: set[str], cut_at: int = 3000) -> None:
        self.plan = plan
        self.cut_at = cut_at
        self.log: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                blob = "/blobs/" in self.path
                if blob and "throttle" in proxy.plan:
                    proxy.plan.discard("throttle")
                    proxy.log.append(("GET", self.path, 429))
                    self.send_response(429)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                if blob and "no-range" in proxy.plan:
                    headers.pop("Range", None)
                req = urllib.request.Request(f"http://{upstream}{self.path}", headers=headers)
                try:
                    resp = urllib.request.urlopen(req)
                    status, body, rh = resp.status, resp.read(), resp.headers
                except urllib.error.HTTPError as e:
                    status, body, rh = e.code, e.read(), e.headers
                proxy.log.append(("GET", self.path, status))
                if blob and "corrupt" in proxy.plan and status == 200 and len(body) > 100:
                    body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
                self.send_response(status)
                for k, v in rh.items():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if blob and "cut" in proxy.plan and status == 200 and len(body) > proxy.cut_at:
                    proxy.plan.discard("cut")
                    self.wfile.write(body[: proxy.cut_at])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(plain: Registry) -> Iterator[_Proxy]:
    p = _Proxy(plain.host, set())
    yield p
    p.close()


def _layer_blob_gets(p: _Proxy) -> list[int]:
    return [status for _, path, status in p.log if "/blobs/" in path and status != 429]


def test_a_dropped_download_resumes_with_range(
    proxy: _Proxy, archive_numbers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("imgopt.sources.registry.BLOB_CHUNK", 1024)  # what arrived before the cut is kept
    proxy.plan |= {"cut"}
    with source_settings(cache=False, registry=RegistryOptions(parallel=1)):
        result = imgopt.analyze(f"docker://{proxy.host}/app:1")
    assert _numbers(result) == archive_numbers
    assert 206 in _layer_blob_gets(proxy)  # the second request asked for the rest only


def test_a_registry_that_ignores_range_still_gives_the_right_bytes(
    proxy: _Proxy, archive_numbers: dict[str, Any]
) -> None:
    proxy.plan |= {"cut", "no-range"}
    with source_settings(cache=False, registry=RegistryOptions(parallel=1)):
        assert _numbers(imgopt.analyze(f"docker://{proxy.host}/app:1")) == archive_numbers
    assert 206 not in _layer_blob_gets(proxy)


def test_throttling_is_retried(proxy: _Proxy, archive_numbers: dict[str, Any]) -> None:
    proxy.plan |= {"throttle"}
    with source_settings(cache=False):
        assert _numbers(imgopt.analyze(f"docker://{proxy.host}/app:1")) == archive_numbers
    assert any(status == 429 for _, _, status in proxy.log)


def test_a_corrupt_blob_is_refused_by_name(proxy: _Proxy) -> None:
    proxy.plan |= {"corrupt"}
    with source_settings(cache=False), pytest.raises(CorruptArchive, match=r"sha256:[0-9a-f]{64}.*digest"):
        load_image(f"docker://{proxy.host}/app:1")


def test_a_warm_read_fetches_only_the_manifest(proxy: _Proxy, cache_dir_for_registry: str) -> None:
    ref = f"docker://{proxy.host}/app:1"
    cold = load_image(ref)
    proxy.log.clear()
    warm = load_image(ref)
    assert warm.layers == cold.layers and warm.id == cold.id
    assert [path for _, path, _ in proxy.log] == ["/v2/", "/v2/app/manifests/1"]  # two round trips, no blob


@pytest.fixture
def cache_dir_for_registry(tmp_path: str) -> Iterator[str]:
    with source_settings(cache=str(tmp_path)):
        yield str(tmp_path)


def test_diff_lint_and_optimize_take_registry_references(plain: Registry, tmp_path: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["diff", plain.ref("app:1"), f"docker-archive:{WASTE}", "--format", "json"], out, err) == 0, (
        err.getvalue()
    )
    doc = json.loads(out.getvalue())
    assert doc["before"]["ref"] == plain.ref("app:1") and doc["entries"] == []  # the same image, pushed
    assert doc["before"]["final_size_bytes"] == doc["after"]["final_size_bytes"] > 0
    dockerfile = os.path.join(str(tmp_path), "Dockerfile")
    with open(dockerfile, "w") as f:
        f.write("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["lint", dockerfile, "--image", plain.ref("app:1"), "--format", "json"], out, err)
    assert code in (0, 1) and "Traceback" not in err.getvalue(), err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    code = main(["optimize", dockerfile, "--image", plain.ref("app:1"), "--format", "json"], out, err)
    assert code == 0, err.getvalue()


def test_an_unreachable_token_service_is_one_error() -> None:
    """The registry names a realm nobody answers at: one RegistryError naming it, not a traceback."""
    _need_tools()
    with running_registry("token") as reg:  # its own: the shared one keeps its token service
        reg.push(f"docker-archive:{WASTE}", "app:1")
        assert reg.token is not None
        reg.token.close()  # the token service goes away
        opts = RegistryOptions(creds=(USER, PASSWORD), retries=0)
        with source_settings(cache=False, registry=opts), pytest.raises(RegistryError, match="token service") as e:
            load_image(reg.ref("app:1"))
    assert "\n" not in str(e.value)
