"""DOCKER_HOST pointing at podman's Docker-compatible socket works like the Docker engine."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from builders import WASTE_EXPECTED
from conftest import REQUIRE_DOCKER, fixture, require_tool

import imgopt
from imgopt.errors import ImageNotFound

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def podman_socket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    podman = require_tool("podman", "apt-get install podman; .ci/run installs it", required=REQUIRE_DOCKER)
    sock = os.path.join(str(tmp_path_factory.mktemp("podman")), "podman.sock")
    subprocess.run(
        [podman, "load", "-q", "-i", fixture("waste-docker.tar")], check=True, timeout=300, capture_output=True
    )
    service = subprocess.Popen(
        [podman, "system", "service", "--time=0", "unix://" + sock],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        else:
            pytest.fail("podman system service did not create its socket")
        yield "unix://" + sock
    finally:
        service.terminate()
        service.wait(timeout=30)
        subprocess.run([podman, "rmi", "-f", "localhost/waste:latest"], capture_output=True, timeout=120)


def test_analyze_through_podman(podman_socket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", podman_socket)
    a = imgopt.analyze("docker-daemon:localhost/waste:latest")
    assert a.size_bytes == WASTE_EXPECTED["size_bytes"]
    assert a.final_size_bytes == WASTE_EXPECTED["final_size_bytes"]
    assert a.waste_by_cause == WASTE_EXPECTED["by_cause"]
    assert a.image.id == imgopt.load("docker-archive:" + fixture("waste-docker.tar")).id
    with pytest.raises(ImageNotFound):
        imgopt.analyze("docker-daemon:localhost/not-there:latest")
