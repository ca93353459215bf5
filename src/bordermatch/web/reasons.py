"""What the review pages say about why an item needs an officer, in plain language.

Every reason the code base produces has a sentence here: the one decision path's reasons
(``types.Reason``: review band, runner-up, alias, opted out, no capture, and the two that
never reach review, above and below threshold) and the kinds of item raised elsewhere
(an alias alert at enrolment, a document read whose holder no face matched, a tampered
document chip, a fingerprint watchlist hit). A test checks that none is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bordermatch.types import Reason

TITLES = {
    "review_band": "Score in the review band",
    "runner_up": "Another identity also fits",
    "alias": "Matches an identity flagged as an alias",
    "opted_out": "Opted out: manual inspection",
    "no_capture": "No usable face",
    "below_threshold": "Below the review threshold",
    "above_threshold": "Match",
    "alias_alert": "Alias alert at enrolment",
    "unmatched_document": "Document read, no face matched",
    "tampered_chip": "Document chip failed authentication",
    "untrusted_chip": "Document chip signed by an untrusted issuer",
    "unsupported_chip": "Document chip could not be checked",
    "invalid_mrz": "Document data fails its check digits",
    "expired_document": "Travel document expired",
    "no_document_face": "No face on the document",
    "no_match": "Face does not match the document",
    "fingerprint_hit": "Fingerprint watchlist hit",
}

# {traveler}, {other}, {score}, {threshold}, {review}, {runner_up}, {rate}, {target} come
# from the item's decision (ReviewItem.basis); a missing one reads "unknown".
SENTENCES = {
    "review_band": "The face scored {score} against {traveler}: at or above the review "
                   "threshold ({review}) but below the match threshold ({threshold}), so "
                   "the system neither matched nor rejected it.",
    "runner_up": "The face reached the match threshold for {traveler} ({score}, threshold "
                 "{threshold}), but another identity, {other}, also scored {runner_up}, "
                 "at or above the review threshold ({review}). A twin, a look-alike or one "
                 "person under two names: decide which identity this is, if either.",
    "alias": "The face reached the match threshold for {traveler} ({score}, threshold "
             "{threshold}), and {other} also scored {runner_up}; an open alias alert says "
             "these two identities may be one face. The score is high because the face "
             "matches both: decide which identity this traveller is.",
    "opted_out": "The traveller declined the photo, so no face was matched. Inspect the "
                 "travel document by hand.",
    "no_capture": "No face of usable quality was captured, so nothing was matched.",
    "below_threshold": "The face scored {score}, below the review threshold: no identity "
                       "fits.",
    "above_threshold": "The face scored {score} against {traveler}, at or above the match "
                       "threshold ({threshold}).",
    "alias_alert": "At enrolment this face scored {score} against {other}, at or above the "
                   "alias threshold ({threshold}, {rate} {target}): the same face may be "
                   "enrolled under two identities.",
    "unmatched_document": "A travel document of {traveler} was read in this vehicle, but no "
                          "face in it matched them. The holder may not be in the vehicle, "
                          "may be hiding, or the card was read from the next lane.",
    "tampered_chip": "The chip of the travel document failed passive authentication: a "
                     "data group hash or a signature does not verify, so its photo and "
                     "data cannot be trusted, whatever the face score.",
    "untrusted_chip": "The chip's signature chains to no trusted country signing "
                      "certificate (CSCA), so the booth cannot tell a genuine chip from a "
                      "forged one. Inspect the document by hand.",
    "unsupported_chip": "The chip uses an algorithm or structure the booth cannot verify: "
                        "its data is unchecked. Inspect the document by hand.",
    "invalid_mrz": "The document's machine-readable zone fails a check digit or a field "
                   "check, although the chip signed it: inspect the document.",
    "expired_document": "The travel document is past its expiry date.",
    "no_document_face": "No face was found in the document's photo, so the live face could "
                        "not be compared with it.",
    "no_match": "The live face scored {score} against the document's photo, below the "
                "match threshold ({threshold}): it may not be the holder.",
    "fingerprint_hit": "A handheld fingerprint search hit a subject on the watchlist: the "
                       "fused Bozorth3 score {score} reached the threshold {threshold}, set "
                       "for {rate} {target} on this watchlist. Compare each print with the "
                       "enrolled print beside it; the device was told only that an officer "
                       "will review it.",
}

DOCUMENT_NOTE = ("The match was verified 1:few against a travel document read for this "
                 "encounter, at {rate} {target}.")
# A normalised document decision's threshold is this capture's own (match.normalise).
SCALE_NOTE = ("The threshold is this capture's own for this traveller: the {rate} {target} "
              "threshold set against how the capture scores against everyone in the "
              "gallery and how this traveller's photo scores against other people.")

# Standard reasons an officer gives with one key (1, 2, ...) after "a" or "r".
PRESETS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "encounter": {"accept": ("Same person as the reference photo",
                             "Same person, checked against the travel document"),
                  "reject": ("Not the same person",
                             "Capture unusable: sent to secondary inspection")},
    "alias": {"accept": ("Different people: the two identities are not one person",),
              "reject": ("One person holds both identities",)},
    "unmatched_document": {"accept": ("Holder seen in the vehicle and verified",),
                           "reject": ("Holder not in the vehicle",
                                      "Card read from another lane")},
    "manual_inspection": {"accept": ("Travel document inspected, traveller verified",),
                          "reject": ("Traveller could not be verified",)},
    "tampered_chip": {"accept": ("Document inspected by hand and found genuine",),
                      "reject": ("Document not genuine: retained for examination",)},
    "fingerprint_hit": {"accept": ("Prints compared: the hit is this person",),
                        "reject": ("Prints compared: not this person",)},
}
DEFAULT_PRESETS = {"accept": ("Checked and confirmed",), "reject": ("Checked: not confirmed",)}


@dataclass(frozen=True, slots=True)
class Explanation:
    code: str
    title: str
    sentence: str


def explain(code: str, values: Mapping[str, object], source: str | None = None,
            scale: str | None = None) -> Explanation:
    """The title and sentence for a reason code, filled from the item's decision."""
    text = SENTENCES.get(code)
    if text is None:  # a reason added later: say so rather than guess
        return Explanation(code, code.replace("_", " ").capitalize(),
                           f"Sent to review for the reason {code!r}.")
    filled = {k: _show(values.get(k)) for k in ("traveler", "other", "score", "threshold",
                                                  "review", "runner_up", "rate", "target")}
    sentence = text.format(**filled)
    if source == "document":
        sentence += " " + DOCUMENT_NOTE.format(**filled)
        if scale is not None:
            sentence += " " + SCALE_NOTE.format(**filled)
    return Explanation(code, TITLES.get(code, code), sentence)


def presets(kind: str) -> Mapping[str, tuple[str, ...]]:
    return PRESETS.get(kind, DEFAULT_PRESETS)


def _show(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e-2 else f"{value:.2f}"
    return str(value)


def every_reason() -> tuple[str, ...]:
    """Every reason code the page can be asked to explain."""
    return (*(r.value for r in Reason), "alias_alert", "unmatched_document", "tampered_chip",
            "fingerprint_hit")
