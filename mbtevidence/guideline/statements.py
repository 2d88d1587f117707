"""GRADE plain-language statements (informative statements) for a summary of findings.

GRADE guidelines 26 (Santesso N et al. J Clin Epidemiol 2020;119:126-135): the verb says the
certainty: high "reduces", moderate "probably reduces", low "may reduce", very low "the evidence
is very uncertain about the effect of ... on ..."; an estimate smaller than the minimal important
difference is "little to no difference".  Effects are oriented positive = improvement.
"""

from __future__ import annotations

OUTCOME_WORDING = {
    "symptom_severity": ("reduce", "symptom severity"),
    "depression": ("reduce", "depressive symptoms"),
    "anxiety": ("reduce", "anxiety symptoms"),
    "borderline_features": ("reduce", "borderline symptoms"),
    "personality_functioning": ("improve", "personality functioning"),
    "interpersonal_functioning": ("reduce", "interpersonal problems"),
    "global_functioning": ("improve", "global functioning"),
    "social_functioning": ("improve", "social functioning"),
    "quality_of_life": ("improve", "quality of life"),
    "self_harm": ("reduce", "self-harm"),
    "suicide_attempts": ("reduce", "suicide attempts"),
    "suicidality": ("reduce", "suicidality"),
    "hospitalisation": ("reduce", "psychiatric hospitalisation"),
    "alexithymia": ("reduce", "alexithymia"),
    "self_image": ("improve", "self-image"),
}
"""Verb for an improvement (positive effect) and the outcome's name in a sentence."""
VERB_FORMS = {
    "reduce": {"high": "reduces", "moderate": "probably reduces", "low": "may reduce"},
    "improve": {"high": "improves", "moderate": "probably improves", "low": "may improve"},
    "increase": {"high": "increases", "moderate": "probably increases", "low": "may increase"},
    "worsen": {"high": "worsens", "moderate": "probably worsens", "low": "may worsen"},
    "none": {
        "high": "results in little to no difference in",
        "moderate": "probably results in little to no difference in",
        "low": "may result in little to no difference in",
    },
}


def outcome_wording(outcome: str) -> tuple[str, str]:
    """(verb for an improvement, name in a sentence) of an outcome construct."""
    return OUTCOME_WORDING.get(outcome, ("improve", outcome.replace("_", " ")))


def plain_language(certainty: str, subject: str, outcome: str, estimate: float, mid: float, context: str = "") -> str:
    """GRADE informative statement (Santesso et al. 2020) for a positive = improvement effect.

    ``subject`` is the intervention as a sentence subject ("MBT in day-hospital settings");
    ``context`` ends the sentence (timepoint, comparison).
    """
    verb, name = outcome_wording(outcome)
    tail = f" {context}" if context else ""
    if certainty == "very low":
        return f"The evidence is very uncertain about the effect of {subject} on {name}{tail}."
    if abs(estimate) < mid:
        verb = "none"
    elif estimate < 0:
        verb = "increase" if verb == "reduce" else "worsen"
    return f"{subject[:1].upper()}{subject[1:]} {VERB_FORMS[verb][certainty]} {name}{tail}."


__all__ = ["OUTCOME_WORDING", "outcome_wording", "plain_language"]
