"""Fleet scan: where the bytes are across many images, each shared layer read once.

Images are analysed on a pool of threads. Layers are the unit of reading: a layer shared by many
images is read by the first image that needs it (a second thread wanting it at the same moment
waits for that reader) and answered from the layer cache for every other image, so the work grows
with the distinct layer bytes, not with the number of images. A failing image (auth, 404, a
corrupt blob) becomes a row with its error; it never ends the scan. Rows reach ``on_row`` as
images complete.
"""

from __future__ import annotations

import contextvars
import fnmatch
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from ..analysis import Analysis, analyze_image
from ..encoding import Encodable
from ..errors import ImgoptError, UsageError
from ..sources import SourceSettings, current_settings, load_image, source_settings


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
    shared_layers: int = 0  # leading layers shared with some other scanned image
    layers: int = 0
    diff_ids: tuple[str, ...] = ()
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
    )


def _analyze(ref: str) -> tuple[ImageRow, dict[str, int]]:
    try:
        a = analyze_image(load_image(ref))
    except (ImgoptError, OSError) as e:
        return ImageRow(ref=ref, error=str(e) or type(e).__name__), {}
    return image_row(ref, a), {lr.diff_id or "": lr.size for lr in a.image.layers}


def _with_bases(rows: Sequence[ImageRow]) -> list[ImageRow]:
    """Each image's base: the longest other image whose layers begin this one's; and how many
    leading layers it shares with any other image."""
    from dataclasses import replace

    ok = [r for r in rows if r.error is None and r.diff_ids]
    out = []
    for r in rows:
        if r.error is not None or not r.diff_ids:
            out.append(r)
            continue
        base, shared = None, 0
        for o in ok:
            if o is r or o.diff_ids == r.diff_ids:
                continue
            k = 0
            for x, y in zip(r.diff_ids, o.diff_ids, strict=False):
                if x != y:
                    break
                k += 1
            shared = max(shared, k)
            if k == len(o.diff_ids) < len(r.diff_ids) and (base is None or k > len(base.diff_ids)):
                base = o
        out.append(replace(r, base=base.ref if base else None, shared_layers=shared))
    return out


def layer_table(rows: Sequence[ImageRow], sizes: dict[str, int]) -> tuple[LayerRow, ...]:
    holders: dict[str, int] = defaultdict(int)
    for r in rows:
        for d in set(r.diff_ids):
            holders[d] += 1
    table = [LayerRow(d, sizes.get(d, 0), n, sizes.get(d, 0) * (n - 1)) for d, n in holders.items()]
    return tuple(sorted(table, key=lambda lr: (-lr.saved_by_sharing, -lr.size_bytes, lr.diff_id)))


def _analyze_with(ref: str, settings: SourceSettings) -> tuple[ImageRow, dict[str, int]]:
    """A Dask task: the scan's source settings travel with it (workers may be other machines)."""
    with source_settings(registry=settings.registry, cache=settings.cache):
        return _analyze(ref)


def scan(
    refs: Iterable[str],
    *,
    jobs: int | None = None,
    on_row: Callable[[ImageRow], None] | None = None,
    scheduler: str | None = None,
) -> Fleet:
    """Analyse every image of ``refs``; rows come in the order of ``refs``. ``scheduler``: the
    address of a Dask distributed scheduler (``tcp://HOST:8786``) whose workers do the work."""
    refs = list(dict.fromkeys(refs))
    rows: dict[str, ImageRow] = {}
    sizes: dict[str, int] = {}

    def take(ref: str, result: tuple[ImageRow, dict[str, int]]) -> None:
        row, layer_sizes = result
        rows[ref] = row
        sizes.update(layer_sizes)
        if on_row is not None:
            on_row(row)

    if scheduler is not None:
        _on_dask(scheduler, refs, take)
    else:
        workers = jobs or min(8, 2 * (os.cpu_count() or 1))
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="imgopt-scan") as pool:
            # each task runs in a copy of this context: source settings (credentials, the cache) apply there too
            futures = {pool.submit(contextvars.copy_context().run, _analyze, ref): ref for ref in refs}
            for fut in as_completed(futures):
                take(futures[fut], fut.result())
    ordered = _with_bases([rows[r] for r in refs])
    return Fleet(tuple(ordered), layer_table(ordered, sizes))


def _on_dask(address: str, refs: list[str], take: Callable[[str, tuple[ImageRow, dict[str, int]]], None]) -> None:
    """The same tasks on a Dask cluster: one per image, retried by Dask when a worker dies."""
    try:
        import distributed
    except ImportError as e:
        raise UsageError("--scheduler needs Dask: pip install 'imgopt[dask]'") from e
    dask: Any = distributed  # partly untyped
    settings = current_settings()
    try:
        client = dask.Client(address.replace("dask://", "tcp://", 1), timeout=30)
    except (OSError, TimeoutError) as e:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {e}") from e
    try:
        futures = client.map(_analyze_with, refs, settings=settings, pure=False, retries=2)
        ref_of = {f.key: r for f, r in zip(futures, refs, strict=True)}
        for fut, result in dask.as_completed(futures, with_results=True):
            take(ref_of[fut.key], result)
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


__all__ = ["Fleet", "ImageRow", "LayerRow", "image_row", "layer_table", "scan", "select"]
