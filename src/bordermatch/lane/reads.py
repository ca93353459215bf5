"""Simulated document reads: which travel documents a lane's antennas and booth read for a
vehicle (DESIGN.md ``documents`` in event.json).

Reads are incomplete (a passport book has no RFID, a card stays in a bag), can name someone
who is not enrolled, and can come from the car in the next lane. The draws use their own
random stream, so a seed renders the same pixels whatever these parameters are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bordermatch.lane.events import DocumentRead
from bordermatch.lane.scenario import OccupantPlan, SimParams

Document = tuple[str, str, str]  # document_type, document_number, nationality


def occupant_reads(rng: np.random.Generator, p: SimParams, plans: Sequence[OccupantPlan],
                   documents: Mapping[str, Sequence[Document]],
                   nationalities: Sequence[str]) -> tuple[list[DocumentRead], list[bool]]:
    """The reads of one vehicle's own occupants, and for each occupant whether it was read."""
    reads, read = [], []
    for o in plans:
        if o.traveler_id is not None:
            hit = bool(rng.random() < p.document_read_prob)
            if hit:
                held = documents[o.traveler_id]
                doc = held[int(rng.integers(len(held)))]
                reads.append(_read(rng, p, doc))
        else:
            hit = bool(rng.random() < p.unenrolled_document_prob)
            if hit:  # a card of someone the gallery does not hold
                doc = ("C", f"U{rng.integers(10**7, 10**8)}",
                       str(nationalities[int(rng.integers(len(nationalities)))]))
                reads.append(_read(rng, p, doc))
        read.append(hit)
    return reads, read


def stray_read(rng: np.random.Generator, p: SimParams, present: set[str],
               documents: Mapping[str, Sequence[Document]]) -> DocumentRead | None:
    """With ``stray_read_prob``, a card of an enrolled traveller who is not in this car."""
    if rng.random() >= p.stray_read_prob:
        return None
    others = sorted(t for t in documents if t not in present)
    if not others:
        return None
    held = documents[others[int(rng.integers(len(others)))]]
    return DocumentRead(*held[0], source="rfid")


def _read(rng: np.random.Generator, p: SimParams, doc: Document) -> DocumentRead:
    return DocumentRead(*doc, source="mrz" if rng.random() < p.document_mrz_share else "rfid")


def write_reads(folder: Path, reads: Sequence[DocumentRead], read: Sequence[bool]) -> None:
    """Add the reads to event.json and, per occupant, whether theirs was read to truth.json."""
    event = json.loads((folder / "event.json").read_text())
    event["documents"] = [{"document_type": d.document_type,
                           "document_number": d.document_number,
                           "nationality": d.nationality, "source": d.source} for d in reads]
    (folder / "event.json").write_text(json.dumps(event, indent=1))
    truth = json.loads((folder / "truth.json").read_text())
    for occ, hit in zip(truth["occupants"], read, strict=True):
        occ["document_read"] = hit
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))
