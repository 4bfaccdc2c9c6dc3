"""Encoders: every output format of every result, registered with :mod:`imgopt.encoding` on import.

``text`` (tabulate + humanize), ``json`` (versioned documents), ``sarif`` (lint), ``markdown`` and
``html`` (compare, optimize; notebook reprs), ``dataframe`` (pandas).
"""

from __future__ import annotations

from ..units import human
from . import compare, fleetfmt, frames, html, jsonfmt, lintfmt, pages, plots, reprs, text  # noqa: F401  (registration)

__all__ = ["human"]
