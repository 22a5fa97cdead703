"""What a load run did: per drop results and the run's `LoadReport`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DropResult:
    """One drop's outcome: `loaded`, `replaced` (forced reload) or `skipped` (already loaded)."""

    drop_id: str
    status: str
    reconciliation: list[dict] = field(default_factory=list)  # raw.reconciliation rows


@dataclass(frozen=True)
class LoadReport:
    """Drops loaded/skipped by one run, the reconciliation rows written, and row totals."""

    drops_loaded: list[str]
    drops_skipped: list[str]
    reconciliation: list[dict]
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int

    @classmethod
    def from_results(cls, results: list[DropResult]) -> LoadReport:
        recon = [r for res in results for r in res.reconciliation]
        return cls(
            drops_loaded=[r.drop_id for r in results if r.status != "skipped"],
            drops_skipped=[r.drop_id for r in results if r.status == "skipped"],
            reconciliation=recon,
            rows_read=sum(r["rows_read"] for r in recon),
            rows_loaded=sum(r["rows_loaded"] for r in recon),
            rows_duplicate=sum(r["rows_duplicate"] for r in recon),
            rows_quarantined=sum(r["rows_quarantined"] for r in recon),
        )

    @property
    def nothing_new(self) -> bool:
        return not self.drops_loaded

    def summary_text(self) -> str:
        """A readable table of the run: one line per file loaded, totals, skipped drops."""
        lines: list[str] = []
        if self.nothing_new:
            lines.append(
                f"nothing new: {len(self.drops_skipped)} drop(s) already loaded, none to load"
            )
            return "\n".join(lines)
        head = ("drop", "file", "manifest", "read", "loaded", "duplicate", "quarantined", "ok")
        rows = [
            (
                r["drop_id"],
                r["file"],
                f"{r['rows_manifest']:,}",
                f"{r['rows_read']:,}",
                f"{r['rows_loaded']:,}",
                f"{r['rows_duplicate']:,}",
                f"{r['rows_quarantined']:,}",
                "yes" if r["balanced"] else "NO",
            )
            for r in self.reconciliation
        ]
        rows.append(
            (
                "total",
                "",
                "",
                f"{self.rows_read:,}",
                f"{self.rows_loaded:,}",
                f"{self.rows_duplicate:,}",
                f"{self.rows_quarantined:,}",
                "",
            )
        )
        widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]

        def fmt(row: tuple) -> str:
            return "  ".join(
                str(v).ljust(w) if i < 2 else str(v).rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()

        lines.append(f"loaded {len(self.drops_loaded)} drop(s): {', '.join(self.drops_loaded)}")
        if self.drops_skipped:
            lines.append(f"skipped {len(self.drops_skipped)} drop(s) already loaded")
        lines.append(fmt(head))
        lines.extend(fmt(r) for r in rows)
        return "\n".join(lines)
