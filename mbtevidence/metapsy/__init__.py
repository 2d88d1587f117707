"""The Metapsy data standard: read and check a Metapsy database file, recompute its effect sizes
with metapsyTools' conventions, convert its rows to evidence records (and write or merge them),
export evidence back to the standard, and pool as metapsyTools does by default."""

from .convert import ImportResult, convert
from .effects import Agreement, agreement, metapsy_effect_sizes
from .export import ExportReport, export_metapsy
from .merge import MergeReport, write_evidence
from .pool import pool_metapsy
from .reading import DatasetInfo, MetapsyError, MetapsyFile, read_metapsy

__all__ = [
    "Agreement",
    "DatasetInfo",
    "ExportReport",
    "ImportResult",
    "MergeReport",
    "MetapsyError",
    "MetapsyFile",
    "agreement",
    "convert",
    "export_metapsy",
    "metapsy_effect_sizes",
    "pool_metapsy",
    "read_metapsy",
    "write_evidence",
]
