#!/usr/bin/env python3
"""Soak test of the node manager: signing clients at work while the node manager is killed.

One node manager holds --vessels vessels (30) and --clients client threads (20) work on them
for --minutes (10), each with its own key and its own vessels, each request signed and sent
by `repy node call` (one process per request). The mix: uploads of files with known contents
(random sizes, up to 1 MiB, each under a new name), reads of them back (hash compared), file
lists, starts and stops of a small program, log reads, and a split and join of the client's
vessels. Every --kill-every seconds (20) the node manager gets SIGKILL and is started again at
once on the same state directory. A request that fails because of a kill is not acknowledged
(it is counted); the client then asks the node (GetVessels) what became of its vessels, as
nodemanager.md §7 says a client that lost a response should, and carries on.

At the end every acknowledged upload must be present with its hash (RetrieveFileFromVessel),
unless the client's own split or join consumed its vessel afterwards, in which case it was
read back and compared just before that request; every vessel must still be there (each
client owns as many vessels as at the start, with the same resources); the figures are
printed and a PASS/FAIL line; the exit status is 1 on any lost or corrupt upload or lost
vessel.

The vessels are made by splitting one vessel of `repy node init` (so the per-node `events 100`
goes where it is needed): a vessel can be split only with at least 4 events (the offcut
takes 2, each half needs 1), and 30 vessels leave 40 events beyond the offcuts. Clients with
two vessels of 1 event join them (4 events) and split the result back; clients with one vessel
split it and join the halves back when it has 4 events, which the budget allows for 3 of them.
With 30 vessels and 20 clients that is 13 clients doing split/join; the other 7 do the rest
of the mix.

    python3 bench/soak.py [--repy target/release/repy] [--minutes 10] [--clients 20]
                          [--vessels 30] [--kill-every 20] [--dir DIR] [--json FILE]
"""
import argparse
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from _nodes import find_repy, free_port, init_node, keygen, public_call, start_node, wait_listening

# The program the clients start: prints a line a second until it is stopped. One event (the
# initialize run) is all it needs.
PROGRAM = b"""if callfunc == 'initialize':
    n = 0
    while True:
        print(callargs[0] + ' tick ' + str(n))
        n = n + 1
        sleep(1)
"""
PROGRAM_SHA = hashlib.sha256(PROGRAM).hexdigest()

WINDOW_AFTER_RESTART = 3.0   # seconds after each kill counted as "restart" time
CALL_TIMEOUT = 120           # a request that takes longer is a failure of its own kind
PER_VESSEL_CPU = 0.05
PER_VESSEL_MEMORY = 60_000_000
PER_VESSEL_DISK = 200_000_000


# ---------------------------------------------------------------------------------------------
# Resource texts (nodemanager.md §6): numeric values in micro-units, ports as ranges.

def parse_resources(text):
    """{name: micro-units} for numeric lines, {name: [(a, b)]} for port lines."""
    values, ports = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[0] != "resource":
            continue
        name, value = parts[1], parts[2]
        if name in ("messport", "connport"):
            a, _, b = value.partition("-")
            ports.setdefault(name, []).append((int(a), int(b or a)))
        else:
            whole, _, frac = value.partition(".")
            values[name] = int(whole) * 1_000_000 + int((frac + "000000")[:6])
    return values, ports


def micro_text(micro):
    whole, frac = divmod(micro, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".") if frac else str(whole)


def resources_text(values, first_port, last_port):
    lines = [f"resource {name} {micro_text(v)}" for name, v in values.items()]
    lines += [f"resource {p} {first_port}-{last_port}" for p in ("messport", "connport")]
    return "\n".join(lines) + "\n"


def floor_unit(micro, name):
    """Whole units, except cpu which keeps its micro-units."""
    return micro if name == "cpu" else micro // 1_000_000 * 1_000_000


# ---------------------------------------------------------------------------------------------
# Signed requests through `repy node call`.

class Result:
    def __init__(self, ok, out=b"", kind="", code="", message=""):
        self.ok, self.out, self.kind, self.code, self.message = ok, out, kind, code, message

    def json(self):
        return json.loads(self.out)


def node_call(repy, key, addr, call, args):
    """ARGS: one dict (sent as the JSON argument object) or a list of NAME=VALUE strings.
    kind: '' (answered), 'down' (could not connect: nothing was sent), 'lost' (connection cut
    or no response: the request may or may not have acted), 'timeout', 'client' (the client
    process failed otherwise); code: the node's error code if it refused."""
    argv = [json.dumps(args)] if isinstance(args, dict) else list(args)
    try:
        p = subprocess.run([repy, "node", "call", "--key", key, "--node", addr, call] + argv,
                           capture_output=True, timeout=CALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Result(False, kind="timeout", message=f"no answer in {CALL_TIMEOUT} s")
    if p.returncode == 0:
        return Result(True, p.stdout)
    err = p.stderr.decode("utf-8", "replace").strip()
    marker = f" refused {call}: "
    if p.returncode == 1 and marker in err:
        rest = err.split(marker, 1)[1]
        return Result(False, kind="refused", code=rest.split(":", 1)[0].strip(), message=rest)
    if p.returncode == 1 and "cannot connect" in err:
        return Result(False, kind="down", message=err)
    if p.returncode == 1:
        return Result(False, kind="lost", message=err)
    return Result(False, kind="client", message=f"status {p.returncode}: {err[-300:]}")


# ---------------------------------------------------------------------------------------------

class Soak:
    """What the clients share: the node's address, the counters, and the problems found."""

    def __init__(self, repy, addr, tmp):
        self.repy, self.addr, self.tmp = repy, addr, tmp
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.t0 = None
        self.acks = []            # (completion time, call, latency) of acknowledged requests while soaking
        self.failures = {}        # (phase, call, kind or code) -> count
        self.problems = []        # lost or corrupt uploads, lost vessels: each a line
        self.notes = []           # unexpected but not failing observations
        self.counts = {}          # named counters
        self.soaking = True

    def count(self, name, n=1):
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + n

    def problem(self, text):
        with self.lock:
            self.problems.append(f"[{self.now():7.2f} s] {text}")
        print(f"PROBLEM: {text}", file=sys.stderr, flush=True)

    def note(self, text):
        with self.lock:
            if len(self.notes) < 200:
                self.notes.append(f"[{self.now():7.2f} s] {text}")

    def now(self):
        return time.monotonic() - self.t0 if self.t0 else 0.0

    def call(self, key, call, args, record=True):
        start = time.monotonic()
        r = node_call(self.repy, key, self.addr, call, args)
        end = time.monotonic()
        if not record:
            return r
        with self.lock:
            phase = "soak" if self.soaking else "final"
            if r.ok:
                if self.soaking:
                    self.acks.append((end - self.t0, call, end - start))
                else:
                    self.counts["final acknowledged"] = self.counts.get("final acknowledged", 0) + 1
            else:
                what = r.code if r.kind == "refused" else r.kind
                self.failures[(phase, call, what)] = self.failures.get((phase, call, what), 0) + 1
        if not r.ok and r.kind in ("refused", "timeout", "client"):
            self.note(f"{call} {json.dumps(args)[:120]}: {r.kind} {r.code} {r.message[:200]}")
        return r

    def get_vessels(self, wait=True):
        """GetVessels (unsigned); with WAIT, retried until the node answers."""
        while True:
            try:
                response = public_call(self.addr, "GetVessels", timeout=10)
                if response.get("ok"):
                    return response["result"]["vessels"]
            except (OSError, ValueError):
                pass
            if not wait:
                return None
            time.sleep(0.1)


class Client(threading.Thread):
    """One signing client: its key, its vessels, and what it has uploaded to them."""

    def __init__(self, soak, index, key, pub, kind, vessels, rng):
        super().__init__(name=f"client{index}", daemon=True)
        self.soak, self.index, self.key, self.pub, self.kind = soak, index, key, pub, kind
        self.rng = rng
        self.home = len(vessels)                       # vessels it owns between operations
        self.vessels = {v: {"status": "Fresh", "prog": False} for v in vessels}
        self.expected = {v: {} for v in vessels}       # acknowledged uploads: vessel -> name -> sha256
        self.unacked = {v: {} for v in vessels}        # uploads whose answer was lost
        self.consuming = set()                         # vessels named in a split/join sent since the last resync
        self.split_back = None                         # pair: the resources of the second vessel
        self.half = None                               # split: the proposal that halves its vessel
        self.home_resources = []                       # sorted resource texts at the start
        self.uploads = 0
        self.datafile = os.path.join(soak.tmp, f"upload{index}.dat")
        self.error = None

    # -- bookkeeping ---------------------------------------------------------------------------

    def request(self, call, args):
        r = self.soak.call(self.key, call, args)
        if not r.ok:
            self.resync()
        return r

    def resync(self):
        """Learns from GetVessels which vessels the client owns now and their status."""
        records = self.soak.get_vessels()
        mine = {rec["name"]: rec for rec in records if rec["owner_key"] == self.pub}
        for name in list(self.vessels):
            if name in mine:
                continue
            if name not in self.consuming:
                self.soak.problem(f"client {self.index}: vessel {name} is gone, and no split or join of it was sent "
                                  f"({len(self.expected.get(name, {}))} acknowledged uploads in it)")
            else:
                self.soak.count("acknowledged uploads consumed by a split/join after being read back",
                                len(self.expected.get(name, {})))
            del self.vessels[name]
            self.expected.pop(name, None)
            if name in self.consuming:
                self.soak.count("unacknowledged uploads in a vessel consumed by a split/join",
                                len(self.unacked.get(name, {})))
            self.unacked.pop(name, None)
        for name, rec in mine.items():
            if name not in self.vessels:
                if not self.consuming:
                    self.soak.problem(f"client {self.index}: vessel {name} appeared without a split or join")
                self.vessels[name] = {"status": rec["status"], "prog": False}
                self.expected[name] = {}
                self.unacked[name] = {}
            self.vessels[name]["status"] = rec["status"]
            if rec["status"] == "Stale":
                self.soak.count("vessels seen Stale")
                self.soak.note(f"client {self.index}: vessel {name} is Stale: {rec.get('last_exit')}")
        self.consuming = set()

    def pick(self):
        return self.rng.choice(sorted(self.vessels))

    # -- operations ----------------------------------------------------------------------------

    def upload(self, vessel, name, data):
        with open(self.datafile, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        r = self.soak.call(self.key, "AddFileToVessel", [f"vessel={vessel}", f"filename={name}", f"data=@{self.datafile}"])
        if r.ok:
            self.expected[vessel][name] = digest
            self.soak.count("acknowledged uploads")
            self.soak.count("acknowledged upload bytes", len(data))
            if name == "prog.py":
                self.vessels[vessel]["prog"] = True
        else:
            self.unacked[vessel][name] = digest
            self.soak.count("unacknowledged uploads")
            self.resync()
        return r.ok

    def op_upload(self):
        self.uploads += 1
        roll = self.rng.random()
        size = self.rng.randint(1, 4096) if roll < 0.7 else self.rng.randint(4097, 65536) if roll < 0.95 \
            else self.rng.randint(65537, 1 << 20)
        self.upload(self.pick(), f"c{self.index}-{self.uploads}.dat", self.rng.randbytes(size))

    def check_file(self, vessel, name, digest, when):
        """Reads a file back; returns False if the request failed (nothing learnt)."""
        r = self.request("RetrieveFileFromVessel", {"vessel": vessel, "filename": name})
        if r.ok:
            got = hashlib.sha256(r.out).hexdigest()
            if got != digest:
                self.soak.problem(f"client {self.index}: {vessel}/{name} is corrupt ({when}): "
                                  f"sha256 {got}, uploaded {digest} ({len(r.out)} bytes read)")
            else:
                self.soak.count(f"acknowledged uploads read back intact ({when})")
            return True
        if r.kind == "refused" and r.code == "NoSuchFile":
            self.soak.problem(f"client {self.index}: acknowledged upload {vessel}/{name} is missing ({when})")
            return True
        return False

    def op_retrieve(self):
        files = [(v, n, d) for v, names in self.expected.items() for n, d in names.items()]
        if files:
            self.check_file(*self.rng.choice(files), "during the soak")

    def op_list(self):
        vessel = self.pick()
        r = self.request("ListFilesInVessel", {"vessel": vessel})
        if r.ok:
            listed = set(r.json()["files"])
            for name in sorted(set(self.expected[vessel]) - listed):
                self.soak.problem(f"client {self.index}: acknowledged upload {vessel}/{name} is not listed")

    def op_log(self):
        self.request("ReadVesselLog", {"vessel": self.pick()})

    def op_start_stop(self):
        vessel = self.pick()
        if self.vessels[vessel]["status"] == "Started":
            r = self.request("StopVessel", {"vessel": vessel})
            if r.ok:
                self.vessels[vessel]["status"] = r.json()["status"]
            return
        if not self.vessels[vessel]["prog"] and not self.upload(vessel, "prog.py", PROGRAM):
            return
        r = self.request("StartVessel", {"vessel": vessel, "args": ["prog.py", f"c{self.index}"]})
        if r.ok:
            self.vessels[vessel]["status"] = "Started"

    def prepare_to_consume(self, vessels):
        """Stops the vessels and reads back every acknowledged upload in them; False if a
        request failed (the caller tries again later)."""
        for v in vessels:
            if self.vessels[v]["status"] == "Started":
                r = self.request("StopVessel", {"vessel": v})
                if not r.ok:
                    return False
                self.vessels[v]["status"] = r.json()["status"]
        for v in vessels:
            for name, digest in sorted(self.expected[v].items()):
                if not self.check_file(v, name, digest, "before a split/join"):
                    return False
        return True

    def consume(self, call, args, vessels):
        if not self.prepare_to_consume(vessels):
            return False
        self.consuming |= set(vessels)
        r = self.soak.call(self.key, call, args)
        if r.ok:
            self.soak.count(f"acknowledged {call}")
        self.resync()   # also on success: the new names come from the node
        return r.ok

    def leave_home(self):
        """The first half of a split/join cycle."""
        names = sorted(self.vessels)
        if self.kind == "pair":
            self.consume("JoinVessels", {"vessel": names[0], "vessel2": names[1]}, names[:2])
        elif self.kind == "split":
            self.consume("SplitVessel", {"vessel": names[0], "resources": self.half}, names[:1])

    def return_home(self):
        """Brings the client back to its vessels (after its own cycle or a lost answer)."""
        names = sorted(self.vessels)
        if self.kind == "pair" and len(names) == 1:
            return self.consume("SplitVessel", {"vessel": names[0], "resources": self.split_back}, names)
        if self.kind == "split" and len(names) == 2:
            return self.consume("JoinVessels", {"vessel": names[0], "vessel2": names[1]}, names)
        return True

    def at_home(self):
        return len(self.vessels) == self.home

    def step(self):
        if not self.at_home():
            self.return_home()
            return
        ops = [(self.op_upload, 35), (self.op_retrieve, 10), (self.op_list, 5), (self.op_log, 15),
               (self.op_start_stop, 25)]
        if self.kind in ("pair", "split"):
            ops.append((self.leave_home, 6))
        op = self.rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
        op()

    def run(self):
        try:
            while not self.soak.stop.is_set():
                self.step()
        except Exception as e:  # a bug of this script: reported, and the run fails
            import traceback
            self.error = traceback.format_exc()
            self.soak.problem(f"client {self.index} crashed: {e!r}")

    def finish(self):
        """After the soak: back home, then every acknowledged upload read back."""
        for _ in range(20):
            if self.at_home():
                break
            self.return_home()
        else:
            self.soak.problem(f"client {self.index} could not get back to its {self.home} vessels: {sorted(self.vessels)}")
        files = [(v, n, d) for v, names in sorted(self.expected.items()) for n, d in sorted(names.items())]
        for v, name, digest in files:
            for _ in range(5):
                if self.check_file(v, name, digest, "at the end"):
                    break
            else:
                self.soak.problem(f"client {self.index}: {v}/{name} could not be read back at the end")
        doubtful = [(v, n, d) for v, names in sorted(self.unacked.items()) for n, d in sorted(names.items())]
        for v, name, digest in doubtful:
            if name in self.expected.get(v, {}):
                self.soak.count("unacknowledged uploads acknowledged by a later upload (prog.py)")
                continue
            # Not counted as a request or failure: absence is a possible outcome.
            r = self.soak.call(self.key, "RetrieveFileFromVessel", {"vessel": v, "filename": name}, record=False)
            if r.ok:
                if hashlib.sha256(r.out).hexdigest() == digest:
                    self.soak.count("unacknowledged uploads present and intact")
                else:
                    self.soak.problem(f"client {self.index}: unacknowledged upload {v}/{name} is present but corrupt")
            elif r.code == "NoSuchFile":
                self.soak.count("unacknowledged uploads absent")
            else:
                self.soak.problem(f"client {self.index}: unacknowledged upload {v}/{name}: {r.kind} {r.message}")


# ---------------------------------------------------------------------------------------------

def plan_events(clients, vessels):
    """Vessels per client, which clients split/join how, and each vessel's events."""
    if vessels < clients:
        sys.exit("--vessels must be at least --clients (each client needs a vessel of its own)")
    budget = 100 - 2 * vessels          # events left beyond the offcuts
    if budget < vessels:
        sys.exit(f"a node holds at most 33 vessels (events 100, offcut 2 each); --vessels {vessels} is too many")
    per_client = [vessels // clients + (1 if i < vessels % clients else 0) for i in range(clients)]
    singles = per_client.count(1)
    spare = budget - vessels
    splitters = min(singles, spare // 3)
    kinds, events = [], []
    seen_singles = 0
    for n in per_client:
        if n >= 2:
            kinds.append("pair")
            events.append([1] * n)
        elif seen_singles < splitters:
            kinds.append("split")
            events.append([4])
            seen_singles += 1
        else:
            kinds.append("plain")
            events.append([1])
    return per_client, kinds, events


def setup(args, soak, tmp, state, log):
    """Keys, a node of one vessel split into --vessels, each client given its own."""
    repy, addr = args.repy, soak.addr
    owner = keygen(repy, "owner", tmp)
    keys = [keygen(repy, f"client{i}", tmp) for i in range(args.clients)]
    pubs = [open(k + ".publickey").read().strip() for k in keys]
    n = args.vessels
    first_port = 21000
    init_node(repy, state, owner, addr, 1, cpu=round((PER_VESSEL_CPU + 0.002) * n, 6),
              memory=(PER_VESSEL_MEMORY + 1_000_000) * n, disk=(PER_VESSEL_DISK + 100_000) * n,
              ports=f"{first_port}-{first_port + 10 * n - 1}")
    node = start_node(repy, state, log)
    if not wait_listening(addr, 60):
        sys.exit(f"the node manager does not listen on {addr}; see {log}")
    whole, _ = parse_resources(public_call(addr, "GetVesselResources", {"vessel": "v1"})["result"]["resources"])
    offcut, _ = parse_resources(public_call(addr, "GetOffcutResources")["result"]["resources"])
    per_client, kinds, events = plan_events(args.clients, n)
    flat_events = [e for es in events for e in es]
    share = {}
    for name, v in whole.items():
        total = v + offcut.get(name, 0)
        share[name] = floor_unit((total - n * offcut.get(name, 0)) // n, name)
    # Peel n-1 vessels off v1; the last leftover keeps the remainder.
    big = "v1"
    made = []
    for i in range(n - 1):
        values = dict(share, events=flat_events[i] * 1_000_000)
        text = resources_text(values, first_port + 10 * i, first_port + 10 * i + 9)
        r = node_call(repy, owner, addr, "SplitVessel", {"vessel": big, "resources": text})
        if not r.ok:
            sys.exit(f"setting up: SplitVessel {big} failed: {r.kind} {r.message}")
        big, new = r.json()["vessels"]
        made.append(new)
    made.append(big)
    texts = {v: public_call(addr, "GetVesselResources", {"vessel": v})["result"]["resources"] for v in made}
    clients, cursor = [], 0
    master = random.Random(args.seed)
    for i in range(args.clients):
        mine = made[cursor:cursor + per_client[i]]
        cursor += per_client[i]
        for v in mine:
            r = node_call(repy, owner, addr, "ChangeOwner", {"vessel": v, "owner_key": pubs[i]})
            if not r.ok:
                sys.exit(f"setting up: ChangeOwner {v} failed: {r.kind} {r.message}")
        c = Client(soak, i, keys[i], pubs[i], kinds[i], mine, random.Random(master.random()))
        c.home_resources = sorted(texts[v] for v in mine)
        if c.kind == "pair":
            c.split_back = texts[mine[1]]
        elif c.kind == "split":
            values, ports = parse_resources(texts[mine[0]])
            half = {name: floor_unit((v - offcut.get(name, 0)) // 2, name) for name, v in values.items()}
            a, b = ports["messport"][0]
            c.half = resources_text(half, a, a + (b - a + 1) // 2 - 1)
        clients.append(c)
    return node, clients


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repy", default=None, help="the repy binary [target/release/repy]")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--vessels", type=int, default=30)
    parser.add_argument("--kill-every", type=float, default=20, help="seconds between SIGKILLs of the node manager")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="keep keys, state and logs in DIR (default: a temporary directory, removed)")
    parser.add_argument("--json", help="write the figures and every restart's timings to FILE")
    args = parser.parse_args()
    args.repy = find_repy(args.repy)
    if args.kill_every <= WINDOW_AFTER_RESTART:
        sys.exit(f"--kill-every must be more than {WINDOW_AFTER_RESTART} s")
    if args.dir:
        os.makedirs(args.dir, exist_ok=False)
        tmp = os.path.abspath(args.dir)
        holder = None
    else:
        holder = tempfile.TemporaryDirectory(prefix="repy-soak-")
        tmp = holder.name
    state, log = os.path.join(tmp, "state"), os.path.join(tmp, "node.log")
    soak = Soak(args.repy, f"127.0.0.1:{free_port()}", tmp)
    node = None
    try:
        t_setup = time.monotonic()
        node, clients = setup(args, soak, tmp, state, log)
        print(f"set up in {time.monotonic() - t_setup:.1f} s: node {soak.addr}, {args.vessels} vessels, "
              f"{args.clients} clients ({sum(c.kind == 'pair' for c in clients)} join/split pairs, "
              f"{sum(c.kind == 'split' for c in clients)} split/join singles, "
              f"{sum(c.kind == 'plain' for c in clients)} without), state in {state}", flush=True)
        before = soak.get_vessels()
        duration = args.minutes * 60
        load_start = os.getloadavg()
        soak.t0 = time.monotonic()
        for c in clients:
            c.start()
        restarts = []
        k = 1
        while k * args.kill_every < duration:
            time.sleep(max(0.0, soak.t0 + k * args.kill_every - time.monotonic()))
            t_kill = time.monotonic()
            node.send_signal(signal.SIGKILL)
            node.wait()
            node = start_node(args.repy, state, log)
            t_started = time.monotonic()
            answer = None
            while answer is None and time.monotonic() - t_started < 120:
                if node.poll() is not None:
                    break
                answer = soak.get_vessels(wait=False)
                if answer is None:
                    time.sleep(0.01)
            t_answer = time.monotonic()
            if answer is None:
                soak.problem(f"the node manager did not answer after restart {k} (status {node.poll()}); see {log}")
                raise SystemExit(1)
            restart = {"kill": t_kill - soak.t0, "spawned": t_started - soak.t0, "answer": t_answer - soak.t0,
                       "vessels": len(answer), "started": sum(r["status"] == "Started" for r in answer),
                       "stale": sum(r["status"] == "Stale" for r in answer)}
            restarts.append(restart)
            print(f"[{restart['kill']:6.1f} s] kill {k}: first answer after {t_answer - t_kill:.3f} s, "
                  f"{restart['vessels']} vessels ({restart['started']} Started, {restart['stale']} Stale), "
                  f"{len(soak.acks)} acknowledged so far", flush=True)
            k += 1
        time.sleep(max(0.0, soak.t0 + duration - time.monotonic()))
        soak.stop.set()
        load_end = os.getloadavg()
        soak.load = (load_start, load_end)
        t_stop = time.monotonic()
        for c in clients:
            c.join()
        soak.soaking = False
        drain = time.monotonic() - t_stop
        # Back home and every upload read back, all clients at once.
        t_verify = time.monotonic()
        finishers = [threading.Thread(target=c.finish) for c in clients]
        for f in finishers:
            f.start()
        for f in finishers:
            f.join()
        verify_s = time.monotonic() - t_verify
        after = soak.get_vessels()
        # Vessels: every client owns what it owned, with the same resources.
        for c in clients:
            mine = [r["name"] for r in after if r["owner_key"] == c.pub]
            texts = sorted(public_call(soak.addr, "GetVesselResources", {"vessel": v})["result"]["resources"] for v in mine)
            if len(mine) != c.home:
                soak.problem(f"client {c.index} owns {len(mine)} vessels at the end ({mine}), {c.home} at the start")
            elif texts != c.home_resources:
                soak.problem(f"client {c.index}: its vessels' resources changed ({mine})")
        strangers = [r["name"] for r in after if r["owner_key"] not in {c.pub for c in clients}]
        if strangers:
            soak.problem(f"vessels owned by no client at the end: {strangers}")
        if len(after) != len(before):
            soak.problem(f"{len(before)} vessels before the soak, {len(after)} after")
        stale_end = [r["name"] for r in after if r["status"] == "Stale"]
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=120)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()
        node = None
        with open(log, errors="replace") as f:
            log_lines = f.read().splitlines()
        panics = [line for line in log_lines if "panicked" in line]
        internal = [line for line in log_lines if "Internal" in line]
        soak.counts["signed requests the node refused with Replay (re-signed by repy node call)"] = \
            sum("result=Replay" in line for line in log_lines)
        report(args, soak, clients, restarts, before, after, stale_end, duration, drain, verify_s, panics, internal)
        return 1 if soak.problems or any(c.error for c in clients) else 0
    finally:
        if node is not None:
            node.kill()
            node.wait()
        if holder is not None:
            holder.cleanup()


def report(args, soak, clients, restarts, before, after, stale_end, duration, drain, verify_s, panics, internal):
    acks = [a for a in soak.acks if a[0] <= duration]
    windows = [(r["kill"], r["kill"] + WINDOW_AFTER_RESTART) for r in restarts]
    in_window = [a for a in acks if any(lo <= a[0] < hi for lo, hi in windows)]
    window_s = WINDOW_AFTER_RESTART * len(windows)
    steady_s = duration - window_s
    steady = (len(acks) - len(in_window)) / steady_s if steady_s > 0 else float("nan")
    after_restart = len(in_window) / window_s if window_s else float("nan")
    to_answer = [r["answer"] - r["kill"] for r in restarts]
    to_ack = []
    for r in restarts:
        later = [a[0] for a in acks if a[0] > r["spawned"]]
        if later:
            to_ack.append(min(later) - r["kill"])
    fails = {}
    for (phase, call, what), n in soak.failures.items():
        if phase == "soak":
            fails[what] = fails.get(what, 0) + n
    by_call = {}
    for _, call, latency in acks:
        by_call.setdefault(call, []).append(latency)
    c = soak.counts
    print()
    print(f"soak: {args.minutes:g} min, {args.clients} clients, {len(before)} vessels, SIGKILL every {args.kill_every:g} s "
          f"({len(restarts)} restarts), binary {args.repy}")
    print(f"acknowledged signed requests: {len(acks)} ({len(acks) / duration:.1f}/s overall)")
    print(f"  steady state (outside the {WINDOW_AFTER_RESTART:g} s after each kill): {steady:.1f}/s")
    print(f"  in the {WINDOW_AFTER_RESTART:g} s after each kill: {after_restart:.1f}/s "
          f"({(1 - after_restart / steady) * 100 if steady else float('nan'):.0f} % lower)")
    for call in sorted(by_call):
        ls = by_call[call]
        print(f"  {call}: {len(ls)}, median {statistics.median(ls) * 1000:.0f} ms, 95th percentile {percentile(ls, 0.95) * 1000:.0f} ms")
    if to_answer:
        print(f"kill to first answer (unsigned GetVessels, polled every 10 ms): median {statistics.median(to_answer):.3f} s, "
              f"max {max(to_answer):.3f} s")
    if to_ack:
        print(f"kill to first acknowledged signed request: median {statistics.median(to_ack):.3f} s, max {max(to_ack):.3f} s")
    if restarts:
        print(f"vessels Started at restarts (restarted by the node): median {statistics.median(r['started'] for r in restarts):.0f}, "
              f"Stale seen at restarts: {sum(r['stale'] for r in restarts)}")
    print(f"failed requests (not acknowledged): {sum(fails.values())}"
          + "".join(f"; {what}: {n}" for what, n in sorted(fails.items())))
    print("  (down: could not connect, nothing sent; lost: connection cut or closed before the answer; "
          "other names: the node's refusal codes)")
    final_fails = {k: n for k, n in soak.failures.items() if k[0] == "final"}
    for name in sorted(c):
        print(f"{name}: {c[name]}")
    print(f"clients stopped {drain:.1f} s after the end; final read-back took {verify_s:.1f} s"
          + (f"; failures in it: {final_fails}" if final_fails else ""))
    print(f"vessels: {len(before)} before, {len(after)} after; Stale at the end: {len(stale_end)} {stale_end or ''}")
    print(f"load average (1, 5, 15 min) at the start: {soak.load[0][0]:.1f} {soak.load[0][1]:.1f} {soak.load[0][2]:.1f}, "
          f"at the end: {soak.load[1][0]:.1f} {soak.load[1][1]:.1f} {soak.load[1][2]:.1f} ({os.cpu_count()} CPUs)")
    print(f"node manager log: {len(panics)} panics, {len(internal)} lines naming Internal")
    for line in panics[:5] + internal[:5]:
        print(f"  {line}")
    for line in soak.notes[:20]:
        print(f"note: {line}")
    for line in soak.problems:
        print(f"problem: {line}")
    for cl in clients:
        if cl.error:
            print(f"client {cl.index} crashed:\n{cl.error}")
    ok = not soak.problems and not any(cl.error for cl in clients)
    print("PASS: every acknowledged upload present and intact, no vessel lost" if ok
          else f"FAIL: {len(soak.problems)} problems (above)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "acknowledged": len(acks), "duration_s": duration,
                       "steady_per_s": steady, "after_restart_per_s": after_restart, "restarts": restarts,
                       "kill_to_answer_s": to_answer, "kill_to_ack_s": to_ack,
                       "failures": {f"{p}/{call}/{w}": n for (p, call, w), n in soak.failures.items()},
                       "counts": c, "problems": soak.problems, "notes": soak.notes,
                       "panics": panics, "internal": internal}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
