"""CI gate rules: dive's three (same names, defaults and comparisons) plus imgopt's own."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:
    from . import Analysis

PASS, FAIL, SKIP = "pass", "fail", "skip"

# dive's defaults (cmd/dive/cli/internal/options/ci_rules.go)
DEFAULTS: dict[str, str] = {
    "lowestEfficiency": "0.9",
    "highestWastedBytes": "disabled",
    "highestUserWastedPercent": "0.1",
    "maxSize": "disabled",
    "maxReclaimable": "disabled",
}

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ti": 1024**4,
    "tib": 1024**4,
    "p": 1000**5,
    "pb": 1000**5,
    "pi": 1024**5,
    "pib": 1024**5,
}
_BYTES = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(text: str) -> int:
    """Parse a size as go-humanize's ParseBytes does: SI (kB, MB) and IEC (KiB, MiB) units."""
    m = _BYTES.match(text)
    if not m or m.group(2).lower() not in _UNITS:
        raise UsageError(f"cannot parse {text!r} as a size (examples: 20MB, 1.5GiB, 300000)")
    return int(float(m.group(1).replace(",", "")) * _UNITS[m.group(2).lower()])


def disabled(value: str) -> bool:
    return value.strip().lower() in ("", "disabled", "off", "false")


@dataclass(frozen=True, slots=True)
class RuleResult:
    key: str
    configured: str
    status: str
    message: str


def _ratio(key: str, value: str) -> float:
    try:
        v = float(value)
    except ValueError as e:
        raise UsageError(f"invalid {key} value {value!r}: not a number") from e
    if not 0 <= v <= 1:
        raise UsageError(f"{key} value {value!r} is outside the allowed range 0-1")
    return v


def validate(config: dict[str, str]) -> None:
    """Reject bad values before any image is read."""
    for key, value in config.items():
        if disabled(value):
            continue
        if key in ("lowestEfficiency", "highestUserWastedPercent"):
            _ratio(key, value)
        elif key in ("highestWastedBytes", "maxSize", "maxReclaimable"):
            parse_bytes(value)
        else:
            raise UsageError(f"unknown CI rule {key!r}")


def evaluate(analysis: Analysis, config: dict[str, str]) -> list[RuleResult]:
    """Evaluate every rule; ``config`` maps rule keys to values (missing keys take defaults)."""
    cfg = {**DEFAULTS, **config}
    validate(cfg)
    d = analysis.dive
    out: list[RuleResult] = []

    def add(key: str, failed: bool, message: str) -> None:
        out.append(RuleResult(key, cfg[key], FAIL if failed else PASS, message if failed else ""))

    for key in ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent", "maxSize", "maxReclaimable"):
        value = cfg[key]
        if disabled(value):
            out.append(RuleResult(key, value, SKIP, "rule disabled"))
            continue
        if key == "lowestEfficiency":
            t = _ratio(key, value)
            add(
                key,
                t > d.efficiency,
                f"image efficiency is too low (efficiency={d.efficiency:.4f} < threshold={value})",
            )
        elif key == "highestWastedBytes":
            b = parse_bytes(value)
            add(key, d.wasted_bytes > b, f"too many bytes wasted (wasted-bytes={d.wasted_bytes} > threshold={b})")
        elif key == "highestUserWastedPercent":
            t = _ratio(key, value)
            pct = d.user_wasted_percent
            add(
                key,
                not math.isnan(pct) and pct > t,
                "too many bytes wasted, relative to the user bytes added "
                f"(%-user-wasted-bytes={pct:.4f} > threshold={value})",
            )
        elif key == "maxSize":
            b = parse_bytes(value)
            add(key, analysis.size_bytes > b, f"image is too large (size={analysis.size_bytes} > threshold={b})")
        else:
            b = parse_bytes(value)
            r = analysis.reclaimable_bytes
            add(key, r > b, f"too many reclaimable bytes (reclaimable={r} > threshold={b})")
    return out


def load_dive_ci(text: str) -> dict[str, str]:
    """Read the ``rules:`` of a .dive-ci YAML file."""
    import yaml

    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise UsageError(f".dive-ci is not valid YAML: {str(e).splitlines()[0]}") from e
    rules = doc.get("rules", {}) if isinstance(doc, dict) else None
    if not isinstance(rules, dict):
        raise UsageError(".dive-ci must hold a 'rules:' mapping")
    out = {str(k): str(v) for k, v in rules.items() if v is not None}
    validate(out)
    return out
