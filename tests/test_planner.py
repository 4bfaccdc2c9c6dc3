"""Rewrites driven by waste pairs (evidence/planner.py), on real archives built from plain data:
every image here is what the Dockerfile next to it would build, history included, so the pairs,
their attribution and the fixes are exactly those a real build would give."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pytest
from builders import docker_archive

import imgopt
from imgopt.dockerfile import parse
from imgopt.dockerfile.edits import apply_edits
from imgopt.evidence.planner import NEEDS_VERIFY, SAFE, PairPlan, plan_pairs

BASE = [("dir", "tmp"), ("dir", "opt"), ("file", "bin/sh", b"x" * 100, {"mode": 0o755})]


def _plan(
    tmp_path: str, dockerfile: str, steps: Sequence[tuple[str, list[Any]]], context: str | None = None
) -> PairPlan:
    """``steps``: (history created_by of a layer-making instruction, its layer's entries)."""
    archive = os.path.join(tmp_path, "image.tar")
    with open(archive, "wb") as f:
        f.write(docker_archive([BASE, *[e for _, e in steps]], history=["ADD file:base in / ", *[h for h, _ in steps]]))
    df = parse(dockerfile)
    analysis = imgopt.analyze("docker-archive:" + archive, dockerfile=df)
    return plan_pairs(df, analysis, context=context)


def _run(cmd: str) -> str:
    return f"RUN /bin/sh -c {cmd} # buildkit"


DOWNLOAD = "curl -o /tmp/pkg.tgz http://example.org/pkg.tgz && tar -xzf /tmp/pkg.tgz -C /opt"
PKG = [("file", "tmp/pkg.tgz", b"p" * 5000), ("file", "opt/app", b"a" * 300)]


def test_delete_later_across_an_env_the_rm_does_not_use_is_a_safe_merge(tmp_path: str) -> None:
    text = f'FROM debian:bookworm-slim\nRUN {DOWNLOAD}\nENV APP_HOME=/opt\nRUN rm /tmp/pkg.tgz\nCMD ["/opt/app"]\n'
    plan = _plan(str(tmp_path), text, [(_run(DOWNLOAD), PKG), (_run("rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")])])
    assert len(plan.fixes) == 1 and not plan.unfixed
    fix = plan.fixes[0]
    assert (fix.kind, fix.safety, fix.expected_bytes) == ("merge", SAFE, 5000)
    assert (fix.first_line, fix.last_line) == (2, 4) and fix.paths == frozenset({"tmp/pkg.tgz"})
    out = apply_edits(text, fix.edits)
    assert out == (
        f'FROM debian:bookworm-slim\nRUN {DOWNLOAD} && \\\n    rm /tmp/pkg.tgz\nENV APP_HOME=/opt\nCMD ["/opt/app"]\n'
    )
    assert parse(out).render() == out


def test_moving_commands_that_may_read_the_environment_needs_verify(tmp_path: str) -> None:
    text = f"FROM debian:bookworm-slim\nRUN {DOWNLOAD}\nWORKDIR /opt\nRUN ./app --selftest && rm /tmp/pkg.tgz\n"
    steps = [(_run(DOWNLOAD), PKG), (_run("./app --selftest && rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")])]
    fix = _plan(str(tmp_path), text, steps).fixes[0]
    assert fix.safety == NEEDS_VERIFY and "WORKDIR at line 3" in fix.caution
    user = text.replace("WORKDIR /opt", "USER nobody").replace("./app --selftest && ", "")
    steps = [(_run(DOWNLOAD), PKG), (_run("rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")])]
    fix = _plan(str(tmp_path), user, steps).fixes[0]
    assert fix.safety == NEEDS_VERIFY and "USER at line 3" in fix.caution


def test_an_arg_is_hoisted_when_only_later_commands_use_it(tmp_path: str) -> None:
    text = f'FROM debian:bookworm-slim\nRUN {DOWNLOAD}\nARG KEEP=/tmp/pkg.tgz\nRUN rm "$KEEP"\n'
    plan = _plan(str(tmp_path), text, [(_run(DOWNLOAD), PKG), (_run('rm "$KEEP"'), [("whiteout", "tmp/pkg.tgz")])])
    fix = plan.fixes[0]
    assert fix.safety == NEEDS_VERIFY and "commands from line 2 run after ARG at line 3" in fix.caution
    assert apply_edits(text, fix.edits).startswith(f"FROM debian:bookworm-slim\nARG KEEP=/tmp/pkg.tgz\nRUN {DOWNLOAD}")


def test_a_variable_both_sides_use_blocks_the_merge(tmp_path: str) -> None:
    text = (
        f"FROM debian:bookworm-slim\nENV MODE=fetch\nRUN echo $MODE && {DOWNLOAD}\nENV MODE=clean\n"
        "RUN echo $MODE && rm /tmp/pkg.tgz\n"
    )
    steps = [
        (_run(f"echo $MODE && {DOWNLOAD}"), PKG),
        (_run("echo $MODE && rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")]),
    ]
    plan = _plan(str(tmp_path), text, steps)
    assert not plan.fixes and "line 5 uses $MODE, set at line 4" in plan.unfixed[0].reason


def test_a_copy_between_the_two_runs_blocks_the_merge(tmp_path: str) -> None:
    text = f"FROM debian:bookworm-slim\nRUN {DOWNLOAD}\nCOPY app.conf /etc/\nRUN rm /tmp/pkg.tgz\n"
    steps = [
        (_run(DOWNLOAD), PKG),
        ("COPY app.conf /etc/ # buildkit", [("file", "etc/app.conf", b"c")]),
        (_run("rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")]),
    ]
    plan = _plan(str(tmp_path), text, steps)
    assert not plan.fixes and "COPY at line 3 stands between them" in plan.unfixed[0].reason


def test_runs_with_other_flags_are_not_merged(tmp_path: str) -> None:
    text = f"FROM debian:bookworm-slim\nRUN --network=none {DOWNLOAD}\nRUN rm /tmp/pkg.tgz\n"
    plan = _plan(str(tmp_path), text, [(_run(DOWNLOAD), PKG), (_run("rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")])])
    assert not plan.fixes and "cannot be merged" in plan.unfixed[0].reason


def test_overlapping_pairs_become_one_merge_counting_every_pair_inside(tmp_path: str) -> None:
    text = (
        "FROM debian:bookworm-slim\nRUN apt-get update\nRUN make -C /src\nRUN rm -rf /var/lib/apt/lists/* /src/build\n"
    )
    steps = [
        (_run("apt-get update"), [("file", "var/lib/apt/lists/main", b"l" * 4000)]),
        (_run("make -C /src"), [("file", "src/build/obj.o", b"o" * 700), ("file", "usr/bin/app", b"b" * 50)]),
        (
            _run("rm -rf /var/lib/apt/lists/* /src/build"),
            [("whiteout", "var/lib/apt/lists/main"), ("whiteout", "src/build")],
        ),
    ]
    plan = _plan(str(tmp_path), text, steps)
    assert len(plan.fixes) == 1
    fix = plan.fixes[0]
    assert fix.expected_bytes == 4700 and (fix.first_line, fix.last_line) == (2, 4) and fix.safety == SAFE
    assert fix.paths == frozenset({"var/lib/apt/lists/main", "src/build/obj.o"})


def test_chown_of_copied_files_becomes_copy_chown(tmp_path: str) -> None:
    text = (
        "FROM debian:bookworm-slim\nRUN useradd app\nCOPY data/ /app/data/\nRUN chown -R app:app /app/data\nUSER app\n"
    )
    data = [("file", "app/data/a.bin", b"d" * 2000)]
    steps = [
        (_run("useradd app"), [("file", "etc/passwd", b"app:x:1000:1000::/:/bin/sh\n")]),
        ("COPY data/ /app/data/ # buildkit", data),
        (_run("chown -R app:app /app/data"), [("file", "app/data/a.bin", b"d" * 2000, {"uid": 1000, "gid": 1000})]),
    ]
    plan = _plan(str(tmp_path), text, steps)
    fix = plan.fixes[0]
    assert (fix.kind, fix.safety, fix.expected_bytes) == ("copy-chown", SAFE, 2000)
    out = apply_edits(text, fix.edits)
    assert "COPY --chown=app:app data/ /app/data/\n" in out and "chown" not in out.replace("--chown", "")


def test_a_copied_file_used_once_and_deleted_is_bind_mounted(tmp_path: str) -> None:
    context = os.path.join(str(tmp_path), "ctx")
    os.makedirs(context)
    with open(os.path.join(context, "tool.deb"), "wb") as f:
        f.write(b"deb" * 1000)
    text = (
        "FROM debian:bookworm-slim\nCOPY tool.deb /tmp/\n# install it\n"
        "RUN dpkg -i /tmp/tool.deb && rm -f /tmp/tool.deb && tool --version\n"
    )
    steps = [
        ("COPY tool.deb /tmp/ # buildkit", [("file", "tmp/tool.deb", b"deb" * 1000)]),
        (
            _run("dpkg -i /tmp/tool.deb && rm -f /tmp/tool.deb && tool --version"),
            [("whiteout", "tmp/tool.deb"), ("file", "usr/bin/tool", b"t")],
        ),
    ]
    fix = _plan(str(tmp_path), text, steps, context).fixes[0]
    assert (fix.kind, fix.safety, fix.buildkit, fix.expected_bytes) == ("bind-mount", NEEDS_VERIFY, True, 3000)
    out = apply_edits(text, fix.edits)
    assert out == (
        "FROM debian:bookworm-slim\n# install it\n"
        "RUN --mount=type=bind,source=tool.deb,target=/tmp/tool.deb,rw dpkg -i /tmp/tool.deb && \\\n"
        "    tool --version\n"
    )
    # without the file in the context (a directory, another context) the COPY stays
    assert not _plan(str(tmp_path), text, steps, str(tmp_path)).fixes


def test_a_copy_wholly_replaced_before_any_run_is_dropped(tmp_path: str) -> None:
    text = "FROM debian:bookworm-slim\nCOPY defaults.conf /etc/app.conf\nENV X=1\nCOPY site.conf /etc/app.conf\n"
    steps = [
        ("COPY defaults.conf /etc/app.conf # buildkit", [("file", "etc/app.conf", b"1" * 900)]),
        ("COPY site.conf /etc/app.conf # buildkit", [("file", "etc/app.conf", b"2" * 800)]),
    ]
    fix = _plan(str(tmp_path), text, steps).fixes[0]
    assert (fix.kind, fix.safety, fix.expected_bytes) == ("drop-copy", SAFE, 900)
    assert apply_edits(text, fix.edits) == "FROM debian:bookworm-slim\nENV X=1\nCOPY site.conf /etc/app.conf\n"
    with_run = text.replace("ENV X=1", "RUN cat /etc/app.conf > /etc/app.conf.orig")
    steps.insert(1, (_run("cat /etc/app.conf > /etc/app.conf.orig"), [("file", "etc/app.conf.orig", b"1" * 900)]))
    plan = _plan(str(tmp_path), with_run, steps)
    assert not plan.fixes and "may read what line 2 copied" in plan.unfixed[0].reason


def test_waste_from_the_base_image_is_left_with_the_reason(tmp_path: str) -> None:
    text = "FROM debian:bookworm-slim\nRUN rm /bin/sh\n"
    plan = _plan(str(tmp_path), text, [(_run("rm /bin/sh"), [("whiteout", "bin/sh")])])
    assert not plan.fixes
    assert plan.unfixed[0].reason == "the base image ships them (layer 0): the deletion at line 2 cannot take them out"


@pytest.mark.parametrize("keyword", ["LABEL a=b", "EXPOSE 80", 'CMD ["x"]'])
def test_instructions_runs_cannot_see_never_make_a_merge_unsafe(tmp_path: str, keyword: str) -> None:
    text = f"FROM debian:bookworm-slim\nRUN {DOWNLOAD}\n{keyword}\nRUN make -C /opt && rm /tmp/pkg.tgz\n"
    steps = [(_run(DOWNLOAD), PKG), (_run("make -C /opt && rm /tmp/pkg.tgz"), [("whiteout", "tmp/pkg.tgz")])]
    assert _plan(str(tmp_path), text, steps).fixes[0].safety == SAFE


def test_a_package_cache_left_in_the_final_image_is_emptied_in_its_run(tmp_path: str) -> None:
    """Not a waste pair (the .deb files are in the final image), but bytes the analysis measured:
    the RUN that downloaded them cleans them, same packages."""
    text = "FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y jq && rm -rf /var/lib/apt/lists/*\n"
    steps = [
        (
            _run("apt-get update && apt-get install -y jq && rm -rf /var/lib/apt/lists/*"),
            [
                ("file", "var/cache/apt/archives/jq_1.6-2.1_amd64.deb", b"d" * 6000),
                ("file", "var/cache/apt/pkgcache.bin", b"c" * 900),
                ("file", "usr/bin/jq", b"j" * 200),
            ],
        )
    ]
    fix = _plan(str(tmp_path), text, steps).fixes[0]
    assert (fix.kind, fix.safety, fix.expected_bytes) == ("clean-cache", SAFE, 6900)
    assert apply_edits(text, fix.edits).endswith("rm -rf /var/lib/apt/lists/* && apt-get clean\n")
    cleaned = text.replace("jq &&", "jq && apt-get clean &&")
    assert not _plan(str(tmp_path), cleaned, [(_run(cleaned.split("RUN ")[1].strip()), steps[0][1])]).fixes
