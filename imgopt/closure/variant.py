"""A multi-stage Dockerfile from a closure: the original final stage becomes the builder, and a
runtime stage on the slimmest base that can hold the closure gets exactly what the program needs:
the packages that own its files, the accounts and directories the build made, and the build
outputs, copied with their owners. Every instruction that shapes how the image runs (ENV, WORKDIR,
USER, EXPOSE, LABEL, VOLUME, STOPSIGNAL, HEALTHCHECK, ENTRYPOINT, CMD) follows in its order.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass

from ..dockerfile.edits import Edit, apply_edits
from ..dockerfile.model import Dockerfile
from ..dockerfile.rewrite import NEEDS_VERIFY, Change
from ..dockerfile.variants import NotApplicable, Variant, base_ref, runtime_base, slim_base
from .compute import Closure

METADATA = frozenset(
    {"ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "LABEL", "VOLUME", "STOPSIGNAL", "HEALTHCHECK", "ENTRYPOINT", "CMD"}
)
APT_SOURCES = ("etc/apt/sources.list.d/", "etc/apt/keyrings/", "usr/share/keyrings/", "etc/apt/trusted.gpg.d/")
BUILDER = "builder"


@dataclass(frozen=True)
class Runtime:
    base: str
    why: str


# what Google's distroless images hold: static-debian12 (CA certificates, tzdata, /etc/passwd with
# nonroot) and cc-debian12 (that, plus glibc, libgcc, libstdc++ and libssl)
DISTROLESS_STATIC = "gcr.io/distroless/static-debian12"
DISTROLESS_CC = "gcr.io/distroless/cc-debian12"
DISTROLESS_HAS = frozenset(
    {"libc6", "libgcc-s1", "libstdc++6", "libssl3", "openssl", "ca-certificates", "tzdata", "netbase", "base-files"}
)


def choose_base(df: Dockerfile, closure: Closure, distroless: bool = False) -> Runtime:
    final = df.final_stage
    if final is None:  # pragma: no cover - a parsed Dockerfile has a stage
        raise NotApplicable("no stage")
    if distroless:
        if closure.needs_shell:
            raise NotApplicable("the command runs through a shell, which distroless does not have")
        if closure.accounts or closure.directories:
            raise NotApplicable("the image needs accounts or directories created, and distroless has no useradd")
        if closure.static:
            return Runtime(DISTROLESS_STATIC, "the program is static")
        return Runtime(DISTROLESS_CC, "glibc and the C/C++ runtime, nothing else")
    if closure.self_contained:
        return Runtime("scratch", "the program is static and needs no package and no shell")
    base = final.base_resolved
    slim = slim_base(base) or runtime_base(base, False) or base
    why = "the slim variant of the original base" if slim != base else "the original base (no slimmer one is known)"
    return Runtime(slim, why)


def _copy_groups(closure: Closure, all_files: set[str]) -> list[tuple[str, list[str], str]]:
    """(chown or "", sources, destination) for the COPY lines: a directory whose every file is an
    output is copied whole (symlinks kept), other outputs one by one, grouped by directory and owner."""
    outputs = set(closure.outputs)
    whole: set[str] = set()
    for p in sorted(outputs, key=lambda x: x.count("/")):
        if any(p == d or p.startswith(d + "/") for d in whole):
            continue
        head = posixpath.dirname(p)
        best = None
        while head and head.count("/") >= 1:  # never a top-level directory like /usr or /etc
            members = [f for f in all_files if f.startswith(head + "/")]
            if members and all(m in outputs for m in members):
                best = head
                head = posixpath.dirname(head)
            else:
                break
        if best is not None:
            whole.add(best)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    lines: list[tuple[str, list[str], str]] = []
    for d in sorted(set(whole)):
        owners = {closure.owner_of.get(p) for p in outputs if p.startswith(d + "/")}
        owners |= {(x.uid, x.gid) for x in closure.directories if x.path == "/" + d}
        if len(owners) > 1:  # mixed owners: copy the files one by one below
            whole.discard(d)
            continue
        owner = next(iter(owners), None)
        lines.append((f"{owner[0]}:{owner[1]}" if owner else "", ["/" + d], "/" + d))
    for p in sorted(outputs):
        if any(p.startswith(d + "/") for d in whole) or p in whole:
            continue
        owner = closure.owner_of.get(p)
        groups[(f"{owner[0]}:{owner[1]}" if owner else "", "/" + posixpath.dirname(p) + "/")].append("/" + p)
    for (chown, dest), sources in sorted(groups.items(), key=lambda kv: kv[0][1]):
        lines.append((chown, sources, dest))
    return lines


def closure_variant(
    df: Dockerfile, closure: Closure, all_files: set[str], changes: list[Change], target: str = "multistage"
) -> Variant:
    """The multi-stage Dockerfile for ``df`` (already rewritten by hygiene) from its image's closure."""
    final = df.final_stage
    if final is None or final.base_stage is not None or final.base_resolved.lower() == "scratch":
        raise NotApplicable("the final stage is not built from an external base image")
    if closure.unknown:
        raise NotApplicable("the runtime closure is incomplete: " + "; ".join(closure.unknown[:3]))
    distroless = target == "distroless"
    runtime = choose_base(df, closure, distroless)
    edits: list[Edit] = []
    name = final.name or BUILDER
    if final.name is None:
        raw = final.from_instruction.raw
        edits.append(Edit(final.from_instruction.line, final.from_instruction.end_line, raw.rstrip() + f" AS {name}\n"))
    lines = ["", "# runtime stage from the image's runtime closure (imgopt): what the program needs, no more",
             f"FROM {runtime.base}"]  # fmt: skip
    metadata = [i for i in final.instructions if i.keyword in METADATA]
    lines += [i.raw.rstrip("\n") for i in metadata if i.keyword == "ARG"]
    scratch = runtime.base == "scratch"
    sources = sorted(p for p in closure.outputs if p.startswith(APT_SOURCES))
    warnings: list[str] = []
    if distroless:
        extra = sorted(closure.packages - DISTROLESS_HAS)
        if extra:  # no package manager: the files the program needs from those packages are copied
            files = sorted(p for p in closure.needed if closure.owner_pkg.get(p) in extra)
            for directory in sorted({posixpath.dirname(p) for p in files}):
                group = [f"/{p}" for p in files if posixpath.dirname(p) == directory]
                lines.append(f"COPY --from={name} {' '.join(group)} /{directory}/")
            warnings.append(
                f"distroless has no package manager: the files the program needs from {', '.join(extra)} are "
                "copied (no maintainer scripts run)"
            )
    elif closure.packages and not scratch:
        if sources:
            lines.append(f"COPY --from={name} " + " ".join("/" + p for p in sources) + " /tmp/imgopt-apt/")
        apk = base_ref(runtime.base).official == "alpine" or "alpine" in runtime.base
        pkgs = " ".join(sorted(closure.packages))
        if apk:
            lines.append(f"RUN apk add --no-cache {pkgs}")
        else:
            carry = ""
            if sources:
                carry = "".join(
                    f"mkdir -p /{posixpath.dirname(p)} && cp /tmp/imgopt-apt/{posixpath.basename(p)} /{p} && "
                    for p in sources
                )
            lines.append(
                f"RUN {carry}apt-get update && apt-get install -y --no-install-recommends {pkgs} "
                "&& apt-get clean && rm -rf /var/lib/apt/lists/*" + (" /tmp/imgopt-apt" if sources else "")
            )
    if closure.accounts and not distroless:
        if scratch:
            raise NotApplicable("the image needs accounts and a scratch runtime has no useradd")
        steps = []
        for a in closure.accounts:
            steps.append(f"(getent group {a.gid} >/dev/null || groupadd -g {a.gid} {a.group})")
            steps.append(f"useradd -l -M -u {a.uid} -g {a.gid} -d {a.home} -s {a.shell} {a.name}")
        lines.append("RUN " + " \\\n && ".join(steps))
    if closure.directories and not scratch and not distroless:
        by_owner: dict[tuple[int, int, int], list[str]] = defaultdict(list)
        for d in closure.directories:
            by_owner[(d.uid, d.gid, d.mode)].append(d.path)
        for (uid, gid, mode), paths in sorted(by_owner.items()):
            lines.append(f"RUN install -d -o {uid} -g {gid} -m {mode:04o} " + " ".join(sorted(paths)))
    for chown, srcs, dest in _copy_groups(closure, all_files):
        flag = f" --chown={chown}" if chown else ""
        lines.append(f"COPY --from={name}{flag} {' '.join(srcs)} {dest}")
    for ins in metadata:
        if ins.keyword == "ARG":
            continue
        if (scratch or distroless) and ins.keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK") and ins.json_args is None:
            raise NotApplicable(f"line {ins.line}: {ins.keyword} needs a shell, which {runtime.base} does not have")
        lines.append(ins.raw.rstrip("\n"))
    text = apply_edits(df.render(), edits).rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    what = (
        f"runtime stage FROM {runtime.base} ({runtime.why}) from the image's closure: "
        f"{len(closure.packages)} package(s), {len(closure.outputs)} build output(s), "
        f"{len(closure.accounts)} account(s), {len(closure.directories)} directorie(s)"
    )
    anchor = final.from_instruction
    change = Change("closure", anchor.line, what, safety=NEEDS_VERIFY, caution="only a build and a check prove a split")
    if distroless and not any(i.keyword == "ENTRYPOINT" for i in metadata):
        lines.insert(3, "ENTRYPOINT []")  # distroless images set none, but be explicit: CMD runs as written
    warnings += [f"assumed: {n}" for n in closure.notes]
    if closure.left_behind:
        reasons: dict[str, int] = defaultdict(int)
        for item in closure.left_behind:
            reasons[item.rpartition(" (")[2].rstrip(")")] += 1
        summary = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        warnings.append(f"left in the builder: {len(closure.left_behind)} file(s) the build wrote ({summary})")
    bases = tuple(b for b in (final.base_resolved, runtime.base) if b != "scratch")
    return Variant(target, text, (*changes, change), tuple(warnings), tuple(dict.fromkeys(bases)))


__all__ = ["Runtime", "choose_base", "closure_variant"]
