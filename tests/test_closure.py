"""The runtime closure (imgopt/closure) on synthetic images holding real ELF files, compiled here
with gcc: RUNPATH with $ORIGIN, symlinked sonames, /etc/ld.so.conf and its includes, merged-/usr
package ownership, shebang and exec lines of entry scripts, accounts and their directories, static
programs; and the runtime stage made from it."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
from builders import docker_archive

from imgopt.analysis.squash import squash
from imgopt.closure import CLOSURE_READ, Closure, closure_variant, compute_closure
from imgopt.dockerfile import parse
from imgopt.sources import load_image

LIBDIR = "usr/lib/x86_64-linux-gnu"


@pytest.fixture(scope="module")
def elves(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Real ELF files: a shared library with a soname, a program that needs it through
    RUNPATH=$ORIGIN/../lib, one that finds it through ld.so.conf, and a static program."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to compile the ELF test programs (apt-get install gcc)")
    d = str(tmp_path_factory.mktemp("elf"))
    with open(os.path.join(d, "foo.c"), "w") as f:
        f.write("int foo(void) { return 42; }\n")
    with open(os.path.join(d, "app.c"), "w") as f:
        f.write('#include <stdio.h>\nint foo(void);\nint main(void) { printf("%d\\n", foo()); return 0; }\n')

    def cc(*args: str) -> None:
        subprocess.run([gcc, *args], cwd=d, check=True, capture_output=True)

    cc("-shared", "-fPIC", "-Wl,-soname,libfoo.so.1", "-o", "libfoo.so.1.2.3", "foo.c")
    os.symlink("libfoo.so.1.2.3", os.path.join(d, "libfoo.so"))
    cc("-o", "app", "app.c", "-L.", "-lfoo", "-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags")
    cc("-o", "plain", "app.c", "-L.", "-lfoo")  # no RUNPATH: the loader's configuration must find libfoo
    cc("-static", "-o", "static", "app.c", "foo.c")
    out = {}
    for name in ("libfoo.so.1.2.3", "app", "plain", "static"):
        with open(os.path.join(d, name), "rb") as f:
            out[name] = f.read()
    return out


STATUS = (
    b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\n\n"
    b"Package: dash\nStatus: install ok installed\nVersion: 0.5\n\n"
    b"Package: base-files\nStatus: install ok installed\n"
)
PASSWD = b"root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def _base() -> list[Any]:
    return [
        ("dir", "usr"), ("dir", "usr/lib"), ("dir", LIBDIR), ("dir", "usr/bin"), ("dir", "etc"),
        ("symlink", "lib", "usr/lib"), ("symlink", "lib64", "usr/lib64"), ("symlink", "bin", "usr/bin"),
        ("dir", "usr/lib64"), ("symlink", "usr/lib64/ld-linux-x86-64.so.2", f"/{LIBDIR}/ld-linux-x86-64.so.2"),
        ("file", f"{LIBDIR}/ld-linux-x86-64.so.2", b"a loader (its bytes do not matter here)", {"mode": 0o755}),
        ("file", f"{LIBDIR}/libc.so.6", b"libc", {"mode": 0o644}),
        ("file", "usr/bin/sh", b"a shell", {"mode": 0o755}),
        ("file", "etc/ld.so.conf", b"include /etc/ld.so.conf.d/*.conf\n"),
        ("file", "etc/ld.so.conf.d/x86_64-linux-gnu.conf", b"# multiarch support\n/usr/lib/x86_64-linux-gnu\n"),
        ("file", "var/lib/dpkg/status", STATUS),
        ("file", "var/lib/dpkg/info/libc6:amd64.list",
         f"/.\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n/{LIBDIR}/ld-linux-x86-64.so.2\n".encode()),
        ("file", "var/lib/dpkg/info/dash.list", b"/usr/bin/sh\n"),
        ("file", "etc/passwd", PASSWD),
        ("file", "etc/group", GROUP),
    ]  # fmt: skip


def _closure(tmp_path: str, stage: list[Any], cmd: list[str], *, workdir: str = "/", user: str = "") -> Closure:
    path = os.path.join(tmp_path, "image.tar")
    with open(path, "wb") as f:
        f.write(docker_archive([_base(), stage], history=["ADD base", "RUN build"], cmd=cmd))
    image = load_image("docker-archive:" + path, CLOSURE_READ)
    image = _with_config(image, workdir=workdir, user=user, env=("PATH=/usr/local/bin:/usr/bin:/bin",))
    return compute_closure(image, squash(image), {1}, {0})


def _with_config(image: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(image, config=replace(image.config, **changes))


def test_runpath_origin_and_symlinked_sonames(tmp_path: str, elves: dict[str, bytes]) -> None:
    stage = [
        ("file", "opt/app/bin/app", elves["app"], {"mode": 0o755}),
        ("file", "opt/app/lib/libfoo.so.1.2.3", elves["libfoo.so.1.2.3"], {"mode": 0o644}),
        ("symlink", "opt/app/lib/libfoo.so.1", "libfoo.so.1.2.3"),
    ]
    c = _closure(str(tmp_path), stage, ["/opt/app/bin/app"])
    assert c.entry == ("opt/app/bin/app",)
    assert {"opt/app/lib/libfoo.so.1", "opt/app/lib/libfoo.so.1.2.3", f"{LIBDIR}/libc.so.6"} <= c.needed
    assert f"{LIBDIR}/ld-linux-x86-64.so.2" in c.needed and "lib64" in c.needed  # /lib64 -> usr/lib64 -> …
    assert not c.unknown and not c.packages  # libc6 comes with the base
    assert {"opt/app/bin/app", "opt/app/lib/libfoo.so.1", "opt/app/lib/libfoo.so.1.2.3"} <= c.outputs
    assert not c.static and not c.self_contained


def test_ld_so_conf_includes_are_searched(tmp_path: str, elves: dict[str, bytes]) -> None:
    lib = [("file", "usr/local/lib/custom/libfoo.so.1", elves["libfoo.so.1.2.3"])]
    conf = [("file", "etc/ld.so.conf.d/custom.conf", b"/usr/local/lib/custom\n")]
    prog = [("file", "usr/local/bin/plain", elves["plain"], {"mode": 0o755})]
    found = _closure(str(tmp_path), prog + lib + conf, ["plain"])
    assert "usr/local/lib/custom/libfoo.so.1" in found.needed and not found.unknown
    lost = _closure(str(tmp_path), prog + lib, ["plain"])
    assert lost.unknown == ("/usr/local/bin/plain: library libfoo.so.1 is on no search path of the image",)


def test_owners_through_merged_usr_and_packages_the_stage_installed(tmp_path: str, elves: dict[str, bytes]) -> None:
    """libfoo comes from a package the stage installed (its list names /lib/..., which is usr/lib/...):
    the runtime installs the package and copies nothing of it."""
    stage = [
        ("file", f"{LIBDIR}/libfoo.so.1", elves["libfoo.so.1.2.3"]),
        ("file", "var/lib/dpkg/status", STATUS + b"\nPackage: libfoo1\nStatus: install ok installed\nVersion: 1\n"),
        ("file", "var/lib/dpkg/info/libfoo1:amd64.list", b"/.\n/lib/x86_64-linux-gnu/libfoo.so.1\n"),
        ("file", "usr/local/bin/plain", elves["plain"], {"mode": 0o755}),
    ]
    c = _closure(str(tmp_path), stage, ["plain"])
    assert c.packages == frozenset({"libfoo1"})  # libc6 is the base's
    assert f"{LIBDIR}/libfoo.so.1" not in c.outputs and "usr/local/bin/plain" in c.outputs
    assert not any(p.startswith("var/lib/dpkg") for p in c.outputs)


def test_entry_scripts_shebangs_and_exec_lines(tmp_path: str, elves: dict[str, bytes]) -> None:
    stage = [
        ("file", "usr/local/bin/entrypoint.sh", b'#!/bin/sh\nset -e\nexec /opt/app/bin/app "$@"\n', {"mode": 0o755}),
        ("file", "opt/app/bin/app", elves["app"], {"mode": 0o755}),
        ("file", "opt/app/lib/libfoo.so.1", elves["libfoo.so.1.2.3"]),
    ]
    c = _closure(str(tmp_path), stage, ["entrypoint.sh"])
    assert {"usr/local/bin/entrypoint.sh", "usr/bin/sh", "opt/app/bin/app", "opt/app/lib/libfoo.so.1"} <= c.needed
    assert c.packages == frozenset() and not c.unknown  # /bin/sh: dash, which the base has
    shell = _closure(str(tmp_path), stage, ["/bin/sh", "-c", "exec /opt/app/bin/app --serve"])
    assert shell.needs_shell and "opt/app/bin/app" in shell.needed


def test_accounts_and_their_directories(tmp_path: str, elves: dict[str, bytes]) -> None:
    stage = [
        ("file", "etc/passwd", PASSWD + b"svc:x:10001:10001::/var/lib/svc:/usr/sbin/nologin\n"),
        ("file", "etc/group", GROUP + b"svc:x:10001:\n"),
        ("dir", "var/lib/svc", b"", {"uid": 10001, "gid": 10001, "mode": 0o750}),
        ("file", "var/lib/svc/seed.db", b"seed", {"uid": 10001, "gid": 10001}),
        ("file", "usr/local/bin/static", elves["static"], {"mode": 0o755}),
    ]
    c = _closure(str(tmp_path), stage, ["static"], user="svc")
    assert [(a.name, a.uid, a.gid, a.group, a.home) for a in c.accounts] == [
        ("svc", 10001, 10001, "svc", "/var/lib/svc")
    ]
    assert [(d.path, d.uid, d.mode) for d in c.directories] == [("/var/lib/svc", 10001, 0o750)]
    assert c.owner_of["var/lib/svc/seed.db"] == (10001, 10001)
    df = parse('FROM debian:bookworm\nRUN useradd svc\nUSER svc\nCMD ["static"]\n')
    files = {p for p in c.needed | c.outputs} | {"var/lib/dpkg/status", "usr/local/lib/other"}
    text = closure_variant(df, c, files, []).text
    assert "useradd -l -M -u 10001 -g 10001 -d /var/lib/svc -s /usr/sbin/nologin svc" in text
    assert "install -d -o 10001 -g 10001 -m 0750 /var/lib/svc" in text
    assert "COPY --from=builder --chown=10001:10001 /var/lib/svc" in text
    runtime = text.split("# runtime stage", 1)[1]
    assert runtime.index("useradd") < runtime.index("COPY --from") < runtime.index("USER svc")


def test_a_static_program_runs_from_scratch(tmp_path: str, elves: dict[str, bytes]) -> None:
    stage = [
        ("file", "usr/local/bin/static", elves["static"], {"mode": 0o755}),
        ("file", "etc/app/config.toml", b"answer = 42\n"),  # written by the build: carried
        ("file", "src/app/main.c", b"int main(){}\n"),  # the program's source: left in the builder
        ("file", "root/.cache/pip/x", b"cache"),
    ]
    c = _closure(str(tmp_path), stage, ["/usr/local/bin/static"])
    assert c.static and c.self_contained
    assert c.outputs == frozenset({"usr/local/bin/static", "etc/app/config.toml"})
    assert "/src/app/main.c (source code of a compiled program)" in c.left_behind
    df = parse('FROM debian:bookworm\nCOPY . /src\nRUN make\nCMD ["/usr/local/bin/static"]\n')
    v = closure_variant(df, c, set(c.outputs) | {"src/app/main.c"}, [])
    runtime = v.text.split("# runtime stage", 1)[1]
    assert "FROM scratch" in runtime and "apt-get" not in runtime and "/src" not in runtime
    assert "COPY --from=builder /etc/app /etc/app" in runtime  # a directory only the build wrote: whole
    assert runtime.rstrip().endswith('CMD ["/usr/local/bin/static"]')


def test_apt_sources_the_build_added_are_carried_before_the_install(tmp_path: str, elves: dict[str, bytes]) -> None:
    """A needed package may come from a repository the original added: its sources entry and key
    go into the runtime stage before apt-get runs there."""
    stage = [
        (
            "file",
            "etc/apt/sources.list.d/vendor.list",
            b"deb [signed-by=/usr/share/keyrings/vendor.gpg] http://x/ y main\n",
        ),
        ("file", "usr/share/keyrings/vendor.gpg", b"key"),
        ("file", f"{LIBDIR}/libfoo.so.1", elves["libfoo.so.1.2.3"]),
        ("file", "var/lib/dpkg/status", STATUS + b"\nPackage: libfoo1\nStatus: install ok installed\nVersion: 1\n"),
        ("file", "var/lib/dpkg/info/libfoo1:amd64.list", b"/.\n/lib/x86_64-linux-gnu/libfoo.so.1\n"),
        ("file", "usr/local/bin/plain", elves["plain"], {"mode": 0o755}),
    ]
    c = _closure(str(tmp_path), stage, ["plain"])
    assert c.packages == frozenset({"libfoo1"})
    df = parse('FROM debian:bookworm\nRUN curl -o /usr/share/keyrings/vendor.gpg x\nCMD ["plain"]\n')
    runtime = closure_variant(df, c, set(c.needed | c.outputs), []).text.split("# runtime stage", 1)[1]
    assert (
        "COPY --from=builder /etc/apt/sources.list.d/vendor.list /usr/share/keyrings/vendor.gpg /tmp/imgopt-apt/"
        in runtime
    )
    install = next(line for line in runtime.splitlines() if "apt-get install" in line)
    assert install.index("cp /tmp/imgopt-apt/vendor.list /etc/apt/sources.list.d/vendor.list") < install.index(
        "apt-get update"
    )
    assert "libfoo1" in install


def test_package_side_effects_and_dev_packages_stay_behind(tmp_path: str, elves: dict[str, bytes]) -> None:
    """What maintainer scripts write in a layer that only installs packages is not a build output,
    and a language runtime never brings -dev packages."""
    stage = [
        ("file", "etc/lighttpd/conf-enabled/90-javascript-alias.conf", b"alias"),  # a maintainer script's
        ("file", "usr/bin/python3.11", elves["static"], {"mode": 0o755}),
        ("file", "usr/lib/python3.11/os.py", b"# stdlib"),
        ("file", "usr/lib/python3.11/config-3.11/libpython3.11.a", b"!<arch>"),
        ("file", "var/lib/dpkg/status", STATUS + b"\nPackage: libpython3.11-stdlib\nStatus: install ok installed\n"
         b"\nPackage: libpython3.11-dev\nStatus: install ok installed\n"),
        ("file", "var/lib/dpkg/info/libpython3.11-stdlib:amd64.list", b"/usr/lib/python3.11/os.py\n"),
        ("file", "var/lib/dpkg/info/libpython3.11-dev:amd64.list",
         b"/usr/lib/python3.11/config-3.11/libpython3.11.a\n"),
        ("file", "var/lib/dpkg/info/python3.11-minimal.list", b"/usr/bin/python3.11\n"),
    ]  # fmt: skip
    path = os.path.join(str(tmp_path), "image.tar")
    with open(path, "wb") as f:
        f.write(docker_archive([_base(), stage], history=["ADD base", "RUN apt-get install"], cmd=["python3.11", "-V"]))
    image = _with_config(load_image("docker-archive:" + path, CLOSURE_READ), env=("PATH=/usr/bin:/bin",))
    c = compute_closure(image, squash(image), {1}, {0}, install_layers={1})
    assert c.packages == frozenset({"python3.11-minimal", "libpython3.11-stdlib"})
    assert not any(p.startswith("etc/lighttpd") for p in c.outputs)


def test_musl_images_search_the_musl_loader_path(tmp_path: str, elves: dict[str, bytes]) -> None:
    """Alpine's loader reads no ld.so.conf: /etc/ld-musl-<arch>.path, else lib, usr/local/lib, usr/lib."""
    base = [("dir", "etc"), ("file", "usr/local/bin/plain", elves["plain"], {"mode": 0o755}),
            ("symlink", "lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1"),
            ("file", "lib/ld-musl-x86_64.so.1", b"musl"), ("file", "usr/lib/libc.so.6", b"c")]  # fmt: skip

    def closure(extra: list[Any]) -> Closure:
        path = os.path.join(str(tmp_path), "musl.tar")
        with open(path, "wb") as f:
            f.write(docker_archive([base + extra], history=["RUN build"], cmd=["plain"]))
        image = _with_config(load_image("docker-archive:" + path, CLOSURE_READ), env=("PATH=/usr/local/bin",))
        return compute_closure(image, squash(image), {0}, set())

    default = closure([("file", "usr/local/lib/libfoo.so.1", elves["libfoo.so.1.2.3"])])
    assert "usr/local/lib/libfoo.so.1" in default.needed and not default.unknown
    listed = [("file", "opt/musl/lib/libfoo.so.1", elves["libfoo.so.1.2.3"])]
    assert closure(listed).unknown  # not on musl's default path
    found = closure([*listed, ("file", "etc/ld-musl-x86_64.path", b"/opt/musl/lib\n/usr/lib\n")])
    assert "opt/musl/lib/libfoo.so.1" in found.needed and not found.unknown
