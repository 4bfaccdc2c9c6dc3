"""Node.js tooling: the npm and yarn caches."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Stage
from ..shell import Command
from .core import INFO, Context, Hit, Rule, Step, appending, cached, first, paths, removes, rule


def yarn_installs(c: Command) -> bool:
    """``yarn install`` or a bare ``yarn`` (which installs); ``yarn --version`` installs nothing."""
    if c.is_("yarn", "install"):
        return True
    return c.name == "yarn" and not c.positional() and not c.has_flag("--version", "-v", "--help", "-h")


def _yarn(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    if (
        first(cmds, yarn_installs)
        and not first(cmds, lambda c: c.is_("yarn", "cache") and "clean" in c.positional())
        and not cached(step.ins, "/usr/local/share/.cache/yarn", "/root/.cache/yarn", "/root/.yarn")
        and not removes(cmds, "/usr/local/share/.cache/yarn")
    ):
        yield Hit("IMG110", "yarn install without `yarn cache clean` in the same RUN", step.ins)


rule(
    Rule(
        "IMG110",
        "yarn-cache",
        INFO,
        "Run yarn cache clean after yarn install.",
        "DL3060",
        paths("usr/local/share/.cache/yarn/**", "**/.cache/yarn/**", "**/.yarn/cache/**"),
        on_run=_yarn,
        fix=appending("yarn cache clean", "clean the yarn cache in the installing RUN"),
        why="yarn v1 keeps every downloaded package in /usr/local/share/.cache/yarn.",
        bad="RUN yarn install --frozen-lockfile\n",
        good="RUN yarn install --frozen-lockfile && yarn cache clean\n",
        notes="A cache mount on the yarn cache directory also satisfies the rule.",
    )
)


def _npm(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    if (
        first(cmds, lambda c: c.is_("npm", "install", "i", "ci", "add"))
        and not first(cmds, lambda c: c.is_("npm", "cache") and "clean" in c.positional())
        and not cached(step.ins, "/root/.npm")
        and not removes(cmds, "/root/.npm")
        and not first(cmds, lambda c: c.name == "npm" and any(w.startswith("--cache=/tmp") for w in c.words))
    ):
        yield Hit("IMG130", "npm install/ci without `npm cache clean --force` leaves ~/.npm/_cacache", step.ins)


rule(
    Rule(
        "IMG130",
        "npm-cache",
        INFO,
        "Clean the npm cache in the RUN that installs.",
        cost=paths("root/.npm/**", "**/.npm/**"),
        on_run=_npm,
        fix=appending("npm cache clean --force", "clean the npm cache in the installing RUN"),
        why="npm keeps a content-addressed copy of every package tarball in ~/.npm/_cacache.",
        bad="RUN npm ci\n",
        good="RUN npm ci --omit=dev && npm cache clean --force\n",
        notes="A cache mount on /root/.npm or `--cache /tmp/...` removed in the same RUN also satisfies the rule.",
    )
)
