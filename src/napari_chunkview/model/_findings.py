"""What a quality check found: one frozen ``Finding`` per problem, with where it is, why
it matters and how to fix it (``qc/`` produces them; the CLI, the dock and reports show
them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
#: Most severe first: reports and ``Finding.rank`` sort by this order.
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding is. Every field is optional: a finding about a whole level has no
    ``chunk``, one about the group metadata has no ``level``.

    ``image`` is the store path of the (label) image the finding is about (``""`` for the
    image that was opened); ``level`` its index in ``Pyramid.levels`` (0 = full
    resolution) and ``path`` that level's array path; ``chunk`` the chunk index in C order
    (…, z, y, x — N5 block indices are reversed); ``key`` the store key of the chunk,
    shard or metadata document, relative to the dataset root.
    """

    image: str = ""
    level: int | None = None
    path: str | None = None
    chunk: tuple[int, ...] | None = None
    key: str | None = None

    def describe(self) -> str:
        """``level 1 (s1), chunk (0, 2, 3), key s1/c/0/2/3``."""
        parts = []
        if self.image:
            parts.append(f"image {self.image}")
        if self.level is not None:
            parts.append(f"level {self.level}" + (f" ({self.path})" if self.path else ""))
        if self.chunk is not None:
            parts.append(f"chunk {tuple(self.chunk)}")
        if self.key:
            parts.append(f"key {self.key}")
        return ", ".join(parts) or "dataset"

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "level": self.level,
            "path": self.path,
            "chunk": list(self.chunk) if self.chunk is not None else None,
            "key": self.key,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or a note): ``code`` is stable and machine-readable
    (``chunk.undecodable``); ``what`` says what was found, ``why`` why it matters to
    someone looking at the image, ``fix`` what to do about it. ``count`` > 1 when one
    finding stands for several places of the same kind (e.g. 40 missing chunks of a
    level); ``where`` is then the first of them or the level."""

    severity: Severity
    code: str
    what: str
    where: Location
    why: str
    fix: str
    count: int = 1

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def rank(self) -> tuple[Any, ...]:
        """Sort key: severity first, then place (image, level, chunk), then code."""
        w = self.where
        return (
            SEVERITIES.index(self.severity),
            w.image,
            -1 if w.level is None else w.level,
            w.chunk or (),
            self.code,
            self.what,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "what": self.what,
            "where": self.where.to_dict(),
            "why": self.why,
            "fix": self.fix,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        w = d.get("where") or {}
        chunk = w.get("chunk")
        return cls(
            severity=d["severity"],
            code=d["code"],
            what=d["what"],
            where=Location(
                image=w.get("image", ""),
                level=w.get("level"),
                path=w.get("path"),
                chunk=tuple(chunk) if chunk is not None else None,
                key=w.get("key"),
            ),
            why=d.get("why", ""),
            fix=d.get("fix", ""),
            count=int(d.get("count", 1)),
        )


def ranked(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """``findings`` most severe first (stable for equal ranks)."""
    return tuple(sorted(findings, key=lambda f: f.rank))
