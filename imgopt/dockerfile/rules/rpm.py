"""yum, dnf, microdnf and zypper (Fedora, RHEL, SUSE): package caches."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..edits import Fix, append_command, replace_with
from ..model import Stage
from ..shell import Command, run_commands
from .core import WARNING, Context, Hit, Rule, Step, appending, cached, first, paths, removes, rule


def _yum(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    if (
        first(cmds, lambda c: c.is_("yum", "install", "groupinstall", "localinstall"))
        and not first(cmds, lambda c: c.is_("yum", "clean") and "all" in c.positional())
        and not removes(cmds, "/var/cache/yum")
        and not cached(step.ins, "/var/cache/yum")
    ):
        yield Hit("IMG104", "yum install without `yum clean all` (and rm -rf /var/cache/yum) in the same RUN", step.ins)


def _zypper(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    if (
        first(cmds, lambda c: c.is_("zypper", "install", "in", "patch", "update", "up", "dist-upgrade", "dup"))
        and not first(cmds, lambda c: c.is_("zypper", "clean", "cc"))
        and not removes(cmds, "/var/cache/zypp")
        and not cached(step.ins, "/var/cache/zypp")
    ):
        yield Hit("IMG105", "zypper install without `zypper clean` in the same RUN", step.ins)


def _installs_with(tool: str) -> Callable[[Command], bool]:
    return lambda c: c.is_(tool, "install", "groupinstall", "module")


def _dnf(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    for tool in ("dnf", "microdnf"):
        if (
            first(cmds, _installs_with(tool))
            and not first(
                cmds, lambda c: c.name in ("dnf", "microdnf") and c.is_(c.name, "clean") and "all" in c.positional()
            )
            and not removes(cmds, "/var/cache/dnf")
            and not removes(cmds, "/var/cache/yum")
            and not cached(step.ins, "/var/cache/dnf")
        ):
            yield Hit("IMG106", f"{tool} install without `{tool} clean all` in the same RUN", step.ins)
            return


def _fix_dnf(ctx: Context, hit: Hit) -> Fix | None:
    tool = "microdnf" if any(c.name == "microdnf" for c in run_commands(hit.ins)) else "dnf"
    text = append_command(ctx.dockerfile, hit.ins, f"{tool} clean all")
    return replace_with(hit.ins, text, f"clean the {tool} cache in the installing RUN")


rule(
    Rule(
        "IMG104",
        "yum-clean",
        WARNING,
        "Run yum clean all in the RUN that installs.",
        "DL3032",
        paths("var/cache/yum/**"),
        on_run=_yum,
        fix=appending("yum clean all && rm -rf /var/cache/yum", "clean the yum cache in the installing RUN"),
        why="yum keeps repository metadata and downloaded RPMs in /var/cache/yum until `yum clean all`.",
        bad=("FROM centos:7\nRUN yum install -y httpd\n"),
        good=("FROM centos:7\nRUN yum install -y httpd && yum clean all && rm -rf /var/cache/yum\n"),
    )
)
rule(
    Rule(
        "IMG105",
        "zypper-clean",
        WARNING,
        "Run zypper clean in the RUN that installs.",
        "DL3036",
        paths("var/cache/zypp/**"),
        on_run=_zypper,
        fix=appending("zypper clean --all", "clean the zypper cache in the installing RUN"),
        why="zypper keeps repository metadata and packages in /var/cache/zypp.",
        bad=("FROM opensuse/leap:15.6\nRUN zypper install -y curl\n"),
        good=("FROM opensuse/leap:15.6\nRUN zypper install -y curl && zypper clean -a\n"),
        notes="`zypper cc` is the short spelling of `zypper clean`.",
    )
)
rule(
    Rule(
        "IMG106",
        "dnf-clean",
        WARNING,
        "Run dnf clean all in the RUN that installs.",
        "DL3040",
        paths("var/cache/dnf/**", "var/cache/yum/**"),
        on_run=_dnf,
        fix=_fix_dnf,
        why="dnf (and microdnf) keep metadata and packages in /var/cache/dnf (often 100+ MB on Fedora).",
        bad=("FROM fedora:40\nRUN dnf install -y nginx\n"),
        good=("FROM fedora:40\nRUN dnf install -y nginx && dnf clean all\n"),
    )
)
