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
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repy", default=os.path.join(ROOT, "target", "release", "repy"))
    parser.add_argument("--vessels", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if not os.path.exists(args.repy):
        sys.exit(f"no repy binary at {args.repy} (build it or pass --repy)")
    per_node = 25
    counts = [per_node] * (args.vessels // per_node) + ([args.vessels % per_node] if args.vessels % per_node else [])
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([args.repy, "keygen", "bench", "--dir", tmp], check=True, stdout=subprocess.DEVNULL)
        nodes, addrs = [], []
        try:
            for i, count in enumerate(counts):
                addr = f"127.0.0.1:{free_port()}"
                state = os.path.join(tmp, f"state{i}")
                first_port = 20000 + 1000 * i
                subprocess.run(
                    [args.repy, "node", "init", "--dir", state, "--owner", os.path.join(tmp, "bench.publickey"),
                     "--listen", addr, "--vessels", str(count), "--cpu", str(0.01 * count + 0.2),
                     "--memory", str(count * 60_000_000), "--disk", str(count * 20_000_000),
                     "--ports", f"{first_port}-{first_port + 10 * count - 1}"],
                    check=True, stdout=subprocess.DEVNULL)
                config = os.path.join(state, "node.toml")
                with open(config) as f:
                    text = f.read().replace("max_requests_per_s = 1000", "max_requests_per_s = 1000000")
                with open(config, "w") as f:
                    f.write(text)
                log = open(os.path.join(tmp, f"node{i}.log"), "w")
                nodes.append(subprocess.Popen([args.repy, "node", "run", "--dir", state], stderr=log))
                addrs.append(addr)
                host, port = addr.split(":")
                for _ in range(200):
                    try:
                        socket.create_connection((host, int(port)), timeout=1).close()
                        break
                    except OSError:
                        time.sleep(0.05)
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
