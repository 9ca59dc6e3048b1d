"""Every document of a run's window, accounted for.

A run reads the documents its query selects, and each one ends up landed, set aside
with a reason (the `_rejects` datasets, duplicates included), or left to the run of
another day it belongs to. The source counts the same query by itself (MongoDB's
`count_documents`, the dump's own pass over its file), and the two must agree: a
difference means documents changed while the run read them, or the pipeline lost some,
and the run fails before it replaces anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ReconciliationError(RuntimeError):
    """The documents a run read and accounted for do not add up to what the source holds."""


@dataclass(frozen=True)
class Reconciliation:
    source: int | None  # documents the source counted for the run's query (None: it cannot count)
    read: int  # documents the run read
    landed: int
    set_aside: int  # rejected with a reason, duplicates included
    other_days: dict[str, int] = field(default_factory=dict)  # day -> documents placed there
    repeated: int = 0  # the same document handed over twice (an API's paging shifted)

    @property
    def elsewhere(self) -> int:
        return sum(self.other_days.values())

    def problems(self) -> list[str]:
        found = []
        if self.source is not None and self.read != self.source:
            found.append(
                f"the source counted {self.source:,} documents for the run's query but the run read {self.read:,}"
            )
        accounted = self.landed + self.set_aside + self.elsewhere + self.repeated
        if accounted != self.read:
            found.append(
                f"{self.read:,} documents read but {accounted:,} accounted for "
                f"({self.landed:,} landed + {self.set_aside:,} set aside + {self.elsewhere:,} on other days"
                f" + {self.repeated:,} repeated)"
            )
        return found

    @property
    def ok(self) -> bool:
        return not self.problems()

    def check(self, what: str) -> Reconciliation:
        """Raise when it does not add up; the caller has replaced nothing yet."""
        if problems := self.problems():
            raise ReconciliationError(
                f"{what}: {'; '.join(problems)}. Documents changed at the source while the run read "
                "them, or the pipeline lost some. Nothing was replaced; re-run the day, and if it "
                "happens again, report it with this message."
            )
        return self

    def line(self) -> str:
        """`1,234 in the source = 1,200 landed + 30 set aside + 4 on other days (…)`."""
        terms = [f"{self.landed:,} landed", f"{self.set_aside:,} set aside"]
        if self.other_days:
            days = ", ".join(f"{day}: {n:,}" for day, n in sorted(self.other_days.items()))
            terms.append(f"{self.elsewhere:,} on other days ({days})")
        if self.repeated:
            terms.append(f"{self.repeated:,} repeated")
        sign = "=" if self.ok else "≠"
        whole = f"{self.source:,} in the source" if self.source is not None else f"{self.read:,} read"
        return f"{whole} {sign} " + " + ".join(terms)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "read": self.read,
            "landed": self.landed,
            "set_aside": self.set_aside,
            "other_days": dict(sorted(self.other_days.items())),
            "repeated": self.repeated,
            "ok": self.ok,
        }
