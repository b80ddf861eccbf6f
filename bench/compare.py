#!/usr/bin/env python3
"""The sandbox against CPython, side by side (targets of the RustPython 0.6 issue, issue 13).

Runs each workload under `repy run` and under its reference in the same run, alternating,
several times, and prints a table of medians, the ratio repy / reference and the target:

  1. start-up: a one-line program, process start to exit, against `python3 -S`;
  2. CPU-bound suite (bench/programs/*.py) under `resource cpu 1.0`, against `python3`,
     with the geometric mean of the ratios and the largest single ratio; each program prints
     a checksum that must be the same under every runner;
  3. sandbox overhead: the same suite against `repy-bare` (bench/bare.rs: the same
     RustPython build with no static check, no supervisor and no resource accounting);
  4. UDP ping-pong and TCP bulk transfer on loopback (bench/programs/net/) against plain
     CPython sockets;
  5. idle footprint: PSS of 50 sleeping vessels (supervisor + worker) and the time to start
     them all, with 50 sleeping `python3 -S` processes as the reference.

    cargo build --release
    python3 bench/compare.py [--repy PATH] [--bare PATH] [--quick] [--reps N]
                             [--only startup,cpu,net,idle] [--json FILE]
    python3 bench/compare.py --table FILE      (the table of an earlier --json run)

Targets (issue 13, RustPython 0.6): start-up at most 1.0x `python3 -S`; CPU suite geometric
mean at most 2.5x CPython and no program above 5.0x; sandbox overhead against repy-bare at
most 1.03; UDP and TCP at least 1.0x CPython; idle vessel at most 8 MB PSS.

Every process it starts is killed before it returns, whatever happens.
"""
import argparse
import json
import math
import os
import re
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "bench", "programs")
NET = os.path.join(PROGRAMS, "net")

# Targets of issue 13 (RustPython 0.6): ratio bounds are repy / reference.
TARGET_STARTUP = 1.0        # repy / python3 -S, at most
TARGET_CPU = 2.5            # geometric mean of repy / python3 over the suite, at most
TARGET_CPU_MAX = 5.0        # repy / python3 of any single program of the suite, at most
TARGET_OVERHEAD = 1.03      # repy / bare, at most
TARGET_NET = 1.0            # repy / CPython throughput, at least
TARGET_PSS_MB = 8.0         # PSS per idle vessel, at most

CPYTHON_UDP = r"""
import socket, sys, threading, time
rounds = int(sys.argv[1])
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind(("127.0.0.1", 0))
b.bind(("127.0.0.1", 0))
def bounce():
    # B bounces every ping back to its sender, like the repy program's second registration.
    for _ in range(rounds):
        message, sender = b.recvfrom(65536)
        b.sendto(message, sender)
threading.Thread(target=bounce, daemon=True).start()
message = b"x" * 32
start = time.perf_counter()
for _ in range(rounds):
    a.sendto(message, b.getsockname())
    message, _ = a.recvfrom(65536)
print("udp", rounds, time.perf_counter() - start, len(message))
"""

CPYTHON_TCP = r"""
import socket, sys, threading, time
total = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
result = {}
def serve():
    sock, _ = listener.accept()
    got = 0
    while got < total:
        got += len(sock.recv(1048576))
    result["elapsed"] = time.perf_counter() - result["start"]
    result["got"] = got
server = threading.Thread(target=serve)
server.start()
conn = socket.create_connection(listener.getsockname())
chunk = b"x" * 65536
result["start"] = time.perf_counter()
left = total
while left > 0:
    data = chunk if left >= 65536 else chunk[:left]
    while data:
        n = conn.send(data)
        left -= n
        data = data[n:]
server.join()
print("tcp", result["got"], result["elapsed"])
"""

IDLE_REPY = 'if callfunc == "initialize":\n    print("ready")\n    sleep(600)\n'
IDLE_CPYTHON = 'import time\nprint("ready", flush=True)\ntime.sleep(600)\n'


def median(values):
    return statistics.median(values)


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def run_timed(argv, cwd, timeout=600):
    """Runs argv to completion; returns (wall seconds, CPU seconds of the process tree, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
        # A blocking wait, so the end is seen when it happens (polling would add up to its
        # period to every start-up sample); a timer kills the group if it never comes.
        expired = threading.Event()
        watchdog = threading.Timer(timeout, lambda: (expired.set(), kill_group(proc.pid)))
        watchdog.daemon = True
        watchdog.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            kill_group(proc.pid)
            raise
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
        if expired.is_set():
            raise RuntimeError("timed out after %d s: %s" % (timeout, " ".join(argv)))
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError("%s exited with %s:\n%s%s" % (" ".join(argv), proc.returncode, stdout, stderr[-2000:]))
    return wall, usage.ru_utime + usage.ru_stime, stdout


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def children_of(pid):
    """Every descendant of pid, from /proc (the worker `repy run` forks, and anything below)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        for child in parents.get(p, []):
            found.append(child)
            todo.append(child)
    return found


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrap_for_repy(body):
    """A suite program as a repy program: its body runs when callfunc is 'initialize'."""
    lines = ["if callfunc == 'initialize':"]
    for line in body.splitlines():
        lines.append(("    " + line) if line.strip() else "")
    return "\n".join(lines) + "\n"


def scaled(body, quick):
    """The program with each `NAME = n  # quick: m` line set to m under --quick."""
    if not quick:
        return body
    return re.sub(r"^(\w+) = \d+\s*# quick: (\d+)", r"\1 = \2", body, flags=re.M)


def restrictions(repy, overrides, path):
    text = subprocess.run([repy, "restrictions", "show", "default"], check=True,
                          capture_output=True, text=True).stdout
    for name, value in overrides.items():
        text, n = re.subn(r"^resource %s\s.*$" % name, "resource %s %s" % (name, value), text, flags=re.M)
        if n != 1:
            raise RuntimeError("default profile has no single 'resource %s' line" % name)
    with open(path, "w") as f:
        f.write(text)
    subprocess.run([repy, "restrictions", "check", path], check=True)
    return path


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# 1. Start-up

def bench_startup(ctx):
    reps = ctx.reps * 4
    work = ctx.work
    with open(os.path.join(work, "one_line.py"), "w") as f:
        f.write('if callfunc == "initialize": print("hello")\n')
    with open(os.path.join(work, "one_line_cpython.py"), "w") as f:
        f.write('print("hello")\n')
    runners = [("repy", [ctx.repy, "run", "--restrictions", ctx.cpu_r, "one_line.py"]),
               ("cpython", [sys.executable, "-S", "one_line_cpython.py"])]
    if ctx.bare:
        runners.append(("bare", [ctx.bare, "one_line_cpython.py"]))
    times = {name: [] for name, _ in runners}
    for i in range(reps):
        order = runners[i % len(runners):] + runners[:i % len(runners)]
        for name, argv in order:
            times[name].append(run_timed(argv, work)[0])
    res = {name: median(v) for name, v in times.items()}
    log("start-up: " + ", ".join("%s %.1f ms" % (k, v * 1000) for k, v in res.items()))
    ctx.results["startup"] = {"reps": reps, "median_s": res, "all_s": times}


# ---------------------------------------------------------------------------------------
# 2 and 3. CPU-bound suite, against CPython and against the bare embedded interpreter

def bench_cpu(ctx):
    names = sorted(f for f in os.listdir(PROGRAMS) if f.endswith(".py"))
    work = ctx.work
    suite = {}
    for name in names:
        with open(os.path.join(PROGRAMS, name)) as f:
            body = scaled(f.read(), ctx.quick)
        stem = name[:-3]
        plain = os.path.join(work, stem + "_plain.py")
        wrapped = os.path.join(work, stem + "_repy.py")
        with open(plain, "w") as f:
            f.write(body)
        with open(wrapped, "w") as f:
            f.write(wrap_for_repy(body))
        subprocess.run([ctx.repy, "check", wrapped], check=True)
        runners = [("repy", [ctx.repy, "run", "--restrictions", ctx.cpu_r, wrapped]),
                   ("cpython", [sys.executable, plain])]
        if ctx.bare:
            runners.append(("bare", [ctx.bare, plain]))
        wall = {n: [] for n, _ in runners}
        cpu = {n: [] for n, _ in runners}
        outputs = {}
        for i in range(ctx.reps):
            order = runners[i % len(runners):] + runners[:i % len(runners)]
            for runner, argv in order:
                w, c, out = run_timed(argv, work)
                wall[runner].append(w)
                cpu[runner].append(c)
                outputs.setdefault(runner, set()).add(out.strip())
        checksums = set().union(*outputs.values())
        if len(checksums) != 1:
            raise RuntimeError("%s: outputs differ between runs: %r" % (name, outputs))
        entry = {"checksum": checksums.pop(),
                 "wall_median_s": {n: median(v) for n, v in wall.items()},
                 "cpu_median_s": {n: median(v) for n, v in cpu.items()},
                 "wall_s": wall, "cpu_s": cpu}
        suite[stem] = entry
        log("cpu %-15s " % stem + ", ".join("%s %.2f s" % (k, v) for k, v in entry["wall_median_s"].items())
            + "  [%s]" % entry["checksum"])
    ctx.results["cpu"] = suite

    # Diagnostic, outside the suite and its geometric mean: one sort of a long list.
    with open(os.path.join(PROGRAMS, "diag", "big_sort.py")) as f:
        body = scaled(f.read(), ctx.quick)
    plain = os.path.join(work, "big_sort_plain.py")
    wrapped = os.path.join(work, "big_sort_repy.py")
    with open(plain, "w") as f:
        f.write(body)
    with open(wrapped, "w") as f:
        f.write(wrap_for_repy(body))
    runners = [("repy", [ctx.repy, "run", "--restrictions", ctx.cpu_r, wrapped]),
               ("cpython", [sys.executable, plain])]
    if ctx.bare:
        runners.append(("bare", [ctx.bare, plain]))
    diag, outputs = {}, set()
    for runner, argv in runners:
        w, _, out = run_timed(argv, work)
        diag[runner] = w
        outputs.add(out.strip())
    if len(outputs) != 1:
        raise RuntimeError("big_sort: outputs differ: %r" % outputs)
    n = int(re.search(r"^N = (\d+)", body, re.M).group(1))
    log("diag big_sort n=%d: " % n + ", ".join("%s %.2f s" % kv for kv in diag.items()))
    ctx.results["big_sort"] = {"n": n, "wall_s": diag}


# ---------------------------------------------------------------------------------------
# 4. Network on loopback

def bench_net(ctx):
    work = ctx.work
    rounds = 2000 if ctx.quick else 10000
    total = 20 * 10**6 if ctx.quick else 100 * 10**6
    udp = {"repy": [], "cpython": []}
    tcp = {"repy": [], "cpython": []}
    reps = max(3, ctx.reps) if not ctx.quick else 2
    for i in range(reps):
        pa, pb = free_port(), free_port()
        runs = [("repy", [ctx.repy, "run", "--restrictions", ctx.net_r,
                          os.path.join(NET, "udp_pingpong.py"), str(rounds), str(pa), str(pb)]),
                ("cpython", [sys.executable, "-c", CPYTHON_UDP, str(rounds)])]
        for name, argv in (runs if i % 2 == 0 else runs[::-1]):
            out = run_timed(argv, work, timeout=300)[2].split()
            if out[:2] != ["udp", str(rounds)]:
                raise RuntimeError("udp ping-pong under %s: %r" % (name, out))
            udp[name].append(rounds / float(out[2]))
        port = free_port(socket.SOCK_STREAM)
        runs = [("repy", [ctx.repy, "run", "--restrictions", ctx.net_r,
                          os.path.join(NET, "tcp_bulk.py"), str(total), str(port)]),
                ("cpython", [sys.executable, "-c", CPYTHON_TCP, str(total)])]
        for name, argv in (runs if i % 2 == 0 else runs[::-1]):
            out = run_timed(argv, work, timeout=300)[2].split()
            if out[:2] != ["tcp", str(total)]:
                raise RuntimeError("tcp bulk under %s: %r" % (name, out))
            tcp[name].append(total / 1e6 / float(out[2]))
    res = {"rounds": rounds, "bytes": total, "reps": reps,
           "udp_rt_per_s": {k: median(v) for k, v in udp.items()}, "udp_all": udp,
           "tcp_mb_per_s": {k: median(v) for k, v in tcp.items()}, "tcp_all": tcp}
    log("udp: repy %.0f rt/s, cpython %.0f rt/s" % (res["udp_rt_per_s"]["repy"], res["udp_rt_per_s"]["cpython"]))
    log("tcp: repy %.0f MB/s, cpython %.0f MB/s" % (res["tcp_mb_per_s"]["repy"], res["tcp_mb_per_s"]["cpython"]))
    ctx.results["net"] = res


# ---------------------------------------------------------------------------------------
# 5. Idle footprint

def start_many(argvs, cwd, timeout):
    """Starts every argv at once; returns (procs, seconds until each printed its ready line)."""
    procs = []
    sel = selectors.DefaultSelector()
    start = time.perf_counter()
    try:
        for argv in argvs:
            p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            procs.append(p)
            sel.register(p.stdout, selectors.EVENT_READ, p)
        waiting = {p.pid: b"" for p in procs}
        while waiting:
            left = start + timeout - time.perf_counter()
            if left <= 0:
                raise RuntimeError("%d of %d processes not ready after %d s" % (len(waiting), len(procs), timeout))
            for key, _ in sel.select(min(left, 1.0)):
                p = key.data
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    sel.unregister(p.stdout)
                    if p.pid in waiting:
                        raise RuntimeError("a process exited before it was ready: %s" % " ".join(p.args))
                    continue
                if p.pid in waiting:
                    waiting[p.pid] += chunk
                    if b"ready" in waiting[p.pid]:
                        del waiting[p.pid]
        return procs, time.perf_counter() - start
    except BaseException:
        stop_all(procs, [])
        raise
    finally:
        sel.close()


def stop_all(procs, extra_pids):
    for p in procs:
        kill_group(p.pid)
    for pid in extra_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if p.stdout:
            p.stdout.close()


def footprint(argvs, cwd):
    procs, extra = [], []
    try:
        procs, ready_s = start_many(argvs, cwd, timeout=300)
        time.sleep(1.0)
        per_proc, processes = [], []
        for p in procs:
            tree = [p.pid] + children_of(p.pid)
            extra.extend(tree[1:])
            processes.append(len(tree))
            per_proc.append(sum(pss_kb(pid) for pid in tree))
        return {"ready_s": ready_s, "pss_kb": per_proc, "processes": processes,
                "pss_mb_mean": statistics.mean(per_proc) / 1024.0,
                "pss_mb_max": max(per_proc) / 1024.0}
    finally:
        stop_all(procs, extra)


def bench_idle(ctx):
    work = ctx.work
    count = 10 if ctx.quick else 50
    with open(os.path.join(work, "idle.py"), "w") as f:
        f.write(IDLE_REPY)
    with open(os.path.join(work, "idle_cpython.py"), "w") as f:
        f.write(IDLE_CPYTHON)
    repy = footprint([[ctx.repy, "run", "--restrictions", ctx.cpu_r, "idle.py"]] * count, work)
    cpython = footprint([[sys.executable, "-S", "idle_cpython.py"]] * count, work)
    log("idle x%d: repy %.2f MB PSS/vessel (%d processes each), started in %.2f s; cpython %.2f MB, %.2f s"
        % (count, repy["pss_mb_mean"], max(repy["processes"]), repy["ready_s"], cpython["pss_mb_mean"], cpython["ready_s"]))
    ctx.results["idle"] = {"count": count, "repy": repy, "cpython": cpython}


# ---------------------------------------------------------------------------------------
# The table

def fmt_ratio(r):
    return "%.2f" % r if r < 100 else "%.0f" % r


def verdict(ratio, bound, at_most):
    if bound is None:
        return "—"
    ok = ratio <= bound if at_most else ratio >= bound
    return "met" if ok else "MISSED"


def table(ctx):
    r = ctx.results
    rows = []

    def row(workload, repy, ref, ratio, target, status):
        rows.append((workload, repy, ref, ratio, target, status))

    if "startup" in r:
        m = r["startup"]["median_s"]
        startup = m["repy"] / m["cpython"]
        row("start-up, one line (vs `python3 -S`)", "%.1f ms" % (m["repy"] * 1000), "%.1f ms" % (m["cpython"] * 1000),
            fmt_ratio(startup), "≤ %.1f" % TARGET_STARTUP, verdict(startup, TARGET_STARTUP, True))
        if "bare" in m:
            row("start-up, one line (vs repy-bare)", "%.1f ms" % (m["repy"] * 1000), "%.1f ms" % (m["bare"] * 1000),
                fmt_ratio(m["repy"] / m["bare"]), "(info)", "")
    if "cpu" in r:
        suite = r["cpu"]
        vs_cpy, vs_bare = [], []
        for stem, e in suite.items():
            m = e["wall_median_s"]
            ratio = m["repy"] / m["cpython"]
            vs_cpy.append(ratio)
            row("cpu: %s (vs python3)" % stem, "%.2f s" % m["repy"], "%.2f s" % m["cpython"], fmt_ratio(ratio),
                "(info)", "")
        g = geomean(vs_cpy)
        row("cpu: geometric mean (vs python3)", "", "", fmt_ratio(g), "≤ %.1f" % TARGET_CPU, verdict(g, TARGET_CPU, True))
        # No single program may be far behind, whatever the mean.
        worst_ratio, worst = max(zip(vs_cpy, suite))
        row("cpu: max program ratio (vs python3), %s" % worst, "", "", fmt_ratio(worst_ratio),
            "≤ %.1f" % TARGET_CPU_MAX, verdict(worst_ratio, TARGET_CPU_MAX, True))
        if all("bare" in e["wall_median_s"] for e in suite.values()):
            for stem, e in suite.items():
                m = e["wall_median_s"]
                ratio = m["repy"] / m["bare"]
                vs_bare.append(ratio)
                row("overhead: %s (vs repy-bare)" % stem, "%.2f s" % m["repy"], "%.2f s" % m["bare"],
                    "%.3f" % ratio, "≤ %.2f" % TARGET_OVERHEAD, verdict(ratio, TARGET_OVERHEAD, True))
            g = geomean(vs_bare)
            row("overhead: geometric mean (vs repy-bare)", "", "", "%.3f" % g, "≤ %.2f" % TARGET_OVERHEAD,
                verdict(g, TARGET_OVERHEAD, True))
            # The same by CPU time of the process tree (supervisor + worker), which leaves out
            # the supervisor's exit latency and is less sensitive to other load.
            by_cpu = [e["cpu_median_s"]["repy"] / e["cpu_median_s"]["bare"] for e in suite.values()]
            g = geomean(by_cpu)
            row("overhead by CPU time: geometric mean", "", "", "%.3f" % g, "(info)", "")
    if "big_sort" in r:
        d = r["big_sort"]
        w = d["wall_s"]
        row("diag: one sorted() of %d ints (vs python3)" % d["n"], "%.2f s" % w["repy"], "%.2f s" % w["cpython"],
            fmt_ratio(w["repy"] / w["cpython"]), "not in suite", "—")
        if "bare" in w:
            row("diag: one sorted() of %d ints (vs repy-bare)" % d["n"], "%.2f s" % w["repy"], "%.2f s" % w["bare"],
                "%.3f" % (w["repy"] / w["bare"]), "not in suite", "—")
    if "net" in r:
        n = r["net"]
        u = n["udp_rt_per_s"]
        row("UDP ping-pong, %d round trips" % n["rounds"], "%.0f rt/s" % u["repy"], "%.0f rt/s" % u["cpython"],
            fmt_ratio(u["repy"] / u["cpython"]), "≥ %.1f" % TARGET_NET, verdict(u["repy"] / u["cpython"], TARGET_NET, False))
        t = n["tcp_mb_per_s"]
        row("TCP bulk, %d MB" % (n["bytes"] // 10**6), "%.0f MB/s" % t["repy"], "%.0f MB/s" % t["cpython"],
            fmt_ratio(t["repy"] / t["cpython"]), "≥ %.1f" % TARGET_NET, verdict(t["repy"] / t["cpython"], TARGET_NET, False))
    if "idle" in r:
        i = r["idle"]
        rp, cp = i["repy"], i["cpython"]
        row("idle PSS per vessel (%d vessels)" % i["count"], "%.2f MB" % rp["pss_mb_mean"], "%.2f MB" % cp["pss_mb_mean"],
            fmt_ratio(rp["pss_mb_mean"] / cp["pss_mb_mean"]), "≤ %.0f MB" % TARGET_PSS_MB,
            verdict(rp["pss_mb_mean"], TARGET_PSS_MB, True))
        row("time to start %d vessels" % i["count"], "%.2f s" % rp["ready_s"], "%.2f s" % cp["ready_s"],
            fmt_ratio(rp["ready_s"] / cp["ready_s"]), "(info)", "")

    head = ("workload", "repy", "reference", "ratio", "target", "")
    widths = [max(len(x[c]) for x in rows + [head]) for c in range(len(head))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for x in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(x, widths)) + " |")
    return "\n".join(lines)


class Context:
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repy", default=os.path.join(ROOT, "target", "release", "repy"))
    ap.add_argument("--bare", default=os.path.join(ROOT, "target", "release", "repy-bare"),
                    help="the bare embedded interpreter (bench/bare.rs); the overhead rows are skipped if missing")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sizes")
    ap.add_argument("--reps", type=int, help="repetitions per workload (default 5, --quick 2)")
    ap.add_argument("--only", default="startup,cpu,net,idle", help="comma-separated subset of startup,cpu,net,idle")
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--table", metavar="JSON", help="only print the table of a file written by --json")
    args = ap.parse_args()
    if args.table:
        ctx = Context()
        with open(args.table) as f:
            ctx.results = json.load(f)
        print(table(ctx))
        return

    ctx = Context()
    ctx.repy = os.path.abspath(args.repy)
    if not os.access(ctx.repy, os.X_OK):
        sys.exit("compare.py: no repy binary at %s (cargo build --release, or --repy PATH)" % ctx.repy)
    ctx.bare = os.path.abspath(args.bare) if os.access(args.bare, os.X_OK) else None
    if not ctx.bare:
        log("compare.py: no repy-bare at %s: sandbox-overhead rows skipped" % args.bare)
    ctx.quick = args.quick
    ctx.reps = args.reps or (2 if args.quick else 5)
    ctx.results = {}
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="repy-compare-") as work:
        ctx.work = work
        ctx.cpu_r = restrictions(ctx.repy, {"cpu": "1.0"}, os.path.join(work, "cpu.r"))
        big = "1000000000000"
        ctx.net_r = restrictions(ctx.repy, {"cpu": "1.0", "loopsend": big, "looprecv": big,
                                            "netsend": big, "netrecv": big}, os.path.join(work, "net.r"))
        for name, fn in (("startup", bench_startup), ("cpu", bench_cpu), ("net", bench_net), ("idle", bench_idle)):
            if name in sections:
                fn(ctx)
    elapsed = time.perf_counter() - started
    print()
    print("repy: %s   bare: %s   python3: %s (%s)" % (ctx.repy, ctx.bare or "-", sys.executable, sys.version.split()[0]))
    print("repetitions: %d%s, medians; %.0f s in all" % (ctx.reps, " (--quick)" if ctx.quick else "", elapsed))
    print()
    print(table(ctx))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(ctx.results, f, indent=1)


if __name__ == "__main__":
    main()
