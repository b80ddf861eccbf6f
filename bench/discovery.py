#!/usr/bin/env python3
"""Benchmark of discovery on the DHT (issue 17) at 10 and 50 nodes (one vessel each).

For each size: brings a testbed up (its nodes form one DHT and announce the testbed key),
then runs `repy lookup --json` until every node is found, and prints

- up: how long `repy testbed up` took (until every node manager answered);
- complete: the time from `up` returning to the first lookup that found every node;
- lookup: wall time of a `repy lookup` once complete (process start included), median and
  p90 over --lookups runs;
- browse: `repy fleet browse` through the DHT (`--bootstrap @bootstrap.txt`: a lookup, then
  each node confirmed) against the same through the nodes file, measured in the same run, and
  their ratio.

    python3 bench/discovery.py [--repy target/release/repy] [--lookups 20]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

from _nodes import find_repy, percentile, testbed


def timed(command):
    started = time.monotonic()
    out = subprocess.run(command, capture_output=True, text=True)
    return time.monotonic() - started, out


def measure(repy, nodes, lookups):
    started = time.monotonic()
    with testbed(repy, nodes, 1) as (tmp, fleet):
        up = time.monotonic() - started
        with open(os.path.join(tmp, "nodes.txt")) as f:
            expected = sorted(line.strip() for line in f if line.strip())
        key = os.path.join(tmp, "testbed")
        bootstrap = "@" + os.path.join(tmp, "bootstrap.txt")
        lookup = [repy, "lookup", "--key", key, "--bootstrap", bootstrap, "--json", "--timeout", "10"]
        ready = time.monotonic()
        while True:
            _, out = timed(lookup)
            found = sorted(f["address"] for f in json.loads(out.stdout)) if out.returncode == 0 else []
            if found == expected:
                break
            if time.monotonic() - ready > 120:
                raise SystemExit(f"{nodes} nodes: only {len(found)} found by lookup within 120 s of up")
        complete = time.monotonic() - ready
        latencies = []
        for _ in range(lookups):
            seconds, out = timed(lookup)
            if out.returncode != 0 or len(json.loads(out.stdout)) != nodes:
                raise SystemExit(f"{nodes} nodes: a lookup after completion found fewer nodes: {out.stdout}{out.stderr}")
            latencies.append(seconds)
        direct, out = timed(fleet + ["--json", "browse"])
        if out.returncode != 0:
            raise SystemExit(f"browse through the nodes file failed: {out.stderr}")
        through_dht, out = timed([repy, "fleet", "--key", key, "--bootstrap", bootstrap, "--json", "browse"])
        results = json.loads(out.stdout)["results"] if out.stdout else []
        if out.returncode != 0 or len(results) != nodes:
            raise SystemExit(f"browse through the DHT failed: {out.stderr}")
        print(f"{nodes} nodes: up {up:.1f} s; every node found {complete:.1f} s after up; "
              f"lookup median {statistics.median(latencies) * 1000:.0f} ms p90 {percentile(latencies, 0.9) * 1000:.0f} ms "
              f"({lookups} runs); browse through the DHT {through_dht:.2f} s vs nodes file {direct:.2f} s "
              f"(ratio {through_dht / direct:.2f})", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repy", default=None, help="the repy binary [target/release/repy]")
    parser.add_argument("--lookups", type=int, default=20)
    parser.add_argument("--sizes", default="10,50", help="testbed sizes, comma-separated")
    args = parser.parse_args()
    repy = find_repy(args.repy)
    for nodes in [int(n) for n in args.sizes.split(",")]:
        measure(repy, nodes, args.lookups)


if __name__ == "__main__":
    main()
