#!/usr/bin/env python3
"""Benchmark of the node manager on loopback.

Creates a key and a node with 50 vessels in a temporary directory, runs `repy node run`, and
prints what `repy node bench` measures: signed GetVessels requests per second and the time to
start the 50 vessels. A node holds at most 33 vessels (the per-node `events 100` less 2 per
vessel of offcut must leave each at least 1), so the vessels are spread over nodes of 25 each.
The per-address rate limit is raised for the run.

    python3 bench/nodemanager.py [--repy target/release/repy] [--vessels 50] [--requests 1000]
"""
import argparse
import os
import subprocess
import tempfile

from _nodes import find_repy, free_port, init_node, keygen, start_node, wait_listening


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repy", default=None, help="the repy binary [target/release/repy]")
    parser.add_argument("--vessels", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    args.repy = find_repy(args.repy)
    per_node = 25
    counts = [per_node] * (args.vessels // per_node) + ([args.vessels % per_node] if args.vessels % per_node else [])
    with tempfile.TemporaryDirectory() as tmp:
        keygen(args.repy, "bench", tmp)
        nodes, addrs = [], []
        try:
            for i, count in enumerate(counts):
                addr = f"127.0.0.1:{free_port()}"
                state = os.path.join(tmp, f"state{i}")
                first_port = 20000 + 1000 * i
                init_node(args.repy, state, os.path.join(tmp, "bench"), addr, count, cpu=0.01 * count + 0.2,
                          memory=count * 60_000_000, disk=count * 20_000_000,
                          ports=f"{first_port}-{first_port + 10 * count - 1}")
                nodes.append(start_node(args.repy, state, os.path.join(tmp, f"node{i}.log")))
                addrs.append(addr)
                wait_listening(addr)
            command = [args.repy, "node", "bench", "--key", os.path.join(tmp, "bench"),
                       "--connections", str(args.connections), "--requests", str(args.requests)]
            for addr in addrs:
                command += ["--node", addr]
            subprocess.run(command, check=True)
        finally:
            for node in nodes:
                node.terminate()
                node.wait()


if __name__ == "__main__":
    main()
