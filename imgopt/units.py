"""Bytes in words (humanize), the one spelling every report and note uses."""

from __future__ import annotations


def human(n: int | None) -> str:
    """``4.2 MB``; ``-`` for an unknown size."""
    if n is None:
        return "-"
    import humanize

    return str(humanize.naturalsize(n, format="%.1f"))


__all__ = ["human"]
