"""Command line: ``main(argv) -> int`` is the only place that prints or exits.

Exit codes: 0 success / CI pass, 1 a CI rule failed (analyze --ci), a finding at the threshold (lint),
the new image failed its check (compare) or no variant was found / passed (optimize), 2 usage error,
3 input, source or build error.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from . import report  # noqa: F401  (registers the output formats)
from ._version import __version__
from .analysis import Analysis
from .analysis.diff import ImageDiff
from .build.compare import Comparison
from .build.optimize import CHOICES, Plan
from .build.options import BuildOptions
from .dockerfile.lint import LintReport
from .encoding import encode, formats
from .errors import ImgoptError, UsageError
from .fleet import Fleet
from .sources import source_settings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INPUT = 0, 1, 2, 3

CI_FLAGS = (
    ("lowest_efficiency", "lowestEfficiency", "fail below this dive efficiency ratio (0-1; default 0.9)"),
    (
        "highest_wasted_bytes",
        "highestWastedBytes",
        "fail above this many dive wasted bytes (e.g. 20MB; default disabled)",
    ),
    (
        "highest_user_wasted_percent",
        "highestUserWastedPercent",
        "fail above this dive user-wasted ratio (0-1; default 0.1)",
    ),
    ("max_size", "maxSize", "fail when the image (uncompressed) is larger (e.g. 500MB)"),
    ("max_reclaimable", "maxReclaimable", "fail when the exact reclaimable bytes exceed this (e.g. 10MiB)"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def add_source_flags(q: argparse.ArgumentParser, *, builds: bool = False) -> None:
    """How images are read: registries (skopeo's spelling) and the layer cache."""
    g = q.add_argument_group("image sources")
    g.add_argument(
        "--creds",
        metavar="USER[:PASSWORD]",
        help="registry credentials (else $IMGOPT_REGISTRY_CREDS, "
        "else the Docker configuration: credHelpers, credsStore, auths)",
    )
    g.add_argument("--cert-dir", metavar="DIR", help="registry TLS: *.crt CA certificates, *.cert/*.key client pairs")
    g.add_argument("--insecure", action="store_true", help="registries over plain http or unverified TLS")
    g.add_argument(
        "--no-layer-cache" if builds else "--no-cache",
        dest="no_layer_cache",
        action="store_true",
        help="neither read nor write the layer index cache (imgopt cache info)",
    )


def source_settings_from(args: argparse.Namespace) -> dict[str, Any]:
    from .sources import RegistryOptions

    creds = None
    if getattr(args, "creds", None):
        user, sep, password = args.creds.partition(":")
        if not sep:
            if not sys.stdin.isatty():
                raise UsageError("--creds needs USER:PASSWORD when there is no terminal to ask on")
            import getpass

            password = getpass.getpass(f"password for {user}: ")
        creds = (user, password)
    changes: dict[str, Any] = {
        "registry": RegistryOptions(
            creds=creds, cert_dir=getattr(args, "cert_dir", None), insecure=bool(getattr(args, "insecure", False))
        )
    }
    if getattr(args, "no_layer_cache", False):
        changes["cache"] = False
    return changes


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="imgopt", description="Exact, fast container image size analysis.")
    p.add_argument("--version", action="version", version=f"imgopt {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    a = sub.add_parser(
        "analyze",
        help="analyze an image: layers, files, exact waste, dive metrics",
        description="Analyze an image. REF: docker-archive:PATH[:TAG], oci:DIR[:TAG], "
        "oci-archive:PATH[:TAG], docker-daemon:NAME[:TAG], docker://HOST/REPO[:TAG|@DIGEST] (a registry, "
        "no pull), or a bare path/name/ID.",
    )
    a.add_argument("ref", metavar="REF")
    a.add_argument("--format", choices=formats(Analysis), default="text")
    a.add_argument("-o", "--output", metavar="FILE", help="write the report here (atomically) instead of stdout")
    a.add_argument("--top", type=int, default=20, metavar="N", help="rows in the top-N lists (default 20)")
    a.add_argument("--dockerfile", metavar="F", help="map each layer to the instruction of F that produced it")
    a.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="pick this platform from a multi-platform index")
    a.add_argument(
        "--hash", action="store_true", help="hash file contents: find duplicates, prove metadata-only rewrites"
    )
    a.add_argument("--ci", action="store_true", help="evaluate CI rules; exit 1 when one fails")
    a.add_argument(
        "--ci-config",
        metavar="FILE",
        default=None,
        help="dive-style rules file (default: .dive-ci in the current directory, if present)",
    )
    for dest, _, text in CI_FLAGS:
        a.add_argument("--" + dest.replace("_", "-"), dest=dest, metavar="VALUE", help=text)
    a.add_argument("--no-progress", action="store_true", help="never show a progress indicator")
    a.add_argument("--wide", action="store_true", help="full commands in the layer table (else fit the terminal)")
    a.add_argument("-q", "--quiet", action="store_true", help="with --ci: print the rule table only")
    add_source_flags(a)

    lt = sub.add_parser(
        "lint",
        help="lint a Dockerfile for image size; with --image, say what each finding costs",
        description="Size lint for a Dockerfile (stage- and cache-mount-aware).",
    )
    lt.add_argument("dockerfile", metavar="DOCKERFILE")
    lt.add_argument("--image", metavar="REF", help="an image built from DOCKERFILE: measure each finding's bytes")
    lt.add_argument("--context", metavar="DIR", help="build context (default: the Dockerfile's directory)")
    lt.add_argument("--format", choices=formats(LintReport), default="text")
    lt.add_argument(
        "--failure-threshold",
        choices=("error", "warning", "info", "none"),
        default=None,
        help="exit 1 when a finding is at least this severe (default: from config, else info)",
    )
    lt.add_argument("--config", metavar="FILE", help=".imgopt.toml or pyproject.toml to read [tool.imgopt] from")
    lt.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="platform of --image in a multi-platform index")
    lt.add_argument("-o", "--output", metavar="FILE", help="write the report here (atomically) instead of stdout")
    add_source_flags(lt)

    def add_build_flags(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--check",
            action="append",
            default=[],
            metavar="CMD",
            help="a command (argv, POSIX quoting; use sh -c '...' for shell syntax) that must exit 0 in both "
            "images; repeatable. Default: run each image's own ENTRYPOINT/CMD; exit code and stdout must match",
        )
        q.add_argument("--timeout", type=float, default=30.0, metavar="S", help="seconds per check run (default 30)")
        q.add_argument(
            "--build-timeout", type=float, default=1800.0, metavar="S", help="seconds per build (default 1800)"
        )
        q.add_argument("--no-cache", action="store_true", help="build without the layer cache (honest build times)")
        q.add_argument("--pull", action="store_true", help="let builds pull base images (default: local images only)")
        q.add_argument("--keep", action="store_true", help="keep the built images (tags imgopt-tmp/...)")
        q.add_argument("--no-progress", action="store_true", help="never show build progress")
        add_source_flags(q, builds=True)

    c = sub.add_parser(
        "compare",
        help="build two Dockerfiles, compare sizes and run the same behaviour check in both",
        description="Build A (before) and B (after), measure both, and check that B behaves like A.",
    )
    c.add_argument("a", metavar="A.Dockerfile")
    c.add_argument("b", metavar="B.Dockerfile")
    c.add_argument("--context", metavar="DIR", help="build context (default: A's directory)")
    c.add_argument("--format", choices=formats(Comparison), default="text")
    c.add_argument("-o", "--output", metavar="FILE", help="write the report here (atomically) instead of stdout")
    add_build_flags(c)

    o = sub.add_parser(
        "optimize",
        help="rewrite a Dockerfile into smaller variants; with --verify build, check and pick the best",
        description="Propose smaller variants of a Dockerfile. Without --verify the hygiene rewrite is proposed "
        "(same base, same packages); with --verify every candidate is built and checked and the smallest "
        "that passes is chosen.",
    )
    o.add_argument("dockerfile", metavar="DOCKERFILE")
    o.add_argument("--context", metavar="DIR", help="build context (default: the Dockerfile's directory)")
    o.add_argument("--target", choices=CHOICES, default="auto")
    o.add_argument("--verify", action="store_true", help="build the original and the variants, run the check")
    o.add_argument("--format", choices=formats(Plan), default="text")
    o.add_argument(
        "-o",
        "--output",
        "--report",
        dest="output",
        metavar="FILE",
        help="write the report here (atomically) instead of stdout, as -o does everywhere",
    )
    o.add_argument("--write-dockerfile", metavar="FILE", help="write the chosen Dockerfile here (atomically)")
    o.add_argument(
        "--in-place",
        action="store_true",
        help="replace DOCKERFILE with the chosen variant (the original is kept as DOCKERFILE.orig) "
        "and write the proposed .dockerignore if the context has none",
    )
    o.add_argument(
        "--image", metavar="REF", help="an image built from DOCKERFILE: say what each change's finding costs"
    )
    o.add_argument("--config", metavar="FILE", help=".imgopt.toml or pyproject.toml to read [tool.imgopt] from")
    add_build_flags(o)

    d = sub.add_parser(
        "diff",
        help="files added, removed and changed between two images, largest first",
        description="Compare the final filesystems of two images (any REF that analyze accepts).",
    )
    d.add_argument("ref_a", metavar="REF_A")
    d.add_argument("ref_b", metavar="REF_B")
    d.add_argument("--format", choices=formats(ImageDiff), default="text")
    d.add_argument("--limit", type=int, default=50, metavar="N", help="rows in the text report (default 50)")
    d.add_argument("--hash", action="store_true", help="hash contents: catch equal-size content changes")
    d.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="platform of both refs in multi-platform indexes")
    d.add_argument("-o", "--output", metavar="FILE", help="write the report here (atomically) instead of stdout")
    add_source_flags(d)

    sc = sub.add_parser(
        "scan",
        help="analyse many images (refs, a registry, the engine): where the bytes are across a fleet",
        description="Analyse every image named, listed in a file, held by a registry (its catalog) or by the "
        "local engine. Each layer shared between images is read once; a failing image is a row with its error.",
    )
    sc.add_argument("refs", nargs="*", metavar="REF")
    sc.add_argument("--from-file", metavar="FILE", help="references, one per line (# comments)")
    sc.add_argument("--registry", metavar="HOST[/PREFIX]", help="every repository of a registry (its catalog)")
    sc.add_argument("--engine", action="store_true", help="every tagged image of the local Docker engine")
    sc.add_argument("--include", action="append", default=[], metavar="GLOB", help="only REPO:TAG matching")
    sc.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip REPO:TAG matching")
    sc.add_argument(
        "--tags",
        default="latest",
        metavar="latest|all|N",
        help="registry tags per repository: latest, all, or the last N listed (default latest)",
    )
    sc.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: one per core, at most 8; 1: all in this process)",
    )
    sc.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the images on an existing Dask distributed cluster (pip install 'imgopt[dask]')",
    )
    sc.add_argument("--format", choices=formats(Fleet), default="text")
    sc.add_argument("-o", "--output", metavar="FILE", help="write the report here (atomically) instead of stdout")
    sc.add_argument(
        "--db",
        metavar="FILE",
        help="also write the results to this SQLite file; the next scan with it reads again only images "
        "whose digest changed",
    )
    sc.add_argument(
        "--resume",
        action="store_true",
        help="with --db: keep the rows it holds without error, without even a look at their manifests "
        "(completes an interrupted scan)",
    )
    sc.add_argument("--parquet", metavar="DIR", help="also write images.parquet and layers.parquet here (pyarrow)")
    add_source_flags(sc)

    k = sub.add_parser(
        "cache",
        help="the layer index cache: where it is, how big, prune it",
        description="Layer indexes are cached by diff_id in the user cache directory ($IMGOPT_CACHE_DIR "
        "overrides it; $IMGOPT_CACHE_MAX_BYTES caps it, default 2 GiB; least recently used entries go first).",
    )
    k.add_argument("action", choices=("info", "prune"))
    k.add_argument(
        "--keep",
        metavar="BYTES",
        type=_byte_count,
        default=0,
        help="prune: keep the most recently used entries up to this size (e.g. 500MB; default: none)",
    )
    k.add_argument("--format", choices=("text", "json"), default="text")
    return p


def _byte_count(text: str) -> int:
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*", text.lower())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 500MB, 2GiB, 1000000)")
    scale = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}
    return int(float(m.group(1)) * scale.get(m.group(2) or "", 1))


class _Progress:
    """A one-line progress indicator on a terminal's stderr."""

    def __init__(self, stream: TextIO, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.done = 0
        self.last = 0.0
        self.shown = False
        self.read = 0
        self.cached = 0

    def __call__(self, n: int) -> None:
        self.done += n
        self._show()

    def layer(self, name: str, cached: bool) -> None:
        if cached:
            self.cached += 1
        else:
            self.read += 1
        self._show(force=True)

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and not force:
            return
        self.last = now
        from .units import human

        if self.total:
            msg = f"reading {human(self.done)} / {human(self.total)} ({100 * self.done / self.total:.0f}%)"
        else:
            msg = f"reading {human(self.done)}"
        msg += f" · layers: {self.read} read, {self.cached} from the cache"
        self.stream.write("\r" + msg.ljust(80))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 80 + "\r")
            self.stream.flush()


def _ci_config(args: argparse.Namespace) -> dict[str, str]:
    from .analysis.ci import load_dive_ci, validate

    cfg: dict[str, str] = {}
    path = args.ci_config
    if path is None and os.path.isfile(".dive-ci"):
        path = ".dive-ci"
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                cfg.update(load_dive_ci(f.read()))
        except OSError as e:
            raise UsageError(f"cannot read CI config {path}: {e.strerror}") from e
    for dest, key, _ in CI_FLAGS:
        value = getattr(args, dest)
        if value is not None:
            cfg[key] = value
    validate(cfg)
    return cfg


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old file or the whole new one."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".imgopt-", dir=directory)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from e
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _terminal_width(stream: TextIO) -> int | None:
    """The terminal's width when the report goes to one (None: a pipe or file keeps the fixed width)."""
    if not stream.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def _analyze(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .api import analyze
    from .sources import source_size

    if args.top < 1:
        raise UsageError("--top must be at least 1")
    ci_cfg = _ci_config(args) if args.ci else None
    progress: Callable[[int], None] | None = None
    bar = None
    if not args.no_progress and stderr.isatty():
        bar = _Progress(stderr, source_size(args.ref))
        progress = bar
    try:
        result = analyze(
            args.ref,
            top=args.top,
            dockerfile=args.dockerfile,
            platform=args.platform,
            hash_content=args.hash,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.close()
    rules = None
    if ci_cfg is not None:
        from .analysis.ci import evaluate

        rules = evaluate(result, ci_cfg)
    if (
        args.dockerfile
        and result.layers
        and all(lr.instruction is None or lr.instruction.instruction is None for lr in result.layers)
    ):
        stderr.write(
            f"imgopt: warning: no layer of {args.ref} matches an instruction of {args.dockerfile} "
            "(was the image built from it?)\n"
        )
    opts: dict[str, Any] = {"ci": rules}
    if args.format == "text":
        opts["quiet"] = args.quiet
        opts["width"] = 0 if args.wide else (_terminal_width(stdout) if args.output is None else None)
    _emit(encode(result, args.format, **opts), stdout, args.output)
    if rules is not None and any(r.status == "fail" for r in rules):
        return EXIT_FAIL
    return EXIT_OK


def _lint(args: argparse.Namespace, stdout: TextIO) -> int:
    from .dockerfile.lint import at_or_above, find_config, lint, load_config
    from .dockerfile.parser import parse_file

    df = parse_file(args.dockerfile)
    base = os.path.dirname(os.path.abspath(args.dockerfile))
    config = load_config(args.config) if args.config else find_config(base)
    context = args.context if args.context is not None else base
    if not os.path.isdir(context):
        raise UsageError(f"build context {context} is not a directory")
    findings = lint(df, config=config, context=context)
    result = LintReport(args.dockerfile, tuple(findings))
    if args.image:
        from .api import analyze
        from .evidence import quantify

        costs = quantify(findings, analyze(args.image, dockerfile=df, platform=args.platform))
        findings = list(costs.findings)
        result = LintReport(args.dockerfile, costs.findings, costs.total_bytes, args.image)
    _emit(encode(result, args.format), stdout, args.output)
    threshold = args.failure_threshold or config.failure_threshold
    return EXIT_FAIL if at_or_above(findings, threshold) else EXIT_OK


def _emit(text: str, stdout: TextIO, path: str | None) -> None:
    if path:
        write_atomically(path, text)
    else:
        stdout.write(text)


def build_options(args: argparse.Namespace, stderr: TextIO) -> BuildOptions:
    """The options ``compare`` and ``optimize`` share; build output goes to a terminal's stderr as
    one rewritten line (closed by ``end_progress``)."""
    progress = None
    if not args.no_progress and stderr.isatty():

        def progress(line: str) -> None:
            stderr.write("\r" + line[:100].ljust(100))
            stderr.flush()

    return BuildOptions(
        context=args.context,
        checks=tuple(args.check),
        timeout=args.timeout,
        build_timeout=args.build_timeout,
        nocache=args.no_cache,
        pull=args.pull,
        keep=args.keep,
        progress=progress,
    )


def end_progress(opts: BuildOptions, stderr: TextIO) -> None:
    if opts.progress is not None:
        stderr.write("\r" + " " * 100 + "\r")


def _compare(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .build.compare import compare

    opts = build_options(args, stderr)
    try:
        result = compare(args.a, args.b, opts)
    finally:
        end_progress(opts, stderr)
    _emit(encode(result, args.format), stdout, args.output)
    return EXIT_OK if result.checks_passed else EXIT_FAIL


def _optimize(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .build.optimize import optimize
    from .dockerfile.lint import load_config

    if args.in_place and args.write_dockerfile:
        raise UsageError("use either --write-dockerfile or --in-place")
    config = load_config(args.config) if args.config else None
    opts = build_options(args, stderr)
    try:
        plan = optimize(
            args.dockerfile, target=args.target, verify=args.verify, config=config, image=args.image, options=opts
        )
    finally:
        end_progress(opts, stderr)
    text = encode(plan, args.format)
    if args.write_dockerfile and plan.chosen is not None:
        write_atomically(args.write_dockerfile, plan.text)
    if args.in_place and plan.chosen is not None:
        backup = args.dockerfile + ".orig"
        write_atomically(backup, plan.original)
        write_atomically(args.dockerfile, plan.text)
        context = args.context or os.path.dirname(os.path.abspath(args.dockerfile))
        ignore = os.path.join(context, ".dockerignore")
        if plan.dockerignore and not os.path.exists(ignore):
            write_atomically(ignore, plan.dockerignore)
        stderr.write(f"imgopt: wrote {args.dockerfile} (original kept as {backup})\n")
    _emit(text, stdout, args.output)
    return EXIT_FAIL if plan.failed else EXIT_OK


def _diff(args: argparse.Namespace, stdout: TextIO) -> int:
    from .api import diff

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    result = diff(args.ref_a, args.ref_b, platform=args.platform, hash_content=args.hash)
    opts = {"limit": args.limit} if args.format == "text" else {}
    _emit(encode(result, args.format, **opts), stdout, args.output)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
        if args.command is None:
            build_parser().print_help(out)
            return EXIT_USAGE
        with source_settings(**source_settings_from(args)):
            return _dispatch(args, out, err)
    except ImgoptError as e:
        err.write(f"imgopt: error: {e}\n")
        return e.exit_code
    except SystemExit as e:  # --help / --version
        return int(e.code or 0)
    except KeyboardInterrupt as e:
        err.write("imgopt: terminated\n" if isinstance(e, _Terminated) else "imgopt: interrupted\n")
        return 143 if isinstance(e, _Terminated) else 130
    except BrokenPipeError:
        return EXIT_OK


def _cache(args: argparse.Namespace, stdout: TextIO) -> int:
    import json

    from .sources.cache import LayerCache
    from .units import human

    cache = LayerCache()
    try:
        removed = freed = 0
        if args.action == "prune":
            removed, freed = cache.prune(args.keep)
        info = cache.info()
    finally:
        cache.close()
    if args.format == "json":
        doc: dict[str, Any] = {
            "path": info.path,
            "layers": info.layers,
            "documents": info.documents,
            "bytes": info.bytes,
            "max_bytes": info.max_bytes,
        }
        if args.action == "prune":
            doc.update(removed=removed, freed_bytes=freed)
        stdout.write(json.dumps(doc, indent=2) + "\n")
        return EXIT_OK
    if args.action == "prune":
        stdout.write(f"removed {removed} entries, freed {human(freed)}\n")
    stdout.write(
        f"{info.path}\n{info.layers} layer indexes, {info.documents} documents, {human(info.bytes)} "
        f"of at most {human(info.max_bytes)}\n"
    )
    return EXIT_OK


def _scan(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .api import scan

    refs = list(args.refs)
    if args.from_file:
        try:
            with open(args.from_file, encoding="utf-8") as f:
                refs += [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        except OSError as e:
            raise UsageError(f"cannot read {args.from_file}: {e.strerror}") from e
    if args.engine:
        from .sources.daemon import docker_client

        client = docker_client()
        try:
            refs += sorted({f"docker-daemon:{t}" for img in client.images.list() for t in img.tags})
        finally:
            client.close()
    if args.tags not in ("latest", "all") and not args.tags.isdigit():
        raise UsageError(f"--tags must be latest, all or a number, not {args.tags!r}")
    if not refs and not args.registry:
        raise UsageError("nothing to scan: give REFs, --from-file, --registry or --engine")
    if args.resume and not args.db:
        raise UsageError("--resume needs --db (the results of the interrupted scan)")
    done = [0]
    from .report.fleetfmt import fleet_jsonl_end, image_line

    streamed: list[str] = []  # jsonl: image lines as images complete (to stdout at once, or to -o at the end)

    def progress(row: Any) -> None:
        if args.db:
            from .fleet.db import write_row

            write_row(row, args.db)  # as each image completes: Ctrl-C keeps what is done
        if args.format == "jsonl":
            streamed.append(image_line(row))
            if not args.output:
                stdout.write(streamed[-1])
                stdout.flush()
        done[0] += 1
        if stderr.isatty():
            stderr.write(f"\rscanned {done[0]} images" + (" (last failed)" if row.error else "").ljust(20))
            stderr.flush()

    previous = None
    if args.db:
        from .fleet.db import read_db

        previous = read_db(args.db)  # unchanged digests keep their rows: nothing of them is read again
    fleet = scan(
        refs,
        registry=args.registry,
        include=args.include,
        exclude=args.exclude,
        tags=args.tags,
        jobs=args.jobs,
        on_row=progress,
        scheduler=args.scheduler,
        previous=previous,
        resume=args.resume,
    )
    if stderr.isatty() and done[0]:
        stderr.write("\r" + " " * 40 + "\r")
    if args.db:
        from .fleet.db import write_db

        write_db(fleet, args.db)
    if args.parquet:
        from .fleet.db import write_parquet

        write_parquet(fleet, args.parquet)
    if args.format == "jsonl":
        _emit(
            fleet_jsonl_end(fleet) if not args.output else "".join(streamed) + fleet_jsonl_end(fleet),
            stdout,
            args.output,
        )
    else:
        _emit(encode(fleet, args.format), stdout, args.output)
    return EXIT_FAIL if fleet.failed else EXIT_OK


def _dispatch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.command == "scan":
        return _scan(args, out, err)
    if args.command == "cache":
        return _cache(args, out)
    if args.command == "lint":
        return _lint(args, out)
    if args.command == "compare":
        return _compare(args, out, err)
    if args.command == "optimize":
        return _optimize(args, out, err)
    if args.command == "diff":
        return _diff(args, out)
    return _analyze(args, out, err)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so that builds and containers are cleaned up on the way out."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def console_main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.exit(main())


if __name__ == "__main__":
    console_main()
