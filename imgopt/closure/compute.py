"""What a built image needs at run time, read from the image itself (no container, no extraction).

From the entry points (ENTRYPOINT/CMD resolved against the image's PATH and WORKDIR; the commands
of a shell-form command; shebang interpreters; ``exec`` lines of entry scripts) the closure follows
every ELF file's interpreter and ``DT_NEEDED`` libraries (searched as ld.so does: ``RPATH`` unless a
``RUNPATH`` is set, ``LD_LIBRARY_PATH``, ``RUNPATH``, ``/etc/ld.so.conf`` and its includes, the
default directories; ``$ORIGIN`` expanded; symlinks followed and kept), transitively. Each needed
file is either owned by a package (dpkg's ``info/*.list``, apk's ``installed``) — the runtime stage
installs that package — or not: a build output, which the runtime stage copies.

Besides what the entry points reach, every file the final stage's own instructions added and no
package owns is a build output (a config the program reads, a Python package, an app directory):
all of them are carried, except caches, temporary files, bytecode, VCS data and source code left
next to a compiled program. Users and groups the final stage created, and the directories it made
for them, are recreated. What cannot be determined (a library no search path holds, an interpreter
the image lacks) is listed, never guessed.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..analysis.categories import Categorizer
from ..analysis.squash import Squash
from ..dockerfile.shell import commands
from ..model import DIR, FILE, HARDLINK, SYMLINK, Image
from .fs import FinalFS
from .owners import databases_read, owners

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_LIB_DIRS = ("lib", "usr/lib", "lib64", "usr/lib64")  # glibc's, after ld.so.conf
MUSL_DEFAULT_DIRS = ("lib", "usr/local/lib", "usr/lib")  # musl's, unless /etc/ld-musl-<arch>.path says otherwise
SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "busybox"})
# interpreters whose script argument is a file the program needs
SCRIPT_RUNNERS = frozenset({"python", "python3", "node", "perl", "ruby", "php", "bash", "sh", "dash"})
# build outputs that are never carried: they serve the build, not the program
LEFT_BEHIND = frozenset(
    {"apt", "apk", "yum-dnf", "pip", "npm", "yarn", "gem-bundler", "go-build", "pycache", "git", "docs", "toolchain",
     "temp", "logs"}
)  # fmt: skip
SOURCE_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".go", ".rs", ".java", ".o", ".a", ".mk")
SOURCE_NAMES = frozenset({"Makefile", "CMakeLists.txt", "go.mod", "go.sum", "Cargo.toml", "Cargo.lock", "configure"})
# a language runtime reached through its interpreter brings its library: the packages that own
# files under these directories ({name}: the interpreter's file name, e.g. python3.11) are needed too,
# since what the program imports cannot be read from the image without running it
RUNTIME_LIBRARIES = (
    (re.compile(r"python\d+\.\d+$"), ("usr/lib/{name}", "usr/lib/python3/dist-packages")),
    (re.compile(r"node(js)?$"), ("usr/lib/node_modules", "usr/share/nodejs", "usr/lib/nodejs")),
    (re.compile(r"perl(5[\d.]*)?$"), ("usr/share/perl", "usr/share/perl5", "usr/lib/x86_64-linux-gnu/perl")),
    (re.compile(r"ruby[\d.]*$"), ("usr/lib/ruby",)),
    (re.compile(r"java$"), ("usr/lib/jvm",)),
)
DEV_PACKAGE = re.compile(r"-(dev|devel|headers)$")
ACCOUNT_FILES = frozenset({"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow", "etc/passwd-", "etc/group-",
                           "etc/shadow-", "etc/gshadow-", "etc/subuid", "etc/subgid", "etc/ld.so.cache",
                           "etc/.pwd.lock", "etc/machine-id"})  # fmt: skip
# what package installs write besides their listed files: databases, maintainer scripts, the
# alternatives system, caches, logs, locks
STATE_PREFIXES = (
    "var/lib/dpkg/", "var/lib/apt/", "var/cache/", "var/log/", "lib/apk/", "var/lib/systemd/", "etc/alternatives/",
    "var/lib/ucf/", "etc/ssl/certs/", "var/lib/pam/",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    uid: int
    gid: int
    group: str
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class Directory:
    path: str  # absolute
    uid: int
    gid: int
    mode: int


@dataclass(frozen=True)
class Closure:
    """What the image needs at run time."""

    entry: tuple[str, ...]  # the entry-point programs, as real paths
    needed: frozenset[str]  # every file the entry points reach (real paths) and the symlinks on the way
    packages: frozenset[str]  # packages owning needed files
    outputs: frozenset[str]  # build outputs to copy: needed files no package owns, and what the stage built
    accounts: tuple[Account, ...]  # users the final stage created (the runtime stage recreates them)
    directories: tuple[Directory, ...]  # directories the final stage made for a non-root owner
    unknown: tuple[str, ...]  # what the program needs and the image does not hold or show: no split then
    left_behind: tuple[str, ...] = ()  # build outputs not carried, with the reason (for the plan)
    notes: tuple[str, ...] = ()  # what was assumed without blocking a split (no package database, ids kept by number)
    needs_shell: bool = False  # the command runs through /bin/sh
    static: bool = False  # nothing needed is dynamically linked or interpreted
    owner_of: dict[str, tuple[int, int]] = field(default_factory=dict)  # output -> (uid, gid) when not root
    owner_pkg: dict[str, str] = field(default_factory=dict)  # needed file -> the package that owns it

    @property
    def self_contained(self) -> bool:
        """Nothing from a package, no shell, no dynamic linking, no account or directory to create:
        ``scratch`` can hold it."""
        return (
            self.static
            and not self.packages
            and not self.needs_shell
            and not self.unknown
            and not self.accounts
            and not self.directories
        )


def _env(image: Image) -> dict[str, str]:
    out = {}
    for item in image.config.env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def _ld_conf_dirs(fs: FinalFS) -> list[str]:
    """Library directories from /etc/ld.so.conf and the files it includes, in order."""
    out: list[str] = []
    seen: set[str] = set()

    def read(path: str, depth: int) -> None:
        data = fs.content(path)
        if data is None or depth > 8 or path in seen:
            return
        seen.add(path)
        for raw in data.decode("utf-8", "replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("include "):
                pattern = line.split(None, 1)[1].strip().lstrip("/")
                for p in sorted(p for p in fs.files if fnmatch.fnmatchcase(p, pattern)):
                    read(p, depth + 1)
            else:
                out.append(line.strip("/"))

    read("etc/ld.so.conf", 0)
    return out


def _musl_dirs(fs: FinalFS) -> list[str]:
    """musl's library path from /etc/ld-musl-<arch>.path (newline or colon separated), if there is one."""
    for path in sorted(p for p in fs.files if p.startswith("etc/ld-musl-") and p.endswith(".path")):
        data = fs.content(path)
        if data is not None:
            return [d.strip("/") for d in re.split(r"[:\n]", data.decode("utf-8", "replace")) if d.strip()]
    return []


class _Walker:
    def __init__(self, image: Image, sq: Squash) -> None:
        self.fs = FinalFS(image, sq)
        self.env = _env(image)
        self.path_dirs = [d.strip("/") for d in self.env.get("PATH", DEFAULT_PATH).split(":") if d]
        self.workdir = (image.config.workdir or "/").strip("/")
        self.lib_dirs = [d.strip("/") for d in self.env.get("LD_LIBRARY_PATH", "").split(":") if d]
        self.conf_dirs = _ld_conf_dirs(self.fs)
        self.musl_dirs = _musl_dirs(self.fs)
        self.needed: set[str] = set()
        self.links: set[str] = set()
        self.unknown: list[str] = []
        self.dynamic = False
        self.queue: list[str] = []

    # -- lookups -------------------------------------------------------------------------------

    def which(self, name: str) -> str | None:
        """A command name as the shell finds it: a path (absolute or relative to WORKDIR), or the
        first executable file of that name in PATH."""
        if "/" in name:
            path = name if name.startswith("/") else posixpath.join(self.workdir, name)
            return self.fs.resolve(path, self.links)
        for d in self.path_dirs:
            real = self.fs.resolve(f"{d}/{name}", self.links)
            if real is not None and self.fs.is_file(real):
                return real
        return None

    def library(self, name: str, origin: str, facts: dict[str, object]) -> str | None:
        """Where the dynamic loader finds ``name`` for an object in directory ``origin``."""
        if "/" in name:
            return self.fs.resolve(name, self.links)
        runpath = [str(p) for p in facts.get("runpath") or []]  # type: ignore[attr-defined]
        rpath = [] if runpath else [str(p) for p in facts.get("rpath") or []]  # type: ignore[attr-defined]
        interp = str(facts.get("interp") or "")
        loader = (self.fs.resolve(interp) or interp) if interp else ""
        if "ld-musl" in loader or (self.musl_dirs and not self.conf_dirs):
            system = self.musl_dirs or list(MUSL_DEFAULT_DIRS)  # musl reads no ld.so.conf
        else:
            system = [*self.conf_dirs, *DEFAULT_LIB_DIRS]
        dirs = [*rpath, *self.lib_dirs, *runpath, *system]
        for d in dirs:
            d = re.sub(r"\$(ORIGIN|\{ORIGIN\})", "/" + origin, d).strip("/")
            real = self.fs.resolve(f"{d}/{name}", self.links)
            if real is not None and self.fs.is_file(real):
                return real
        return None

    # -- the walk ------------------------------------------------------------------------------

    def need(self, path: str | None, why: str) -> None:
        if path is None:
            self.unknown.append(why)
            return
        if path not in self.needed:
            self.needed.add(path)
            self.queue.append(path)

    def walk(self) -> None:
        while self.queue:
            path = self.queue.pop()
            facts = self.fs.facts(path) or {}
            elf = facts.get("elf")
            if isinstance(elf, dict):
                self._elf(path, elf)
                continue
            shebang = facts.get("shebang")
            if isinstance(shebang, list) and shebang:
                self._script(path, [str(w) for w in shebang])

    def _elf(self, path: str, elf: dict[str, object]) -> None:
        if elf.get("error"):
            self.unknown.append(f"/{path}: unreadable ELF ({elf['error']})")
            return
        interp = elf.get("interp")
        needed = elf.get("needed") or []
        if interp or needed:
            self.dynamic = True
        if isinstance(interp, str):
            self.need(self.fs.resolve(interp, self.links), f"/{path}: its loader {interp} is not in the image")
        origin = posixpath.dirname(path)
        for lib in needed if isinstance(needed, list) else []:
            found = self.library(str(lib), origin, elf)
            self.need(found, f"/{path}: library {lib} is on no search path of the image")

    def _script(self, path: str, shebang: list[str]) -> None:
        interp, args = shebang[0], shebang[1:]
        self.dynamic = True
        if posixpath.basename(interp) == "env":
            names = [a for a in args if not a.startswith("-") and "=" not in a]
            if not names:
                self.unknown.append(f"/{path}: shebang {' '.join(shebang)} names no program")
                return
            self.need(self.which(names[0]), f"/{path}: its interpreter {names[0]} is not on PATH")
        else:
            self.need(self.fs.resolve(interp, self.links), f"/{path}: its interpreter {interp} is not in the image")
        if posixpath.basename(interp) in SHELLS or (args and args[0] in SHELLS):
            self._exec_lines(path)

    def _exec_lines(self, path: str) -> None:
        """An entry script's ``exec prog ...`` and the commands it runs: what it starts is needed."""
        data = self.fs.content(path)
        if data is None:
            return
        for cmd in commands(data.decode("utf-8", "replace")):
            if cmd.name and not cmd.words[0].startswith("$") and cmd.name not in _BUILTINS:
                found = self.which(cmd.words[0])
                if found is not None:
                    self.need(found, "")

    def command(self, argv: Sequence[str]) -> list[str]:
        """The programs an image command runs (argv as the config stores it)."""
        if not argv:
            return []
        programs = []
        first = self.which(argv[0])
        self.need(first, f"the command {argv[0]} is not in the image")
        if first is not None:
            programs.append(first)
        name = posixpath.basename(argv[0])
        facts = self.fs.facts(first) if first is not None else None
        if facts and "shebang" in facts:  # an entry script (`exec "$@"`): its arguments name the program
            for word in argv[1:]:
                found = self.which(word) if not word.startswith("-") else None
                if found is not None and self.fs.facts(found):
                    self.need(found, "")
                    programs.append(found)
        if name in SHELLS and "-c" in argv[1:-1]:
            script = argv[argv.index("-c") + 1]
            for cmd in commands(script):
                if cmd.name in _BUILTINS or cmd.words[0].startswith("$"):
                    continue
                found = self.which(cmd.words[0])
                self.need(found, f"the command {cmd.words[0]} (in {script!r}) is not in the image")
                if found is not None:
                    programs.append(found)
        elif re.match(r"(python|node|perl|ruby|php)[\d.]*$", name) or name in SCRIPT_RUNNERS:
            target = next((a for a in argv[1:] if not a.startswith("-")), None)
            if target is not None and "-m" not in argv[1:2] and "-c" not in argv[1:2]:
                real = self.which(target if "/" in target else "./" + target)
                if real is not None:
                    self.need(real, "")
        return programs


_BUILTINS = frozenset(
    {"cd", "echo", "test", "[", "true", "false", "exit", "set", "export", "read", "printf", "shift", "exec", ":",
     ".", "source", "trap", "wait", "umask", "unset", "local", "return", "eval"}
)  # fmt: skip


def _accounts(fs: FinalFS, image: Image, base_layers: set[int]) -> list[Account]:
    """Users in the final /etc/passwd that the base image's /etc/passwd does not have."""

    def table(data: bytes | None) -> dict[str, list[str]]:
        rows = {}
        for line in (data or b"").decode("utf-8", "replace").splitlines():
            parts = line.split(":")
            if len(parts) >= 7 and parts[0]:
                rows[parts[0]] = parts
        return rows

    def in_base(path: str) -> bytes | None:
        for i in sorted(base_layers, reverse=True):
            data = image.layers[i].contents.get(path)
            if data is not None:
                return data
        return None

    passwd, group = table(fs.content("etc/passwd")), fs.content("etc/group")
    groups = {}
    for line in (group or b"").decode("utf-8", "replace").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            groups[int(parts[2])] = parts[0]
    base = table(in_base("etc/passwd"))
    new = []
    for name, p in passwd.items():
        if name in base or not p[2].isdigit() or not p[3].isdigit():
            continue
        gid = int(p[3])
        new.append(Account(name, int(p[2]), gid, groups.get(gid, name), p[5], p[6]))
    return new


def _runtime_packages(fs: FinalFS, own: dict[str, str], needed: set[str]) -> set[str]:
    """Packages of the libraries of the language runtimes among the needed files."""
    dirs: set[str] = set()
    for p in needed:
        name = posixpath.basename(p)
        for pattern, templates in RUNTIME_LIBRARIES:
            if pattern.match(name):
                dirs |= {t.format(name=name) for t in templates}
    if not dirs:
        return set()
    real = {fs.resolve(d) or d for d in dirs}
    found = {pkg for path, pkg in own.items() if any(path.startswith(d + "/") for d in real)}
    return {pkg for pkg in found if not DEV_PACKAGE.search(pkg)}  # headers and static libraries: never


def _base_packages(image: Image, base_layers: set[int]) -> set[str]:
    """Packages the base image installed (its own dpkg or apk database)."""
    from ..analysis.packages import parse_apk_installed, parse_dpkg_status

    for i in sorted(base_layers, reverse=True):
        contents = image.layers[i].contents
        if "var/lib/dpkg/status" in contents:
            return set(parse_dpkg_status(contents["var/lib/dpkg/status"].decode("utf-8", "replace")))
        if "lib/apk/db/installed" in contents:
            return set(parse_apk_installed(contents["lib/apk/db/installed"].decode("utf-8", "replace")))
    return set()


def _source_dir(fs: FinalFS, files: Iterable[str]) -> set[str]:
    """Files in directories that hold only source code and build files."""
    by_dir: dict[str, list[str]] = {}
    for f in files:
        by_dir.setdefault(posixpath.dirname(f), []).append(f)
    out = set()
    for _, members in by_dir.items():
        if all(m.endswith(SOURCE_SUFFIXES) or posixpath.basename(m) in SOURCE_NAMES for m in members):
            out |= set(members)
    return out


def compute_closure(
    image: Image, sq: Squash, stage_layers: set[int], base_layers: set[int], install_layers: set[int] | None = None
) -> Closure:
    """The closure of ``image``. ``stage_layers``: the layers the final stage's own instructions made
    (their non-package files are build outputs); ``base_layers``: the base image's layers;
    ``install_layers``: stage layers whose instruction only installs packages (what they wrote that
    no package lists is the work of maintainer scripts, carried only when the program needs it)."""
    install_layers = install_layers or set()
    w = _Walker(image, sq)
    fs = w.fs
    argv = [*(image.config.entrypoint or ()), *(image.config.cmd or ())]
    entry = tuple(w.command(argv))
    needs_shell = bool(argv) and posixpath.basename(argv[0]) in SHELLS
    own = owners(fs)
    cat = Categorizer()
    notes: list[str] = []

    def side_effect(p: str) -> str | None:
        """Why a file the stage wrote, and no package lists, is not a build output (None: it is)."""
        if p in ACCOUNT_FILES or p.startswith(STATE_PREFIXES):
            return "package or account state"
        fe = fs.files.get(p)
        if fe is not None and fe.entry.kind == SYMLINK and (fe.entry.linkname or "").startswith("/etc/alternatives/"):
            return "package or account state"
        c = cat(p)
        return c if c in LEFT_BEHIND else None

    # the stage's own executables (a Python extension module, a plugin) need their libraries too
    built = (p for p, fe in fs.files.items() if fe.layer in stage_layers and fe.layer not in install_layers)
    for p in built:
        if p not in own and fs.is_file(p) and fs.facts(p) and not side_effect(p):
            w.need(p, "")
    w.walk()
    known_owners = databases_read(fs)
    from_base = {p for p, fe in fs.files.items() if fe.layer in base_layers}
    needed = w.needed | w.links
    packages = {own[p] for p in needed if p in own}
    runtimes = _runtime_packages(fs, own, needed)
    packages = (packages | runtimes) - _base_packages(image, base_layers)
    unowned = {p for p in needed if p not in own and p not in from_base and (fs.is_file(p) or p in w.links)}
    if not known_owners and w.needed:
        notes.append("no package database was read: every needed file is copied")
    # build outputs: what the stage's instructions added that no package owns
    made = [
        p for p, fe in fs.files.items()
        if fe.layer in stage_layers and fe.layer not in install_layers and fe.entry.kind in (FILE, HARDLINK, SYMLINK)
        and p not in own
    ]  # fmt: skip
    left: list[str] = []
    outputs = set(unowned)
    sources = _source_dir(fs, made) - needed
    for p in made:
        why = side_effect(p)
        if why == "package or account state":
            continue
        if why is not None:
            left.append(f"/{p} ({why})")
            continue
        if p in sources and any(fs.facts(e) and "elf" in (fs.facts(e) or {}) for e in entry):
            left.append(f"/{p} (source code of a compiled program)")
            continue
        outputs.add(p)
    for p in list(outputs):  # the symlinks a copied path passes through must exist too
        fs.resolve(p, w.links)
    outputs |= {link for link in w.links if link not in own and link not in from_base}
    accounts = _accounts(fs, image, base_layers)
    new_uids = {a.uid for a in accounts}
    new_gids = {a.gid for a in accounts}
    dirs = []
    for p, fe in fs.files.items():
        e = fe.entry
        if (
            e.kind == DIR
            and fe.layer in stage_layers
            and p not in own
            and (e.uid in new_uids or e.gid in new_gids)  # made for an account the build created
            and not p.startswith(STATE_PREFIXES)
        ):
            dirs.append(Directory("/" + p, e.uid, e.gid, e.mode))
    owner_of = {}
    for p in outputs:
        out_entry = fs.files.get(p)
        if out_entry is not None and (out_entry.entry.uid or out_entry.entry.gid):
            owner_of[p] = (out_entry.entry.uid, out_entry.entry.gid)
    unknown = list(dict.fromkeys(u for u in w.unknown if u))
    missing_owner = {uid for uid, _ in owner_of.values()} - new_uids - {0}
    if missing_owner:
        notes.append(f"files belong to uid(s) {sorted(missing_owner)} that the base image defines: kept by number")
    return Closure(
        entry=entry,
        needed=frozenset(needed),
        packages=frozenset(packages),
        outputs=frozenset(outputs),
        accounts=tuple(sorted(accounts, key=lambda a: a.uid)),
        directories=tuple(sorted(dirs, key=lambda d: d.path)),
        unknown=tuple(unknown),
        notes=tuple(notes),
        left_behind=tuple(sorted(left)),
        needs_shell=needs_shell,
        static=not w.dynamic,
        owner_of=owner_of,
        owner_pkg={p: own[p] for p in needed if p in own},
    )


__all__ = ["Account", "Closure", "Directory", "compute_closure"]
