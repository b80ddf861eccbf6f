#!/usr/bin/env python3
"""Benchmark of examples/aggregate.py: how many rounds push-pull averaging needs.

For each size (16 vessels: 4 nodes x 4; 50 vessels: 10 nodes x 5), brings a testbed up, starts
aggregate.py on every vessel with '{ip}:{port}' '{peers}', and reads the asker's log (`size
estimate N round R epoch E`, one line a round of 0.5 s, a new epoch every 40 rounds) until
--epochs whole epochs have passed after the first (which starts while vessels are still
starting). For each epoch it takes two figures:

- first: the first round whose estimate is within 2 % of the true size;
- settled: the round from which every estimate to the end of the epoch stays within 2 %.

It prints their median and maximum over the epochs, and how many epochs never came within 2 %.

    python3 bench/aggregate.py [--repy target/release/repy] [--epochs 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

from _nodes import ROOT, find_repy, testbed

EPOCH_ROUNDS = 40  # aggregate.py's EPOCH
ROUND_SECONDS = 0.5  # aggregate.py's ROUND


def estimates(log):
    """{(epoch, round): estimate} from the asker's log lines."""
    found = {}
    for line in log.splitlines():
        w = line.split(" ")
        if len(w) == 7 and w[0] == "size" and w[1] == "estimate" and w[3] == "round" and w[5] == "epoch":
            found[(int(w[6]), int(w[4]))] = float(w[2])
    return found


def epoch_figures(rounds, size):
    """(first, settled) rounds within 2 % of SIZE for one epoch's {round: estimate}; None where
    the epoch never came (or never stayed) within 2 %."""
    near = {r: abs(x - size) <= 0.02 * size for r, x in rounds.items()}
    first = next((r for r in sorted(near) if near[r]), None)
    settled = None
    for r in sorted(near, reverse=True):
        if not near[r]:
            break
        settled = r
    return first, settled


def summary(values):
    reached = [v for v in values if v is not None]
    if not reached:
        return "never"
    return f"median {statistics.median(reached):g} max {max(reached)}"


def measure(repy, nodes, vessels, epochs):
    with testbed(repy, nodes, vessels) as (_, fleet):
        subprocess.run(fleet + ["upload", os.path.join(ROOT, "examples", "aggregate.py")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(fleet + ["--json", "start", "aggregate.py", "{ip}:{port}", "{peers}"], check=True,
                             capture_output=True).stdout
        started = json.loads(out)["results"]
        size = len(started)
        asker = next(r for r in started if r["args"][1] == r["args"][2])
        place = (asker["node"], asker["vessel"])
        # The log is circular: read it often enough that no line is lost, and keep every line seen.
        seen = {}
        deadline = time.monotonic() + (epochs + 2) * EPOCH_ROUNDS * ROUND_SECONDS * 3
        while True:
            logs = json.loads(subprocess.run(fleet + ["--json", "log"], check=True, capture_output=True).stdout)
            for r in logs["results"]:
                if (r["node"], r.get("vessel")) == place:
                    seen.update(estimates(r.get("log") or ""))
            last_epoch = max((e for e, _ in seen), default=0)
            if last_epoch >= epochs + 1:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{size} vessels: only {last_epoch} epochs logged before the deadline")
            time.sleep(5)
        firsts, settleds = [], []
        for epoch in range(1, epochs + 1):
            rounds = {r: x for (e, r), x in seen.items() if e == epoch}
            first, settled = epoch_figures(rounds, size)
            firsts.append(first)
            settleds.append(settled)
        never = sum(1 for f in firsts if f is None)
        print(f"{size} vessels ({nodes} nodes x {vessels}), {epochs} epochs of {EPOCH_ROUNDS} rounds: "
              f"first within 2 %: {summary(firsts)} rounds; settled within 2 %: {summary(settleds)} rounds; "
              f"epochs never within 2 %: {never}; per epoch first={firsts} settled={settleds}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repy", default=None, help="the repy binary [target/release/repy]")
    parser.add_argument("--epochs", type=int, default=5, help="whole epochs measured after the first")
    args = parser.parse_args()
    repy = find_repy(args.repy)
    for nodes, vessels in [(4, 4), (10, 5)]:
        measure(repy, nodes, vessels, args.epochs)


if __name__ == "__main__":
    main()
