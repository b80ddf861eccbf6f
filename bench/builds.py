#!/usr/bin/env python3
"""Two or more builds of the interpreter, side by side, on the CPU suite.

Runs every program of bench/programs/ (full size) under each given `repy-bare` binary,
alternating (the order rotates each repetition), and prints the median time per build and
its ratio to the first build, then the geometric mean of the ratios. This is how a build
setting (e.g. the release profile's link-time optimisation) is judged: same source, same
machine, same run.

    cargo build --release
    CARGO_TARGET_DIR=/tmp/lto cargo build --release --config 'profile.release.lto="fat"' \\
        --config 'profile.release.codegen-units=1'
    python3 bench/builds.py default=target/release/repy-bare lto=/tmp/lto/release/repy-bare

A binary named `repy` (rather than `repy-bare`) runs each program as a Repy program, under
`repy run` with `resource cpu 1.0`: that is how a setting of the sandboxed build itself, such
as the allocator under the counting allocator, is judged:

    python3 bench/builds.py system=target/release/repy mimalloc=/tmp/mi/release/repy

A faster build is only usable if it still passes the tests: run `repy test tests/repy`
with its `repy` too (fat LTO, measured 11 % faster, failed it under RustPython 0.5).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import PROGRAMS, geomean, median, restrictions, run_timed, scaled, wrap_for_repy  # noqa: E402


def argv_for(binary, plain, wrapped, work):
    """How one build runs one program: repy-bare takes the file, repy runs it sandboxed."""
    if os.path.basename(binary) != "repy":
        return [binary, plain]
    limits = os.path.join(work, "cpu1-%d.restrictions" % (abs(hash(binary)) % 10**6))
    if not os.path.exists(limits):
        restrictions(binary, {"cpu": "1.0"}, limits)
    return [binary, "run", "--restrictions", limits, wrapped]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("builds", nargs="+", metavar="NAME=PATH", help="a repy-bare binary and its label")
    ap.add_argument("--reps", type=int, default=5, help="runs per program and build (default 5)")
    args = ap.parse_args()
    builds = []
    for spec in args.builds:
        name, sep, path = spec.partition("=")
        if not sep or not os.access(path, os.X_OK):
            ap.error("%r is not NAME=PATH of an executable repy-bare or repy" % spec)
        builds.append((name, os.path.abspath(path)))
    if len(builds) < 2:
        ap.error("give at least two builds to compare")

    ratios = {name: [] for name, _ in builds[1:]}
    print("| program | " + " | ".join(name for name, _ in builds) + " |")
    print("|---" * (len(builds) + 1) + "|")
    with tempfile.TemporaryDirectory() as work:
        for program in sorted(p for p in os.listdir(PROGRAMS) if p.endswith(".py")):
            path = os.path.join(work, program)
            wrapped = os.path.join(work, "repy_" + program)
            with open(os.path.join(PROGRAMS, program)) as src:
                body = scaled(src.read(), quick=False)
            with open(path, "w") as dst:
                dst.write(body)
            with open(wrapped, "w") as dst:
                dst.write(wrap_for_repy(body))
            times = {name: [] for name, _ in builds}
            outputs = set()
            for i in range(args.reps):
                for name, binary in builds[i % len(builds):] + builds[:i % len(builds)]:
                    wall, _cpu, out = run_timed(argv_for(binary, path, wrapped, work), work)
                    times[name].append(wall)
                    outputs.add(out)
            if len(outputs) != 1:
                sys.exit("%s: the builds printed different checksums: %s" % (program, sorted(outputs)))
            first = median(times[builds[0][0]])
            cells = ["%.3f s" % first]
            for name, _ in builds[1:]:
                m = median(times[name])
                ratios[name].append(m / first)
                cells.append("%.3f s (%.3f)" % (m, m / first))
            print("| %s | %s |" % (program[:-3], " | ".join(cells)), flush=True)
    print("| geometric mean | 1 | " + " | ".join("%.3f" % geomean(r) for r in ratios.values()) + " |")


if __name__ == "__main__":
    main()
