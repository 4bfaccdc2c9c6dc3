"""The size rules: metadata (id, severity, hadolint equivalent, fix, the paths whose bytes a
finding costs) and the checks. Pure: Dockerfile model in, findings out."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .model import Comment, Dockerfile, Instruction, Stage
from .shell import Command, commands, run_commands, run_script

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    severity: str
    summary: str
    hadolint: str | None = None
    fixable: bool = False  # imgopt optimize fixes it (hygiene fixer, .dockerignore, or a target)
    cost_paths: tuple[str, ...] = ()  # globs of image paths whose bytes (in the flagged layer) it costs
    cost: str = "paths"  # how --image measures it: paths, metadata-only, hidden, toolchain, none


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "IMG101",
            "apt-lists",
            INFO,
            "Delete the apt lists in the RUN that ran apt-get update.",
            "DL3009",
            True,
            ("var/lib/apt/lists/**", "var/cache/apt/*.bin"),
        ),
        Rule(
            "IMG102",
            "apt-no-install-recommends",
            INFO,
            "Install apt packages with --no-install-recommends.",
            "DL3015",
            True,
            cost="none",
        ),
        Rule("IMG103", "apk-no-cache", INFO, "Use apk add --no-cache.", "DL3019", True, ("var/cache/apk/**",)),
        Rule(
            "IMG104",
            "yum-clean",
            WARNING,
            "Run yum clean all in the RUN that installs.",
            "DL3032",
            True,
            ("var/cache/yum/**",),
        ),
        Rule(
            "IMG105",
            "zypper-clean",
            WARNING,
            "Run zypper clean in the RUN that installs.",
            "DL3036",
            True,
            ("var/cache/zypp/**",),
        ),
        Rule(
            "IMG106",
            "dnf-clean",
            WARNING,
            "Run dnf clean all in the RUN that installs.",
            "DL3040",
            True,
            ("var/cache/dnf/**", "var/cache/yum/**"),
        ),
        Rule(
            "IMG107",
            "pip-no-cache-dir",
            WARNING,
            "Use pip install --no-cache-dir.",
            "DL3042",
            True,
            ("root/.cache/pip/**", "**/.cache/pip/**"),
        ),
        Rule(
            "IMG108",
            "useradd-no-log-init",
            WARNING,
            "useradd with a high UID needs -l (--no-log-init).",
            "DL3046",
            True,
            ("var/log/lastlog", "var/log/faillog"),
        ),
        Rule("IMG109", "consecutive-run", INFO, "Merge consecutive RUN instructions.", "DL3059", True, cost="none"),
        Rule(
            "IMG110",
            "yarn-cache",
            INFO,
            "Run yarn cache clean after yarn install.",
            "DL3060",
            True,
            ("usr/local/share/.cache/yarn/**", "**/.cache/yarn/**", "**/.yarn/cache/**"),
        ),
        Rule(
            "IMG111",
            "copy-archive-then-extract",
            INFO,
            "ADD extracts a local archive; COPY then tar -x ships it twice.",
            "DL3010",
            False,
            cost="none",
        ),
        Rule(
            "IMG112",
            "copy-whole-filesystem",
            WARNING,
            "Do not copy an entire filesystem from another stage.",
            "DL3067",
            False,
            cost="none",
        ),
        Rule(
            "IMG120",
            "dockerignore-missing",
            WARNING,
            "Add a .dockerignore to the build context.",
            None,
            True,
            cost="none",
        ),
        Rule(
            "IMG121",
            "separate-cleanup",
            WARNING,
            "A RUN that only deletes files cannot make the image smaller.",
            None,
            True,
            cost="hidden",
        ),
        Rule("IMG122", "too-many-layers", INFO, "Too many layers in the final image.", None, False, cost="none"),
        Rule(
            "IMG130",
            "npm-cache",
            INFO,
            "Clean the npm cache in the RUN that installs.",
            None,
            True,
            ("root/.npm/**", "**/.npm/**"),
        ),
        Rule(
            "IMG131",
            "gem-no-document",
            INFO,
            "Install gems with --no-document.",
            None,
            True,
            ("usr/local/bundle/doc/**", "usr/local/lib/ruby/gems/*/doc/**", "var/lib/gems/*/doc/**"),
        ),
        Rule(
            "IMG132",
            "bundler-cache",
            INFO,
            "Remove the bundler cache in the RUN that runs bundle install.",
            None,
            True,
            ("usr/local/bundle/cache/**", "**/vendor/bundle/ruby/*/cache/**", "root/.bundle/cache/**"),
        ),
        Rule(
            "IMG133",
            "conda-clean",
            WARNING,
            "Run conda clean -afy in the RUN that installs.",
            None,
            True,
            ("opt/conda/pkgs/**", "**/miniconda*/pkgs/**", "**/.conda/pkgs/**"),
        ),
        Rule(
            "IMG134",
            "poetry-cache",
            INFO,
            "Install with poetry --no-cache or remove its cache.",
            None,
            True,
            ("root/.cache/pypoetry/**", "**/.cache/pypoetry/**"),
        ),
        Rule(
            "IMG140",
            "recursive-chown-later",
            WARNING,
            "chown/chmod -R in a later RUN duplicates every file it touches; use COPY --chown/--chmod.",
            None,
            True,
            cost="metadata-only",
        ),
        Rule(
            "IMG141",
            "download-deleted-later",
            WARNING,
            "A download or archive added in one layer and deleted in a later one is still shipped.",
            None,
            True,
            cost="hidden",
        ),
        Rule(
            "IMG142",
            "toolchain-in-final-image",
            WARNING,
            "Build toolchains reach the final image; build in a separate stage.",
            None,
            True,
            cost="toolchain",
        ),
        Rule("IMG143", "full-base-image", INFO, "A smaller variant of the base image exists.", None, True, cost="none"),
        Rule(
            "IMG144",
            "copy-context-unfiltered",
            WARNING,
            "COPY . without a .dockerignore that excludes .git, node_modules and friends.",
            None,
            True,
            ("**/.git/**", "**/node_modules/**"),
        ),
    )
}
HADOLINT_TO_IMG = {r.hadolint: r.id for r in RULES.values() if r.hadolint}
_PRAGMA = re.compile(r"#\s*(imgopt|hadolint)\s+(global\s+)?ignore\s*=\s*([A-Za-z0-9_,\s]+)", re.I)


def pragma_ignores(df: Dockerfile) -> tuple[set[str], dict[int, set[str]]]:
    """Global ignores and ignores per instruction line, from imgopt and hadolint pragmas."""
    global_ids: set[str] = set()
    per_line: dict[int, set[str]] = {}
    pending: set[str] = set()
    for item in df.items:
        if isinstance(item, Comment):
            m = _PRAGMA.search(item.text)
            if m:
                ids = {x.strip() for x in m.group(3).replace(" ", ",").split(",") if x.strip()}
                if m.group(1).lower() == "hadolint":
                    ids = {HADOLINT_TO_IMG[i] for i in ids if i in HADOLINT_TO_IMG}
                if m.group(2):
                    global_ids |= ids
                else:
                    pending |= ids
        elif isinstance(item, Instruction) and pending:
            per_line[item.line] = pending
            pending = set()
    return global_ids, per_line


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    message: str
    ins: Instruction


@dataclass(frozen=True)
class Context:
    dockerfile: Dockerfile
    reaching: frozenset[int]
    dockerignore: tuple[str, ...] | None  # None: there is no .dockerignore; () an empty one
    has_context: bool  # whether a build context directory is known
    max_layers: int = 30


def cache_targets(ins: Instruction) -> list[str]:
    out = []
    for f in ins.flags_named("mount"):
        opts = f.options()
        if opts.get("type") == "cache":
            target = opts.get("target") or opts.get("dst") or opts.get("destination")
            if target:
                out.append(target.rstrip("/") or "/")
    return out


def _cached(ins: Instruction, *dirs: str) -> bool:
    """A cache mount covers one of ``dirs`` (the mount target is the dir or a parent of it)."""
    for t in cache_targets(ins):
        for d in dirs:
            if d == t or d.startswith(t + "/") or t.startswith(d + "/") and "/" in d:
                return True
    return False


def _removes(cmds: list[Command], prefix: str) -> bool:
    """Some ``rm -r`` (any spelling) in the commands deletes ``prefix`` or something in it."""
    for c in cmds:
        if c.name == "rm" and c.has_flag("-r", "-R", "--recursive"):
            for w in (re.sub(r"^(~|\$HOME|\$\{HOME\})/", "/root/", p) for p in c.positional()):
                if w.rstrip("/*").startswith(prefix.rstrip("/")) or prefix.startswith(w.rstrip("/*") + "/"):
                    return True
    return False


def _any(cmds: list[Command], pred: Callable[[Command], bool]) -> Command | None:
    for c in cmds:
        if pred(c):
            return c
    return None


def _pip_install(c: Command) -> bool:
    if c.name.startswith("pip") and c.name not in ("pipx", "pipenv") and c.is_(c.name, "install"):
        return True
    w = c.words
    return (
        c.name.startswith("python")
        and len(w) > 3
        and w[1] == "-m"
        and w[2].startswith("pip")
        and w[2] not in ("pipx", "pipenv")
        and "install" in w[3:]
    )


def _installs_with(tool: str) -> Callable[[Command], bool]:
    return lambda c: c.is_(tool, "install", "groupinstall", "module")


def _apt_install(c: Command) -> bool:
    return c.is_("apt-get", "install") or c.is_("apt", "install") or c.is_("aptitude", "install")


TRUTHY = frozenset({"1", "true", "on", "yes"})


def _env_sets(ins: Instruction, name: str) -> str | None:
    if ins.keyword != "ENV":
        return None
    m = re.search(rf"(?:^|\s){name}(?:=|\s+)(\"[^\"]*\"|'[^']*'|\S+)", ins.args)
    return m.group(1).strip("\"'") if m else None


# ---------------------------------------------------------------------------------------------
# per-RUN checks: (context, stage, instruction, commands, stage env) -> hits

RunCheck = Callable[[Context, Stage, Instruction, list[Command], dict[str, str]], Iterator[Hit]]
RUN_CHECKS: list[RunCheck] = []


def run_check(fn: RunCheck) -> RunCheck:
    RUN_CHECKS.append(fn)
    return fn


@run_check
def _apt(ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]) -> Iterator[Hit]:
    update = _any(cmds, lambda c: c.is_("apt-get", "update") or c.is_("apt", "update"))
    if (
        update
        and not _removes(cmds, "/var/lib/apt/lists")
        and not _cached(ins, "/var/lib/apt/lists")
        and not (_cached(ins, "/var/lib/apt") and _cached(ins, "/var/cache/apt"))
    ):
        yield Hit(
            "IMG101",
            "apt-get update leaves /var/lib/apt/lists in this layer: add "
            "`&& rm -rf /var/lib/apt/lists/*` to this RUN (or a cache mount)",
            ins,
        )
    for c in cmds:
        if (
            c.is_("apt-get", "install")
            and not c.has_flag("--no-install-recommends")
            and not any("Install-Recommends=false" in w or "Install-Recommends=0" in w for w in c.words)
        ):
            yield Hit("IMG102", "apt-get install without --no-install-recommends pulls in recommended packages", ins)
            break


@run_check
def _apk(ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]) -> Iterator[Hit]:
    c = _any(cmds, lambda c: c.is_("apk", "add"))
    if (
        c
        and not c.has_flag("--no-cache")
        and not _cached(ins, "/var/cache/apk")
        and not _removes(cmds, "/var/cache/apk")
    ):
        yield Hit("IMG103", "apk add without --no-cache keeps the package index in /var/cache/apk", ins)


def _clean(cmds: list[Command], tool: str, *sub: str) -> bool:
    return _any(cmds, lambda c: c.is_(tool, *sub)) is not None


@run_check
def _rpm(ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]) -> Iterator[Hit]:
    if (
        _any(cmds, lambda c: c.is_("yum", "install", "groupinstall", "localinstall"))
        and not _any(cmds, lambda c: c.is_("yum", "clean") and "all" in c.positional())
        and not _removes(cmds, "/var/cache/yum")
        and not _cached(ins, "/var/cache/yum")
    ):
        yield Hit("IMG104", "yum install without `yum clean all` (and rm -rf /var/cache/yum) in the same RUN", ins)
    if (
        _any(cmds, lambda c: c.is_("zypper", "install", "in", "patch", "update", "up", "dist-upgrade", "dup"))
        and not _clean(cmds, "zypper", "clean", "cc")
        and not _removes(cmds, "/var/cache/zypp")
        and not _cached(ins, "/var/cache/zypp")
    ):
        yield Hit("IMG105", "zypper install without `zypper clean` in the same RUN", ins)
    for tool in ("dnf", "microdnf"):
        if (
            _any(cmds, _installs_with(tool))
            and not _any(
                cmds, lambda c: c.name in ("dnf", "microdnf") and c.is_(c.name, "clean") and "all" in c.positional()
            )
            and not _removes(cmds, "/var/cache/dnf")
            and not _removes(cmds, "/var/cache/yum")
            and not _cached(ins, "/var/cache/dnf")
        ):
            yield Hit("IMG106", f"{tool} install without `{tool} clean all` in the same RUN", ins)
            break


@run_check
def _pip(ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]) -> Iterator[Hit]:
    if env.get("PIP_NO_CACHE_DIR", "").lower() in TRUTHY or re.search(
        r"PIP_NO_CACHE_DIR=[\"']?(1|true|on|yes)", ins.args, re.I
    ):
        return
    for c in cmds:
        if (
            _pip_install(c)
            and "--no-cache-dir" not in c.words
            and not _cached(ins, "/root/.cache/pip")
            and not _cached(ins, "/root/.cache")
        ):
            yield Hit("IMG107", "pip install without --no-cache-dir keeps downloaded wheels in ~/.cache/pip", ins)
            return


@run_check
def _useradd(ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]) -> Iterator[Hit]:
    for c in cmds:
        if c.name != "useradd" or c.has_flag("-l", "--no-log-init"):
            continue
        uid = None
        for i, w in enumerate(c.words):
            if w in ("-u", "--uid") and i + 1 < len(c.words):
                uid = c.words[i + 1]
            elif w.startswith("--uid="):
                uid = w.split("=", 1)[1]
            elif w.startswith("-u") and len(w) > 2 and w[2:].isdigit():
                uid = w[2:]
        if uid is not None and uid.isdigit() and len(uid) > 5:
            yield Hit(
                "IMG108",
                f"useradd -u {uid} without -l writes a sparse /var/log/lastlog and faillog sized by the UID",
                ins,
            )


@run_check
def _node_ruby_python_tools(
    ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]
) -> Iterator[Hit]:
    if (
        _any(cmds, lambda c: c.is_("yarn", "install") or (c.name == "yarn" and not c.positional()))
        and not _any(cmds, lambda c: c.is_("yarn", "cache") and "clean" in c.positional())
        and not _cached(ins, "/usr/local/share/.cache/yarn", "/root/.cache/yarn", "/root/.yarn")
        and not _removes(cmds, "/usr/local/share/.cache/yarn")
    ):
        yield Hit("IMG110", "yarn install without `yarn cache clean` in the same RUN", ins)
    if (
        _any(cmds, lambda c: c.is_("npm", "install", "i", "ci", "add"))
        and not _any(cmds, lambda c: c.is_("npm", "cache") and "clean" in c.positional())
        and not _cached(ins, "/root/.npm")
        and not _removes(cmds, "/root/.npm")
        and not _any(cmds, lambda c: c.name == "npm" and any(w.startswith("--cache=/tmp") for w in c.words))
    ):
        yield Hit("IMG130", "npm install/ci without `npm cache clean --force` leaves ~/.npm/_cacache", ins)
    c = _any(cmds, lambda c: c.is_("gem", "install"))
    if c and not c.has_flag("--no-document", "--no-doc", "-N", "--no-rdoc"):
        gemrc = env.get("GEM_NO_DOCUMENT")
        if gemrc is None:
            yield Hit("IMG131", "gem install without --no-document installs rdoc/ri documentation", ins)
    if (
        _any(cmds, lambda c: c.is_("bundle", "install"))
        and not _removes(cmds, "/usr/local/bundle/cache")
        and not _any(cmds, lambda c: c.is_("bundle", "clean"))
        and not _removes(cmds, "/root/.bundle/cache")
        and not _cached(ins, "/usr/local/bundle/cache")
    ):
        yield Hit("IMG132", "bundle install keeps the downloaded .gem files in the bundler cache", ins)
    if (
        _any(
            cmds,
            lambda c: (
                (c.name in ("conda", "mamba", "micromamba"))
                and bool(c.positional())
                and c.positional()[0] in ("install", "create", "update", "env")
            ),
        )
        and not _any(cmds, lambda c: c.name in ("conda", "mamba", "micromamba") and c.is_(c.name, "clean"))
        and not _removes(cmds, "/opt/conda/pkgs")
    ):
        yield Hit("IMG133", "conda install without `conda clean -afy` keeps package tarballs in pkgs/", ins)
    c = _any(cmds, lambda c: c.is_("poetry", "install"))
    if (
        c
        and not c.has_flag("--no-cache")
        and not _removes(cmds, "/root/.cache/pypoetry")
        and "POETRY_CACHE_DIR" not in env
        and not _cached(ins, "/root/.cache/pypoetry", "/root/.cache")
    ):
        yield Hit("IMG134", "poetry install without --no-cache keeps its cache in ~/.cache/pypoetry", ins)


TOOLCHAIN_PACKAGES = re.compile(
    r"^(build-essential|gcc(-\d+)?|g\+\+(-\d+)?|clang(-\d+)?|llvm(-\d+)?|make|cmake|automake|autoconf|libtool|"
    r"pkg-config|pkgconf|golang(-\d[\d.]*)?(-go)?|go|maven|gradle|rustc|cargo|node-gyp|musl-dev|alpine-sdk|"
    r"build-base|linux-headers|gcc-c\+\+|[a-z0-9.+-]+-dev|[a-z0-9.+-]+-devel)(=.*)?$"
)


@run_check
def _toolchain(ctx: Context, st: Stage, ins: Instruction, cmds: list[Command], env: dict[str, str]) -> Iterator[Hit]:
    if st.index not in ctx.reaching:
        return
    found: list[str] = []
    for c in cmds:
        if (
            _apt_install(c)
            or c.is_("apk", "add")
            or c.is_("yum", "install")
            or c.is_("dnf", "install")
            or c.is_("microdnf", "install")
            or c.is_("zypper", "install", "in")
        ):
            found += [p for p in c.positional()[1:] if TOOLCHAIN_PACKAGES.match(p)]
        if c.is_("npm", "install", "i") and "node-gyp" in c.positional():
            found.append("node-gyp")
    removed = {
        w
        for c in cmds
        if c.is_("apt-get", "purge", "remove", "autoremove")
        or c.is_("apk", "del")
        or c.is_("yum", "remove")
        or c.is_("dnf", "remove")
        for w in c.positional()[1:]
    }
    if any(c.is_("apk", "del") for c in cmds) and any(
        c.is_("apk", "add") and c.has_flag("--virtual", "-t") for c in cmds
    ):
        return  # apk add --virtual .build-deps ... && apk del .build-deps
    left = [p for p in found if p.split("=")[0] not in removed]
    if left:
        yield Hit(
            "IMG142",
            f"build toolchain ({', '.join(sorted(set(left))[:6])}) reaches the final image: build "
            "in a builder stage and COPY --from only the artifacts",
            ins,
        )


# ---------------------------------------------------------------------------------------------
# stage-level checks

ARCHIVE_EXT = (
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
    ".zip",
    ".tar.zst",
    ".gz",
    ".bz2",
    ".xz",
    ".7z",
    ".rar",
    ".deb",
    ".rpm",
    ".whl",
    ".jar",
)
SLIM_BASES = {
    "python": "-slim",
    "node": "-slim",
    "debian": "-slim",
    "ruby": "-slim",
    "perl": "-slim",
    "php": "-alpine",
    "golang": "-alpine",
    "rust": "-slim",
    "openjdk": "-slim",
    "eclipse-temurin": "-jre",
    "buildpack-deps": None,
}


def _base_suggestion(base: str) -> str | None:
    ref = base.split("@")[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    short = name.rsplit("/", 1)[-1]
    if name.count("/") > 1 or (name.count("/") == 1 and not name.startswith(("library/", "docker.io/"))):
        return None  # not an official image
    if short == "buildpack-deps":
        return f"{short}:{tag} carries compilers and -dev packages; use a -slim language image"
    suffix = SLIM_BASES.get(short)
    if suffix is None:
        return None
    if any(v in tag for v in ("slim", "alpine", "jre", "distroless", "windowsservercore", "nanoserver")):
        return None
    if short == "eclipse-temurin" and "jdk" not in tag and tag != "latest" and not tag[:1].isdigit():
        return None
    if short == "debian":
        return f"debian:{tag}-slim drops documentation, man pages and locales (about 40 MB)"
    return (
        f"{short}:{tag}{suffix if not tag.endswith(suffix) else ''} (or distroless) is much smaller than {short}:{tag}"
    )


def _stage_checks(ctx: Context, st: Stage, env_before: dict[str, str]) -> Iterator[Hit]:
    df = ctx.dockerfile
    env = dict(env_before)
    ins_list = st.instructions
    prev_run: tuple[Instruction, tuple[str, ...], int] | None = None
    copies: list[tuple[Instruction, str]] = []  # (COPY/ADD, destination) earlier in this stage
    archives: list[tuple[Instruction, str]] = []  # COPYed archives (for extraction)
    downloads: list[tuple[Instruction, str]] = []  # (instruction, path of a fetched/added file)
    layers = 0
    workdir = "/"
    for ins in ins_list:
        if ins.keyword in ("RUN", "COPY", "ADD"):
            layers += 1
        if ins.keyword == "ENV":
            for key in ("PIP_NO_CACHE_DIR", "POETRY_CACHE_DIR", "GEM_NO_DOCUMENT"):
                value = _env_sets(ins, key)
                if value is not None:
                    env[key] = value
        if ins.keyword == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(workdir, ins.args.strip().strip("\"'")))
        if ins.keyword in ("COPY", "ADD"):
            words = list(ins.json_args) if ins.json_args else ins.args.split()
            if ins.heredocs or len(words) < 2:
                prev_run = None
                continue
            srcs, dest = words[:-1], words[-1]
            dest_abs = posixpath.normpath(posixpath.join(workdir, dest))
            src_stage = ins.flag("from")
            if src_stage is not None and srcs == ["/"] and dest.strip("\"'") == "/":
                yield Hit(
                    "IMG112",
                    f"COPY --from={src_stage.value} / / copies a whole filesystem, with every "
                    "package cache and doc in it; copy only the artifacts",
                    ins,
                )
            if src_stage is None:
                for s in srcs:
                    if s.startswith(("http://", "https://")):
                        downloads.append(
                            (ins, posixpath.join(dest_abs, posixpath.basename(s)) if dest.endswith("/") else dest_abs)
                        )
                    elif s.lower().endswith(ARCHIVE_EXT) and ins.keyword == "COPY":
                        archives.append((ins, posixpath.basename(s)))
                        target = (
                            posixpath.join(dest_abs, posixpath.basename(s))
                            if dest.endswith("/") or len(srcs) > 1
                            else dest_abs
                        )
                        downloads.append((ins, target))
                if srcs in (["."], ["./"]) and ctx.has_context and not _ignores_vcs(ctx.dockerignore):
                    yield Hit(
                        "IMG144",
                        "COPY . copies the whole build context, and no .dockerignore excludes .git and node_modules",
                        ins,
                    )
            copies.append((ins, dest_abs))
            prev_run = None
            continue
        if ins.keyword == "ONBUILD" and ins.onbuild is not None and ins.onbuild.keyword == "RUN":
            inner = ins.onbuild
            for check_fn in RUN_CHECKS:  # runs in every child image: linted as hadolint does
                for hit in check_fn(ctx, st, inner, run_commands(inner), env):
                    yield Hit(hit.rule, hit.message + " (ONBUILD)", ins)
        if ins.keyword != "RUN":
            prev_run = None  # hadolint: only comments keep RUNs "consecutive"
            continue
        cmds = run_commands(ins)
        for check_fn in RUN_CHECKS:
            yield from check_fn(ctx, st, ins, cmds, env)
        # consecutive RUNs (DL3059): same flags, each a single command (a chain shows intent)
        flags = tuple(sorted(f"{f.name}={f.value}" for f in ins.flags))
        n_top = len(commands(run_script(ins), expand_shells=False))
        if prev_run is not None and prev_run[1] == flags and n_top <= 1 and prev_run[2] <= 1:
            yield Hit("IMG109", "consecutive RUN instructions: merge them with && into one layer", ins)
        prev_run = (ins, flags, n_top)
        # an archive COPYed earlier and extracted here (DL3010)
        for arc_ins, name in archives:
            if any(_extracts(c, name) for c in cmds):
                yield Hit(
                    "IMG111",
                    f"{name} is COPYed and extracted in a later RUN: ADD extracts it in one step "
                    "(or fetch and extract in one RUN)",
                    arc_ins,
                )
        # files fetched here
        for c in cmds:
            for target in _fetched_files(c, workdir):
                downloads.append((ins, target))
        # deletions: of files fetched/added in an earlier layer (IMG141), and cleanup-only RUNs (IMG121)
        deleted = [
            posixpath.normpath(posixpath.join(workdir, w)) for c in cmds if c.name == "rm" for w in c.positional()
        ]
        for d_ins, target in downloads:
            if d_ins is ins:
                continue
            if any(target == d or target.startswith(d.rstrip("/*") + "/") for d in deleted):
                yield Hit(
                    "IMG141",
                    f"{target} is deleted at line {ins.line} but still shipped in this layer: "
                    "fetch, use and delete it in one RUN",
                    d_ins,
                )
        cleanup = {"rm", "apt-get", "apt", "yum", "dnf", "apk", "find", "true", "set", "npm", "yarn", "conda", "pip"}
        if (
            cmds
            and all(c.name in cleanup and (c.name == "rm" or _is_cleanup(c)) for c in cmds)
            and any(c.name == "rm" or _is_cleanup(c) for c in cmds)
            and not ins.flags
        ) and st.index in ctx.reaching:
            yield Hit(
                "IMG121",
                "this RUN only deletes files: earlier layers still ship them; delete them in the RUN that creates them",
                ins,
            )
        # recursive chown/chmod of files that an earlier layer created
        for c in cmds:
            if c.name in ("chown", "chmod") and c.has_flag("-R", "--recursive"):
                raw_targets = c.positional()[1:]
                targets = [posixpath.normpath(posixpath.join(workdir, w)) for w in raw_targets]
                # files this RUN creates itself are written once; anything else came from a lower layer
                made_here = any(
                    c2 is not c and c2.name in CREATORS and any(t in c2.words for t in raw_targets + targets)
                    for c2 in cmds
                )
                if targets and not made_here:
                    yield Hit(
                        "IMG140",
                        f"{c.name} -R in its own layer copies every file under "
                        f"{', '.join(targets[:3])} again; use COPY --chown/--chmod or do it in "
                        "the RUN that creates them",
                        ins,
                    )
                    break
    if st.index == len(df.stages) - 1:
        total = sum(
            1
            for s in df.stages
            if s.index in ctx.reaching
            for i in s.instructions
            if i.keyword in ("RUN", "COPY", "ADD")
        )
        if total > ctx.max_layers:
            yield Hit(
                "IMG122",
                f"{total} layer-creating instructions in the final image (limit {ctx.max_layers}): "
                "merge RUNs and COPYs",
                st.from_instruction,
            )
    # the base image of the stage chain that reaches the final image
    if st.index in ctx.reaching and st.base_stage is None:
        hint = _base_suggestion(st.base_resolved)
        if hint:
            yield Hit("IMG143", hint, st.from_instruction)


CREATORS = frozenset(
    {
        "mkdir",
        "cp",
        "git",
        "tar",
        "unzip",
        "mv",
        "install",
        "useradd",
        "adduser",
        "wget",
        "curl",
        "npm",
        "pip",
        "python",
        "python3",
        "go",
        "cargo",
        "make",
        "ln",
        "touch",
    }
)
UNPACKERS = frozenset({"unzip", "gunzip", "bunzip2", "unxz", "zcat", "gzcat", "uncompress", "unlzma", "zgz"})


def _extracts(c: Command, name: str) -> bool:
    """``tar -x``/``--extract`` or an unpacker with the archive (by basename) among its arguments."""
    tar_x = c.name == "tar" and any(
        (w.startswith("-") and not w.startswith("--") and "x" in w) or w in ("--extract", "--get") for w in c.args
    )
    if not (tar_x or c.name in UNPACKERS):
        return False
    return name in [posixpath.basename(w.strip("\"'")) for w in c.args if not w.startswith("-")]


def _is_cleanup(c: Command) -> bool:
    return (
        c.is_("apt-get", "clean", "autoclean", "autoremove", "purge")
        or c.is_("apt", "clean", "autoremove")
        or c.is_("yum", "clean")
        or c.is_("dnf", "clean")
        or c.is_("apk", "del", "cache")
        or c.is_("npm", "cache")
        or c.is_("yarn", "cache")
        or c.is_("conda", "clean")
        or c.is_("pip", "cache")
        or (c.name == "find" and "-delete" in c.words)
        or c.name in ("true", "set")
    )


def _fetched_files(c: Command, workdir: str) -> list[str]:
    out = []
    if c.name in ("wget", "curl"):
        for i, w in enumerate(c.words):
            if w in ("-O", "-o", "--output", "--output-document") and i + 1 < len(c.words) and c.words[i + 1] != "-":
                out.append(posixpath.normpath(posixpath.join(workdir, c.words[i + 1])))
            elif w.startswith(("--output-document=", "--output=")):
                out.append(posixpath.normpath(posixpath.join(workdir, w.split("=", 1)[1])))
        if c.name == "wget" and not out:
            urls = [w for w in c.positional() if "://" in w]
            out += [posixpath.normpath(posixpath.join(workdir, posixpath.basename(u))) for u in urls]
    return out


VCS_JUNK = (".git", "node_modules")


def _ignores_vcs(patterns: tuple[str, ...] | None) -> bool:
    if not patterns:
        return False
    norm = {p.strip().lstrip("/").rstrip("/") for p in patterns if p.strip() and not p.startswith("#")}
    if "*" in norm or "**" in norm:
        return True
    return all(any(p in (junk, f"**/{junk}", f"{junk}/**", f"**/{junk}/**") for p in norm) for junk in VCS_JUNK)


def check(ctx: Context) -> list[Hit]:
    """All hits of a Dockerfile, in file order, before ignores and configuration."""
    df = ctx.dockerfile
    hits: list[Hit] = []
    if ctx.has_context and not ctx.dockerignore:
        first = df.stages[0].from_instruction
        what = "no .dockerignore" if ctx.dockerignore is None else "the .dockerignore is empty"
        hits.append(
            Hit(
                "IMG120",
                f"{what}: the whole build context (.git, node_modules, build output) is sent "
                "to the builder and can be COPYed in",
                first,
            )
        )
    envs: dict[int, dict[str, str]] = {}
    for st in df.stages:
        inherited = envs.get(st.base_stage, {}) if st.base_stage is not None else {}
        envs[st.index] = dict(inherited)
        stage_hits = list(_stage_checks(ctx, st, inherited))
        # cache and cleanup rules apply where the filesystem reaches the final image
        if st.index not in ctx.reaching:
            stage_hits = [h for h in stage_hits if h.rule in ("IMG120",)]
        hits.extend(stage_hits)
        for ins in st.instructions:
            if ins.keyword == "ENV":
                for key in ("PIP_NO_CACHE_DIR", "POETRY_CACHE_DIR", "GEM_NO_DOCUMENT"):
                    value = _env_sets(ins, key)
                    if value is not None:
                        envs[st.index][key] = value
    hits.sort(key=lambda h: (h.ins.line, h.rule))
    return hits
