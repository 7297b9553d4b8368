"""Results: figures beside their baselines and targets, rendered as a table and as JSON."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass, field
from typing import Any, Literal

from bench.stats import ratio

VOID_CPU_PERCENT = 90.0
"""A generator busier than this was the bottleneck, so the figure says nothing about us."""

Status = Literal["ok", "skipped", "error"]


@dataclass(frozen=True, slots=True)
class Target:
    """`ratio >= 0.5`, or on the value itself (`value <= 3`) when `on_value`."""

    op: Literal[">=", "<="]
    bound: float
    on_value: bool = False

    def met(self, value: float | None) -> bool | None:
        if value is None or math.isnan(value):
            return None
        return value >= self.bound if self.op == ">=" else value <= self.bound

    def __str__(self) -> str:
        subject = "value" if self.on_value else "ratio"
        return f"{subject} {self.op} {self.bound:g}"


@dataclass(slots=True)
class Figure:
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    target: Target | None = None
    generator_cpu: float | None = None
    """Highest load-generator CPU (% of one core) among the runs behind this figure."""

    @property
    def ratio(self) -> float | None:
        return ratio(self.value, self.baseline)

    @property
    def void(self) -> bool:
        return self.generator_cpu is not None and self.generator_cpu > VOID_CPU_PERCENT

    @property
    def verdict(self) -> str:
        if self.void:
            return "VOID"
        if self.target is None:
            return "-"
        met = self.target.met(self.value if self.target.on_value else self.ratio)
        return {True: "pass", False: "MISS", None: "n/a"}[met]

    def to_json(self) -> dict[str, Any]:
        return {
            "value": _finite(self.value),
            "unit": self.unit,
            "baseline": _finite(self.baseline),
            "ratio": _finite(self.ratio),
            "target": str(self.target) if self.target else None,
            "verdict": self.verdict,
            "void": self.void,
            "generatorCpuPercent": _finite(self.generator_cpu),
        }


@dataclass(slots=True)
class ScenarioResult:
    name: str
    status: Status = "ok"
    reason: str | None = None
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "skipped": self.status == "skipped",
            "reason": self.reason,
            "figures": {figure.name: figure.to_json() for figure in self.figures},
            "notes": self.notes,
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


HEADERS = ("scenario", "figure", "value", "baseline", "ratio", "target", "gen cpu", "verdict")


def table(results: list[ScenarioResult]) -> str:
    rows: list[tuple[str, ...]] = []
    for result in results:
        if result.status != "ok":
            rows.append((result.name, f"{result.status}: {result.reason}", *("",) * 6))
            continue
        for figure in result.figures:
            cpu = "-" if figure.generator_cpu is None else f"{figure.generator_cpu:.0f}%"
            rows.append(
                (
                    result.name,
                    figure.name,
                    _fmt(figure.value, figure.unit),
                    _fmt(figure.baseline, figure.unit),
                    _fmt(figure.ratio),
                    str(figure.target) if figure.target else "-",
                    cpu,
                    figure.verdict,
                )
            )
    widths = [max(len(row[i]) for row in (HEADERS, *rows)) for i in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (HEADERS, *rows)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
