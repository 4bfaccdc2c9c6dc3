"""The size rules. A rule is one object (:class:`Rule`): metadata, its check, its fix and how its cost
is measured, registered by the module of its ecosystem (``apt``, ``apk``, ``rpm``, ``python``, ``node``,
``ruby``, ``users``, ``layers``, ``context``, ``base``). Adding a rule touches one of those modules; its
documentation page under docs/rules/ is generated from it (:func:`rule_page`).

Pure: Dockerfile model in, hits out. Only stages whose filesystem reaches the final image are
checked (a stage that only feeds ``COPY --from`` ships nothing).
"""

from __future__ import annotations

import re

from ..model import Comment, Dockerfile, Instruction
from ..shell import run_commands
from . import apk, apt, base, context, layers, node, python, rpm, ruby, users  # noqa: F401  (registration)
from .base import TOOLCHAIN_PACKAGES
from .core import (
    ENV_KEYS,
    INFO,
    RULES,
    SEVERITIES,
    WARNING,
    Context,
    Cost,
    Hit,
    Rule,
    StageView,
    Step,
    abspath,
    env_sets,
)

_ordered = dict(sorted(RULES.items()))  # registration order is module order; keep the id order
RULES.clear()
RULES.update(_ordered)
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


def stage_views(df: Dockerfile) -> dict[int, StageView]:
    """Every stage as steps: working directory, the ENV values rules read (inherited from the stage
    it is built FROM) and the commands of each RUN."""
    views: dict[int, StageView] = {}
    envs: dict[int, dict[str, str]] = {}
    workdirs: dict[int, str] = {}
    for st in df.stages:
        env = dict(envs.get(st.base_stage, {})) if st.base_stage is not None else {}
        workdir = workdirs.get(st.base_stage, "/") if st.base_stage is not None else "/"
        steps = []
        for ins in st.instructions:
            if ins.keyword == "ENV":
                for key in ENV_KEYS:
                    value = env_sets(ins, key)
                    if value is not None:
                        env[key] = value
            elif ins.keyword == "WORKDIR":
                workdir = abspath(workdir, ins.args.strip())
            cmds = tuple(run_commands(ins)) if ins.keyword == "RUN" else ()
            steps.append(Step(ins, workdir, dict(env), cmds))
        envs[st.index], workdirs[st.index] = env, workdir
        views[st.index] = StageView(st, tuple(steps))
    return views


def check(ctx: Context) -> list[Hit]:
    """All hits of a Dockerfile, in file order, before ignores and configuration."""
    df = ctx.dockerfile
    hits: list[Hit] = []
    for r in RULES.values():
        if r.on_file is not None:
            hits.extend(r.on_file(ctx))
    views = stage_views(df)
    for st in df.stages:
        if st.index not in ctx.reaching:
            continue
        view = views[st.index]
        for r in RULES.values():
            if r.on_stage is not None:
                hits.extend(r.on_stage(ctx, view))
        for step in view.steps:
            ins = step.ins
            for r in RULES.values():
                if r.on_run is None:
                    continue
                if ins.keyword == "RUN":
                    hits.extend(r.on_run(ctx, st, step))
                elif ins.keyword == "ONBUILD" and ins.onbuild is not None and ins.onbuild.keyword == "RUN":
                    # runs in every child image: linted as hadolint does, reported on the ONBUILD line
                    inner = Step(ins.onbuild, step.workdir, step.env, tuple(run_commands(ins.onbuild)))
                    hits.extend(Hit(h.rule, h.message + " (ONBUILD)", ins, h.related) for h in r.on_run(ctx, st, inner))
    hits.sort(key=lambda h: (h.ins.line, h.rule))
    return hits


# ---------------------------------------------------------------------------------------------
# documentation pages, generated from the rule objects

_HYGIENE_FIX = (
    "`imgopt optimize` (hygiene, on by default) rewrites it; findings say `fixable: true` when the fixer can "
    "handle that instruction"
)
_IGNORE_FIX = "`imgopt optimize` proposes a `.dockerignore` (written with `--in-place` when none exists)"


def _fix_line(r: Rule) -> str:
    if r.fix_doc is not None:
        return r.fix_doc
    if r.dockerignore_fix:
        return _IGNORE_FIX
    if r.fix is not None:
        return _HYGIENE_FIX
    return "none (needs a human decision)"


def fixed_by(r: Rule) -> str:
    """What in ``imgopt optimize`` answers the rule, for the rules index."""
    if r.fix is not None:
        return "hygiene"
    if r.dockerignore_fix:
        return ".dockerignore"
    if r.target is not None:
        return f"{r.target} target"
    return "no"


def rule_page(r: Rule) -> str:
    """docs/rules/<id>.md."""
    hadolint = f"**{r.hadolint}**" if r.hadolint else "none (imgopt only)"
    silence = f"`# imgopt ignore={r.id}` on the line before"
    if r.hadolint:
        silence += f" (or `# hadolint ignore={r.hadolint}`)"
    parts = [
        f"# {r.id} — {r.name}\n\n{r.summary}\n",
        f"* severity: **{r.severity}**\n* hadolint: {hadolint}\n* automatic fix: {_fix_line(r)}\n"
        f"* `imgopt lint --image`: {r.cost.describe()}\n"
        "* applies to stages whose filesystem reaches the final image (the final stage and the stages it is "
        "built FROM)\n",
        f"## Why\n\n{r.why}\n",
        f"## Bad\n\n```dockerfile\n{r.bad}```\n",
        f"## Good\n\n```dockerfile\n{r.good}```\n",
    ]
    if r.notes:
        parts.append(f"## Notes\n\n{r.notes}\n")
    parts[-1] += (
        f"\nSilence it for one instruction with {silence}, for the file with `# imgopt global ignore={r.id}`, "
        f'or in `[tool.imgopt] ignore = ["{r.id}"]`.\n'
    )
    return "\n".join(parts)


def rules_index() -> str:
    """docs/rules/README.md."""
    rows = [
        f"| [{r.id}]({r.id}.md) | {r.name} | {r.severity} | {r.hadolint or '-'} | {fixed_by(r)} | {r.summary} |"
        for r in RULES.values()
    ]
    head = (
        "# Size rules\n\n| rule | name | severity | hadolint | `imgopt optimize` | summary |\n"
        "|---|---|---|---|---|---|\n"
    )
    return head + "\n".join(rows) + "\n"


__all__ = [
    "HADOLINT_TO_IMG",
    "INFO",
    "RULES",
    "SEVERITIES",
    "TOOLCHAIN_PACKAGES",
    "WARNING",
    "Context",
    "Cost",
    "Hit",
    "Rule",
    "check",
    "fixed_by",
    "pragma_ignores",
    "rule_page",
    "rules_index",
    "stage_views",
]
