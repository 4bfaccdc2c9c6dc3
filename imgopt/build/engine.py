"""Builds and runs on the Docker engine: the I/O edge of ``optimize`` and ``compare``.

Besides ``sources/daemon.py`` (which reads images) this is the only module that imports the docker
SDK. Classic builds go through the Engine API (``POST /build``) with a context tar made here, so a
variant's Dockerfile and its proposed ``.dockerignore`` never touch the user's directory. Dockerfiles
that need BuildKit (heredocs, ``RUN --mount``, ``COPY --chmod``/``--link``...) are built with a
docker CLI that has BuildKit built in (``DOCKER_BUILDKIT=1``; a CLI with the buildx plugin works too),
from a temporary directory holding the Dockerfile and its ``Dockerfile.dockerignore``.

Everything this module creates (tags, containers) carries the label ``imgopt.run=<run id>``, is
tracked by a ``Session`` and removed when the session closes: on success, on failure, on timeout
and on Ctrl-C. The label lets a caller (and the tests) find exactly what one run made, on an engine
that other users share.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..dockerfile.model import Dockerfile
from ..dockerfile.parser import read_dockerignore
from ..errors import BuildError, CheckError, DaemonError
from ..sources.daemon import docker_client, is_transport_error, reason

log = logging.getLogger(__name__)

RUN_LABEL = "imgopt.run"
_STEP_IMAGE = re.compile(r"^\s*---> ([0-9a-f]{12,64})\s*$")  # the classic builder names each step's image
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM ", re.I)
BUILDKIT_FLAGS = {"RUN": ("mount", "network", "security"), "COPY": ("chmod", "link", "parents", "exclude")}


def needs_buildkit(df: Dockerfile) -> bool:
    """Whether the classic builder would reject this Dockerfile."""
    if "syntax" in df.directives:
        return True
    for ins in df.instructions:
        if ins.heredocs:
            return True
        wanted = BUILDKIT_FLAGS.get(ins.keyword, ())
        if ins.keyword == "ADD":
            wanted = BUILDKIT_FLAGS["COPY"] + ("checksum", "keep-git-dir")
        if any(f.name in wanted for f in ins.flags):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Build:
    tag: str
    image_id: str
    seconds: float
    builder: str  # "classic" or "buildkit"


@dataclass(frozen=True, slots=True)
class Run:
    """One container run: its exit code and output. ``exit_code`` is None when the container was
    still running at the timeout (then killed: ``timed_out``) or never ran (``error`` says why: the
    engine could not create or start it, e.g. a missing executable)."""

    command: tuple[str, ...] | None  # None: the image's own ENTRYPOINT/CMD
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    error: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None and self.error is None


def find_buildkit_cli() -> str | None:
    """A docker CLI that can run BuildKit builds: ``$IMGOPT_DOCKER_CLI``, else ``docker`` on PATH
    with buildx, else a CLI older than 23 (BuildKit built in) such as Debian's /usr/bin/docker."""
    candidates = [os.environ.get("IMGOPT_DOCKER_CLI"), shutil.which("docker"), "/usr/bin/docker"]
    for cli in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        try:
            if subprocess.run([cli, "buildx", "version"], capture_output=True, timeout=20).returncode == 0:
                return cli
            out = subprocess.run(
                [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True, timeout=20
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        major = out.split(".")[0]
        if major.isdigit() and int(major) < 23:
            return cli
    return None


@dataclass(frozen=True)
class _Request:
    """One build, as both builders take it."""

    context: str
    dockerfile: str
    tag: str
    dockerignore: Sequence[str] | None
    nocache: bool
    pull: bool


class BuildLog:
    """Build output: passed on to ``progress`` line by line; the last lines kept for the error message."""

    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.progress = progress
        self.tail: list[str] = []

    def add(self, line: str) -> None:
        line = line.rstrip()
        if not line.strip():
            return
        self.tail = (self.tail + [line])[-12:]
        if self.progress is not None:
            self.progress(line)

    def failure(self, reason: str, *, skip_last: bool = False) -> str:
        """``build failed at <step>: <reason>``, the step being the last one the output named."""
        tail = self.tail[:-1] if skip_last else self.tail
        step = next((ln for ln in reversed(tail) if re.match(r"\s*(Step \d|#\d+ \[)", ln)), "")
        where = f" at {step.strip()}" if step else ""
        return f"build failed{where}: {reason.strip()}"


def _run_id(value: str) -> str:
    """A run id usable in a tag and a label value."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise CheckError(f"run id {value!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return value


class Session:
    """A connection to the engine that removes every tag and container it made when closed."""

    def __init__(
        self, *, timeout: float = 1800.0, prefix: str = "imgopt-tmp", keep: bool = False, run_id: str | None = None
    ) -> None:
        self.client: Any = docker_client(timeout, ping=True)
        self.timeout = timeout
        self.prefix = prefix
        self.run_id = _run_id(run_id or os.environ.get("IMGOPT_RUN_ID") or uuid.uuid4().hex[:12])
        self.labels = {RUN_LABEL: self.run_id}
        self._session = uuid.uuid4().hex[:8]
        self.tags: list[str] = []
        self.containers: list[str] = []
        self.intermediates: list[str] = []  # images the classic builder made for steps and stages
        self.keep = keep

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        from docker.errors import DockerException

        for cid in self.containers:
            try:
                self.client.api.remove_container(cid, force=True)
            except DockerException as e:
                log.warning("could not remove container %s: %s", cid[:12], e)
        self.containers.clear()
        if not self.keep:
            for tag in reversed(self.tags):
                try:
                    self.client.api.remove_image(tag, force=True)
                except DockerException as e:
                    log.debug("could not remove %s: %s", tag, e)
            self.tags.clear()
            # a multi-stage build leaves its earlier stages as untagged images: remove what this
            # session built (children first; an image something else still uses stays)
            for image_id in reversed(self.intermediates):
                try:
                    if self.client.api.inspect_image(image_id).get("RepoTags"):
                        continue  # tagged by someone: not a leftover of this session
                    self.client.api.remove_image(image_id)
                except DockerException as e:
                    log.debug("kept %s: %s", image_id, e)
            self.intermediates.clear()
        self.client.close()

    def new_tag(self, name: str) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name.lower())[:60]
        # the run id labels; the tag is also unique per session (several sessions may share a run id)
        tag = f"{self.prefix}/{safe}:{self.run_id}-{self._session}"
        self.tags.append(tag)
        return tag

    def has_image(self, ref: str) -> bool:
        from docker.errors import DockerException, NotFound

        try:
            self.client.api.inspect_image(ref)
            return True
        except NotFound:
            return False
        except DockerException as e:
            raise DaemonError(f"the Docker engine failed to inspect {ref!r}: {reason(e)}") from e

    # -- builds --------------------------------------------------------------------------------

    def build(
        self,
        context: str,
        dockerfile: str,
        name: str,
        *,
        dockerignore: Sequence[str] | None = None,
        nocache: bool = False,
        buildkit: bool = False,
        pull: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> Build:
        """Build ``dockerfile`` (text) in ``context``; ``dockerignore`` replaces the context's own
        .dockerignore (None: use the context's). Raises BuildError with the failing step's output."""
        if not os.path.isdir(context):
            raise BuildError(f"build context {context} is not a directory")
        tag = self.new_tag(name)
        start = time.monotonic()
        req = _Request(context, dockerfile, tag, dockerignore, nocache, pull)
        log = BuildLog(progress)
        if buildkit:
            self._build_cli(req, log)
            builder = "buildkit"
        else:
            self._build_api(req, log)
            builder = "classic"
        seconds = time.monotonic() - start
        image_id = str(self.client.api.inspect_image(tag)["Id"])
        return Build(tag, image_id, seconds, builder)

    def _build_api(self, req: _Request, log: BuildLog) -> None:
        from docker.errors import DockerException
        from docker.utils.build import tar

        ignore = req.dockerignore if req.dockerignore is not None else read_dockerignore(req.context)
        exclude = list(ignore) if ignore is not None else None
        name = f".dockerfile.imgopt-{self.run_id}"
        deadline = time.monotonic() + self.timeout
        cached = False
        try:
            with tar(req.context, exclude=exclude, dockerfile=(name, req.dockerfile)) as ctx_tar:
                stream = self.client.api.build(
                    fileobj=ctx_tar,
                    custom_context=True,
                    dockerfile=name,
                    tag=req.tag,
                    rm=True,
                    forcerm=True,
                    nocache=req.nocache,
                    pull=req.pull,
                    labels=self.labels,
                    decode=True,
                    timeout=int(self.timeout),
                )
                for chunk in stream:
                    if "error" in chunk or "errorDetail" in chunk:
                        detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error")
                        raise BuildError(log.failure(str(detail)))
                    for ln in str(chunk.get("stream") or chunk.get("status") or "").splitlines():
                        log.add(ln)
                        step = _STEP_IMAGE.match(ln)
                        if step is not None and not cached:
                            self.intermediates.append(step.group(1))
                        # the image after a cache hit or a FROM is not one this build made
                        if ln.strip():
                            cached = ln.strip() == "---> Using cache" or _FROM_STEP.match(ln) is not None
                    if time.monotonic() > deadline:
                        raise BuildError(f"build timed out after {self.timeout:.0f} s")
        except DockerException as e:
            raise BuildError(log.failure(reason(e))) from e
        except OSError as e:
            raise BuildError(f"build failed: {e}") from e
        except Exception as e:
            if is_transport_error(e):
                raise BuildError(f"build timed out or the connection broke: {reason(e)}") from e
            raise

    def _build_cli(self, req: _Request, log: BuildLog) -> None:
        cli = find_buildkit_cli()
        if cli is None:
            raise BuildError(
                "this Dockerfile needs BuildKit, and no docker CLI with BuildKit was found "
                "(install buildx, or set IMGOPT_DOCKER_CLI to a docker CLI older than 23)"
            )
        with tempfile.TemporaryDirectory(prefix="imgopt-build-") as tmp:
            path = os.path.join(tmp, "Dockerfile")
            with open(path, "w", encoding="utf-8") as f:
                f.write(req.dockerfile)
            if req.dockerignore is not None:
                with open(path + ".dockerignore", "w", encoding="utf-8") as f:
                    f.write("\n".join(req.dockerignore) + "\n")
            cmd = [cli, "build", "--progress=plain", "-f", path, "-t", req.tag, "--label", f"{RUN_LABEL}={self.run_id}"]
            cmd += ["--no-cache"] if req.nocache else []
            cmd += ["--pull"] if req.pull else []
            env = dict(os.environ, DOCKER_BUILDKIT="1")  # DOCKER_HOST, if set, is the SDK's too
            proc = subprocess.Popen(
                [*cmd, req.context], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
            timer = threading.Timer(self.timeout, proc.kill)
            timer.start()
            try:
                assert proc.stdout is not None
                for ln in proc.stdout:
                    log.add(ln)
                code = proc.wait()
            finally:
                timer.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if code != 0:
                if code < 0:
                    raise BuildError(f"build timed out after {self.timeout:.0f} s")
                said = log.tail[-1] if log.tail else f"docker build exited with {code}"
                if "parse error" in said and "<<" in req.dockerfile and "syntax=" not in req.dockerfile:
                    said += (
                        " (the engine's built-in BuildKit frontend has no heredocs: add "
                        "`# syntax=docker/dockerfile:1`, whose frontend image comes from a registry)"
                    )
                raise BuildError(log.failure(said, skip_last=bool(log.tail)))

    # -- runs ----------------------------------------------------------------------------------

    def run(self, image: str, command: Sequence[str] | None = None, *, timeout: float = 30.0) -> Run:
        """Run ``command`` (argv, entrypoint replaced; None: the image's own ENTRYPOINT/CMD) and
        collect exit code, stdout and stderr. A container still running at ``timeout`` is killed.

        A container the engine refuses to create or start (a missing executable, a bad user, an
        image that is gone) is a result of the image, not an error of the run: the Run says why
        (``error``). Only an engine that cannot be reached raises (DaemonError)."""
        from docker.errors import APIError, DockerException

        kwargs: dict[str, Any] = {"labels": self.labels}
        if command is not None:
            if not command:
                raise CheckError("an empty check command")
            kwargs.update(entrypoint=[command[0]], command=list(command[1:]))
        argv = tuple(command) if command is not None else None
        start = time.monotonic()
        cid: str | None = None
        try:
            cid = str(self.client.api.create_container(image, **kwargs)["Id"])
            self.containers.append(cid)
            self.client.api.start(cid)
            exit_code = self._wait(cid, timeout)
            seconds = time.monotonic() - start
            if exit_code is None:
                self.client.api.kill(cid)
            stdout = self.client.api.logs(cid, stdout=True, stderr=False).decode("utf-8", "replace")
            stderr = self.client.api.logs(cid, stdout=False, stderr=True).decode("utf-8", "replace")
            return Run(argv, exit_code, stdout, stderr, seconds)
        except APIError as e:  # the engine answered: it would not create or start this container
            return Run(argv, None, "", reason(e), time.monotonic() - start, error=reason(e))
        except DockerException as e:
            raise DaemonError(f"running {image} failed: {reason(e)}") from e
        except Exception as e:
            if is_transport_error(e):
                raise DaemonError(f"running {image} failed: the engine connection broke: {reason(e)}") from e
            raise
        finally:
            if cid is not None:
                try:
                    self.client.api.remove_container(cid, force=True)
                    self.containers.remove(cid)
                except DockerException:
                    pass

    def _wait(self, cid: str, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while True:
            state = self.client.api.inspect_container(cid)["State"]
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                return int(state.get("ExitCode", -1))
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


def split_check(command: str) -> tuple[str, ...]:
    """A ``--check`` string as argv (POSIX quoting); use ``sh -c '...'`` for shell syntax."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError as e:
        raise CheckError(f"cannot parse check command {command!r}: {e}") from e
    if not argv:
        raise CheckError("an empty check command")
    return argv


__all__ = ["Build", "Run", "Session", "find_buildkit_cli", "needs_buildkit", "split_check"]
