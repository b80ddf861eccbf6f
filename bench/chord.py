#!/usr/bin/env python3
"""Benchmark of examples/chord.py: lookup latency on local testbeds.

For each size (16 vessels: 4 nodes x 4; 50 vessels: 10 nodes x 5), brings a testbed up, starts
chord.py on every vessel with '{ip}:{port}' '{peers}', waits until 100 lookups in a row return
the successor computed here (FNV-1a 32-bit of "IP:PORT", as chord.py), then sends 1,000
lookups of random keys to random vessels one at a time over UDP and prints the median and
99th percentile of the hops (other nodes the vessel asked) and of the round-trip time in ms.

    python3 bench/chord.py [--repy target/release/repy] [--lookups 1000]
"""
import argparse
import bisect
import json
import os
import random
import socket
import subprocess
import time

from _nodes import ROOT, find_repy, percentile, testbed


def fnv1a(text):
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) % 2 ** 32
    return h


def successor(key, ids):
    i = bisect.bisect_left(ids, key)
    return ids[i % len(ids)]


def lookup(sock, addr, key, reqid):
    """(node id, hops, ms) of one lookup, or None after 3 s without an answer."""
    host, port = addr.rsplit(":", 1)
    started = time.monotonic()
    sock.sendto(f"lookup {key} {reqid}".encode(), (host, int(port)))
    while time.monotonic() - started < 3:
        try:
            parts = sock.recv(1500).decode().split(" ")
        except socket.timeout:
            continue
        if parts[0] == "found" and parts[-1] == str(reqid):
            return int(parts[2]), int(parts[4]), (time.monotonic() - started) * 1000
    return None


def measure(repy, nodes, vessels, count):
    with testbed(repy, nodes, vessels) as (_, fleet):
        subprocess.run(fleet + ["upload", os.path.join(ROOT, "examples", "chord.py")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = subprocess.run(fleet + ["--json", "start", "chord.py", "{ip}:{port}", "{peers}"], check=True,
                             capture_output=True).stdout
        addrs = [r["args"][1] for r in json.loads(out)["results"]]
        ids = sorted(fnv1a(a) for a in addrs)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        rng = random.Random(19)
        reqid, right, started = 0, 0, time.monotonic()
        while right < 100:
            if time.monotonic() - started > 120:
                raise SystemExit(f"{len(addrs)} vessels: the ring did not stabilise within 120 s")
            reqid += 1
            key = rng.randrange(2 ** 32)
            answer = lookup(sock, rng.choice(addrs), key, reqid)
            right = right + 1 if answer and answer[0] == successor(key, ids) else 0
        stable = time.monotonic() - started
        hops, ms, wrong = [], [], 0
        for _ in range(count):
            reqid += 1
            key = rng.randrange(2 ** 32)
            answer = lookup(sock, rng.choice(addrs), key, reqid)
            if answer is None or answer[0] != successor(key, ids):
                wrong += 1
                continue
            hops.append(answer[1])
            ms.append(answer[2])
        print(f"{len(addrs)} vessels ({nodes} nodes x {vessels}): stable after {stable:.1f} s; {count} lookups, "
              f"{wrong} wrong or unanswered; hops median {percentile(hops, 0.5)} p99 {percentile(hops, 0.99)}; "
              f"ms median {percentile(ms, 0.5):.2f} p99 {percentile(ms, 0.99):.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repy", default=None, help="the repy binary [target/release/repy]")
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    repy = find_repy(args.repy)
    for nodes, vessels in [(4, 4), (10, 5)]:
        measure(repy, nodes, vessels, args.lookups)


if __name__ == "__main__":
    main()
