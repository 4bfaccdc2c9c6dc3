"""Output formats: one registry of encoders, in the shape of syft's ``FormatEncoder``.

An :class:`Encoder` turns one kind of result (an ``Analysis``, a lint report, a ``Plan``...) into one
format (text, JSON, SARIF, Markdown, HTML, a pandas DataFrame). Encoders live in ``imgopt.report``
and register themselves here when it is imported (``import imgopt`` does that), so results, which
live in lower rooms, reach their formats without importing the room above them: a result class
mixes in :class:`Encodable` and its ``to_dict()``, ``to_json()`` and notebook ``_repr_html_()`` ask
the registry. The CLI's ``--format`` choices are the registry's formats for the result it prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import UsageError


@dataclass(frozen=True)
class Encoder:
    """One format of one kind of result.

    ``encode(result, **options) -> str`` (a DataFrame for ``dataframe``); ``document(result, **options)``
    gives the structured document of JSON-like formats before serialisation; ``version`` names the
    schema of a structured format (additive changes keep it, renames and removals bump it)."""

    kind: type
    id: str
    encode: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    version: str | None = None
    document: Callable[..., dict[str, Any]] | None = None
    cli: bool = True  # offered as a --format choice (not the DataFrame)


_REGISTRY: dict[type, dict[str, Encoder]] = {}


def register(encoder: Encoder) -> Encoder:
    formats = _REGISTRY.setdefault(encoder.kind, {})
    for name in (encoder.id, *encoder.aliases):
        if name in formats and formats[name] is not encoder:
            raise ValueError(f"format {name!r} registered twice for {encoder.kind.__name__}")
        formats[name] = encoder
    return encoder


def _formats_of(kind: type) -> dict[str, Encoder]:
    for cls in kind.__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    return {}


def formats(kind: type, *, cli_only: bool = True) -> tuple[str, ...]:
    """The format ids (not aliases) registered for ``kind``, in registration order."""
    seen = dict.fromkeys(e.id for e in _formats_of(kind).values() if e.cli or not cli_only)
    return tuple(seen)


def encoder(result: object, fmt: str) -> Encoder:
    found = _formats_of(type(result)).get(fmt)
    if found is None:
        have = ", ".join(formats(type(result), cli_only=False)) or "none (is imgopt.report imported?)"
        raise UsageError(f"no {fmt!r} format for a {type(result).__name__} (formats: {have})")
    return found


def encode(result: object, fmt: str, **options: Any) -> Any:
    return encoder(result, fmt).encode(result, **options)


def document(result: object, fmt: str = "json", **options: Any) -> dict[str, Any]:
    enc = encoder(result, fmt)
    if enc.document is None:
        raise UsageError(f"the {fmt!r} format of a {type(result).__name__} is not a structured document")
    return enc.document(result, **options)


def dumps(doc: Any, indent: int | None = 2) -> str:
    """The one JSON serialisation of every structured format: strict (no NaN), newline-terminated."""
    return json.dumps(doc, indent=indent, allow_nan=False) + "\n"


class Encodable:
    """Exports of a result, answered by the encoders registered for its class."""

    __slots__ = ()

    def encode(self, fmt: str = "text", **options: Any) -> str:
        out: str = encode(self, fmt, **options)
        return out

    def to_dict(self, **options: Any) -> dict[str, Any]:
        return document(self, "json", **options)

    def to_json(self, indent: int | None = 2, **options: Any) -> str:
        return dumps(self.to_dict(**options), indent)

    def to_dataframe(self, table: str | None = None) -> Any:
        """A pandas DataFrame (``pip install 'imgopt[pandas]'``); some results hold several ``table``s."""
        return encode(self, "dataframe") if table is None else encode(self, "dataframe", table=table)

    def plot(self, kind: str | None = None, ax: Any = None) -> Any:
        """A matplotlib Figure (``pip install 'imgopt[plot]'``); ``kind`` names the chart (each
        result has a default), ``ax`` draws into an existing Axes."""
        return encode(self, "plot", kind=kind, ax=ax)

    def __repr__(self) -> str:
        """One line with the headline numbers (the ``repr`` encoder of the result's type)."""
        if "repr" in _formats_of(type(self)):
            out: str = encode(self, "repr")
            return out
        return f"<{type(self).__name__}>"

    def _repr_html_(self) -> str:
        """The notebook view: a result's ``notebook`` encoder (charts, no page around them), else its ``html``."""
        fmt = "notebook" if "notebook" in _formats_of(type(self)) else "html"
        out: str = encode(self, fmt)
        return out


__all__ = ["Encodable", "Encoder", "document", "dumps", "encode", "encoder", "formats", "register"]
