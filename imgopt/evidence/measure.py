"""After a verified build: what each change actually saved, and why it differs from what was expected.

A change names the image paths whose shipped bytes it should remove. Shipped bytes of a path are
the sum over all layers of its regular-file entries; a change's measured saving is, over its paths,
what the original shipped minus what the variant ships. A gap of more than 1 % from the expected
bytes is explained from the same evidence: paths the variant still ships and discards, paths whose
content differs between the two builds, paths that left the final filesystem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..analysis.packages import Footprint
from ..dockerfile.rewrite import Change
from ..units import human

GAP = 0.01  # a measured saving further than this from the expected one is explained


def _explain(paths: Sequence[str], before: Footprint, after: Footprint) -> str:
    reasons: list[tuple[int, str]] = []
    for p in paths:
        wasted = after.waste.get(p, 0)
        if wasted:
            reasons.append((wasted, f"/{p} is still shipped and discarded ({human(wasted)})"))
        elif p in after.final and p in before.final and after.final[p] != before.final[p]:
            d = after.final[p] - before.final[p]
            reasons.append((abs(d), f"/{p} is {human(abs(d))} {'larger' if d > 0 else 'smaller'} in the new build"))
        elif p in before.final and p not in after.final:
            reasons.append((before.final[p], f"/{p} ({human(before.final[p])}) is no longer in the image"))
    reasons.sort(key=lambda r: -r[0])
    return "; ".join(r for _, r in reasons[:3])


def measure_changes(
    changes: Sequence[Change], before: Footprint, after: Footprint
) -> tuple[tuple[Change, ...], tuple[tuple[str, int], ...]]:
    """The changes with ``measured_bytes`` (and a ``note`` for a gap over 1 %), and the largest
    savings (path, bytes) that no change targeted. Changes whose paths overlap (an ``apt-get clean``
    and a lists clean-up both reach apt's ``*.bin`` caches) are measured together: each says so, and
    the note compares the group's measured total with its expected total."""
    groups: list[list[int]] = []  # indices of changes whose paths overlap, transitively
    owner: dict[str, int] = {}
    for i, c in enumerate(changes):
        joined = {owner[p] for p in c.paths if p in owner}
        merged = [i] + [j for k in joined for j in groups[k]]
        for k in joined:
            groups[k] = []
        groups.append(sorted(merged))
        for j in merged:
            for p in changes[j].paths:
                owner[p] = len(groups) - 1
    out = list(changes)
    for g in groups:
        if not g or not changes[g[0]].paths:
            continue
        paths = sorted(set().union(*(changes[i].paths for i in g)))
        saved = sum(before.shipped.get(p, 0) - after.shipped.get(p, 0) for p in paths)
        known: list[int] = [e for i in g if (e := changes[i].expected_bytes) is not None]
        expected = sum(known) if known else None
        note = ""
        if expected is not None and abs(saved - expected) > GAP * max(expected, 1):
            why = _explain(paths, before, after) or "the paths' shipped bytes changed in other layers"
            note = f"measured {human(saved)} of the {human(expected)} expected: {why}"
        if len(g) == 1:
            out[g[0]] = replace(changes[g[0]], measured_bytes=saved, note=note)
            continue
        lines = ", ".join(str(changes[i].line) for i in g)
        together = f"measured with the changes at lines {lines} (their paths overlap): {human(saved)} in all"
        for i in g:
            out[i] = replace(changes[i], note=together + (f"; {note}" if note else ""))
    claimed = set(owner)
    other = sorted(
        (
            (p, before.shipped.get(p, 0) - after.shipped.get(p, 0))
            for p in before.shipped.keys() | after.shipped.keys()
            if p not in claimed
        ),
        key=lambda t: -abs(t[1]),
    )
    return tuple(out), tuple((p, d) for p, d in other[:5] if d)


__all__ = ["GAP", "measure_changes"]
