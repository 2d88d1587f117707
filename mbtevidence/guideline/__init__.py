"""Guideline-ready outputs: GRADE summary of findings, PRISMA 2020 flow, characteristics of the
included studies and their risk of bias.

    >>> import mbtevidence as mbt
    >>> from mbtevidence.guideline import Question, summary_of_findings
    >>> sof = summary_of_findings(mbt.load_evidence(), Question(settings=("day_hospital",)))
    >>> sof.to_html("sof.html"); sof.to_csv("sof.csv"); sof.to_docx("sof.docx")
"""

from .characteristics import characteristics_table, risk_of_bias_table, traffic_light_plot
from .files import save_figure
from .grade import DomainJudgement, optimal_information_size
from .prisma import PrismaFlow, prisma_diagram, prisma_flow
from .question import DEFAULT_OUTCOMES, Question, screen_records
from .sof import OutcomeFindings, SummaryOfFindings, summary_of_findings
from .statements import plain_language

__all__ = [
    "DEFAULT_OUTCOMES",
    "DomainJudgement",
    "OutcomeFindings",
    "PrismaFlow",
    "Question",
    "SummaryOfFindings",
    "characteristics_table",
    "optimal_information_size",
    "plain_language",
    "prisma_diagram",
    "prisma_flow",
    "risk_of_bias_table",
    "save_figure",
    "screen_records",
    "summary_of_findings",
    "traffic_light_plot",
]
