"""A booth's review item on the officer pages: the document's photo beside the capture and
the enrolled photo."""

from __future__ import annotations

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
    for which in ("traveler", "capture", "document"):
        assert f"/review/items/{item}/photos/{which}" in page.text, which
    photo = client.get(f"/review/items/{item}/photos/document")
    assert photo.status_code == 200 and photo.content[:4] == b"\x89PNG"
