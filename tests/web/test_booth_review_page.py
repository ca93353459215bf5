"""A booth's review item on the officer pages: the document's photo beside the capture and
the enrolled photo."""

from __future__ import annotations

import re

from tests.api.booth_helpers import booth, chip_of, enrol, mrz_lines, new_passports
from tests.web.web_helpers import sign_in


def test_a_booth_item_shows_the_document_photo(client, tokens, gallery, photos):
    # No trust store is configured here: every chip is untrusted, so this one is for review.
    enrol(client, tokens, gallery, "T-OBAMA", photos["obama"], "X100")
    chip = chip_of(photos["obama"], mrz_lines("OBAMA", "BARACK", "X100"), new_passports().pki)
    r = booth(client, tokens["booth_device"], gallery, photos["obama2"], chip=chip)
    assert r.status_code == 201 and r.json()["reasons"] == ["untrusted_chip"], r.text

    queue = sign_in(client, tokens["officer"])
    item = queue.text.split('data-item="')[1].split('"')[0]
    page = client.get(f"/review/items/{item}")
    assert "Untrusted" in page.text or "untrusted" in page.text
    shown = set(re.findall(rf"/review/items/{item}/photos/((?:ref|cap|doc)-[0-9a-f-]+)",
                           page.text))
    assert {p.split("-")[0] for p in shown} == {"ref", "cap", "doc"}, shown
    [doc] = [p for p in shown if p.startswith("doc-")]
    photo = client.get(f"/review/items/{item}/photos/{doc}")
    assert photo.status_code == 200 and photo.content[:4] == b"\x89PNG"
