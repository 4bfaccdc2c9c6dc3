"""Fleet scan: where the bytes are across many images, each shared layer read once.

Work items, over one mechanism (:class:`~imgopt.sources.cache.LayerOverlay`: a layer cache
that holds the indexes handed to a read, and answers the layers it must not touch with an empty
stand-in):

- *probe* an image: its manifest and config alone give its digest and diff_ids (no layer read);
  a previous scan's row with the same digest and layers is kept as it is (an incremental scan);
- *index* a layer, keyed by diff_id: one read of it, giving its index in the cache's stored form;
- *analyse* an image, keyed by digest, from the indexes of its layers.

On the local pool (worker processes, one per core) each distinct layer is owned by the first
image probed that holds it: that image's task reads it while it analyses, and hands its index to
the images that wait for it. On a Dask cluster layers are tasks of their own (a layer task per
distinct diff_id, whose result Dask hands to the image tasks that need it, and the scanning
process writes into its own cache): a cluster's workers may be far from each other and from the
registry, and a layer read alone spreads best. Either way the reading grows with the distinct
layer bytes, not with the number of images. A failing image (auth, 404,
a corrupt blob) becomes a row with its error; it never ends the scan. Rows reach ``on_row`` as
images complete.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import multiprocessing
import os
import queue
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ..analysis import Analysis, analyze_image
from ..encoding import Encodable
from ..errors import ImgoptError, UsageError
from ..model import Image
from ..sources import (
    ReadOptions,
    SourceSettings,
    current_cache,
    current_settings,
    load_image,
    parse_ref,
    source_settings,
)
from ..sources.cache import LayerOverlay, plan_key, settle
from ..sources.daemon import identify_daemon_image


@dataclass(frozen=True)
class ImageRow:
    """One image of the fleet (every number as ``imgopt analyze`` gives it), or its error."""

    ref: str
    digest: str | None = None  # the manifest digest where the source has one, else the image ID
    size_bytes: int | None = None
    compressed_size_bytes: int | None = None
    final_size_bytes: int | None = None
    reclaimable_bytes: int | None = None
    reclaimable_by_cause: dict[str, int] = field(default_factory=dict)
    efficiency: float | None = None
    top_category: str | None = None  # the waste category with the most bytes (final + shipped)
    base: str | None = None  # another scanned image whose layers are this one's first layers
    base_layers: int = 0  # this image's leading layers up to the last point where another image's leave them
    shared_layers: int = 0  # leading layers shared with some other scanned image
    layers: int = 0
    diff_ids: tuple[str, ...] = ()
    layer_sizes: tuple[int, ...] = ()  # each layer's file bytes, in the order of diff_ids
    error: str | None = None


@dataclass(frozen=True)
class LayerRow:
    diff_id: str
    size_bytes: int
    images: int  # how many scanned images hold it
    saved_by_sharing: int  # bytes a registry or disk stores once instead of ``images`` times


@dataclass(frozen=True, repr=False)
class Fleet(Encodable):
    images: tuple[ImageRow, ...]
    layers: tuple[LayerRow, ...]
    reused: tuple[str, ...] = ()  # references whose rows a previous scan gave (nothing read again)

    @property
    def failed(self) -> tuple[ImageRow, ...]:
        return tuple(r for r in self.images if r.error is not None)

    @property
    def reclaimable_bytes(self) -> int:
        return sum(r.reclaimable_bytes or 0 for r in self.images)

    @property
    def distinct_layer_bytes(self) -> int:
        return sum(lr.size_bytes for lr in self.layers)


def image_row(ref: str, a: Analysis) -> ImageRow:
    cats = sorted(a.categories, key=lambda c: (-(c.final_bytes + c.wasted_bytes), c.name))
    top = cats[0].name if cats and cats[0].final_bytes + cats[0].wasted_bytes > 0 else None
    img = a.image
    return ImageRow(
        ref=ref,
        digest=img.manifest_digest or img.id,
        size_bytes=a.size_bytes,
        compressed_size_bytes=a.compressed_size_bytes,
        final_size_bytes=a.final_size_bytes,
        reclaimable_bytes=a.reclaimable_bytes,
        reclaimable_by_cause=a.waste_by_cause,
        efficiency=a.dive.efficiency,
        top_category=top,
        layers=len(img.layers),
        diff_ids=tuple(lr.diff_id or "" for lr in img.layers),
        layer_sizes=tuple(lr.size for lr in img.layers),
    )


def _with_bases(rows: Sequence[ImageRow]) -> list[ImageRow]:
    """Each image's base: the longest other image whose layers begin this one's; and how many
    leading layers it shares with any other image. One trie of the distinct layer chains: linear in
    the layers of the fleet, not quadratic in its images."""
    ok = [r for r in rows if r.error is None and r.diff_ids]
    child: dict[tuple[int, str], int] = {}  # (node, diff_id) -> node; node 0 is the root
    through = [0]  # distinct layer chains through each node
    ends: dict[int, ImageRow] = {}  # the node where an image's chain ends -> the first such image

    def walk(chain: tuple[str, ...]) -> list[int]:
        nodes, node = [], 0
        for d in chain:
            nxt = child.get((node, d))
            if nxt is None:
                nxt = child[(node, d)] = len(through)
                through.append(0)
            nodes.append(nxt)
            node = nxt
        return nodes

    paths = {}
    for r in ok:
        if r.diff_ids not in paths:
            paths[r.diff_ids] = walk(r.diff_ids)
            for n in paths[r.diff_ids]:
                through[n] += 1
        ends.setdefault(paths[r.diff_ids][-1], r)
    out = []
    for r in rows:
        if r.error is not None or not r.diff_ids:
            out.append(r)
            continue
        nodes = paths[r.diff_ids]
        shared = sum(1 for n in nodes if through[n] > 1)  # counts fall along a chain: the leading ones
        base = next((ends[n] for n in reversed(nodes[:-1]) if n in ends), None)
        # where another chain leaves this one (or ends): the deepest such point below the top
        fork = max((k for k in range(1, len(nodes)) if through[nodes[k - 1]] > through[nodes[k]]), default=0)
        out.append(replace(r, base=base.ref if base else None, shared_layers=shared, base_layers=fork))
    return out


def layer_table(rows: Sequence[ImageRow]) -> tuple[LayerRow, ...]:
    holders: dict[str, int] = defaultdict(int)
    sizes: dict[str, int] = {}
    for r in rows:
        sizes.update(zip(r.diff_ids, r.layer_sizes, strict=False))
        for d in set(r.diff_ids):
            holders[d] += 1
    table = [LayerRow(d, sizes.get(d, 0), n, sizes.get(d, 0) * (n - 1)) for d, n in holders.items()]
    return tuple(sorted(table, key=lambda lr: (-lr.saved_by_sharing, -lr.size_bytes, lr.diff_id)))


# --------------------------------------------------------------------------------------------
# the work items

PLAN = plan_key(ReadOptions().content)  # what a scan's analysis reads of each layer


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (a container's, a taskset's)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pool_size(jobs: int | None) -> int:
    """Worker processes of the local pool: ``jobs``, else one per core, at most 8 (each holds an
    image's analysis in memory)."""
    return max(1, jobs or min(8, _cores()))


def _error_row(ref: str, e: BaseException) -> ImageRow:
    return ImageRow(ref=ref, error=str(e) or type(e).__name__)


def _outline(ref: str) -> Image:
    """The image as its manifest and config describe it, every layer an empty stand-in: no
    layer blob is read."""
    return load_image(ref, ReadOptions(cache=LayerOverlay(current_cache(), only=frozenset())))


def probe(ref: str) -> tuple[str | None, tuple[str, ...]]:
    """An image's digest (the manifest's, else the image ID) and diff_ids; no layer blob is read
    (an engine image: ``docker image inspect`` alone, where reading its config would export it)."""
    r = parse_ref(ref)
    if r.transport == "docker-daemon":
        return identify_daemon_image(r.location)
    img = _outline(ref)
    return img.manifest_digest or img.id, tuple(lr.diff_id or "" for lr in img.layers)


def _created(stamp: str | None) -> datetime:
    """An image's creation time (RFC 3339, nanoseconds and all); the oldest possible when unknown."""
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    if not stamp:
        return oldest
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", stamp.strip())
    if m is None:
        return oldest
    base, frac, zone = m.groups()
    try:
        t = datetime.fromisoformat(
            base + (f".{frac[:6]:0<6}" if frac else "") + ("+00:00" if zone in (None, "Z") else zone)
        )
    except ValueError:
        return oldest
    return t.astimezone(timezone.utc)


def newest(refs: Sequence[str], n: int, jobs: int | None = None) -> list[str]:
    """The ``n`` most recently created images of each repository among ``refs`` (``REPO:TAG``
    references), by their configs' ``created`` (no layer read); an image whose config cannot be
    read or has no date counts as the oldest. The order of ``refs`` is kept."""

    def when(ref: str) -> datetime:
        try:
            return _created(_outline(ref).created)
        except (ImgoptError, OSError):
            return _created(None)

    # threads: each date is a config read from the network
    with ThreadPoolExecutor(jobs or min(8, 2 * _cores()), thread_name_prefix="imgopt-dates") as pool:
        dates = dict(zip(refs, pool.map(lambda r: contextvars.copy_context().run(when, r), refs), strict=True))
    by_repo: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        repo, _, tag = ref.rpartition(":")
        by_repo[repo if repo and "/" not in tag else ref].append(ref)
    keep = {r for group in by_repo.values() for r in sorted(group, key=lambda r: (dates[r], r), reverse=True)[:n]}
    return [r for r in refs if r in keep]


def layer_index(ref: str, diff_id: str) -> bytes | None:
    """The index of one layer of ``ref`` in the cache's stored form (from the cache, else read,
    verified against ``diff_id`` and cached); None when it could not be proved (the image that
    needs it then reads it itself)."""
    overlay = LayerOverlay(current_cache(), only=frozenset({diff_id}))
    load_image(ref, ReadOptions(cache=overlay))
    settle()  # the write that waits for the layer's hash
    return overlay.get_payload(diff_id, PLAN)


def analyze_row(ref: str) -> ImageRow:
    """``ref``'s row as ``imgopt analyze`` gives it, or its error."""
    try:
        return image_row(ref, analyze_image(load_image(ref)))
    except (ImgoptError, OSError) as e:
        return _error_row(ref, e)


def _unchanged(before: ImageRow | None, digest: str | None, diff_ids: tuple[str, ...]) -> bool:
    return before is not None and _reusable(before) and (digest, diff_ids) == (before.digest, before.diff_ids)


def _reusable(before: ImageRow | None) -> bool:
    """A previous row that can stand for the image: no error, a digest, every layer's size."""
    return (
        before is not None
        and before.error is None
        and before.digest is not None
        and len(before.layer_sizes) == len(before.diff_ids)
    )


def _to_probe(
    refs: list[str], before: dict[str, ImageRow], resume: bool, take: Callable[[ImageRow, bool], None]
) -> Iterator[tuple[int, str]]:
    """The references to probe, with their places; a resumed scan takes the finished ones as they are."""
    for i, ref in enumerate(refs):
        old = before.get(ref)
        if resume and old is not None and _reusable(old):
            take(old, True)
        else:
            yield i, ref


def _new_image(
    ref: str,
    digest: str | None,
    diff_ids: tuple[str, ...],
    before: dict[str, ImageRow],
    done: dict[str, ImageRow],
    images: dict[str, list[str]],
    take: Callable[[ImageRow, bool], None],
) -> str | None:
    """What a probe's answer means: the previous scan's row stands, or this is another reference
    of an image done or under way (``images``: digest -> its references), or a new image to read:
    its digest (the reference itself when it has none) is returned."""
    if _unchanged(before.get(ref), digest, diff_ids):
        take(before[ref], True)
        return None
    digest = digest or ref
    if digest in done:
        take(replace(done[digest], ref=ref), False)
    elif digest in images:
        images[digest].append(ref)
    else:
        images[digest] = [ref]
        return digest
    return None


def scan(
    refs: Iterable[str],
    *,
    jobs: int | None = None,
    on_row: Callable[[ImageRow], None] | None = None,
    scheduler: str | None = None,
    previous: Fleet | None = None,
    resume: bool = False,
) -> Fleet:
    """Analyse every image of ``refs``; rows come in the order of ``refs``. ``jobs``: worker
    processes of the local pool (1: all in this process). ``scheduler``: the address of a Dask
    distributed scheduler (``tcp://HOST:8786``) whose workers do the work instead.
    ``previous``: an earlier scan's results; an image whose digest and layers are unchanged keeps
    its row without a layer read (with ``resume``, without even a look at its manifest)."""
    refs = list(dict.fromkeys(refs))
    before = {r.ref: r for r in previous.images} if previous is not None else {}
    rows: dict[str, ImageRow] = {}
    reused: set[str] = set()

    def take(row: ImageRow, was_reused: bool) -> None:
        rows[row.ref] = row
        if was_reused:
            reused.add(row.ref)
        if on_row is not None:
            on_row(row)

    if scheduler is not None:
        _on_dask(scheduler, refs, before, resume, take)
    else:
        _on_pool(jobs, refs, before, resume, take)
    ordered = _with_bases([rows[r] for r in refs])
    return Fleet(tuple(ordered), layer_table(ordered), tuple(r for r in refs if r in reused))


# --------------------------------------------------------------------------------------------
# the local pool: worker processes (the parse and the analysis hold the GIL: threads would share one core)

# run first in every worker process of the local pool (the tests count layer reads there)
_worker_init: Callable[[], None] | None = None


def _portable(settings: SourceSettings) -> SourceSettings:
    """The settings as another process can use them: a cache object becomes its directory (a
    :class:`~imgopt.sources.cache.LayerCache`) or off (one in memory: the work items hand the
    indexes over themselves)."""
    cache = settings.cache
    if not isinstance(cache, (bool, str)):
        cache = getattr(cache, "directory", False)
    return replace(settings, cache=cache)


class _Pool:
    """Tasks on ``workers`` processes, or in this process when ``workers`` is 1 (one at a time,
    each when the one before was taken); their results (or exceptions) come back tagged, as they
    complete. ``light`` tasks (waiting on the network or a disk, little CPU: the probes) run on
    threads of this process instead. A worker process that dies (killed, out of memory) breaks
    the pool: a new one takes the tasks it lost, each at most ``RETRIES`` times (as Dask retries a
    task of a lost worker)."""

    RETRIES = 2

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._generation = 0  # of the process pool, so that one breakage replaces it once
        self._done: queue.SimpleQueue[tuple[Any, int, Any]] = queue.SimpleQueue()
        self._tasks: dict[Any, tuple[Callable[..., Any], tuple[Any, ...], int]] = {}  # tag -> (fn, args, tries)
        self._todo: deque[Any] = deque()  # tags to run in this process

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")  # no fork of a process with threads
            self._pool = ProcessPoolExecutor(self._workers, mp_context=context, initializer=_worker_init)
        return self._pool

    def submit(self, tag: Any, fn: Callable[..., Any], *args: Any, light: bool = False) -> None:
        self._tasks[tag] = (fn, args, self.RETRIES)
        if self._workers == 1:
            self._todo.append(tag)
        elif light:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(min(8, 2 * _cores()), thread_name_prefix="imgopt-probe")
            self._threads.submit(fn, *args).add_done_callback(self._finished(tag, -1))
        else:
            self._start(tag)

    def _finished(self, tag: Any, generation: int) -> Callable[[Future[Any]], None]:
        def finished(f: Future[Any]) -> None:
            if not f.cancelled():
                self._done.put((tag, generation, f.exception() or f.result()))

        return finished

    def _start(self, tag: Any) -> None:
        fn, args, _ = self._tasks[tag]
        try:
            self._processes().submit(fn, *args).add_done_callback(self._finished(tag, self._generation))
        except BrokenProcessPool as e:  # broken before its news came
            self._done.put((tag, self._generation, e))

    def completed(self) -> Iterator[tuple[Any, Any]]:
        while self._tasks:
            if self._todo:
                tag = self._todo.popleft()
                fn, args, _ = self._tasks[tag]
                try:
                    result = fn(*args)
                except Exception as e:  # a bug in a task is that image's error, as in a worker process
                    result = e
            else:
                tag, generation, result = self._done.get()
                fn, args, tries = self._tasks[tag]
                if isinstance(result, BrokenProcessPool) and tries:
                    if generation == self._generation and self._pool is not None:  # the first news of it
                        self._pool.shutdown(wait=False)  # its pending tasks have all failed as this one
                        self._pool = None
                        self._generation += 1
                    self._tasks[tag] = (fn, args, tries - 1)
                    self._start(tag)
                    continue
            del self._tasks[tag]
            yield tag, result

    def close(self) -> None:
        for executor in (self._threads, self._pool):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)


def _owner_task(
    ref: str, settings: SourceSettings, given: dict[str, bytes], owns: frozenset[str]
) -> tuple[ImageRow, dict[str, bytes]]:
    """``ref``'s row, from the indexes ``given`` and its own read of the rest; and the indexes of
    the layers it ``owns`` (the first image of the scan that holds them), for the images after it."""
    with _settings_of(settings):
        overlay = LayerOverlay(current_cache(), {(d, PLAN): p for d, p in given.items()})
        with source_settings(cache=overlay):
            row = analyze_row(ref)
        settle()  # the cache writes that wait for the owned layers' hashes
        return row, {d: p for d in owns if (p := overlay.get_payload(d, PLAN)) is not None}


def _on_pool(
    jobs: int | None,
    refs: list[str],
    before: dict[str, ImageRow],
    resume: bool,
    take: Callable[[ImageRow, bool], None],
) -> None:
    """Probes first; then an image task per distinct digest. Each distinct layer is owned by the
    first image probed that holds it: that image reads it, and every other image that holds it
    waits for its owner and is handed the layer's index (a layer shared by 300 images is read
    once). Owners are always probed earlier than the images that wait for them: no cycle."""
    settings = _portable(current_settings())
    pool = _Pool(min(_pool_size(jobs), max(1, len(refs))))
    owner: dict[str, str] = {}  # diff_id -> the digest whose task reads it
    payloads: dict[str, bytes] = {}  # diff_id -> its index, from its owner's task until no image can need it
    plans: dict[str, tuple[str, tuple[str, ...], frozenset[str]]] = {}  # digest -> (ref, diff_ids, owned)
    blocked: dict[str, int] = {}  # digest -> owners it still waits for
    dependents: dict[str, list[str]] = defaultdict(list)  # owner digest -> the digests that wait for it
    images: dict[str, list[str]] = {}  # digest -> the references that name it
    done: dict[str, ImageRow] = {}
    needs: dict[str, int] = defaultdict(int)  # diff_id -> images not started yet that are handed it
    probes = [0]  # under way: while any is, a new image may need any layer

    def start(digest: str) -> None:
        ref, diff_ids, owns = plans.pop(digest)
        handed = set(diff_ids) - owns
        given = {d: payloads[d] for d in handed if d in payloads}
        pool.submit(("image", digest), _owner_task, ref, settings, given, owns)
        for d in handed:
            needs[d] -= 1
        forget(handed)

    def forget(diff_ids: Iterable[str]) -> None:
        """Drop the indexes no image can still need (none is left to probe, none to start)."""
        if not probes[0]:
            for d in diff_ids:
                if not needs[d]:
                    payloads.pop(d, None)

    def probed(ref: str, digest: str | None, diff_ids: tuple[str, ...]) -> None:
        digest = _new_image(ref, digest, diff_ids, before, done, images, take)
        if digest is not None:
            owns = frozenset(d for d in diff_ids if owner.setdefault(d, digest) == digest)
            plans[digest] = (ref, diff_ids, owns)
            for d in set(diff_ids) - owns:
                needs[d] += 1
            owners = {owner[d] for d in diff_ids} - {digest} - done.keys()
            for o in owners:
                dependents[o].append(digest)
            blocked[digest] = len(owners)
            if not owners:
                start(digest)

    try:
        for i, ref in _to_probe(refs, before, resume, take):
            pool.submit(("probe", i), _probe_task, ref, settings, light=True)
            probes[0] += 1
        for (kind, name), result in pool.completed():
            if kind == "probe":
                probes[0] -= 1
                ref = refs[name]
                if isinstance(result, (BaseException, ImageRow)):
                    take(result if isinstance(result, ImageRow) else _error_row(ref, result), False)
                else:
                    probed(ref, *result)
                if not probes[0]:
                    forget(list(payloads))  # the last probe: every index no image still to start needs
                continue
            if isinstance(result, BaseException):
                row = _error_row(images[name][0], result)
            else:
                row, owned = result
                payloads.update(owned)  # an owned layer without an index: whoever needs it reads it
                forget(owned)
            done[name] = row
            for ref in images.pop(name):
                take(replace(row, ref=ref), False)
            for digest in dependents.pop(name, []):
                blocked[digest] -= 1
                if not blocked[digest]:
                    start(digest)
    finally:
        pool.close()


# --------------------------------------------------------------------------------------------
# on a Dask cluster: the settings travel with every task (workers may be other machines)


def _settings_of(settings: SourceSettings) -> contextlib.AbstractContextManager[SourceSettings]:
    """The scanning process's source settings, in the worker that runs a task."""
    return source_settings(registry=settings.registry, cache=settings.cache)


def _probe_task(ref: str, settings: SourceSettings) -> tuple[str | None, tuple[str, ...]] | ImageRow:
    with _settings_of(settings):
        try:
            return probe(ref)
        except (ImgoptError, OSError) as e:
            return _error_row(ref, e)


def _layer_task(ref: str, diff_id: str, settings: SourceSettings) -> tuple[bytes | None, str | None]:
    """(the stored index or None, the error): errors travel as text (not every exception pickles)."""
    with _settings_of(settings):
        try:
            return layer_index(ref, diff_id), None
        except (ImgoptError, OSError) as e:
            return None, str(e) or type(e).__name__


def _image_task(ref: str, settings: SourceSettings, indexes: dict[str, tuple[bytes | None, str | None]]) -> ImageRow:
    for _payload, error in indexes.values():
        if error is not None:
            return ImageRow(ref=ref, error=error)
    entries = {(d, PLAN): payload for d, (payload, _) in indexes.items() if payload is not None}
    with _settings_of(settings):
        overlay = LayerOverlay(current_cache(), entries)  # the indexes handed over first, then the worker's cache
        with source_settings(cache=overlay):
            return analyze_row(ref)


def _on_dask(
    address: str,
    refs: list[str],
    before: dict[str, ImageRow],
    resume: bool,
    take: Callable[[ImageRow, bool], None],
) -> None:
    """Probes first; as they answer, a task per distinct layer (keyed by diff_id) and per distinct
    image (keyed by digest), the image task depending on its layers' tasks. Dask retries a task
    whose worker died (and recomputes results that died with it); each reference is taken once."""
    try:
        import distributed
    except ImportError as e:
        raise UsageError("--scheduler needs Dask: pip install 'imgopt[dask]'") from e
    dask: Any = distributed  # partly untyped
    settings = current_settings()
    local = current_cache()
    try:
        client = dask.Client(address.replace("dask://", "tcp://", 1), timeout=30)
    except (OSError, TimeoutError) as e:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {e}") from e
    token = uuid.uuid4().hex[:12]  # keys of this scan (another client's scan of the same cluster keeps its own)
    what: dict[str, tuple[str, str]] = {}  # task key -> (kind, index of the reference / diff_id / digest)
    layers: dict[str, Any] = {}  # diff_id -> its task (None once no image can need it: the cluster forgets it)
    needs: dict[str, int] = defaultdict(int)  # diff_id -> image tasks under way that need it
    images: dict[str, list[str]] = {}  # digest -> the references that name it, until its task completes
    image_layers: dict[str, set[str]] = {}  # digest -> its layers, until its task completes
    done: dict[str, ImageRow] = {}  # digest -> its row
    probes = [0]  # probes under way: while any is, a new image may need any layer
    # on the loop of this scan's client: another client of this process (the default one, or one whose
    # cluster runs here) has its own, and a future tracked on a loop not its own is never seen done
    pending = dask.as_completed(loop=client.loop, with_results=True, raise_errors=False)

    def release(diff_ids: Iterable[str]) -> None:
        for d in diff_ids:
            if not probes[0] and not needs[d]:
                layers[d] = None

    def submit(kind: str, name: str, fn: Callable[..., Any], *args: Any) -> Any:
        fut = client.submit(fn, *args, key=f"imgopt-{kind}-{token}-{name}", pure=False, retries=2)
        what[fut.key] = (kind, name)
        pending.add(fut)
        return fut

    def probed(ref: str, digest: str | None, diff_ids: tuple[str, ...]) -> None:
        digest = _new_image(ref, digest, diff_ids, before, done, images, take)
        if digest is not None:
            image_layers[digest] = set(diff_ids)
            for d in dict.fromkeys(diff_ids):
                if d not in layers:
                    layers[d] = submit("layer", d, _layer_task, ref, d, settings)
                needs[d] += 1
            submit("image", digest, _image_task, ref, settings, {d: layers[d] for d in set(diff_ids)})

    try:
        for i, ref in _to_probe(refs, before, resume, take):
            submit("probe", str(i), _probe_task, ref, settings)
            probes[0] += 1
        for fut, result in pending:
            kind, name = what.pop(fut.key)
            failed = isinstance(result, BaseException)
            if kind == "probe":
                ref = refs[int(name)]
                probes[0] -= 1
                if failed or isinstance(result, ImageRow):
                    take(result if isinstance(result, ImageRow) else _error_row(ref, result), False)
                else:
                    probed(ref, *result)
                if not probes[0]:
                    release(list(layers))  # after the last probe: every layer no image under way needs
            elif kind == "layer":
                if not failed and result[0] is not None and local is not None:
                    local.put_payload(name, PLAN, result[0])  # the index travels back into this process's cache
            else:
                row = _error_row(images[name][0], result) if failed else result
                done[name] = row
                for d in image_layers[name]:
                    needs[d] -= 1
                release(image_layers.pop(name))
                for ref in images.pop(name):
                    take(replace(row, ref=ref), False)
    finally:
        client.close()


def select(refs: Iterable[str], include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[str]:
    """References whose name (``REPO:TAG`` after the host) matches an ``include`` glob (all when
    none is given) and no ``exclude`` glob."""

    def name(ref: str) -> str:
        rest = ref.split("://", 1)[-1]
        return rest.split("/", 1)[1] if "/" in rest else rest

    out = []
    for ref in refs:
        n = name(ref)
        if include and not any(fnmatch.fnmatchcase(n, g) for g in include):
            continue
        if any(fnmatch.fnmatchcase(n, g) for g in exclude):
            continue
        out.append(ref)
    return out


__all__ = ["Fleet", "ImageRow", "LayerRow", "image_row", "layer_table", "newest", "probe", "scan", "select"]
