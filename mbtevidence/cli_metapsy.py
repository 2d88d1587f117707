"""Command-line handlers of ``mbtevidence metapsy import|export|pool`` and ``mbtevidence diff``
(registered by :func:`mbtevidence.cli.build_parser`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import paths


def _fail(command: str, message: str) -> int:
    print(f"mbtevidence {command}: {message}", file=sys.stderr)
    return 2


def _import(args: argparse.Namespace) -> int:
    from .metapsy import MetapsyError, convert, read_metapsy
    from .metapsy.merge import write_evidence

    try:
        file = read_metapsy(args.file)
        existing = args.out if args.out is not None and (args.out / "studies.csv").is_file() else None
        result = convert(file, args.condition, existing)
        written = write_evidence(result, args.out) if args.out is not None else None
    except MetapsyError as exc:
        return _fail("metapsy import", f"{len(exc.problems)} problem(s) in the file:\n{exc}")
    except (OSError, ValueError) as exc:
        return _fail("metapsy import", str(exc))
    if args.json:
        out = result.to_dict() | ({"written": written.__dict__ | {"folder": str(written.folder)}} if written else {})
        print(json.dumps(out, indent=2, allow_nan=False))
    else:
        print(result.summary() + ("\n" + written.summary() if written else "\n(no --out: nothing written)"))
    return 0


def _export(args: argparse.Namespace) -> int:
    from .evidence import EvidenceError, load_evidence
    from .metapsy.export import export_metapsy

    try:
        report = export_metapsy(load_evidence(args.evidence, args.seeds), args.out, not args.curated_only)
    except EvidenceError as exc:
        return _fail("metapsy export", f"the evidence does not validate:\n{exc}")
    except OSError as exc:
        return _fail("metapsy export", str(exc))
    print(report.summary())
    return 0


def _pool(args: argparse.Namespace) -> int:
    from .metapsy import MetapsyError, read_metapsy
    from .metapsy.pool import pool_metapsy

    try:
        result = pool_metapsy(read_metapsy(args.file), args.outcome_domain or None, args.condition)
    except MetapsyError as exc:
        return _fail("metapsy pool", f"{len(exc.problems)} problem(s) in the file:\n{exc}")
    except ValueError as exc:
        return _fail("metapsy pool", f"{args.file}: {exc}")
    print(json.dumps(result.to_dict(), indent=2, allow_nan=False) if args.json else result.summary())
    return 0


def _diff(args: argparse.Namespace) -> int:
    from .diff import diff_evidence, write_diff_html

    try:
        diff = diff_evidence(args.old, args.new)
        page = write_diff_html(diff, args.html) if args.html else None
    except (ValueError, OSError) as exc:
        return _fail("diff", str(exc))
    print(diff.to_json() if args.json else diff.summary())
    if page is not None:
        print(f"wrote {page}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction, seeds_help: str) -> None:
    """Add ``metapsy`` (import, export, pool) and ``diff`` to the command line."""
    metapsy = sub.add_parser("metapsy", help="the Metapsy data standard: import, export, pool")
    commands = metapsy.add_subparsers(dest="metapsy_command", required=True)

    p = commands.add_parser("import", help="read and check a Metapsy file, recompute its g, convert it to evidence")
    p.add_argument("file", type=Path, help="a Metapsy database file (data.csv: ';', decimal commas, NA)")
    p.add_argument(
        "--out",
        type=Path,
        help="write the records here: merged into an evidence folder (e.g. evidence), else a new folder",
    )
    p.add_argument("--condition", help="only rows whose condition_arm1 is this code, e.g. mbt")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_import)

    p = commands.add_parser("export", help="write the evidence's two-arm records as a Metapsy file")
    p.add_argument("--evidence", type=Path, default=paths.EVIDENCE_DIR)
    p.add_argument("--seeds", type=Path, default=None, help=seeds_help)
    p.add_argument("--out", type=Path, required=True, help="the Metapsy file to write (data.csv)")
    p.add_argument("--curated-only", action="store_true", help="leave out records imported from a dataset")
    p.set_defaults(func=_export)

    p = commands.add_parser(
        "pool", help="pool a Metapsy file's Hedges' g as metapsyTools does by default (REML, Knapp-Hartung)"
    )
    p.add_argument("file", type=Path)
    p.add_argument("--outcome-domain", default="BPD severity", help="rows of this outcome_domain ('' for all)")
    p.add_argument("--condition", help="rows whose condition_arm1 is this code, e.g. mbt (default: all therapies)")
    p.add_argument("--json", action="store_true", help="print one JSON object (the keys of pool --json)")
    p.set_defaults(func=_pool)

    p = sub.add_parser("diff", help="records and syntheses an evidence update changed (default: HEAD vs working tree)")
    p.add_argument("old", nargs="?", help="git revision or evidence folder (default HEAD)")
    p.add_argument("new", nargs="?", help="git revision or evidence folder (default: the working tree's evidence/)")
    p.add_argument("--json", action="store_true", help="print one JSON object: added, removed, changed, syntheses")
    p.add_argument("--html", type=Path, help="also write the diff as an HTML page")
    p.set_defaults(func=_diff)
