"""Helpers shared by the node-manager benchmarks (bench/nodemanager.py, bench/soak.py) and the
testbed ones (bench/chord.py, bench/aggregate.py, bench/discovery.py).

Keys and node state directories are made with the `repy` binary itself (`repy keygen`,
`repy node init`); public requests, which need no signature, are sent from here directly
(nodemanager.md §3.1: a 4-byte big-endian length, then one JSON object).
"""
import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_repy(path):
    """The binary to use: PATH if given and present; by default target/release/repy, else
    target/debug/repy with a message saying so. Exits with a message if there is none."""
    release = os.path.join(ROOT, "target", "release", "repy")
    if path is None:
        if os.path.exists(release):
            return release
        debug = os.path.join(ROOT, "target", "debug", "repy")
        if os.path.exists(debug):
            print(f"note: no release binary at {release}; using the debug build {debug} "
                  "(slower: figures are not comparable with a release build)", file=sys.stderr)
            return debug
        sys.exit(f"no repy binary at {release} or {debug}: build it (./x build --release) or pass --repy PATH")
    if not os.path.exists(path):
        sys.exit(f"no repy binary at {path} (build it or pass another --repy)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(repy, name, directory):
    """Creates DIRECTORY/NAME.publickey and .privatekey; returns the path prefix of the key."""
    subprocess.run([repy, "keygen", name, "--dir", directory], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(directory, name)


def init_node(repy, state, owner_key, addr, vessels, cpu, memory, disk, ports, max_requests_per_s=1000000):
    """`repy node init` of STATE with VESSELS vessels owned by OWNER_KEY (a path prefix), then
    raises the per-address request rate limit of node.toml to MAX_REQUESTS_PER_S (the default,
    1000 a second, would refuse a benchmark's requests with Busy)."""
    subprocess.run(
        [repy, "node", "init", "--dir", state, "--owner", owner_key + ".publickey", "--listen", addr,
         "--vessels", str(vessels), "--cpu", str(cpu), "--memory", str(memory), "--disk", str(disk),
         "--ports", ports],
        check=True, stdout=subprocess.DEVNULL)
    config = os.path.join(state, "node.toml")
    with open(config) as f:
        text = f.read()
    if "max_requests_per_s = 1000\n" not in text:
        sys.exit(f"{config} has no 'max_requests_per_s = 1000' line to raise")
    with open(config, "w") as f:
        f.write(text.replace("max_requests_per_s = 1000\n", f"max_requests_per_s = {max_requests_per_s}\n"))


def start_node(repy, state, log):
    """Starts `repy node run --dir STATE` with its stderr appended to the file LOG."""
    with open(log, "a") as f:
        return subprocess.Popen([repy, "node", "run", "--dir", state], stderr=f, stdout=subprocess.DEVNULL)


def wait_listening(addr, timeout=10.0):
    """Waits until ADDR accepts TCP connections; returns False if it does not within TIMEOUT."""
    host, port = addr.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("connection closed before a whole response frame")
        data += chunk
    return data


def public_call(addr, call, args=None, timeout=5.0):
    """One unsigned (Public) request; returns the response object. Raises OSError on a
    transport failure."""
    host, port = addr.rsplit(":", 1)
    body = json.dumps({"v": 1, "id": "bench", "call": call, "args": args or {}}).encode()
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">I", len(body)) + body)
        (length,) = struct.unpack(">I", _read_exactly(s, 4))
        return json.loads(_read_exactly(s, length))


@contextlib.contextmanager
def testbed(repy, nodes, vessels, ports="40000-49999", more=()):
    """`repy testbed up` of NODES x VESSELS in a temporary directory, taken down afterwards
    however the block ends. Yields (directory, the `repy fleet --key K --nodes FILE` prefix)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([repy, "testbed", "up", "--nodes", str(nodes), "--vessels", str(vessels), "--dir", tmp,
                        "--ports", ports, *more], check=True, stdout=subprocess.DEVNULL)
        try:
            yield tmp, [repy, "fleet", "--key", os.path.join(tmp, "testbed"), "--nodes", os.path.join(tmp, "nodes.txt")]
        finally:
            subprocess.run([repy, "testbed", "down", "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def percentile(values, p):
    """The value below which a share P (0 to 1) of VALUES lies (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]
