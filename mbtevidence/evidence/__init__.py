"""The evidence layer: schema, reading and validation, provenance, typed tables, record -> effect size."""

from .reading import Problem, RawTable, parse_number, printable, read_table
from .records import DEFAULT_PREPOST_CORRELATION, data_block, evidence_effect_sizes
from .schema import block_names, filled_blocks, load_schema, schema_markdown
from .tables import Evidence, content_hash, load_evidence, summary_tables
from .validation import EvidenceError, ValidationReport, Validator, validate

__all__ = [
    "DEFAULT_PREPOST_CORRELATION",
    "Evidence",
    "EvidenceError",
    "Problem",
    "RawTable",
    "ValidationReport",
    "Validator",
    "block_names",
    "content_hash",
    "data_block",
    "evidence_effect_sizes",
    "filled_blocks",
    "load_evidence",
    "load_schema",
    "parse_number",
    "printable",
    "read_table",
    "schema_markdown",
    "summary_tables",
    "validate",
]
