"""How Metapsy codes and free text map to the evidence vocabulary, both ways.

Condition codes and their labels follow the database's ``variable_description.json``; the
setting and dosage parsers read free text only where it is unambiguous (one setting named; a
number of days per week or hours per day stated once and not as approximate).
"""

from __future__ import annotations

import re
import unicodedata

CONDITIONS: dict[str, tuple[str, str]] = {
    "mbt": ("mbt", "Mentalization-based treatment"),
    "dbt": ("specialised_psychotherapy", "Dialectical behaviour therapy"),
    "cbt": ("specialised_psychotherapy", "Cognitive behaviour therapy"),
    "st": ("specialised_psychotherapy", "Schema therapy"),
    "tfp": ("specialised_psychotherapy", "Transference-focused psychotherapy"),
    "ipt": ("specialised_psychotherapy", "Interpersonal psychotherapy"),
    "mixed": ("specialised_psychotherapy", "Mixed approaches"),
    "pdp": ("psychodynamic", "Psychodynamic psychotherapy"),
    "tau": ("tau", "Treatment as usual"),
    "gt": ("scm", "Generic treatment for BPD (structured clinical or case management)"),
    "ctbe": ("tau", "Community treatment by experts (specialist treatment as usual)"),
}
"""Metapsy condition code (lower case; the database's ``variable_description.json``) -> kit condition, label."""
COUNTRIES = {
    "eu": "Europe",
    "us": "USA",
    "uk": "UK",
    "can": "Canada",
    "au": "Australia or New Zealand",
    "eas": "East Asia",
    "oth": "other",
    "nr": "not reported",
}
DOMAINS = {
    "bpd severity": "borderline_features",
    "suicidal behaviour": "suicide_attempts",
    "suicidal behavior": "suicide_attempts",
}
HIGHER_IS_BETTER = {"whoqol-bref"}
"""Instruments of the BPD database on which higher scores are better (quality of life)."""
ROB = {"low": "low", "low risk": "low", "some concerns": "some_concerns", "high": "high", "high risk": "high"}
ROB_DOMAINS = {
    "RoB_D1": "rob_selection",
    "RoB_D2": "rob_deviations",
    "RoB_D3": "rob_attrition",
    "RoB_D4": "rob_measurement",
    "RoB_D5": "rob_reporting",
    "overall_RoB": "rob_overall",
}
CHANGE_ANALYSIS = "change from baseline (Metapsy change scores)"
SETTINGS = (
    ("intensive_outpatient", r"intensive outpatient"),
    ("day_hospital", r"day[- ]?hospital|partial[- ]hospital"),
    ("inpatient", r"\binpatient|\bresidential"),
    ("outpatient", r"(?<!intensive )\boutpatient"),
)
DOSAGE = {
    "days_per_week": r"(?<!approx\. )(?<!approximately )\b(\d+(?:[.,]\d+)?)\s*days?\s*/\s*week",
    "hours_per_day": r"(?<!approx\. )(?<!approximately )\b(\d+(?:[.,]\d+)?)\s*h(?:ours?)?\s*/\s*day",
}
SEVERITY = ("low", "some_concerns", "high")


def number_text(value: float) -> str:
    """A number as the evidence tables write it: shortest decimal, no trailing ``.0``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def study_id(label: str) -> str:
    """``Kredlow, 2017a`` -> ``Kredlow2017a`` (accents folded, only letters and digits)."""
    return re.sub(r"[^A-Za-z0-9]", "", unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode())


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9+]+", "-", unicodedata.normalize("NFKD", text)).strip("-") or "x"


def parse_setting(text: str) -> str:
    """The one setting ``text`` names (:data:`SETTINGS`), else ``not_reported``."""
    found = {name for name, pattern in SETTINGS if re.search(pattern, text, re.IGNORECASE)}
    return found.pop() if len(found) == 1 else "not_reported"


def parse_dosage(text: str) -> dict[str, str]:
    """Days per week and hours per day stated exactly once and not as approximate."""
    out = {}
    for column, pattern in DOSAGE.items():
        values = re.findall(pattern, text, re.IGNORECASE)
        if len(values) == 1:
            out[column] = number_text(float(values[0].replace(",", ".")))
    return out
