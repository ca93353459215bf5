"""Fixtures for lane tests: a tiny LFW-style face directory from the shipped public-domain
photos (Obama and Biden with two photos each, the astronaut with one), and a lane rendered
from it with broken events beside the good ones."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def pd_faces(tmp_path_factory, publicdomain: Path, astronaut) -> Path:
    from PIL import Image

    root = tmp_path_factory.mktemp("pd_faces")
    for name, files in (("Barack_Obama", ("obama.jpg", "obama2.jpg")),
                        ("Joe_Biden", ("biden2.jpg", "biden.jpg"))):
        (root / name).mkdir()
        for i, f in enumerate(files, start=1):
            shutil.copyfile(publicdomain / f, root / name / f"{name}_{i:04d}.jpg")
    (root / "Eileen_Collins").mkdir()
    Image.fromarray(astronaut).save(root / "Eileen_Collins" / "Eileen_Collins_0001.jpg")
    return root


@pytest.fixture(scope="module")
def lane(pd_faces: Path, tmp_path_factory):
    from bordermatch import registry
    from bordermatch.gallery.build import enrol
    from bordermatch.gallery.file import save
    from bordermatch.gallery.manifest import write_manifest
    from bordermatch.lane.events import write_event
    from bordermatch.lane.scenario import OccupantPlan, params_for
    from bordermatch.lane.simulate import _Sources, render_vehicle
    from bordermatch.quality.measures import FaceQualityAssessor

    root = tmp_path_factory.mktemp("lane")
    gdir = root / "gallery"
    (gdir / "photos").mkdir(parents=True)
    rows = []
    for tid, person, photo in (("T-OBAMA", "Barack_Obama", "Barack_Obama_0001.jpg"),
                               ("T-BIDEN", "Joe_Biden", "Joe_Biden_0001.jpg")):
        (gdir / "photos" / photo).write_bytes((pd_faces / person / photo).read_bytes())
        rows.append({"traveler_id": tid, "given_names": person.split("_")[0],
                     "surname": person.split("_")[1], "document_type": "P",
                     "document_number": f"D-{tid}", "nationality": "USA", "citizen": "true",
                     "photo": f"photos/{photo}"})
    rows.append({**rows[0], "traveler_id": "T-GHOST", "document_number": "D-GHOST",
                 "photo": "photos/ghost.jpg"})  # a photo that is not there: one rejected row
    write_manifest(gdir / "manifest.csv", rows)
    det = registry.create("detector", "yunet", score_threshold=0.6)
    emb = registry.create("embedder", "sface")
    gallery = enrol(gdir, det, emb, FaceQualityAssessor(), min_quality=30,
                    same_face_threshold=0.9)
    save(gallery, root / "g.npz")

    events = root / "events"
    sources = _Sources(det)
    params = replace(params_for("easy"), glare_prob=0.0)
    obama = OccupantPlan("r1-left", "Barack_Obama",
                         str(pd_faces / "Barack_Obama" / "Barack_Obama_0002.jpg"), "T-OBAMA", False)
    biden = OccupantPlan("r1-right", "Joe_Biden",
                         str(pd_faces / "Joe_Biden" / "Joe_Biden_0002.jpg"), "T-BIDEN", False)
    astro = OccupantPlan("r2-middle", "Eileen_Collins",
                         str(pd_faces / "Eileen_Collins" / "Eileen_Collins_0001.jpg"), None, False)
    rng = np.random.default_rng(7)
    render_vehicle(events / "a-three", "a-three", [obama, biden, astro], sources, rng, params)
    render_vehicle(events / "b-driver", "b-driver", [replace(biden, seat="r1-left")], sources,
                   rng, params)
    # Broken events: each must come back with its own reason.
    (events / "c-bad-json").mkdir()
    (events / "c-bad-json" / "event.json").write_text("{oops")
    write_event(events / "d-empty", "d-empty", [("front", "windshield")])
    write_event(events / "e-unknown-cam", "e-unknown-cam", [("front", "windshield")])
    (events / "e-unknown-cam" / "frames" / "roof").mkdir(parents=True)
    (events / "e-unknown-cam" / "frames" / "roof" / "0000_0.jpg").write_bytes(b"x")
    write_event(events / "f-corrupt", "f-corrupt", [("front", "windshield")])
    (events / "f-corrupt" / "frames" / "front").mkdir(parents=True)
    (events / "f-corrupt" / "frames" / "front" / "0000_0.jpg").write_bytes(b"\xff\xd8garbage")
    # The driver again, with one frame misnamed and one corrupt: skipped, the rest decide.
    shutil.copytree(events / "b-driver", events / "g-odd-frames")
    meta = json.loads((events / "g-odd-frames" / "event.json").read_text())
    (events / "g-odd-frames" / "event.json").write_text(json.dumps({**meta,
                                                                    "event_id": "g-odd-frames"}))
    (events / "g-odd-frames" / "truth.json").unlink()  # scored above through b-driver
    frames = sorted((events / "g-odd-frames" / "frames").glob("*/*.jpg"))
    frames[0].rename(frames[0].with_name("IMG_0001.jpg"))
    frames[1].write_bytes(b"\xff\xd8garbage")
    return root
