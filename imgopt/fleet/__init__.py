"""Fleet scan: where the bytes are across many images, each shared layer read once.

Three kinds of work item, over one mechanism (:class:`~imgopt.sources.cache.LayerOverlay`: a
layer cache that answers the layers a read must not touch with an empty stand-in):

- *probe* an image: its manifest and config alone give its digest and diff_ids (no layer read);
  a previous scan's row with the same digest and layers is kept as it is (an incremental scan);
- *index* a layer, keyed by diff_id: one read of one layer of one image that holds it, giving the
  layer's index in the cache's stored form;
- *analyse* an image, keyed by digest, from the indexes of its layers.

On the local pool (threads) the layer cache is where they meet: the first image that needs a
layer reads it (a second thread wanting it at the same moment waits) and every other image takes
it from the cache (one in memory when the disk cache is off). On a Dask cluster they are Dask
tasks: a layer task per distinct diff_id, whose result (the stored index) Dask hands to the image
tasks that need it and the scanning process writes into its own cache. Either way the reading
grows with the distinct layer bytes, not with the number of images. A failing image (auth, 404,
a corrupt blob) becomes a row with its error; it never ends the scan. Rows reach ``on_row`` as
images complete.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ..analysis import Analysis, analyze_image
from ..encoding import Encodable
from ..errors import ImgoptError, UsageError
from ..model import Image
from ..sources import ReadOptions, SourceSettings, current_cache, current_settings, load_image, source_settings
from ..sources.cache import LayerOverlay, plan_key, settle


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


def _pool_size(jobs: int | None) -> int:
    """Threads of the local pool: ``jobs``, else two per core (reads wait on the network), at most 8."""
    return max(1, jobs or min(8, 2 * (os.cpu_count() or 1)))


def _error_row(ref: str, e: BaseException) -> ImageRow:
    return ImageRow(ref=ref, error=str(e) or type(e).__name__)


def _outline(ref: str) -> Image:
    """The image as its manifest and config describe it, every layer an empty stand-in: no
    layer blob is read."""
    return load_image(ref, ReadOptions(cache=LayerOverlay(current_cache(), only=frozenset())))


def probe(ref: str) -> tuple[str | None, tuple[str, ...]]:
    """An image's digest (the manifest's, else the image ID) and diff_ids; no layer blob is read."""
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

    with ThreadPoolExecutor(_pool_size(jobs), thread_name_prefix="imgopt-dates") as pool:
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


def _local_task(ref: str, before: ImageRow | None, resume: bool) -> tuple[ImageRow, bool]:
    """One image on the local pool: (its row, whether that is the previous scan's)."""
    if before is not None and _reusable(before):
        if resume:
            return before, True
        try:
            digest, diff_ids = probe(ref)
        except (ImgoptError, OSError) as e:
            return _error_row(ref, e), False
        if _unchanged(before, digest, diff_ids):
            return before, True
    return analyze_row(ref), False


def scan(
    refs: Iterable[str],
    *,
    jobs: int | None = None,
    on_row: Callable[[ImageRow], None] | None = None,
    scheduler: str | None = None,
    previous: Fleet | None = None,
    resume: bool = False,
) -> Fleet:
    """Analyse every image of ``refs``; rows come in the order of ``refs``. ``scheduler``: the
    address of a Dask distributed scheduler (``tcp://HOST:8786``) whose workers do the work.
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
        _on_threads(jobs, refs, before, resume, take)
    ordered = _with_bases([rows[r] for r in refs])
    return Fleet(tuple(ordered), layer_table(ordered), tuple(r for r in refs if r in reused))


def _on_threads(
    jobs: int | None,
    refs: list[str],
    before: dict[str, ImageRow],
    resume: bool,
    take: Callable[[ImageRow, bool], None],
) -> None:
    # with the disk cache off, one in memory for this scan: shared layers are still read once
    memory: dict[str, Any] = {} if current_cache() is not None else {"cache": LayerOverlay()}
    with source_settings(**memory), ThreadPoolExecutor(_pool_size(jobs), thread_name_prefix="imgopt-scan") as pool:
        # each task runs in a copy of this context: source settings (credentials, the cache) apply there too
        futures = [
            pool.submit(contextvars.copy_context().run, _local_task, ref, before.get(ref), resume) for ref in refs
        ]
        for fut in as_completed(futures):
            take(*fut.result())


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
    pending = dask.as_completed(with_results=True, raise_errors=False)

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
        if _unchanged(before.get(ref), digest, diff_ids):
            take(before[ref], True)
            return
        digest = digest or ref  # an image without a digest is its own work item
        if digest in done:
            take(replace(done[digest], ref=ref), False)
        elif digest in images:
            images[digest].append(ref)
        else:
            images[digest] = [ref]
            image_layers[digest] = set(diff_ids)
            for d in dict.fromkeys(diff_ids):
                if d not in layers:
                    layers[d] = submit("layer", d, _layer_task, ref, d, settings)
                needs[d] += 1
            submit("image", digest, _image_task, ref, settings, {d: layers[d] for d in set(diff_ids)})

    try:
        for i, ref in enumerate(refs):
            old = before.get(ref)
            if resume and old is not None and _reusable(old):
                take(old, True)
            else:
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
