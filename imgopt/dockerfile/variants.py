"""Variants of a Dockerfile, each built on the hygiene rewrite: a ``-slim`` base, an Alpine
conversion, a multi-stage split onto a slim or distroless runtime. Pure: model in, text, changes and
warnings out. The tables (which tags exist, Debian -> Alpine package names, which runtime library
a -dev package needs) are data files in ``imgopt/data``; docs/optimize.md documents them.

A variant is a proposal until it is built and checked (``imgopt optimize --verify``): a base swap or
a split can drop something the program needs, and only running it proves otherwise.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from .edits import Edit, apply_edits
from .model import Dockerfile, Instruction, Stage
from .parser import parse
from .rewrite import HYGIENE, SAME_PACKAGES, Change, Rewrite, RewriteOptions, hygiene
from .rules import TOOLCHAIN_PACKAGES, Context, check
from .shell import Command, commands, is_pip_install, join_top, run_commands, split_top

NO_OPTIONS = RewriteOptions()
TARGETS = ("hygiene", "aggressive", "slim", "alpine", "multistage", "distroless")
FLAVOURS = ("slim", "alpine", "jre", "distroless", "windowsservercore", "nanoserver")
RUNTIME_KEYWORDS = frozenset(
    {"ENV", "WORKDIR", "USER", "EXPOSE", "LABEL", "ENTRYPOINT", "CMD", "STOPSIGNAL", "HEALTHCHECK", "VOLUME", "SHELL"}
)
NONROOT_UID = 10001


@cache
def data(name: str) -> dict[str, Any]:
    text = resources.files("imgopt").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    out: dict[str, Any] = json.loads(text)
    return out


@dataclass(frozen=True)
class Variant:
    target: str
    text: str
    changes: tuple[Change, ...]
    warnings: tuple[str, ...] = ()
    bases: tuple[str, ...] = field(default=())  # the external images its FROMs need


class NotApplicable(Exception):
    """The target does not apply to this Dockerfile (the reason is the message)."""


# ---------------------------------------------------------------------------------------------
# image references


@dataclass(frozen=True, slots=True)
class BaseRef:
    name: str  # repository as written, without tag/digest
    tag: str
    official: str | None  # short name of an official (library/) image

    def with_tag(self, tag: str) -> str:
        return f"{self.name}:{tag}"


def base_ref(ref: str) -> BaseRef:
    ref = ref.split("@")[0]
    last = ref.rsplit("/", 1)[-1]
    name, tag = (ref.rsplit(":", 1)) if ":" in last else (ref, "latest")
    parts = name.split("/")
    official = None
    if len(parts) == 1:
        official = parts[0]
    elif parts[:-1] in (["library"], ["docker.io", "library"], ["docker.io"]) and len(parts) <= 3:
        official = parts[-1]
    return BaseRef(name, tag, official)


def _codename(tag: str) -> tuple[str, str | None]:
    for code in data("bases.json")["codenames"]:
        if tag == code:
            return "", code
        if tag.endswith("-" + code):
            return tag[: -len(code) - 1], code
    return tag, None


def slim_base(ref: str) -> str | None:
    """The ``-slim`` spelling of an official image's tag, from the table; None when there is none."""
    b = base_ref(ref)
    info = data("bases.json")["images"].get(b.official or "")
    style = info and info["slim"]
    if not style or any(v in b.tag for v in FLAVOURS):
        return None
    if style == "debian":
        return b.with_tag("stable-slim" if b.tag == "latest" else f"{b.tag}-slim")
    if style == "jre":
        if "jdk" in b.tag:
            return b.with_tag(b.tag.replace("jdk", "jre"))
        if b.tag == "latest" or not b.tag[:1].isdigit():
            return None
        ver, _, rest = b.tag.partition("-")
        return b.with_tag(f"{ver}-jre" + (f"-{rest}" if rest else ""))
    if b.tag == "latest":
        return b.with_tag("slim")
    ver, code = _codename(b.tag)
    if code is None:
        return b.with_tag(f"{b.tag}-slim")
    if not ver:
        return b.with_tag(f"slim-{code}" if style == "before" else f"{code}-slim")
    return b.with_tag(f"{ver}-slim-{code}" if style == "before" else f"{ver}-{code}-slim")


def alpine_base(ref: str) -> str | None:
    b = base_ref(ref)
    table = data("bases.json")
    if b.official in table["alpine_for_distro"]:
        return str(table["alpine_for_distro"][b.official])
    info = table["images"].get(b.official or "")
    if not info or not info["alpine"] or "alpine" in b.tag:
        return None
    if b.tag == "latest":
        return b.with_tag("alpine")
    ver, _ = _codename(b.tag)
    for flavour in ("-slim",):
        ver = ver.replace(flavour, "")
    return b.with_tag(f"{ver}-alpine" if ver else "alpine")


def runtime_base(ref: str, distroless: bool) -> str | None:
    b = base_ref(ref)
    info = data("bases.json")["images"].get(b.official or "")
    if info is None:
        return None
    if distroless:
        return info["distroless"] and str(info["distroless"])
    if info["runtime"]:
        return str(info["runtime"])
    return slim_base(ref) or ref


def _simple(seg: str) -> Command | None:
    cmds = commands(seg, expand_shells=False)
    return cmds[0] if len(cmds) == 1 else None


# ---------------------------------------------------------------------------------------------
# helpers over the model


def _edit_from(ins: Instruction, new_base: str) -> Edit:
    """Replace the image of a FROM line, keeping its flags and ``AS name``."""
    m = re.match(r"(\s*\w+\s+(?:--\S+\s+)*)(\S+)(.*)", ins.raw, re.S)
    assert m is not None
    return Edit(ins.line, ins.end_line, m.group(1) + new_base + m.group(3))


def _external_stages(df: Dockerfile) -> list[Stage]:
    return [s for s in df.stages if s.base_stage is None and s.base_resolved.lower() != "scratch"]


def _bases(df: Dockerfile) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.base_resolved for s in _external_stages(df)))


def _hygiene(df: Dockerfile, opts: RewriteOptions) -> Rewrite:
    rules = HYGIENE if opts.packages else SAME_PACKAGES
    return hygiene(df, dockerignore=opts.dockerignore, has_context=opts.has_context, ignore=opts.ignore, rules=rules)


def _start(df: Dockerfile, opts: RewriteOptions) -> tuple[Dockerfile, list[Change], Callable[[int], int]]:
    """The hygiene result, its changes, and a map from its lines to the input's."""
    r = _hygiene(df, opts)
    return parse(r.text, df.path), list(r.changes), r.input_line


def _finish(target: str, text: str, changes: list[Change], warnings: list[str]) -> Variant:
    out = parse(text)
    return Variant(target, text, tuple(changes), tuple(dict.fromkeys(warnings)), _bases(out))


# ---------------------------------------------------------------------------------------------
# targets


def aggressive_variant(df: Dockerfile, opts: RewriteOptions = NO_OPTIONS) -> Variant:
    """Hygiene plus the fixes that change the installed package set (``--no-install-recommends``):
    what the package set loses may be what the program needs, so only a verified build proves it."""
    out = hygiene_variant(df, replace(opts, packages=True))
    if out.text == hygiene_variant(df, replace(opts, packages=False)).text:
        raise NotApplicable("no fix beyond hygiene changes the package set")
    return replace(out, target="aggressive")


def hygiene_variant(df: Dockerfile, opts: RewriteOptions = NO_OPTIONS) -> Variant:
    r = _hygiene(df, opts)
    warnings = [f"line {r.input_line(h.ins.line)}: {h.rule} not fixed automatically: {h.message}" for h in r.unfixed]
    return _finish("hygiene", r.text, list(r.changes), warnings)


def slim_variant(df: Dockerfile, opts: RewriteOptions = NO_OPTIONS) -> Variant:
    fixed, changes, origin = _start(df, opts)
    edits = []
    for st in _external_stages(fixed):
        if st.index not in fixed.reaching_final():
            continue
        new = slim_base(st.base_resolved)
        if new is not None and "$" not in st.base:
            edits.append(_edit_from(st.from_instruction, new))
            changes.append(Change("IMG143", origin(st.from_instruction.line), f"base {st.base} -> {new}"))
    if not edits:
        raise NotApplicable("no base image of the final stage has a known -slim tag")
    warnings = ["a -slim base lacks compilers, -dev headers, man pages and some tools of the full image"]
    return _finish("slim", apply_edits(fixed.render(), edits), changes, warnings)


def _apk_names(pkgs: list[str], warnings: list[str], line: int) -> list[str]:
    table: dict[str, list[str]] = data("packages.json")["apk"]
    out: list[str] = []
    for p in pkgs:
        name = p.split("=")[0]
        if "=" in p:
            warnings.append(f"line {line}: version pin dropped for {p} (Alpine versions differ)")
        if name in table:
            out += table[name]
        elif name.startswith("python3-") and not name.endswith("-dev"):
            out.append("py3-" + name[len("python3-") :])
            warnings.append(f"line {line}: {name} -> py3-{name[8:]} is a guess from the naming convention")
        else:
            out.append(name)
            warnings.append(f"line {line}: no known Alpine name for package {name!r}; kept as is (apk add may fail)")
    return list(dict.fromkeys(out))


_APT = ("apt-get", "apt", "aptitude")
_RPM = ("yum", "dnf", "microdnf")


_OPENING = re.compile(r"^((?:(?:if|then|else|elif|do|while|until|!|\{)\s+)*)(.*)$", re.S)


def _to_apk_segment(seg: str, warnings: list[str], line: int, extra: set[str]) -> str | None:
    """One top-level command converted for Alpine; None drops it; the text itself when unrelated.
    A reserved word in front (``then apt-get install ...``) stays, and a dropped command behind one
    becomes ``true``, so the shell stays valid."""
    m = _OPENING.match(seg)
    if m is not None and m.group(1):
        rest = _to_apk_command(m.group(2), warnings, line, extra)
        return m.group(1) + (rest if rest is not None else "true")
    return _to_apk_command(seg, warnings, line, extra)


def _to_apk_command(seg: str, warnings: list[str], line: int, extra: set[str]) -> str | None:
    c = _simple(seg)
    if c is None:
        return seg
    if c.name in _APT + _RPM:
        pos = c.positional()
        sub = pos[0] if pos else ""
        if sub in ("install", "groupinstall", "localinstall"):
            names = _apk_names(pos[1:], warnings, line)
            return "apk add --no-cache " + " ".join(shlex.quote(n) for n in names) if names else None
        if sub in ("purge", "remove", "erase", "autoremove"):
            names = _apk_names(pos[1:], warnings, line)
            return "apk del " + " ".join(names) if names else None
        if sub in ("update", "upgrade", "clean", "autoclean", "makecache", "check-update", "dist-upgrade"):
            return None
        warnings.append(f"{UNMAPPED}line {line}: `{seg}`")
        return seg
    if c.name == "rm" and all(
        w.startswith(("/var/lib/apt", "/var/cache/apt", "/var/cache/yum", "/var/cache/dnf", "-")) for w in c.args
    ):
        return None
    if c.name in ("useradd", "groupadd", "usermod"):
        extra.add("shadow")
    if c.name in ("locale-gen", "localedef", "update-locale", "dpkg-reconfigure"):
        warnings.append(f"line {line}: `{c.name}` is glibc/Debian-only; musl has no locale database like glibc")
        return None
    if c.name in DEBIAN_ONLY:
        warnings.append(f"{UNMAPPED}line {line}: `{seg}`")
    return seg


UNMAPPED = "unmapped: "  # a warning that blocks the variant: a package command Alpine cannot run
DEBIAN_ONLY = frozenset(
    {
        "dpkg",
        "dpkg-deb",
        "dpkg-query",
        "apt-key",
        "apt-mark",
        "apt-cache",
        "add-apt-repository",
        "rpm",
        "debconf-set-selections",
    }
)


def alpine_variant(df: Dockerfile, opts: RewriteOptions = NO_OPTIONS) -> Variant:
    fixed, changes, origin = _start(df, opts)
    warnings: list[str] = []
    edits: list[Edit] = []
    converted = False
    for st in fixed.stages:
        extra: set[str] = set()
        if st.base_stage is None and st.base_resolved.lower() != "scratch":
            new = alpine_base(st.base_resolved)
            if new is None or "$" in st.base:
                warnings.append(f"stage {st.name or st.index}: no Alpine variant known for {st.base}; kept")
                continue
            edits.append(_edit_from(st.from_instruction, new))
            changes.append(Change("alpine", df.stages[st.index].from_instruction.line, f"base {st.base} -> {new}"))
            converted = True
        for ins in st.instructions:
            words = list(ins.json_args) if ins.json_args else ins.args.split()
            if ins.keyword in ("SHELL", "CMD", "ENTRYPOINT") and words and posixpath.basename(words[0]) == "bash":
                extra.add("bash")
            if ins.keyword != "RUN":
                continue
            cmds = run_commands(ins)
            if any(c.name == "bash" for c in cmds) or "bash" in ins.args.split()[:1]:
                extra.add("bash")
            if any(c.name in ("pip", "pip3") or c.words[:3] == ("python3", "-m", "pip") for c in cmds):
                warnings.append(
                    f"line {origin(ins.line)}: pip on musl: packages without musllinux wheels build from source "
                    "(needs build-base and -dev packages) or fail"
                )
            for c in cmds:
                for w in c.words:
                    if "://" in w and re.search(r"linux[-_](x64|amd64|x86_64|arm64)", w) and "musl" not in w:
                        warnings.append(
                            f"line {origin(ins.line)}: {w} looks like a glibc binary; it will not run on musl"
                        )
            if ins.heredocs or ins.json_args is not None:
                if any(c.name in _APT + _RPM for c in cmds):
                    warnings.append(f"{UNMAPPED}line {origin(ins.line)}: package commands in a heredoc/exec-form RUN")
                continue
            segs = split_top(ins.args)
            new_segs = []
            for seg, sep in segs:
                out = _to_apk_segment(seg, warnings, origin(ins.line), extra)
                if out is not None:
                    new_segs.append((out, sep))
            if new_segs == segs:
                continue
            flags = "".join(f" --{f.name}" + (f"={f.value}" if f.value is not None else "") for f in ins.flags)
            text = f"RUN{flags} {join_top(new_segs)}\n" if new_segs else ""
            edits.append(Edit(ins.line, ins.end_line, text))
            changes.append(Change("alpine", origin(ins.line), "apt/yum commands converted to apk"))
        if extra and st.base_stage is None:
            first = st.from_instruction
            edits = [e for e in edits if e.first != first.line]
            new = alpine_base(st.base_resolved) or st.base
            edits.append(
                Edit(
                    first.line,
                    first.end_line,
                    _edit_from(first, new).text + f"RUN apk add --no-cache {' '.join(sorted(extra))}\n",
                )
            )
            warnings.append(f"stage {st.name or st.index}: added {', '.join(sorted(extra))} (not in Alpine's base)")
    if not converted:
        raise NotApplicable("no base image with a known Alpine variant")
    unmapped = [w[len(UNMAPPED) :] for w in warnings if w.startswith(UNMAPPED)]
    if unmapped:
        raise NotApplicable("package commands without an Alpine equivalent: " + "; ".join(dict.fromkeys(unmapped)))
    if any(i.keyword == "ENV" and re.search(r"\b(LANG|LC_ALL|LC_[A-Z]+)=", i.args) for i in fixed.instructions):
        warnings.append("LANG/LC_* are set: musl's locale support differs from glibc's (collation, formats)")
    warnings.append(
        "musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, "
        "TCP only since musl 1.2.4): test name resolution of services"
    )
    return _finish("alpine", apply_edits(fixed.render(), edits), changes, warnings)


# --- multi-stage -------------------------------------------------------------------------------

COMPILERS = frozenset({"gcc", "cc", "g++", "c++", "clang", "clang++", "go", "rustc", "javac", "tcc"})


def _abs(workdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(workdir, path.strip("\"'")))


@dataclass
class _Plan:
    packages: list[str] = field(default_factory=list)  # runtime apt packages
    user_runs: list[Instruction] = field(default_factory=list)
    artifacts: dict[str, str | None] = field(default_factory=dict)  # path -> --chown owner
    warnings: list[str] = field(default_factory=list)
    prune_npm: bool = False
    sources: set[str] = field(default_factory=set)  # destinations of COPYs from the build context
    outputs: set[str] = field(default_factory=set)  # what compilers and installers wrote
    builds: bool = False  # the stage runs a build (compiler, make, npm run build, mvn, ...)


def _python_version(base: str) -> str | None:
    b = base_ref(base)
    if b.official == "python":
        m = re.match(r"(\d+\.\d+)", b.tag)
        return m.group(1) if m else None
    if b.official in ("debian", "ubuntu"):
        ver, code = _codename(b.tag)
        table: dict[str, str] = data("bases.json")["debian_python"]
        return table.get(code or b.tag.split("-")[0])
    return None


def _analyse_final(st: Stage, base: str, origin: Callable[[int], int]) -> _Plan:
    plan = _Plan()
    runtime_libs: dict[str, str | None] = data("packages.json")["runtime"]
    build_only = frozenset(data("packages.json")["build_only"])
    workdir = "/"
    venv: str | None = None
    for ins in st.instructions:
        if ins.keyword == "WORKDIR":
            workdir = _abs(workdir, ins.args)
        elif ins.keyword in ("COPY", "ADD") and not ins.flag("from"):
            words = list(ins.json_args) if ins.json_args else ins.args.split()
            if len(words) >= 2 and not ins.heredocs:
                owner = ins.flag("chown")
                plan.artifacts[_abs(workdir, words[-1])] = owner.value if owner else None
                plan.sources.add(_abs(workdir, words[-1]))
        elif ins.keyword == "COPY" and ins.flag("from"):
            words = ins.args.split()
            if len(words) >= 2:
                plan.artifacts[_abs(workdir, words[-1])] = None
        elif ins.keyword == "ENV":
            m = re.search(r"VIRTUAL_ENV[= ]\s*(\S+)", ins.args)
            if m:
                venv = m.group(1).strip("\"'")
        if ins.keyword != "RUN":
            continue
        cmds = run_commands(ins)
        if cmds and all(c.name in ("useradd", "groupadd", "adduser", "addgroup", "mkdir", "chown") for c in cmds):
            plan.user_runs.append(ins)
            continue
        for c in cmds:
            pos = c.positional()
            if _is_build(c):
                plan.builds = True
            if c.name in ("apt-get", "apt") and pos[:1] == ["install"]:
                for p in pos[1:]:
                    name = p.split("=")[0]
                    if name in runtime_libs:
                        lib = runtime_libs[name]
                        if lib:
                            plan.packages.append(lib)
                    elif TOOLCHAIN_PACKAGES.match(name):
                        if name.endswith("-dev"):
                            plan.warnings.append(
                                f"line {origin(ins.line)}: no runtime package known for {name}; "
                                "the check tells whether a library is missing"
                            )
                    elif name not in build_only or _used_at_runtime(st, name):
                        plan.packages.append(name)
            elif c.name in COMPILERS or c.is_("go", "build"):
                for i, w in enumerate(c.words):
                    if w == "-o" and i + 1 < len(c.words):
                        plan.outputs.add(_abs(workdir, c.words[i + 1]))
                    elif w.startswith("-o") and len(w) > 2 and c.name != "go":
                        plan.outputs.add(_abs(workdir, w[2:]))
            elif c.name in ("make", "ninja") and "install" in pos or c.is_("cmake") and "--install" in c.words:
                plan.outputs.add("/usr/local")
            elif c.is_("go", "install"):
                plan.outputs.add("/go/bin")
            elif c.is_("cargo", "install"):
                plan.outputs.add("/usr/local/cargo/bin")
            elif (
                c.name in ("python", "python3")
                and c.words[1:3] == ("-m", "venv")
                and len(pos) >= 2
                or c.name in ("virtualenv",)
                and pos
            ):
                venv = _abs(workdir, pos[-1])
            elif c.is_("npm", "install", "i", "ci") or c.is_("yarn", "install") or (c.name == "yarn" and not pos):
                plan.prune_npm = c.name == "npm"
            elif c.is_("mvn", "package", "install", "verify") or "package" in pos and c.name in ("mvn", "./mvnw"):
                plan.outputs.add(_abs(workdir, "target/*.jar"))  # the jars, not classes and reports
            elif c.name in ("gradle", "./gradlew") and any(p in ("build", "assemble", "bootJar") for p in pos):
                plan.artifacts[_abs(workdir, "build/libs")] = None
            elif is_pip_install(c) and venv is None and "--target" not in " ".join(c.words):
                ver = _python_version(base)
                if ver is None:
                    plan.warnings.append(
                        f"line {origin(ins.line)}: pip installs into an unknown site-packages directory"
                    )
                    continue
                official_python = base_ref(base).official == "python"
                site = "site-packages" if official_python else "dist-packages"
                plan.artifacts[f"/usr/local/lib/python{ver}/{site}"] = None
                plan.artifacts["/usr/local/bin"] = None
    if venv:
        plan.artifacts[venv] = None
    for out in sorted(plan.outputs):
        plan.artifacts[out] = None
    _drop_sources(st, plan)
    plan.packages = list(dict.fromkeys(plan.packages))
    return plan


BUILD_TOOLS = frozenset({"make", "ninja", "cmake", "mvn", "./mvnw", "gradle", "./gradlew", "tsc", "javac"})


def _is_build(c: Command) -> bool:
    return (
        c.name in COMPILERS
        or c.name in BUILD_TOOLS
        or c.is_("go", "build", "install")
        or c.is_("cargo", "build", "install")
        or c.is_("npm", "run")
        and "build" in c.positional()
        or c.is_("yarn", "build", "run")
        and "build" in c.positional()
    )


def _drop_sources(st: Stage, plan: _Plan) -> None:
    """When the program is a compiled output (``CMD ["/usr/local/bin/app"]``, ``java -jar
    target/app.jar``), the sources it was built from stay in the builder unless the run
    instructions name them; the outputs are copied on their own."""
    runs = [i for i in st.instructions if i.keyword in ("ENTRYPOINT", "CMD")]
    if not plan.outputs or not runs:
        return
    workdir = "/"
    for ins in st.instructions:
        if ins.keyword == "WORKDIR":
            workdir = _abs(workdir, ins.args)
    first = runs[0] if runs[0].keyword == "ENTRYPOINT" else runs[-1]
    words = list(first.json_args) if first.json_args else first.args.split()
    programs = words[:1]
    if programs and posixpath.basename(programs[0]) == "java" and "-jar" in words[:-1]:
        programs.append(words[words.index("-jar") + 1])
    names = {posixpath.basename(o) for o in plan.outputs}

    def built(program: str) -> bool:
        path = _abs(workdir, program) if "/" in program else program
        return program in names or any(
            path == o or path.startswith(o + "/") or fnmatch.fnmatchcase(path, o) for o in plan.outputs
        )

    if not any(built(p) for p in programs):
        return
    named = " ".join(i.args for i in st.instructions if i.keyword in ("ENTRYPOINT", "CMD", "ENV"))
    for src in plan.sources - plan.outputs:
        if not re.search(rf"(?<![\w./-]){re.escape(src)}(?![\w.-])", named):  # named as a path of its own
            plan.artifacts.pop(src, None)


def _used_at_runtime(st: Stage, tool: str) -> bool:
    return any(
        i.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK") and re.search(rf"\b{re.escape(tool)}\b", i.args)
        for i in st.instructions
    )


def _dedupe(paths: dict[str, str | None]) -> dict[str, str | None]:
    """Drop paths inside another copied path."""
    out: dict[str, str | None] = {}
    for p in sorted(paths, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out[p] = paths[p]
    return {p: out[p] for p in paths if p in out}


def _exec_form(ins: Instruction) -> str | None:
    """A shell-form CMD/ENTRYPOINT in exec form, when it has no shell syntax."""
    if ins.json_args is not None:
        return None
    if re.search(r"[|&;<>$`*?(){}\[\]~]", ins.args):
        return None
    return json.dumps(shlex.split(ins.args))


def _nonroot_safe(st: Stage) -> str | None:
    """None when adding a non-root USER is safe; else why not."""
    for ins in st.instructions:
        if ins.keyword == "USER":
            return "the image already sets USER"
        if ins.keyword == "EXPOSE":
            for p in ins.args.split():
                num = p.split("/")[0]
                if num.isdigit() and int(num) < 1024:
                    return f"it listens on privileged port {num}"
        if ins.keyword in ("CMD", "ENTRYPOINT") and "/root" in ins.args:
            return "the command uses /root"
        if ins.keyword == "VOLUME":
            return "it declares a VOLUME (ownership of mounted data would change)"
    return None


def multistage_variant(df: Dockerfile, opts: RewriteOptions = NO_OPTIONS, *, distroless: bool = False) -> Variant:
    """Move the final stage's build into a builder stage; a runtime stage on a slim (or distroless)
    base gets the runtime packages, the users, the artifacts and every metadata instruction."""
    target = "distroless" if distroless else "multistage"
    fixed, changes, origin = _start(df, opts)
    final = fixed.final_stage
    if final is None or final.base_stage is not None or final.base_resolved.lower() == "scratch":
        raise NotApplicable("the final stage is not built from an external base image")
    ctx = Context(fixed, frozenset(fixed.reaching_final()), None, False)
    toolchain_hits = [h for h in check(ctx) if h.rule == "IMG142" and h.ins.stage == final.index]
    toolchain = bool(toolchain_hits)
    base_info = data("bases.json")["images"].get(base_ref(final.base_resolved).official or "")
    plan = _analyse_final(final, final.base_resolved, origin)
    if not toolchain and not (base_info and base_info["runtime"]) and not plan.builds:
        raise NotApplicable("the final stage installs no build toolchain and builds nothing: nothing to split off")
    runtime = runtime_base(final.base_resolved, distroless)
    if distroless:
        by_package: dict[str, str] = data("packages.json")["distroless_by_package"]
        runtime = next((by_package[p] for p in plan.packages if p in by_package), runtime)
        plan.packages = [p for p in plan.packages if p not in by_package]
    if runtime is None:
        raise NotApplicable(f"no {'distroless ' if distroless else ''}runtime base known for {final.base}")
    if not plan.artifacts:
        raise NotApplicable("found no build output or application files to carry into a runtime stage")
    warnings = list(plan.warnings)
    name = final.name or "builder"
    if any(s.name == name for s in fixed.stages if s is not final):
        name = "imgopt-builder"
    edits: list[Edit] = []
    if final.name is None:
        raw = final.from_instruction.raw
        edits.append(Edit(final.from_instruction.line, final.from_instruction.end_line, raw.rstrip() + f" AS {name}\n"))
    why_not = _nonroot_safe(final)
    head = ["", "# runtime stage added by imgopt: only what the program needs to run", f"FROM {runtime}"]
    if (
        distroless
        and runtime in data("bases.json")["distroless_entrypoints"]
        and not any(i.keyword == "ENTRYPOINT" for i in final.instructions)
    ):
        head.append("ENTRYPOINT []")
        warnings.append(f"{runtime} sets its own ENTRYPOINT; reset so CMD runs as in the original")
    head += [i.raw.rstrip("\n") for i in final.instructions if i.keyword in ("ENV", "ARG")]
    setup: list[str] = []
    if plan.packages:
        if distroless:
            warnings.append(f"distroless has no package manager: {', '.join(plan.packages)} must come from the base")
        else:
            setup.append(
                "RUN apt-get update && apt-get install -y --no-install-recommends "
                + " ".join(plan.packages)
                + " && apt-get clean && rm -rf /var/lib/apt/lists/*"
            )
    taken = " ".join(i.args for i in plan.user_runs).split()
    user = next(u for u in ("app", "appuser", "imgopt-app") if u not in taken)
    if not distroless:
        setup += [i.raw.rstrip("\n") for i in plan.user_runs]
        if why_not is None:
            setup.append(f"RUN useradd -l -m -u {NONROOT_UID} {user}")
    elif plan.user_runs:
        warnings.append("distroless has no useradd: users created in the original are not recreated")
    artifacts = _dedupe(plan.artifacts)
    copies = [
        f"COPY --from={name}{f' --chown={o}' if o else ''} {p} {posixpath.dirname(p) + '/' if '*' in p else p}"
        for p, o in artifacts.items()
    ]
    meta: list[str] = []
    for ins in final.instructions:
        if ins.keyword not in RUNTIME_KEYWORDS or ins.keyword == "ENV":
            continue
        if distroless and ins.keyword in ("CMD", "ENTRYPOINT") and ins.json_args is None:
            exec_form = _exec_form(ins)
            if exec_form is None:
                warnings.append(f"line {origin(ins.line)}: {ins.keyword} needs a shell, which distroless does not have")
            else:
                meta.append(f"{ins.keyword} {exec_form}")
                continue
        meta.append(ins.raw.rstrip("\n"))
    if why_not is None:
        meta.append("USER 65532:65532" if distroless else f"USER {user}")
        changes.append(Change("nonroot", origin(final.from_instruction.line), "runs as a non-root user"))
    else:
        warnings.append(f"kept root: {why_not}")
    lines = head + setup + copies + meta
    builder_text = apply_edits(fixed.render(), edits).rstrip("\n") + "\n"
    if plan.prune_npm:  # devDependencies served the build; the runtime gets the production ones
        builder_text += "RUN npm prune --omit=dev && npm cache clean --force\n"
        changes.append(Change("IMG142", origin(final.from_instruction.line), "npm prune --omit=dev before the copy"))
    text = builder_text + "\n".join(lines) + "\n"
    # the change answers the toolchain finding (its line carries the measured cost)
    anchor = toolchain_hits[0].ins if toolchain_hits else final.from_instruction
    orig_line, orig_end = origin(anchor.line), origin(anchor.end_line)
    changes.append(
        Change(
            "IMG142",
            orig_line,
            f"build moved into stage {name!r}; runtime stage FROM {runtime} gets "
            f"{len(artifacts)} artifact path(s)"
            + (f" and {len(plan.packages)} runtime package(s)" if plan.packages and not distroless else ""),
            end_line=orig_end,
        )
    )
    return _finish(target, text, changes, warnings)


def make_variant(df: Dockerfile, target: str, opts: RewriteOptions = NO_OPTIONS) -> Variant:
    """One target's variant; NotApplicable when the target does not apply."""
    if target == "hygiene":
        return hygiene_variant(df, opts)
    if target == "aggressive":
        return aggressive_variant(df, opts)
    if target == "slim":
        return slim_variant(df, opts)
    if target == "alpine":
        return alpine_variant(df, opts)
    if target == "multistage":
        return multistage_variant(df, opts)
    if target == "distroless":
        return multistage_variant(df, opts, distroless=True)
    raise ValueError(f"unknown target {target!r}")


def make_variants(
    df: Dockerfile, targets: tuple[str, ...] = TARGETS, opts: RewriteOptions = NO_OPTIONS
) -> tuple[list[Variant], dict[str, str]]:
    """The variants of the targets that apply, and why the others do not."""
    out: list[Variant] = []
    skipped: dict[str, str] = {}
    for t in targets:
        try:
            out.append(make_variant(df, t, opts))
        except NotApplicable as e:
            skipped[t] = str(e)
    return out, skipped


__all__ = [
    "BaseRef",
    "NotApplicable",
    "TARGETS",
    "Variant",
    "alpine_base",
    "base_ref",
    "make_variant",
    "make_variants",
    "runtime_base",
    "slim_base",
]
