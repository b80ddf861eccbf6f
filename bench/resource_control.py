#!/usr/bin/env python3
"""Benchmarks of resource control (issue: per-call accounting, CPU, memory, disk).

Prints, for each case, the limit, what was measured and the relative error, plus the
overhead of supervision against bare interpretation measured in the same run.

    python3 bench/resource_control.py [--repy target/release/repy] [--seconds 10]

A cross-built repy runs under an emulator given by --runner (which is also passed on, as
the test-only REPY_TEST_RUNNER, to the repy processes it starts; debug builds only):

    python3 bench/resource_control.py --only cpu \
        --repy target/cross/aarch64-unknown-linux-gnu/debug/repy \
        --runner 'qemu-aarch64 -L /usr/aarch64-linux-gnu'
"""
import argparse
import socket
import threading
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BUSY_LOOP = """
def stop():
    exitall()
if callfunc == 'initialize':
    settimer(SECONDS, stop, [])
    while True:
        pass
"""

BIGINT_LOOP = """
def stop():
    exitall()
if callfunc == 'initialize':
    settimer(SECONDS, stop, [])
    x = 3
    while True:
        x = (x * x) % (10 ** 4000 + 7)
"""

RATE_PROGRAM = """
if callfunc == 'initialize':
    chunk = 'x' * CHUNK
    start = getruntime()
    sent = 0
    while getruntime() - start < SECONDS:
        print(chunk, end='')
        sent += CHUNK
    mycontext['sent'] = sent
"""

FILE_RATE_PROGRAM = """
if callfunc == 'initialize':
    chunk = 'x' * CHUNK
    f = open('out.dat', 'w')
    start = getruntime()
    while getruntime() - start < SECONDS:
        f.write(chunk)
    f.close()
"""

NET_RATE_PROGRAM = """
if callfunc == 'initialize':
    chunk = 'x' * CHUNK
    sent = 0
    start = getruntime()
    while getruntime() - start < SECONDS:
        sendmess(DEST, PORT, chunk)
        sent += 1
    print(sent)
"""

CPU_BOUND = """
if callfunc == 'initialize':
    total = 0
    for i in range(N):
        total += i * i % 7
    print(total)
"""


def restrictions(**changes):
    text = subprocess.run(REPY + ["restrictions", "show", "default"], capture_output=True, text=True, check=True).stdout
    lines = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "resource" and words[1] in changes:
            continue
        lines.append(line)
    lines += ["resource %s %s" % (k, v) for k, v in changes.items()]
    return "\n".join(lines) + "\n"


def run(program, restr, stdout=subprocess.DEVNULL, keep=None):
    """Runs a program; returns (wall seconds, CPU seconds of the whole process tree).
    `keep(vessel)` may look at the vessel directory before it is removed."""
    with tempfile.TemporaryDirectory() as vessel:
        with open(os.path.join(vessel, "prog.py"), "w") as f:
            f.write(program)
        with open(os.path.join(vessel, "r.txt"), "w") as f:
            f.write(restr)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        subprocess.run(REPY + ["run", "--restrictions", "r.txt", "prog.py"], cwd=vessel, stdout=stdout, check=False)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if keep:
            keep(vessel)
        return wall, cpu


def cpu_accuracy():
    print("CPU accuracy over %.0f s (target: within +-10%% of the limit)" % ARGS.seconds)
    print("%-8s %-8s %10s %10s" % ("program", "limit", "measured", "error"))
    for name, template in (("loop", BUSY_LOOP), ("bigint", BIGINT_LOOP)):
        for limit in ARGS.cpu_limits:
            program = template.replace("SECONDS", str(ARGS.seconds))
            wall, cpu = run(program, restrictions(cpu=limit))
            fraction = cpu / wall
            print("%-8s %-8s %10.3f %+9.1f%%" % (name, limit, fraction, 100 * (fraction - limit) / limit))
            sys.stdout.flush()


def rate_accuracy():
    print("\nOutput rate accuracy over %.0f s via print/lograte (target: within +-5%%)" % ARGS.seconds)
    print("%-12s %12s %12s %8s" % ("limit B/s", "measured", "bytes", "error"))
    for limit, chunk in ((10_000, 100), (1_000_000, 10_000)):
        program = RATE_PROGRAM.replace("SECONDS", str(ARGS.seconds)).replace("CHUNK", str(chunk))
        with tempfile.TemporaryFile() as out:
            wall, _ = run(program, restrictions(lograte=limit, cpu=1.0), stdout=out)
            out.seek(0, os.SEEK_END)
            size = out.tell()
        # A program may burst one second's worth at the start (restrictions.md 4.1).
        rate = (size - limit) / ARGS.seconds
        print("%-12d %12.0f %12d %+7.1f%%" % (limit, rate, size, 100 * (rate - limit) / limit))
    print("\nFile write rate accuracy over %.0f s via file.write/filewrite (target: within +-5%%)" % ARGS.seconds)
    print("%-12s %12s %12s %8s" % ("limit B/s", "measured", "bytes", "error"))
    for limit, chunk in ((10_000, 100), (1_000_000, 10_000)):
        program = FILE_RATE_PROGRAM.replace("SECONDS", str(ARGS.seconds)).replace("CHUNK", str(chunk))
        sizes = []
        run(program, restrictions(filewrite=limit, cpu=1.0), keep=lambda v: sizes.append(os.path.getsize(os.path.join(v, "out.dat"))))
        rate = (sizes[0] - limit) / ARGS.seconds
        print("%-12d %12.0f %12d %+7.1f%%" % (limit, rate, sizes[0], 100 * (rate - limit) / limit))


def non_loopback_ip():
    """This host's address towards the Internet: traffic to it is charged to netsend."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("8.8.8.8", 53))
    ip = probe.getsockname()[0]
    probe.close()
    return ip


def net_rate_accuracy():
    print("\nNetwork send rate accuracy over %.0f s via sendmess/netsend (target: within +-5%%)" % ARGS.seconds)
    print("%-12s %12s %12s %8s" % ("limit B/s", "measured", "bytes", "error"))
    dest = non_loopback_ip()
    for limit, chunk in ((10_000, 936), (1_000_000, 9_936)):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        receiver.bind((dest, 0))
        receiver.settimeout(0.5)
        arrived = []

        def drain():
            while True:
                try:
                    arrived.append(len(receiver.recv(65536)))
                except socket.timeout:
                    if done:
                        return

        done = False
        thread = threading.Thread(target=drain)
        thread.start()
        program = (NET_RATE_PROGRAM.replace("SECONDS", str(ARGS.seconds)).replace("CHUNK", str(chunk))
                   .replace("DEST", repr(dest)).replace("PORT", str(receiver.getsockname()[1])))
        run(program, restrictions(netsend=limit, cpu=1.0))
        done = True
        thread.join()
        receiver.close()
        # Each datagram is charged 64 bytes plus its payload (restrictions.md 4.6).
        charged = sum(n + 64 for n in arrived)
        rate = (charged - limit) / ARGS.seconds
        print("%-12d %12.0f %12d %+7.1f%%" % (limit, rate, charged, 100 * (rate - limit) / limit))


def overhead():
    print("\nSupervision overhead: CPU-bound program under cpu 1.0 vs the worker alone (target <= 5%)")
    program = CPU_BOUND.replace("N", "3000000")
    restr = restrictions(cpu=1.0)
    env_worker = dict(os.environ, REPY_ROLE="worker")
    supervised, bare = [], []
    for _ in range(5):
        supervised.append(run(program, restr)[0])
        with tempfile.TemporaryDirectory() as vessel:
            with open(os.path.join(vessel, "prog.py"), "w") as f:
                f.write(program)
            with open(os.path.join(vessel, "r.txt"), "w") as f:
                f.write(restr)
            start = time.monotonic()
            subprocess.run(REPY + ["run", "--restrictions", "r.txt", "prog.py"], cwd=vessel, env=env_worker, stdout=subprocess.DEVNULL, check=False)
            bare.append(time.monotonic() - start)
    s, b = sorted(supervised)[2], sorted(bare)[2]
    print("median supervised %.3f s, bare worker %.3f s, ratio %.3f" % (s, b, s / b))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repy", default=os.path.join(ROOT, "target", "release", "repy"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cpu-limits", type=lambda t: [float(x) for x in t.split(",")], default=[0.05, 0.1, 0.25, 0.5, 1.0], help="comma-separated CPU shares to measure")
    parser.add_argument("--runner", default="", help="an emulator command to run repy under, e.g. 'qemu-aarch64 -L /usr/aarch64-linux-gnu'")
    parser.add_argument("--only", choices=["cpu", "rates", "overhead"], help="run one part only")
    ARGS = parser.parse_args()
    if not os.path.exists(ARGS.repy):
        sys.exit("no repy binary at %s: run `cargo build --release` first" % ARGS.repy)
    # Absolute: programs run with their vessel directory as the working directory.
    REPY = ARGS.runner.split() + [os.path.abspath(ARGS.repy)]
    if ARGS.runner:
        os.environ["REPY_TEST_RUNNER"] = ARGS.runner
    parser_only = ARGS.only
    if parser_only in (None, "cpu"):
        cpu_accuracy()
    if parser_only in (None, "rates"):
        rate_accuracy()
        net_rate_accuracy()
    if parser_only in (None, "overhead"):
        overhead()
