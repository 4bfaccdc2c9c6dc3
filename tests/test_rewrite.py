"""Hygiene rewrites: golden files over the lint corpus, and the cases where a fixer must refuse."""

from __future__ import annotations

import glob
import os

import dockerfile as buildkit
import pytest
from conftest import ROOT, golden, shell_errors
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from imgopt.dockerfile import lint, parse
from imgopt.dockerfile.edits import Edit, apply_edits
from imgopt.dockerfile.rewrite import HYGIENE, can_fix, hygiene, proposed_dockerignore
from imgopt.dockerfile.rules import Context

CORPUS = sorted(glob.glob(os.path.join(ROOT, "tests", "dockerfiles", "*.Dockerfile")))
GOLDEN = os.path.join(ROOT, "tests", "golden", "hygiene")
# findings a fixer must leave alone, by corpus file (what the plan reports as not fixed)
LEFT = {
    "09-onbuild.Dockerfile": {"IMG110"},  # ONBUILD runs in child images: not rewritten
    "28-copy-archive-extract.Dockerfile": {"IMG141"},  # the archive comes from a COPY, not a RUN
}


@pytest.mark.parametrize("path", CORPUS, ids=os.path.basename)
def test_corpus_golden(path: str) -> None:
    name = os.path.basename(path)
    with open(path) as f:
        before = f.read()
    result = hygiene(parse(before))
    assert result.text == golden(GOLDEN, name, result.text)
    # the result is a Dockerfile BuildKit reads the same way we do
    after = parse(result.text)
    assert after.render() == result.text
    assert [c.cmd.upper() for c in buildkit.parse_string(result.text)] == [i.keyword for i in after.instructions]
    # every fixable finding is gone, except the ones a fixer must refuse
    left = {f.rule for f in lint(after) if f.rule in HYGIENE}
    assert left == LEFT.get(name, set())
    assert {h.rule for h in result.unfixed if h.rule in HYGIENE} == LEFT.get(name, set())


def test_lint_reports_fixable_from_the_fixers() -> None:
    text = 'FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\nRUN ["apt-get", "update"]\n'
    fixable = {(f.rule, f.line): f.fixable for f in lint(text)}
    assert fixable[("IMG101", 2)] and fixable[("IMG102", 2)]
    assert not fixable[("IMG101", 3)]  # exec form: no shell to append to


def _fix(text: str) -> str:
    return hygiene(parse(text)).text


def test_apt_update_alone_is_merged_not_broken() -> None:
    out = _fix("FROM debian:bookworm\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends curl\n")
    assert out == (
        "FROM debian:bookworm\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl && \\\n"
        "    apt-get clean && rm -rf /var/lib/apt/lists/*\n"
    )
    # an update with no install after it: deleting the lists there would break nothing, but
    # neither would it save anything the merge cannot; it is left for the reader
    lone = "FROM debian:bookworm\nRUN apt-get update\nCOPY x /x\n"
    assert _fix(lone) == lone


def test_merges_keep_failure_semantics() -> None:
    head = "FROM debian:bookworm-slim\nRUN wget -O /tmp/a.tgz http://x/a.tgz"
    out = _fix(head + "\nRUN tar -xzf /tmp/a.tgz; rm /tmp/a.tgz\n")
    assert out == head + " && \\\n    { tar -xzf /tmp/a.tgz; rm /tmp/a.tgz; }\n"
    # different flags, heredocs and exec form are never merged
    for second in ('RUN ["echo", "b"]\n', "RUN --network=none echo b\n", "RUN <<EOF\necho b\nEOF\n"):
        text = "FROM debian:bookworm-slim\nRUN echo a\n" + second
        assert _fix(text) == text


def test_inline_comment_and_non_shell_heredoc_are_not_appended_to() -> None:
    for text in (
        "FROM debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends x # why\n",
        "FROM debian:bookworm\nRUN python3 <<EOF\nimport os; os.system('apt-get update')\nEOF\n",
    ):
        result = hygiene(parse(text))
        assert result.text == text


def test_chown_becomes_copy_chown() -> None:
    created_before = "FROM debian:bookworm-slim\nRUN useradd app\nCOPY src/ /app\nRUN chown -R app:app /app\nUSER app\n"
    assert _fix(created_before) == created_before.replace("COPY", "COPY --chown=app:app").replace(
        "RUN chown -R app:app /app\n", ""
    )
    created_after = "FROM debian:bookworm-slim\nCOPY src/ /app\nRUN useradd app\nRUN chown -R app /app\n"
    assert _fix(created_after) == "FROM debian:bookworm-slim\nRUN useradd app\nCOPY --chown=app src/ /app\n"
    numeric = "FROM debian:bookworm-slim\nWORKDIR /app\nCOPY . .\nRUN chown -R 1000:1000 /app\n"
    assert _fix(numeric) == "FROM debian:bookworm-slim\nWORKDIR /app\nCOPY --chown=1000:1000 . .\n"
    # a RUN between writes into the target: the chown also covers its files, so it stays
    touched = "FROM debian:bookworm-slim\nCOPY src/ /app\nRUN touch /app/x\nRUN chown -R 1000 /app\n"
    assert "--chown" not in _fix(touched)
    # more than the chown in that RUN
    both = "FROM debian:bookworm-slim\nCOPY src/ /app\nRUN chown -R 1000 /app && chmod 700 /app\n"
    assert _fix(both) == both


def test_pragmas_and_config_are_respected() -> None:
    text = "FROM debian:bookworm\n# imgopt ignore=IMG102\nRUN apt-get update && apt-get install -y x\n"
    assert "--no-install-recommends" not in _fix(text)
    assert "rm -rf /var/lib/apt/lists" in _fix(text)
    assert hygiene(parse(text), ignore=frozenset({"IMG101"})).text.count("rm -rf") == 0


def test_changes_name_input_lines() -> None:
    result = hygiene(parse("FROM debian:bookworm\n\n# x\nRUN apt-get update\nRUN apt-get install -y curl\n"))
    assert [(c.rule, c.line) for c in result.changes] == [("IMG101", 4), ("IMG102", 4)]
    assert list(result.changes[0].lines) == [4, 5]  # the merge reached into the install RUN


def test_apply_edits_refuses_overlaps() -> None:
    with pytest.raises(ValueError):
        apply_edits("a\nb\nc\n", [Edit(1, 2, "x\n"), Edit(2, 3, "y\n")])
    assert apply_edits("a\nb\nc", [Edit(3, 3, "z\n"), Edit(1, 1, "")]) == "b\nz\n"


def test_proposed_dockerignore_is_conservative() -> None:
    npm = parse("FROM node:20\nCOPY . .\nRUN npm ci\n")
    text = proposed_dockerignore(npm, None)
    assert text is not None and ".git\n" in text and "**/node_modules" in text
    vendored = parse("FROM node:20\nCOPY . .\nCMD node server.js\n")  # node_modules come from the host
    assert "node_modules" not in (proposed_dockerignore(vendored, None) or "")
    uses_git = parse("FROM debian:bookworm\nCOPY . .\nRUN git describe > /version\n")
    assert ".git\n" not in (proposed_dockerignore(uses_git, None) or "")
    assert proposed_dockerignore(npm, (".git",)) is None


def test_rule_docs_are_generated_from_the_rule_objects() -> None:
    """Each docs/rules page and the index come from the rule object (IMGOPT_REGENERATE_GOLDEN=1
    rewrites them), so what a page says about fixes and costs cannot drift from the code."""
    from imgopt.dockerfile.rules import RULES, rule_page, rules_index

    directory = os.path.join(ROOT, "docs", "rules")
    assert golden(directory, "README.md", rules_index()) == rules_index()
    for rid, rule in RULES.items():
        page = rule_page(rule)
        assert golden(directory, f"{rid}.md", page) == page, rid
        assert ("automatic fix: none" in page) == (not rule.fixable), rid
    assert sorted(f[:-3] for f in os.listdir(directory) if f.startswith("IMG")) == sorted(RULES)


SNIPPETS = [
    "apt-get update",
    "apt-get install -y curl",
    "apt-get update && apt-get install -y jq",
    "pip install flask",
    "python3 -m pip install -r req.txt",
    "apk add git",
    "npm ci",
    "yarn install",
    "gem install rails",
    "rm -rf /tmp/x",
    "wget -O /tmp/a.tgz http://example.com/a.tgz",
    "tar -xzf /tmp/a.tgz -C /opt",
    "rm /tmp/a.tgz",
    "chown -R 1000 /app",
    "useradd -u 12345678 svc",
    "make || echo failed; true",
    "echo a | grep a",
    'if [ -n "$CI" ]; then apt-get update && apt-get install -y curl; else echo offline; fi',
    "for p in flask requests; do pip install $p; done",
    'case "$(uname -m)" in x86_64) apt-get install -y gcc;; *) true;; esac',
    "apt-get update && `# the lists` apt-get install -y jq",
    "apt-get dist-clean",
    "yarn --version",
]


@st.composite
def size_dockerfiles(draw: st.DrawFn) -> str:
    lines = ["FROM debian:bookworm"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(
            st.sampled_from(["run", "run", "run", "cont", "exec", "copy", "workdir", "env", "comment", "blank"])
        )
        if kind == "run":
            lines.append("RUN " + draw(st.sampled_from(SNIPPETS)))
        elif kind == "cont":
            lines += ["RUN " + draw(st.sampled_from(SNIPPETS)) + " \\", "    && " + draw(st.sampled_from(SNIPPETS))]
        elif kind == "exec":
            lines.append('RUN ["apt-get", "update"]')
        elif kind == "copy":
            lines.append("COPY " + draw(st.sampled_from([". /app", "src/ /app", "a.tgz /tmp/a.tgz"])))
        elif kind == "workdir":
            lines.append("WORKDIR /app")
        elif kind == "env":
            lines.append("ENV K=v")
        elif kind == "comment":
            lines.append("# note")
        else:
            lines.append("")
    lines.append('CMD ["app"]')
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size_dockerfiles())
@example('FROM debian:bookworm\nRUN chown -R 1000 /app\nCOPY . /app\nCMD ["app"]\n')  # found by this test
def test_generated_rewrites_are_valid_idempotent_and_complete(text: str) -> None:
    result = hygiene(parse(text))
    after = parse(result.text)
    assert after.render() == result.text
    assert not shell_errors(result.text)  # every generated input's RUNs are valid shell
    assert result.text.endswith("\n") == text.endswith("\n")  # the untouched CMD line keeps its end
    assert [c.cmd.upper() for c in buildkit.parse_string(result.text)] == [i.keyword for i in after.instructions]
    # a second pass changes nothing, and nothing a fixer could fix is left
    assert hygiene(after).text == result.text
    ctx = Context(after, frozenset(after.reaching_final()), None, False)
    assert not [h.rule for h in result.unfixed if can_fix(ctx, h)]
    # instructions without a layer of their own are neither lost nor reordered
    keep = ("FROM", "ENV", "WORKDIR", "CMD")
    assert [i.raw for i in parse(text).instructions if i.keyword in keep] == [
        i.raw for i in after.instructions if i.keyword in keep
    ]


def test_every_output_run_is_valid_shell_when_the_input_was() -> None:
    """sh -n over every RUN of every hygiene result and every variant of the corpus and the projects."""
    from imgopt.dockerfile.variants import make_variants

    paths = CORPUS + glob.glob(os.path.join(ROOT, "fixtures", "projects", "*", "Dockerfile"))
    paths += glob.glob(os.path.join(ROOT, "tests", "golden", "variant-inputs", "*.Dockerfile"))
    checked = 0
    for path in paths:
        with open(path) as f:
            text = f.read()
        if shell_errors(text):
            continue
        outputs = [hygiene(parse(text)).text] + [v.text for v in make_variants(parse(text))[0]]
        for out in outputs:
            assert not shell_errors(out), (path, out)
            checked += 1
    assert checked > 60


def test_commands_after_reserved_words_are_linted_and_kept_valid() -> None:
    text = (
        "FROM debian:bookworm\n"
        'RUN if [ "$(uname -m)" = x86_64 ]; then \\\n'
        "      apt-get update && apt-get install -y gcc; \\\n"
        "    else \\\n"
        "      echo skipped; \\\n"
        "    fi\n"
        "RUN apt-get update \\\n"
        " && `# only what the build needs` apt-get install -y make \\\n"
        " && rm -rf /var/lib/apt/lists/*\n"
    )
    rules = {(f.rule, f.line) for f in lint(parse(text))}
    assert {("IMG101", 2), ("IMG102", 2), ("IMG142", 2), ("IMG102", 7), ("IMG142", 7)} <= rules
    assert ("IMG101", 7) not in rules  # the lists are deleted in that RUN
    out = hygiene(parse(text)).text
    assert "apt-get install --no-install-recommends -y gcc" in out and not shell_errors(out)


@pytest.mark.parametrize(
    "flags",
    [("--network=none", ""), ("--mount=type=cache,target=/root/.cache", ""), ("--network=none", "--network=host")],
)
def test_runs_with_different_flags_are_never_merged(flags: tuple[str, str]) -> None:
    from imgopt.dockerfile.edits import merge_runs

    a, b = flags
    text = f"FROM debian:bookworm\nRUN {a} apt-get update\nRUN {b} apt-get install -y curl\n".replace("  ", " ")
    df = parse(text)
    runs = [i for i in df.instructions if i.keyword == "RUN"]
    assert merge_runs(df, runs) is None
    assert "IMG109" not in {f.rule for f in lint(df)}
    out = hygiene(df).text
    assert out.count("RUN ") == 2 and not shell_errors(out)
