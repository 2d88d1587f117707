"""Speed and memory of mbtevidence against its peers, all measured in one run (``make bench``).

* REML random-effects fit with all statistics (estimate, CI, Q-profile τ² CI, I² with CI, H², PI)
  at k = 13 ... 10⁶ against PyMARE (``VarianceBasedLikelihoodEstimator(method="REML")`` with its
  fixed-effect, Q-profile and heterogeneity statistics; it has no PI) and R's metafor
  (``rma(method="REML", test="knha")`` alone and with ``confint()`` and ``predict()``);
* leave-one-out at k = 100 and 1,000 against metafor's ``leave1out()``;
* ``escalc("SMD")`` on 10⁶ rows against metafor's ``escalc()``;
* validating the bundled evidence and rendering the full report set, cold (fresh process) and warm;
* peak memory of the REML fit at k = 10⁵ and 10⁶ (each in a fresh process).

metafor is timed inside R (R's start-up and reading the data excluded); a peer is skipped at a size
it cannot finish in 60 s (predicted from the smaller sizes), and the output says so.  Every engine
runs single-threaded (BLAS threads set to 1; R's reference BLAS is single-threaded).  Times are the
median and interquartile range over repetitions, short calls timed in batches.  Results go to
``benchmarks/results/*.csv`` with the machine described; the ratio table is printed.

    python benchmarks/run.py [--quick]
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from peers import metafor_times, pymare_all_statistics, r_versions  # noqa: E402
from timing import Timing, predict_seconds, repetitions_for, skip_reason, time_calls  # noqa: E402

import mbtevidence as mbt  # noqa: E402
from mbtevidence.engine import escalc, leave_one_out, meta_analysis  # noqa: E402
from mbtevidence.paths import CHECKOUT, seeds_dir  # noqa: E402

RESULTS = Path(__file__).parent / "results"
REML_SIZES = (13, 100, 1_000, 10_000, 100_000, 1_000_000)
LOO_SIZES = (100, 1_000)
MEMORY_SIZES = (100_000, 1_000_000)
ESCALC_ROWS = 1_000_000
METAFOR_REML = {
    "rma": "rma(yi, vi, data=dat, method='REML', test='knha')",
    "rma_confint_predict": "r <- rma(yi, vi, data=dat, method='REML', test='knha'); confint(r); predict(r)",
}


def simulate(k: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """k effects with sampling variances in [0.01, 0.2] around 0.5, τ² = 0.1."""
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    return rng.normal(0.5, np.sqrt(vi + 0.1)), vi


def default_repetitions(k: int) -> int:
    return 11 if k <= 1_000 else 7 if k <= 10_000 else 5 if k <= 100_000 else 3


def machine() -> dict[str, str]:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if "model name" in line
            ),
            platform.processor() or platform.machine(),
        )
        if Path("/proc/cpuinfo").exists()
        else platform.processor()
    )
    info = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "load_average_1min_at_start": f"{os.getloadavg()[0]:.2f}",
        "os": platform.platform(),
        "python": platform.python_version(),
        **{name: version(name) for name in ("numpy", "scipy", "pandas", "PyMARE", "mbtevidence")},
        "blas_threads": "1 (OPENBLAS/OMP/MKL_NUM_THREADS=1; R's reference BLAS)",
    }
    return info | r_versions()


def reml_section(quick: bool) -> tuple[list[dict[str, object]], list[tuple[int, float]]]:
    """Rows of timings, and metafor's rma() seconds per size (leave-one-out refits it k times)."""
    rows: list[dict[str, object]] = []
    history: dict[str, list[tuple[int, float]]] = {"PyMARE": [], "metafor": []}
    for k in REML_SIZES[:3] if quick else REML_SIZES:
        y, v = simulate(k)
        reps = 3 if quick else default_repetitions(k)

        def ours_call(y: np.ndarray = y, v: np.ndarray = v) -> object:
            return meta_analysis(y, v, method="REML", test="knha").to_dict()

        def pymare_call(y: np.ndarray = y, v: np.ndarray = v) -> object:
            return pymare_all_statistics(y, v)

        # ours is timed before and after the peers, so a change in the machine's load hits all alike
        before = time_calls(ours_call, (reps + 1) // 2)
        predicted = predict_seconds(history["PyMARE"], k)
        skip = skip_reason(predicted, " (cost grows with k)")
        pymare = Timing(note=skip) if skip else time_calls(pymare_call, repetitions_for(predicted, reps))
        predicted = predict_seconds(history["metafor"], k)
        skip = skip_reason(predicted, " (rma() forms k × k matrices: cost grows as k³)")
        data = pd.DataFrame({"yi": y, "vi": v})
        timed = (
            {name: Timing(note=skip) for name in METAFOR_REML}
            if skip
            else metafor_times(data, METAFOR_REML, repetitions_for(2 * predicted, reps))
        )
        ours = Timing(before.times + time_calls(ours_call, reps // 2).times)
        for tool, timing in [("mbtevidence", ours), ("PyMARE", pymare)] + [
            (f"metafor {n}", t) for n, t in timed.items()
        ]:
            rows.append({"task": "REML, all statistics", "k": k, "tool": tool, **timing.row()})
        if pymare.ok:
            history["PyMARE"].append((k, pymare.median))
        if timed["rma"].ok:
            history["metafor"].append((k, timed["rma"].median))
        print(
            f"  REML k = {k:>9,}: mbtevidence {ours.median:.2e} s, PyMARE {pymare.median:.2e} s, "
            f"metafor rma {timed['rma'].median:.2e} s",
            flush=True,
        )
    return rows, history["metafor"]


def leave_one_out_section(quick: bool, metafor_rma: list[tuple[int, float]]) -> list[dict[str, object]]:
    rows = []
    for k in LOO_SIZES[:1] if quick else LOO_SIZES:
        y, v = simulate(k, seed=2)

        def ours_call(y: np.ndarray = y, v: np.ndarray = v) -> object:
            return leave_one_out(meta_analysis(y, v, test="knha"))

        ours = time_calls(ours_call, 3 if quick else 5)
        predicted = k * predict_seconds([(n, t) for n, t in metafor_rma if n <= k], k)
        skip = skip_reason(predicted, f" (k = {k:,} refits of rma(), timed above)")
        code = {"leave1out": "leave1out(rma(yi, vi, data=dat, method='REML', test='knha'))"}
        data = pd.DataFrame({"yi": y, "vi": v})
        theirs = Timing(note=skip) if skip else metafor_times(data, code, repetitions_for(predicted, 5))["leave1out"]
        rows += [
            {"task": "leave-one-out", "k": k, "tool": "mbtevidence", **ours.row()},
            {"task": "leave-one-out", "k": k, "tool": "metafor leave1out", **theirs.row()},
        ]
        print(f"  leave-one-out k = {k:,}: mbtevidence {ours.median:.3f} s, metafor {theirs.median:.3f} s", flush=True)
    return rows


def escalc_section(quick: bool) -> list[dict[str, object]]:
    n = 10_000 if quick else ESCALC_ROWS
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        {
            "m1i": rng.normal(1, 1, n),
            "sd1i": rng.uniform(0.5, 2, n),
            "n1i": rng.integers(5, 200, n),
            "m2i": rng.normal(0, 1, n),
            "sd2i": rng.uniform(0.5, 2, n),
            "n2i": rng.integers(5, 200, n),
        }
    )
    args = {name: name for name in data.columns}
    ours = time_calls(lambda: escalc("SMD", data, **args), 5)
    code = {"escalc": "escalc('SMD', m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat)"}
    theirs = metafor_times(data, code, 5)["escalc"]
    print(f"  escalc {n:,} rows: mbtevidence {ours.median:.3f} s, metafor {theirs.median:.3f} s", flush=True)
    return [
        {"task": "escalc SMD", "k": n, "tool": "mbtevidence", **ours.row()},
        {"task": "escalc SMD", "k": n, "tool": "metafor escalc", **theirs.row()},
    ]


RENDER_CHILD = """
import time
started = time.perf_counter()
import sys
from pathlib import Path
from mbtevidence.reports.command import render
out, seeds = Path(sys.argv[1]), Path(sys.argv[2])
assert render(out / "cold", seeds_dir=seeds, say=lambda s: None) == 0
print("cold", time.perf_counter() - started)
start = time.perf_counter()
assert render(out / "warm", seeds_dir=seeds, say=lambda s: None) == 0
print("warm", time.perf_counter() - start)
"""


def pipeline_section(quick: bool, render: bool = True) -> list[dict[str, object]]:
    check = time_calls(lambda: mbt.validate(seeds_dir=seeds_dir()), 3 if quick else 5)
    rows = [{"task": "validate bundled evidence", "k": None, "tool": "mbtevidence", **check.row()}]
    print(f"  validate: {check.median:.2f} s", flush=True)
    if quick or not render:
        return rows
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.run(
            [sys.executable, "-c", RENDER_CHILD, tmp, str(seeds_dir())], capture_output=True, text=True, cwd=CHECKOUT
        )
        done = {line.split()[0]: line.split()[1:] for line in child.stdout.splitlines() if line.strip()}
    if child.returncode != 0:
        failed = Timing(note=f"render failed: {child.stderr.strip()[-200:]}")
        return rows + [
            {"task": f"render reports, {w}", "k": None, "tool": "mbtevidence", **failed.row()} for w in ("cold", "warm")
        ]
    cold, warm = float(done["cold"][0]), float(done["warm"][0])
    note = "wall time, one repetition (fresh process: imports, validation, 8 notebooks, HTML, PDF)"
    rows.append({"task": "render reports, cold", "k": None, "tool": "mbtevidence", **Timing((cold,), note).row()})
    note = "wall time, one repetition (second render in the same process)"
    rows.append({"task": "render reports, warm", "k": None, "tool": "mbtevidence", **Timing((warm,), note).row()})
    print(f"  render reports: cold {cold:.1f} s, warm {warm:.1f} s", flush=True)
    return rows


MEMORY_CHILD = """
import json, sys, tracemalloc
from pathlib import Path
sys.path.insert(0, {bench!r})
from run import simulate
from peers import pymare_all_statistics
from mbtevidence.engine import meta_analysis

def high_water_mb():  # VmHWM: this process's peak resident memory (ru_maxrss survives exec on Linux)
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM"))
    return int(line.split()[1]) / 1e3

k, tool = int(sys.argv[1]), sys.argv[2]
y, v = simulate(k)
before = high_water_mb()
tracemalloc.start()
meta_analysis(y, v).to_dict() if tool == "mbtevidence" else pymare_all_statistics(y, v)
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
after = high_water_mb()
print(json.dumps({{"traced_peak_mb": peak / 1e6, "rss_peak_mb": after, "rss_peak_growth_mb": after - before}}))
"""


def memory_section(quick: bool) -> list[dict[str, object]]:
    rows = []
    for k in MEMORY_SIZES[:1] if quick else MEMORY_SIZES:
        for tool in ("mbtevidence", "PyMARE"):
            script = MEMORY_CHILD.format(bench=str(Path(__file__).parent))
            run = subprocess.run([sys.executable, "-c", script, str(k), tool], capture_output=True, text=True)
            measured = json.loads(run.stdout) if run.returncode == 0 else {"note": run.stderr.strip()[-200:]}
            rows.append({"task": "REML, all statistics: memory", "k": k, "tool": tool, **measured})
            print(f"  memory k = {k:,} {tool}: {measured}", flush=True)
    return rows


PEERS = {
    "REML, all statistics": ("PyMARE", "metafor rma", "metafor rma_confint_predict"),
    "leave-one-out": ("metafor leave1out",),
    "escalc SMD": ("metafor escalc",),
}


def ratio_table(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per task, size and peer: both medians and ours/peer, measured in this run (below 1:
    mbtevidence is faster), or why the peer was not timed."""
    rows = []
    for (task, k), group in timings[timings.task.isin(PEERS)].groupby(["task", "k"], sort=False):
        by_tool = group.set_index("tool")
        ours = by_tool.median_s["mbtevidence"]
        for peer in PEERS[task]:
            theirs = by_tool.median_s[peer]
            rows.append(
                {
                    "task": task,
                    "k": int(k),
                    "mbtevidence_s": ours,
                    "peer": peer,
                    "peer_s": theirs,
                    "ours/peer": ours / theirs,
                    "note": by_tool.note[peer],
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repetitions (a smoke test)")
    parser.add_argument("--skip-render", action="store_true", help="do not time the report render (about 4 minutes)")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    reml, metafor_rma = reml_section(args.quick)
    timings = pd.DataFrame(
        reml
        + leave_one_out_section(args.quick, metafor_rma)
        + escalc_section(args.quick)
        + pipeline_section(args.quick, not args.skip_render)
    )
    memory = pd.DataFrame(memory_section(args.quick))
    info["load_average_1min_at_end"] = f"{os.getloadavg()[0]:.2f}"
    suffix = "-quick" if args.quick else ""
    pd.DataFrame(list(info.items()), columns=["key", "value"]).to_csv(RESULTS / f"machine{suffix}.csv", index=False)
    timings.to_csv(RESULTS / f"timings{suffix}.csv", index=False)
    memory.to_csv(RESULTS / f"memory{suffix}.csv", index=False)
    ratios = ratio_table(timings)
    ratios.to_csv(RESULTS / f"ratios{suffix}.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 90):
        print("\nSeconds per call (median) and ours/peer (below 1: mbtevidence faster), measured in this run:")
        print(ratios.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
        print("\nmbtevidence alone:")
        alone = timings[~timings.task.isin(PEERS)][["task", "median_s", "iqr_s", "repetitions", "note"]]
        print(alone.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
        print("\nMemory of one REML fit with all statistics (fresh process; traced = numpy/Python allocations):")
        print(memory.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(f"\nwritten to {RESULTS}/")


if __name__ == "__main__":
    main()
