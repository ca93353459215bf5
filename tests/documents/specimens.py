"""The ICAO Doc 9303 specimen MRZs (the fictitious Utopia documents of Parts 4 to 7)."""

from __future__ import annotations

from datetime import date

from bordermatch.documents.mrz import DocumentType

TODAY = date(2026, 12, 1)

SPECIMENS: dict[str, tuple[DocumentType, tuple[str, ...]]] = {
    # Part 4, Appendix A: the TD3 passport data page.
    "td3": (DocumentType.TD3, ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                               "L898902C36UTO7408122F1204159ZE184226B<<<<<10")),
    # Part 5, Appendix A: the TD1 card, and the variant whose document number is longer than
    # nine characters (it continues in the optional data field, its check digit after it).
    "td1": (DocumentType.TD1, ("I<UTOD231458907<<<<<<<<<<<<<<<",
                               "7408122F1204159UTO<<<<<<<<<<<6",
                               "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")),
    "td1_long_number": (DocumentType.TD1, ("I<UTOD23145890<7349<<<<<<<<<<<",
                                           "7408122F1204159UTO<<<<<<<<<<<6",
                                           "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")),
    # Part 6, Appendix A: the TD2 card.
    "td2": (DocumentType.TD2, ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                               "D231458907UTO7408122F1204159<<<<<<<6")),
    # Part 7, Appendix A: the full-size (MRV-A) and the smaller (MRV-B) visa.
    "mrv_a": (DocumentType.MRV_A, ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                                   "L8988901C4XXX4009078F96121096ZE184226B<<<<<<")),
    "mrv_b": (DocumentType.MRV_B, ("V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                                   "L8988901C4XXX4009078F9612109<<<<<<<<")),
}
