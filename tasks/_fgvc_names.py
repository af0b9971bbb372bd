"""The 100 FGVC-Aircraft variants and their manufacturers.

Used to accept a manufacturer prefix ("Boeing 737-300") when the data itself
does not say who made a variant (the official layout's
``images_manufacturer_*.txt`` and a ``manufacturer`` column take precedence).
"""

from __future__ import annotations

_TABLE = {
    "Boeing": "707-320 727-200 737-200 737-300 737-400 737-500 737-600 737-700 737-800 "
    "737-900 747-100 747-200 747-300 747-400 757-200 757-300 767-200 767-300 767-400 "
    "777-200 777-300",
    "Airbus": "A300B4 A310 A318 A319 A320 A321 A330-200 A330-300 A340-200 A340-300 A340-500 A340-600 A380",
    "ATR": "ATR-42 ATR-72",
    "Antonov": "An-12",
    "Canadair": "CRJ-200 CRJ-700 CRJ-900",
    "Cessna": "",
    "Cirrus Aircraft": "SR-20",
    "de Havilland": "DH-82 DHC-1 DHC-6 DHC-8-100 DHC-8-300",
    "Douglas Aircraft Company": "C-47 DC-3 DC-6 DC-8",
    "Embraer": "E-170 E-190 E-195 EMB-120",
    "Fairchild": "Metroliner",
    "Fokker": "",
    "Ilyushin": "Il-76",
    "Lockheed Corporation": "C-130 L-1011",
    "Lockheed Martin": "F-16A/B",
    "McDonnell Douglas": "DC-10 DC-9-30 F/A-18 MD-11 MD-80 MD-87 MD-90",
    "Panavia": "Tornado",
    "Piper": "PA-28",
    "Robin": "DR-400",
    "Supermarine": "Spitfire",
    "Tupolev": "Tu-134 Tu-154",
    "Yakovlev": "Yak-42",
}

# Variant names containing spaces, by manufacturer.
_SPACED = {
    "Boeing": ["Boeing 717"],
    "Beechcraft": ["Beechcraft 1900", "Model B200"],
    "Bombardier Aerospace": ["Challenger 600", "Global Express"],
    "British Aerospace": ["BAE 146-200", "BAE 146-300", "BAE-125", "Hawk T1"],
    "Cessna": ["Cessna 172", "Cessna 208", "Cessna 525", "Cessna 560"],
    "Dassault Aviation": ["Falcon 2000", "Falcon 900"],
    "Dornier": ["Dornier 328"],
    "Embraer": ["ERJ 135", "ERJ 145", "Embraer Legacy 600"],
    "Eurofighter": ["Eurofighter Typhoon"],
    "Fokker": ["Fokker 100", "Fokker 50", "Fokker 70"],
    "Gulfstream Aerospace": ["Gulfstream IV", "Gulfstream V"],
    "Saab": ["Saab 2000", "Saab 340"],
}

MANUFACTURER: dict[str, str] = {}
for _maker, _names in _TABLE.items():
    for _name in _names.split():
        MANUFACTURER[_name] = _maker
for _maker, _names in _SPACED.items():
    for _name in _names:
        MANUFACTURER[_name] = _maker
