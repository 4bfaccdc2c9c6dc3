"""Ruby tooling: gem documentation and the bundler cache."""

from __future__ import annotations

from collections.abc import Iterator

from ..edits import Fix, insert_option, replace_with
from ..model import Stage
from .core import INFO, Context, Hit, Rule, Step, appending, cached, first, paths, removes, rule


def _gem_doc(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    c = first(step.cmds, lambda c: c.is_("gem", "install"))
    if c and not c.has_flag("--no-document", "--no-doc", "-N", "--no-rdoc") and step.env.get("GEM_NO_DOCUMENT") is None:
        yield Hit("IMG131", "gem install without --no-document installs rdoc/ri documentation", step.ins)


def _fix_gem_doc(ctx: Context, hit: Hit) -> Fix | None:
    text = insert_option(ctx.dockerfile, hit.ins, "gem", "install", "--no-document")
    return replace_with(hit.ins, text, "gem install --no-document")


rule(
    Rule(
        "IMG131",
        "gem-no-document",
        INFO,
        "Install gems with --no-document.",
        cost=paths("usr/local/bundle/doc/**", "usr/local/lib/ruby/gems/*/doc/**", "var/lib/gems/*/doc/**"),
        on_run=_gem_doc,
        fix=_fix_gem_doc,
        why="`gem install` generates rdoc/ri documentation by default.",
        bad="RUN gem install bundler\n",
        good="RUN gem install --no-document bundler\n",
    )
)


def _bundler(ctx: Context, st: Stage, step: Step) -> Iterator[Hit]:
    cmds = step.cmds
    if (
        first(cmds, lambda c: c.is_("bundle", "install"))
        and not removes(cmds, "/usr/local/bundle/cache")
        and not first(cmds, lambda c: c.is_("bundle", "clean"))
        and not removes(cmds, "/root/.bundle/cache")
        and not cached(step.ins, "/usr/local/bundle/cache")
    ):
        yield Hit("IMG132", "bundle install keeps the downloaded .gem files in the bundler cache", step.ins)


rule(
    Rule(
        "IMG132",
        "bundler-cache",
        INFO,
        "Remove the bundler cache in the RUN that runs bundle install.",
        cost=paths("usr/local/bundle/cache/**", "**/vendor/bundle/ruby/*/cache/**", "root/.bundle/cache/**"),
        on_run=_bundler,
        fix=appending("rm -rf /usr/local/bundle/cache", "remove the bundler cache in the installing RUN"),
        why="bundler keeps the downloaded .gem files in the bundle's cache directory after installing them.",
        bad="RUN bundle install\n",
        good="RUN bundle install && rm -rf /usr/local/bundle/cache\n",
        notes="`bundle clean` or a cache mount also satisfy the rule.",
    )
)
