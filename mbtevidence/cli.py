"""The ``mbtevidence`` command line: validate, summary, pool, render, schema-doc, metapsy, diff."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import cli_metapsy, paths
from . import evidence as ev


def _validate(args: argparse.Namespace) -> int:
    report = ev.validate(args.path, args.seeds)
    if args.flagged:
        print("\n".join(report.flagged_lines()) or "no flagged records")
        if not report.ok:
            print(report.render(flagged=False))
        return 0 if report.ok else 1
    print(report.render())
    return 0 if report.ok else 1


def _summary(args: argparse.Namespace) -> int:
    import pandas as pd

    try:
        evidence = ev.load_evidence(args.path, args.seeds)
    except ev.EvidenceError as exc:
        print(exc, file=sys.stderr)
        return 1
    with pd.option_context("display.width", 120, "display.max_rows", 200):
        for title, table in ev.summary_tables(evidence).items():
            lines = [ev.printable(line) for line in table.to_string().splitlines()]
            print(f"== {title}\n" + "\n".join(lines) + "\n")
    return 0


def _read_pool_csv(args: argparse.Namespace):
    """The CSV as a DataFrame with numeric yi/vi and moderators; every bad cell in one ValueError."""
    import pandas as pd

    try:
        frame = pd.read_csv(args.file, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a readable CSV file ({exc})") from None
    wanted = (
        [args.yi, args.vi] + ([args.by] if args.by else []) + (args.mods or []) + ([args.slab] if args.slab else [])
    )
    repeated = sorted({m for m in args.mods or [] if (args.mods or []).count(m) > 1})
    if repeated:
        raise ValueError(f"moderator(s) {', '.join(repeated)} given more than once")
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValueError(f"no column(s) {', '.join(missing)}; the file has {', '.join(frame.columns)}")
    problems = []
    if args.by:
        problems += [
            f"row {i + 2} {args.by} is empty (every row needs a subgroup)"
            for i in frame.index[frame[args.by].str.strip() == ""]
        ]
    for column in [args.yi, args.vi] + (args.mods or []):
        numbers = pd.to_numeric(frame[column].str.strip(), errors="coerce")
        if column in (args.yi, args.vi) or numbers.notna().any():
            bad = numbers.isna()
            problems += [f"row {i + 2} {column}={frame[column][i]!r} is not a number" for i in frame.index[bad]]
            frame[column] = numbers
    if not problems:
        problems += [
            f"row {i + 2} {args.vi}={float(frame[args.vi][i])!r} is not a positive variance"
            for i in frame.index[~(frame[args.vi] > 0) | ~frame[args.vi].abs().lt(float("inf"))]
        ]
    if problems:
        raise ValueError("; ".join(problems))
    return frame


def _pool(args: argparse.Namespace) -> int:
    from . import engine

    try:
        frame = _read_pool_csv(args)
        options = dict(method=args.method, test=args.test, level=args.level)
        slab = frame[args.slab] if args.slab else None
        if args.bayes:
            if args.by or args.mods:
                raise ValueError("--bayes pools all rows in one model: drop --by and --mods")
            bayes = engine.bayes_meta_analysis(
                frame[args.yi],
                frame[args.vi],
                tau_prior=args.tau_prior,
                mu_prior=args.mu_prior,
                level=args.level,
                delta=args.delta,
                slab=slab,
            )
            print(json.dumps(bayes.to_dict(), indent=2, allow_nan=False) if args.json else bayes.summary())
            return 0
        overall = engine.meta_analysis(frame[args.yi], frame[args.vi], slab=slab, **options)
        result, text = overall.to_dict(), [overall.summary()]
        if args.compare_methods:
            comparison = engine.few_study_comparison(
                overall, tau_prior=args.tau_prior, mu_prior=args.mu_prior, delta=args.delta
            )
            result["few_study_comparison"] = comparison.to_dict()
            text.append(comparison.summary())
        if args.by:
            sub = engine.subgroup_analysis(frame[args.yi], frame[args.vi], frame[args.by], **options)
            result.update(sub.to_dict())
            text.append(sub.summary())
        if args.mods:
            reg = engine.meta_regression(frame[args.yi], frame[args.vi], frame[args.mods], **options)
            result["meta_regression"] = reg.to_dict()
            result.update({key: reg.to_dict()[key] for key in ("coefficients", "qm")})
            text.append(reg.summary())
    except (ValueError, OSError) as exc:
        print(f"mbtevidence pool: {args.file}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, allow_nan=False) if args.json else "\n\n".join(text))
    return 0


def _render(args: argparse.Namespace) -> int:
    from .reports.command import render

    return render(
        args.output,
        evidence_dir=args.evidence,
        seeds_dir=args.seeds,
        jobs=args.jobs,
        timeout=args.timeout,
        show_code=args.show_code,
        pdf=not args.no_pdf,
        only=args.only,
        given=[tuple(p) for p in args.parameter or []],
        grid=args.grid,
    )


def _schema_doc(args: argparse.Namespace) -> int:
    print(ev.schema_markdown(ev.load_schema()))
    return 0


def _level(text: str) -> float:
    from .engine.numerics import check_level

    try:
        return check_level(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("level=", "")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mbtevidence", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    seeds_help = f"source texts folder (default ${paths.SEEDS_ENV} or ../shared/seeds)"

    p = sub.add_parser("validate", help="check the evidence tables; lists every problem")
    p.add_argument("path", nargs="?", type=Path, default=paths.EVIDENCE_DIR)
    p.add_argument("--seeds", type=Path, default=None, help=seeds_help)
    p.add_argument("--flagged", action="store_true", help="list the records flagged as conflicts")
    p.set_defaults(func=_validate)

    p = sub.add_parser("summary", help="studies, samples and records per setting, construct, timepoint")
    p.add_argument("path", nargs="?", type=Path, default=paths.EVIDENCE_DIR)
    p.add_argument("--seeds", type=Path, default=None, help=seeds_help)
    p.set_defaults(func=_summary)

    p = sub.add_parser("pool", help="random-effects meta-analysis of a CSV of effect sizes")
    p.add_argument("file", type=Path)
    p.add_argument("--yi", required=True, help="column of effect sizes")
    p.add_argument("--vi", required=True, help="column of sampling variances")
    p.add_argument("--method", default="REML", help="tau² estimator: EE, DL, HE, ML, REML, PM, SJ")
    p.add_argument(
        "--test",
        default="knha",
        choices=["knha", "adhoc", "z"],
        help="knha: Knapp-Hartung (default); adhoc: Knapp-Hartung with s² truncated at 1; z: Wald",
    )
    p.add_argument("--level", type=_level, default=95.0, help="confidence level in percent, 50-99.99 (default 95)")
    p.add_argument("--by", help="subgroup column")
    p.add_argument("--mods", nargs="+", help="moderator columns (meta-regression)")
    p.add_argument("--slab", help="study label column")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--bayes", action="store_true", help="Bayesian random-effects model (normal-normal, no MCMC)")
    p.add_argument(
        "--tau-prior",
        default="halfnormal:0.5",
        help="prior on tau, e.g. halfnormal:0.5, halfcauchy:0.5, "
        "halfstudent:0.5:3, uniform:2, turner:mental-health:nonpharma-vs-placebo, rhodes:mental-health:nonpharma",
    )
    p.add_argument("--mu-prior", default="flat", help="prior on mu: flat or normal:MEAN:SD")
    p.add_argument("--delta", type=float, default=None, help="clinically important difference: report P(mu > delta)")
    p.add_argument(
        "--compare-methods",
        action="store_true",
        help="add the few-study comparison: REML+z, REML+knha, REML+adhoc, DL+z and the Bayesian model",
    )
    p.set_defaults(func=_pool)

    p = sub.add_parser(
        "render",
        help="validate once, then run the report set (notebooks/reports.yaml): HTML, PDF, index",
        description="Validate the evidence once, then execute every report of notebooks/reports.yaml with "
        "papermill and write reports/NAME.html, .pdf and .ipynb and reports/index.html. The previous set is "
        "replaced only when every report succeeded.",
    )
    p.add_argument("--output", type=Path, default=Path("reports"), help="report folder (default reports/)")
    p.add_argument("--evidence", type=Path, default=paths.EVIDENCE_DIR)
    p.add_argument("--seeds", type=Path, default=None, help=seeds_help)
    p.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="notebook parameter for every report that declares it, e.g. -p outcome_construct depression",
    )
    p.add_argument("--only", action="append", metavar="REPORT", help="render only this report (name or notebook)")
    grid_help = "the report set (default notebooks/reports.yaml)"
    p.add_argument("--grid", type=Path, default=paths.NOTEBOOKS_DIR / "reports.yaml", help=grid_help)
    p.add_argument("--jobs", type=int, default=1, help="reports run at the same time (default 1)")
    p.add_argument("--timeout", type=float, default=600, help="seconds one notebook cell may run (default 600)")
    p.add_argument("--show-code", action="store_true", help="show the notebooks' code in the HTML pages")
    p.add_argument("--no-pdf", action="store_true", help="write no PDF")
    p.set_defaults(func=_render)

    p = sub.add_parser("schema-doc", help="print the column reference of evidence/README.md")
    p.set_defaults(func=_schema_doc)
    cli_metapsy.register(sub, seeds_help)  # metapsy import|export|pool, diff
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
