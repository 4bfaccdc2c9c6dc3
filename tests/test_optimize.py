"""Variants and plans without an engine: golden files for every target (alpine and distroless
bases cannot be built here: no registry), the tables, the plan's JSON, image diffs, CLI errors."""

from __future__ import annotations

import glob
import io
import json
import os

import dockerfile as buildkit
import pytest
from builders import docker_archive
from conftest import ROOT, golden
from hypothesis import HealthCheck, given, settings
from test_rewrite import size_dockerfiles

import imgopt
from imgopt.cli import main
from imgopt.dockerfile import parse, parse_file
from imgopt.dockerfile.shell import split_top
from imgopt.dockerfile.variants import (
    TARGETS,
    NotApplicable,
    alpine_base,
    data,
    make_variant,
    make_variants,
    slim_base,
)
from imgopt.errors import CheckError, DaemonError, DockerfileError, UsageError

GOLDEN = os.path.join(ROOT, "tests", "golden", "variants")
INPUTS = sorted(
    glob.glob(os.path.join(ROOT, "fixtures", "projects", "*", "Dockerfile"))
    + glob.glob(os.path.join(ROOT, "tests", "golden", "variant-inputs", "*.Dockerfile"))
)


def _name(path: str) -> str:
    base = os.path.basename(path)
    return os.path.basename(os.path.dirname(path)) if base == "Dockerfile" else base.removesuffix(".Dockerfile")


@pytest.mark.parametrize("path", INPUTS, ids=_name)
def test_variant_golden_files(path: str) -> None:
    df = parse_file(path)
    variants, skipped = make_variants(df)
    assert {v.target for v in variants} | set(skipped) == set(TARGETS)
    for v in variants:
        rendered = f"# target: {v.target}\n" + "".join(f"# warning: {w}\n" for w in v.warnings) + v.text
        assert rendered == golden(GOLDEN, f"{_name(path)}.{v.target}.Dockerfile", rendered)
        # every variant is a Dockerfile that BuildKit reads the way we do, ending in a runtime stage
        ours = parse(v.text)
        assert [c.cmd.upper() for c in buildkit.parse_string(v.text)] == [i.keyword for i in ours.instructions]
        assert ours.render() == v.text
        # the final image keeps the original's run semantics
        final_cmd = [i.args for i in ours.final_stage.instructions if i.keyword in ("CMD", "ENTRYPOINT")]
        orig_cmd = [i.args for i in df.final_stage.instructions if i.keyword in ("CMD", "ENTRYPOINT")]
        if v.target != "distroless":
            assert final_cmd == orig_cmd
    expected = {f.split(".")[-2] for f in glob.glob(os.path.join(GOLDEN, f"{_name(path)}.*.Dockerfile"))}
    assert expected == {v.target for v in variants}


def test_registry_bases_are_named() -> None:
    """Which variants need a registry to build: the ones whose bases are not made locally."""
    variants, _ = make_variants(parse_file(os.path.join(ROOT, "fixtures", "projects", "python-app", "Dockerfile")))
    bases = {v.target: v.bases for v in variants}
    assert bases["alpine"] == ("alpine:3.20",)
    assert bases["distroless"] == ("debian:bookworm", "gcr.io/distroless/python3-debian12")
    assert bases["multistage"] == ("debian:bookworm", "debian:bookworm-slim")


@pytest.mark.parametrize(
    ("ref", "slim"),
    [
        ("python:3.12", "python:3.12-slim"),
        ("python:3.12-bookworm", "python:3.12-slim-bookworm"),
        ("python", "python:slim"),
        ("node:20-bookworm", "node:20-bookworm-slim"),
        ("node:bookworm", "node:bookworm-slim"),
        ("debian:bookworm", "debian:bookworm-slim"),
        ("debian", "debian:stable-slim"),
        ("docker.io/library/ruby:3.3", "docker.io/library/ruby:3.3-slim"),
        ("eclipse-temurin:21-jdk", "eclipse-temurin:21-jre"),
        ("eclipse-temurin:21-jdk-jammy", "eclipse-temurin:21-jre-jammy"),
        ("eclipse-temurin:21", "eclipse-temurin:21-jre"),
        ("python:3.12-slim", None),
        ("python:3.12-alpine", None),
        ("golang:1.22", None),
        ("ubuntu:22.04", None),
        ("myorg/python:3.12", None),
        ("registry.example.com/python:3.12", None),
    ],
)
def test_slim_table(ref: str, slim: str | None) -> None:
    assert slim_base(ref) == slim


def test_alpine_table() -> None:
    assert alpine_base("python:3.12-bookworm") == "python:3.12-alpine"
    assert alpine_base("python:3.12-slim") == "python:3.12-alpine"
    assert alpine_base("node") == "node:alpine"
    assert alpine_base("debian:bookworm") == "alpine:3.20"
    assert alpine_base("perl:5.38") is None


def test_package_tables_are_well_formed() -> None:
    pk = data("packages.json")
    assert all(isinstance(v, list) and all(isinstance(x, str) and x for x in v) for v in pk["apk"].values())
    assert all(v is None or isinstance(v, str) for v in pk["runtime"].values())
    assert all(k.endswith(("-dev", "-devel")) for k in pk["runtime"])
    images = data("bases.json")["images"]
    assert all(set(v) == {"slim", "alpine", "runtime", "distroless"} for v in images.values())


def test_alpine_conversion_warns_instead_of_guessing_silently() -> None:
    path = os.path.join(ROOT, "tests", "golden", "variant-inputs", "ubuntu-tools.Dockerfile")
    v = make_variant(parse_file(path), "alpine")
    text = "\n".join(v.warnings)
    assert "locale-gen" in text and "glibc binary" in text and "DNS" in text
    assert "RUN apk add --no-cache bash shadow" in v.text  # useradd and bash are not in Alpine's base
    odd = make_variant(parse("FROM debian:bookworm\nRUN apt-get install -y frobnicate=1.2\n"), "alpine")
    assert any("frobnicate" in w and "kept as is" in w for w in odd.warnings)
    assert any("version pin" in w for w in odd.warnings)


def test_split_top_respects_quotes_and_subshells() -> None:
    assert split_top("a && b 'x && y' || (c; d); e") == [("a", "&&"), ("b 'x && y'", "||"), ("(c; d)", ";"), ("e", "")]


def test_targets_that_do_not_apply_say_why() -> None:
    clean = parse('FROM debian:bookworm-slim\nCOPY app /app\nCMD ["/app"]\n')
    for target, why in (("slim", "-slim"), ("multistage", "toolchain"), ("distroless", "toolchain")):
        with pytest.raises(NotApplicable, match=why):
            make_variant(clean, target)
    with pytest.raises(NotApplicable, match="external base"):
        make_variant(parse("FROM debian:bookworm AS a\nRUN apt-get install -y gcc\nFROM a\n"), "multistage")


def test_multistage_keeps_root_when_unsafe() -> None:
    text = "FROM debian:bookworm\nRUN apt-get update && apt-get install -y gcc\nCOPY x.c /x.c\n"
    text += 'RUN gcc -o /usr/bin/x /x.c\nEXPOSE 80\nCMD ["x"]\n'
    v = make_variant(parse(text), "multistage")
    assert "USER" not in v.text.split("runtime stage")[1]
    assert any("privileged port 80" in w for w in v.warnings)


def test_plan_without_verify_proposes_hygiene(tmp_path: str) -> None:
    path = os.path.join(ROOT, "fixtures", "projects", "apt-update-app", "Dockerfile")
    plan = imgopt.optimize(path)
    assert not plan.verified and plan.chosen is not None and plan.chosen.target == "hygiene"
    assert plan.saved_bytes is None and "rm -rf /var/lib/apt/lists/*" in plan.text
    doc = json.loads(plan.to_json())
    for key in ("before", "after", "saved_bytes", "saved_percent", "check", "variants", "diff", "new_dockerfile"):
        assert key in doc
    assert doc["before"]["size_bytes"] is None and doc["check"]["passed"] is None
    assert {v["target"] for v in doc["variants"]} == {"hygiene", "alpine"}
    assert all(v["status"] == "proposed" for v in doc["variants"])
    assert "<table" in plan._repr_html_() and "hygiene" in plan.encode("html")
    pd = pytest.importorskip("pandas")
    frame = plan.to_dataframe()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == ["hygiene", "alpine"]
    assert frame.loc["hygiene", "status"] == "proposed"
    out = io.StringIO()
    assert main(["optimize", path], out, io.StringIO()) == 0
    assert "+    apt-get install -y --no-install-recommends jq && \\" in out.getvalue()
    # --write-dockerfile writes the chosen Dockerfile, -o the report (as everywhere); the input is untouched
    dest = os.path.join(str(tmp_path), "Dockerfile.new")
    report = os.path.join(str(tmp_path), "report.json")
    with open(path) as f:
        original = f.read()
    out = io.StringIO()
    assert (
        main(["optimize", path, "--write-dockerfile", dest, "-o", report, "--format", "json"], out, io.StringIO()) == 0
    )
    with open(dest) as f:
        assert f.read() == plan.text
    with open(report) as f:
        assert json.load(f)["schema"] == "imgopt.optimize/1"
    assert out.getvalue() == ""
    with open(path) as f:
        assert f.read() == original


def test_plan_of_a_clean_dockerfile(tmp_path: str) -> None:
    path = os.path.join(str(tmp_path), "Dockerfile")
    with open(path, "w") as f:
        f.write('FROM debian:bookworm-slim\nCOPY app /app\nCMD ["/app"]\n')
    with open(os.path.join(str(tmp_path), ".dockerignore"), "w") as f:
        f.write(".git\n")
    plan = imgopt.optimize(path)
    assert plan.chosen is None and plan.text == plan.diff + plan.original and plan.diff == ""
    out = io.StringIO()
    assert main(["optimize", path], out, io.StringIO()) == 0
    assert "no variant is recommended" in out.getvalue()


def test_errors_are_one_line(tmp_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = os.path.join(ROOT, "fixtures", "projects", "c-app", "Dockerfile")
    with pytest.raises(DockerfileError):
        imgopt.optimize(os.path.join(str(tmp_path), "missing"))
    with pytest.raises(UsageError):
        imgopt.optimize(path, target="tiny")
    with pytest.raises(CheckError):
        imgopt.optimize(path, verify=True, options=imgopt.BuildOptions(checks=["sh -c 'unbalanced"]))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(DaemonError, match="not running"):
        imgopt.compare(path, path)
    for argv, code in (
        (["optimize", os.path.join(str(tmp_path), "missing")], 3),
        (["optimize", path, "--target", "tiny"], 2),
        (["optimize", path, "--write-dockerfile", "x", "--in-place"], 2),
        (["compare", path, path, "--check", "'"], 2),
        (["compare", path, path], 3),
        (["optimize", path, "--verify"], 3),
        (["diff", "docker-archive:/nonexistent.tar", "docker-archive:/nonexistent.tar"], 3),
    ):
        err = io.StringIO()
        assert main(argv, io.StringIO(), err) == code, (argv, err.getvalue())
        assert err.getvalue().startswith("imgopt: error: ") and err.getvalue().count("\n") == 1


def _archive(tmp: str, name: str, layers: list[list[tuple[object, ...]]]) -> str:
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(docker_archive(layers))
    return "docker-archive:" + path


def test_diff(tmp_path: str) -> None:
    tmp = str(tmp_path)
    base = [("dir", "etc"), ("file", "etc/a", b"a" * 100), ("file", "etc/b", b"b" * 50)]
    base.append(("file", "bin/tool", b"t" * 9000))
    a = _archive(tmp, "a.tar", [base])
    b = _archive(
        tmp,
        "b.tar",
        [base, [("whiteout", "bin/tool"), ("file", "etc/a", b"A" * 120), ("file", "etc/c", b"c" * 10),
                ("file", "etc/b", b"b" * 50, {"mode": 0o600})]],
    )  # fmt: skip
    d = imgopt.diff(a, b)
    assert [(e.change, e.path) for e in d.entries] == [
        ("removed", "bin/tool"),
        ("changed", "etc/a"),
        ("changed", "etc/b"),
        ("added", "etc/c"),
    ]
    assert d.removed_bytes == 9000 and d.added_bytes == 10 and d.changed_delta == 20
    assert "mode 644 -> 600" in d.entries[2].detail
    assert d.before_final - d.after_final == 9000 - 20 - 10
    out = io.StringIO()
    assert main(["diff", a, b, "--format", "json"], out) == 0
    doc = json.loads(out.getvalue())
    assert doc["schema"] == "imgopt.diff/1" and doc["summary"]["removed_bytes"] == 9000
    out = io.StringIO()
    assert main(["diff", a, a], out) == 0 and "(no differences)" in out.getvalue()


def test_nonroot_user_does_not_clash_with_the_originals() -> None:
    text = "FROM debian:bookworm\nRUN apt-get update && apt-get install -y gcc\nRUN useradd -m app\n"
    text += 'COPY x.c /x.c\nRUN gcc -o /usr/bin/x /x.c\nCMD ["x"]\n'
    v = make_variant(parse(text), "multistage")
    runtime = v.text.split("runtime stage")[1]
    assert "RUN useradd -m app\n" in runtime and "useradd -l -m -u 10001 appuser" in runtime
    assert runtime.rstrip().endswith("USER appuser")


def test_named_target_and_markdown(tmp_path: str) -> None:
    path = os.path.join(ROOT, "fixtures", "projects", "c-app", "Dockerfile")
    plan = imgopt.optimize(path, target="multistage")
    assert plan.chosen is not None and plan.chosen.target == "multistage" and plan.skipped == {}
    assert [c.target for c in plan.candidates] == ["multistage"]
    out = io.StringIO()
    assert main(["optimize", path, "--target", "slim", "--format", "markdown"], out, io.StringIO()) == 0
    text = out.getvalue()
    assert text.startswith("### imgopt optimize:") and "| slim" in text and "debian:bookworm-slim" in text
    assert "not built: run with --verify" in text


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size_dockerfiles())
def test_generated_variants_are_valid_dockerfiles(text: str) -> None:
    variants, skipped = make_variants(parse(text))
    assert {v.target for v in variants} | set(skipped) == set(TARGETS)
    for v in variants:
        ours = parse(v.text)
        assert ours.render() == v.text
        assert [c.cmd.upper() for c in buildkit.parse_string(v.text)] == [i.keyword for i in ours.instructions]
        assert ours.final_stage is not None
        final_cmd = [i.args for i in ours.final_stage.instructions if i.keyword == "CMD"]
        assert final_cmd == ['["app"]']


def test_alpine_is_proposed_only_when_every_package_command_maps() -> None:
    from conftest import shell_errors

    for command in ("apt-mark hold libc6", "dpkg -i /tmp/x.deb", "apt-key add /tmp/k.asc"):
        text = f"FROM debian:bookworm\nRUN apt-get update && {command} && apt-get install -y jq\n"
        variants, skipped = make_variants(parse(text), ("alpine",))
        assert not variants and command in skipped["alpine"]
    text = (
        'FROM debian:bookworm\nRUN if [ -n "$X" ]; then apt-get update && apt-get install -y curl; else echo no; fi\n'
    )
    (v,), _ = make_variants(parse(text), ("alpine",))
    assert "then true && \\\n    apk add --no-cache curl" in v.text and not shell_errors(v.text)


def test_markdown_fences_the_diff_for_pull_request_comments() -> None:
    path = os.path.join(ROOT, "fixtures", "projects", "apt-update-app", "Dockerfile")
    md = imgopt.optimize(path).encode("markdown")
    assert md.startswith("### imgopt optimize") and "```diff\n--- a/Dockerfile" in md
    assert md.count("```") % 2 == 0  # every fence closed
    text = imgopt.optimize(path).encode("text")
    assert "```" not in text
