"""Three-letter codes accepted for the issuing state and nationality fields (ICAO 9303 Part 3, 5).

The ISO 3166-1 alpha-3 list was taken from pycountry 26.2.16 (ISO 3166 as of February 2026) and
frozen here so that validation never depends on an installed package's version.
"""

from __future__ import annotations

ISO_3166_ALPHA3 = frozenset("""
    ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR
    BHR BHS BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG
    COK COL COM CPV CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH
    FIN FJI FLK FRA FRO FSM GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY
    HKG HMD HND HRV HTI HUN IDN IMN IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM
    KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL
    MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR
    NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK PRT PRY PSE PYF QAT REU ROU RUS RWA SAU
    SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR SVK SVN SWE SWZ SXM SYC SYR TCA
    TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY USA UZB VAT VCT VEN VGB
    VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
""".split())  # noqa: SIM905 (a grid of 249 codes reads better than a 249-item literal)

# Doc 9303 Part 3, section 5: codes outside ISO 3166 that ICAO assigns or recognises. Germany
# writes its one-letter code "D" padded with fillers; the padded form is what the MRZ carries.
ICAO_SPECIAL: dict[str, str] = {
    "D<<": "Germany",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    "UNO": "United Nations Organization or one of its officials",
    "UNA": "Specialized agency of the United Nations or one of its officials",
    "UNK": "Resident of Kosovo to whom a travel document has been issued by UNMIK",
    "EUE": "European Union",
    "XBA": "African Development Bank",
    "XIM": "African Export-Import Bank",
    "XCC": "Caribbean Community or one of its emissaries",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa",
    "XDC": "Southern African Development Community",
    "XEC": "Economic Community of West African States",
    "XES": "Organisation of Eastern Caribbean States",
    "XOM": "Sovereign Military Order of Malta",
    "XPO": "International Criminal Police Organization (INTERPOL)",
    "XXA": "Stateless person (1954 Convention)",
    "XXB": "Refugee (1951 Convention or 1967 Protocol)",
    "XXC": "Refugee (other than XXB)",
    "XXX": "Person of unspecified nationality",
    # Not assigned by ICAO, but printed on Kosovo's own passports and read at every border.
    "RKS": "Kosovo",
    # The fictitious state of the Doc 9303 specimens.
    "UTO": "Utopia (ICAO specimen)",
}

ALL_CODES = ISO_3166_ALPHA3 | frozenset(ICAO_SPECIAL)


def is_known_code(code: str) -> bool:
    """True for an ISO 3166-1 alpha-3 or ICAO-specific code as written in the MRZ ("D<<")."""
    return code in ALL_CODES
