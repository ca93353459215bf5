"""Passengers for ``bordermatch gate simulate``, and what their boarding answers mean.

A simulated flight draws its passengers from LFW: a *mated* passenger is on the manifest,
enrolled with one of their photos, and boards with a different photo of theirs; a
*non-mated* passenger is not on the manifest (another person entirely) and boards anyway.
The airline partner learns only match or no match, so the figures are counts of answers:
FNIR = mated passengers not matched / mated passengers boarded, FPIR = non-mated
passengers matched / non-mated passengers boarded, both at the service's own operating
point. Pure apart from listing the LFW directory.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bordermatch.errors import InputError

# The image directory inside an LFW copy (../shared/data/lfw/README: the deep-funneled set).
LFW_IMAGES = "lfw-deepfunneled"


@dataclass(frozen=True, slots=True)
class Passenger:
    traveler_id: str
    name: str  # the LFW person, e.g. "Aaron_Peirsol"
    gate_photo: Path  # what the gate camera sends
    reference: Path | None  # the manifest photo; None for a passenger not on the manifest

    @property
    def mated(self) -> bool:
        return self.reference is not None


@dataclass(frozen=True, slots=True)
class Answer:
    """The partner's answer for one passenger: matched, or the error code that came back."""

    passenger: Passenger
    matched: bool
    seconds: float  # the whole HTTP round trip, as the gate device waits for it
    error: str | None = None  # a problem+json code (e.g. no_face): the partner got no match


def gate_view(path: Path, frame: float) -> bytes:
    """What the gate camera sends: the central ``frame`` share of the photo, as JPEG.

    LFW photos are news photos, and about one in ten shows a bystander's face as well
    (at the gate detector's operating point, 13 of 120 sampled photos held two or more
    faces whole, 7 of 200 cropped to 0.7, none of 120 cropped to 0.6); a boarding camera
    frames one passenger, and boarding refuses a photo with two faces (422
    ``too_many_faces``, counted as no match). ``frame=1`` sends the file unchanged."""
    data = Path(path).read_bytes()
    if not 0.0 < frame <= 1.0:
        raise InputError(f"--frame must be within (0, 1], not {frame}")
    if frame == 1.0:
        return data
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        rgb = img.convert("RGB")
    w, h = rgb.size
    cw, ch = max(1, round(w * frame)), max(1, round(h * frame))
    left, top = (w - cw) // 2, (h - ch) // 2
    out = io.BytesIO()
    rgb.crop((left, top, left + cw, top + ch)).save(out, "JPEG", quality=95)
    return out.getvalue()


def lfw_people(lfw_dir: Path) -> dict[str, list[Path]]:
    """Person -> their images (sorted), from ``lfw_dir/lfw-deepfunneled/<Name>/*.jpg``."""
    root = Path(lfw_dir) / LFW_IMAGES
    if not root.is_dir():
        raise InputError(f"{root}: no LFW images (expected {LFW_IMAGES}/<Name>/<Name>_NNNN.jpg)")
    people = {}
    for d in sorted(root.iterdir()):
        if d.is_dir():
            images = sorted(d.glob("*.jpg"))
            if images:
                people[d.name] = images
    return people


def choose_passengers(people: dict[str, list[Path]], n: int, non_mated_share: float,
                      seed: int) -> list[Passenger]:
    """``n`` passengers in boarding order: ``round(n * non_mated_share)`` not on the manifest.

    Mated passengers come from people with at least two images (one to enrol, another at
    the gate); non-mated ones from everyone else not chosen, so no non-mated face belongs
    to anyone on the manifest. The same people, photos and order for the same seed."""
    if n < 1:
        raise InputError(f"--passengers must be at least 1, not {n}")
    if not 0.0 <= non_mated_share <= 1.0:
        raise InputError(f"--non-mated-share must be within [0, 1], not {non_mated_share}")
    rng = random.Random(seed)
    n_non = round(n * non_mated_share)
    n_mated = n - n_non
    several = [p for p, imgs in people.items() if len(imgs) >= 2]
    if n_mated > len(several):
        raise InputError(f"{n_mated} mated passengers need as many people with two photos; "
                         f"this LFW copy has {len(several)}")
    mated_names = rng.sample(several, n_mated)
    chosen = set(mated_names)
    others = [p for p in people if p not in chosen]
    if n_non > len(others):
        raise InputError(f"{n_non} non-mated passengers need as many other people; "
                         f"this LFW copy has {len(others)}")
    out = []
    for i, name in enumerate(mated_names):
        reference, gate = rng.sample(people[name], 2)
        out.append(Passenger(f"SIM-{i:05d}", name, gate, reference))
    for i, name in enumerate(rng.sample(others, n_non)):
        out.append(Passenger(f"SIM-X{i:05d}", name, rng.choice(people[name]), None))
    rng.shuffle(out)
    return out


def manifest_rows(passengers: Iterable[Passenger]) -> list[dict[str, str]]:
    """The manifest of the mated passengers: one row each, the photo named ``photos/<file>``."""
    rows = []
    for p in passengers:
        if p.reference is None:
            continue
        given, _, surname = p.name.partition("_")
        rows.append({"traveler_id": p.traveler_id, "given_names": given,
                     "surname": surname or given, "document_type": "P",
                     "document_number": f"D{p.traveler_id}", "nationality": "UTO",
                     "citizen": "false", "photo": f"photos/{p.reference.name}"})
    return rows


def _upper_95(k: int, n: int) -> float | None:
    """Clopper-Pearson one-sided 95 % upper bound of a rate seen k times in n."""
    if n == 0:
        return None
    if k >= n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(0.95, k + 1, n - k))


def summarise(answers: Sequence[Answer], failed_to_enrol: int,
              target_fpir: float) -> dict:
    """Counts first, rates second, so that a reader sees the sample size behind each rate."""
    mated = [a for a in answers if a.passenger.mated]
    non = [a for a in answers if not a.passenger.mated]
    missed = sum(not a.matched for a in mated)
    false_matches = sum(a.matched for a in non)
    ms = np.asarray([a.seconds for a in answers]) * 1000.0
    errors: dict[str, int] = {}
    for a in answers:
        if a.error:
            errors[a.error] = errors.get(a.error, 0) + 1
    fpir = false_matches / len(non) if non else None
    refused = [a for a in answers if a.error]
    return {
        "passengers": len(answers),
        "mated": len(mated), "missed": missed,
        "fnir": missed / len(mated) if mated else None,
        "fnir_upper_95": _upper_95(missed, len(mated)),
        "non_mated": len(non), "false_matches": false_matches,
        "fpir": fpir, "fpir_upper_95": _upper_95(false_matches, len(non)),
        "target_fpir": target_fpir,
        # 1/n is the smallest FPIR that n non-mated passengers can show at all.
        "fpir_resolvable": bool(non) and 1.0 / len(non) <= target_fpir,
        "within_target_fpir": fpir is not None and fpir <= target_fpir,
        "failed_to_enrol": failed_to_enrol,
        # Refused photos are in the counts above: the partner got no match for them.
        "refused_mated": sum(a.passenger.mated for a in refused),
        "refused_non_mated": sum(not a.passenger.mated for a in refused),
        "errors": errors,
        "ms_p50": float(np.percentile(ms, 50)) if len(ms) else None,
        "ms_p95": float(np.percentile(ms, 95)) if len(ms) else None,
    }
