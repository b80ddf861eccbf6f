"""Chord: a distributed hash table ring over UDP, one node per vessel.

    chord.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]

MYIP:MYPORT is this node's UDP address as its peers know it. The peers may include this node
itself. The first peer that is not this node is where it joins the ring; a node that is itself
the first peer creates the ring. With repy fleet:

    repy fleet --key K --nodes nodes.txt upload examples/chord.py
    repy fleet --key K --nodes nodes.txt start chord.py '{ip}:{port}' '{peers}'

Node ids: FNV-1a, 32 bits, over the bytes of the text "IP:PORT" (offset basis 2166136261; for
each byte: xor it in, then multiply by 16777619 modulo 2**32). Keys are integers of the same
ring, 0 <= KEY < 2**32; the node responsible for a key is its successor, the first node whose id
is at or after the key, going round.

A client sends the datagram "lookup KEY REQID" to any node; the node routes it through the ring
and answers the sender with "found KEY NODE_ID NODEADDR HOPS REQID" (HOPS: how many other nodes
it asked), or "failed KEY REQID REASON", and logs `lookup KEY -> NODE_ID`.

Between nodes, every request is "req SEQ ..." answered by "rep SEQ ...", retried after a
time-out. Routing is iterative: the node doing a lookup asks one node after another for the next
step ("step KEY AVOID": done with the successor, or the next, closer node to ask). A timer thread
runs the Chord upkeep: stabilise (adopt the successor's predecessor if it is closer, copy its
successor list of R entries), notify the successor, refresh the fingers, and forget a
predecessor that stopped answering. A dead successor is replaced by the next of the list.
"""

M = 32
RING = 2 ** M
R = 4  # length of the successor list
PERIOD = 0.5  # seconds between two rounds of upkeep
TIMEOUT = 0.4  # seconds to wait for a reply before sending a request again
TRIES = 3


def node_id(text):
    h = 2166136261
    for ch in text:
        h = ((h ^ ord(ch)) * 16777619) % RING
    return h


def ident(addr):
    ids = mycontext["ids"]
    if addr not in ids:
        ids[addr] = node_id(addr)
    return ids[addr]


def split_address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def after(x, a, b):
    # x in the ring interval (a, b]; with a == b that is the whole ring.
    if a < b:
        return a < x <= b
    return x > a or x <= b


def strictly_between(x, a, b):
    # x in (a, b); with a == b every x but a.
    if a < b:
        return a < x < b
    return x > a or x < b


class Unreachable(Exception):
    pass


# ---- request/response over UDP ----

def call(addr, request):
    """Sends REQUEST to the node at ADDR and returns its reply text; Unreachable after TRIES
    time-outs. The caller's thread waits on a lock that the reply (or the time-out) releases."""
    host, port = split_address(addr)
    for attempt in range(TRIES):
        waiter = [getlock(), None]
        waiter[0].acquire()
        state.acquire()
        mycontext["seq"] += 1
        seq = mycontext["seq"]
        mycontext["pending"][seq] = waiter
        state.release()
        timer = settimer(TIMEOUT, expire, [seq])
        try:
            sendmess(host, port, "req %d %s" % (seq, request), myip, myport)
        except Exception:
            pass  # the time-out releases the waiter
        waiter[0].acquire()
        canceltimer(timer)
        if waiter[1] is not None:
            return waiter[1]
    raise Unreachable(addr)


def wake(seq, reply):
    state.acquire()
    waiter = mycontext["pending"].pop(seq, None)
    state.release()
    if waiter is not None:
        waiter[1] = reply
        waiter[0].release()


def expire(seq):
    wake(seq, None)


# ---- routing state ----

def successor():
    return mycontext["succ"][0]


def closest_preceding(key, avoid):
    # The known node closest before KEY, going round from this node; None if none is.
    best, distance = None, RING
    state.acquire()
    known = mycontext["fingers"] + mycontext["succ"]
    state.release()
    for addr in known:
        if addr is None or addr in avoid or addr == me:
            continue
        if strictly_between(ident(addr), myid, key) and (key - ident(addr)) % RING < distance:
            best, distance = addr, (key - ident(addr)) % RING
    return best


def step_answer(key, avoid):
    # One step of a lookup, answered from this node's own tables.
    live = [s for s in mycontext["succ"] if s not in avoid] + [me]
    if after(key, myid, ident(live[0])):
        return "done " + live[0]
    nearer = closest_preceding(key, avoid)
    if nearer is None:
        return "done " + live[0]
    return "next " + nearer


def forget(addr):
    # A node that did not answer: out of the fingers and the successor list.
    state.acquire()
    fingers = mycontext["fingers"]
    for i in range(M):
        if fingers[i] == addr:
            fingers[i] = None
    succ = [s for s in mycontext["succ"] if s != addr]
    mycontext["succ"] = succ if succ else [me]
    if mycontext["pred"] == addr:
        mycontext["pred"] = None
    state.release()


def find_successor(key, start):
    """Iterative lookup from node START: returns (address of KEY's successor, hops)."""
    path, avoid, hops = [start], [], 0
    for attempt in range(4 * M):
        node = path[-1]
        if node == me:
            answer = step_answer(key, avoid)
        else:
            try:
                answer = call(node, "step %d %s" % (key, ",".join(avoid) or "-"))
                hops += 1
            except Unreachable:
                avoid.append(node)
                forget(node)
                path.pop()
                if not path:
                    raise
                continue
        kind, addr = answer.split(" ")
        if kind == "done":
            return addr, hops
        path.append(addr)
    raise Unreachable("no route to %d" % key)


# ---- upkeep ----

def stabilise():
    while True:
        succ = successor()
        if succ == me:
            pred = mycontext["pred"]
            reply = "- " + me if pred is None else pred + " " + me
        else:
            try:
                reply = call(succ, "state")
            except Unreachable:
                forget(succ)
                continue
        pred, their_list = reply.split(" ")
        if pred != "-" and pred != me and strictly_between(ident(pred), myid, ident(succ)):
            try:
                reply = call(pred, "state")
                succ, their_list = pred, reply.split(" ")[1]
            except Unreachable:
                pass
        break
    new = [succ]
    for s in their_list.split(","):
        if len(new) < R and s != me and s not in new:
            new.append(s)
    state.acquire()
    mycontext["succ"] = new
    state.release()
    if succ != me:
        try:
            call(succ, "notify " + me)
        except Unreachable:
            forget(succ)


def fix_fingers():
    # Finger i is the successor of myid + 2**i. Where that start still falls before finger
    # i-1, it is the same node, so a full refresh takes only a few lookups.
    previous = successor()
    for i in range(M):
        start = (myid + 2 ** i) % RING
        if previous != me and after(start, myid, ident(previous)):
            found = previous
        else:
            try:
                found = find_successor(start, me)[0]
            except Unreachable:
                found = None
        state.acquire()
        mycontext["fingers"][i] = found
        state.release()
        if found is not None:
            previous = found


def check_predecessor():
    pred = mycontext["pred"]
    if pred is not None and pred != me:
        try:
            call(pred, "ping")
        except Unreachable:
            forget(pred)


def join():
    if peers[0] == me:
        print("chord %s id %d: created the ring" % (me, myid))
        return
    while True:
        try:
            succ = find_successor(myid, peers[0])[0]
            break
        except Unreachable:
            sleep(PERIOD)
    state.acquire()
    mycontext["succ"] = [succ]
    state.release()
    print("chord %s id %d: joined via %s, successor %s" % (me, myid, peers[0], succ))


def upkeep():
    join()
    while True:
        try:
            stabilise()
            fix_fingers()
            check_predecessor()
        except Exception as e:
            print("upkeep: %s" % str(e))
        sleep(PERIOD)


# ---- lookups for clients, one at a time in a worker thread ----

def serve_lookups():
    while True:
        ready.acquire()
        while True:
            state.acquire()
            job = mycontext["queue"].pop(0) if mycontext["queue"] else None
            state.release()
            if job is None:
                break
            key, reqid, host, port = job
            try:
                addr, hops = find_successor(key, me)
                print("lookup %d -> %d" % (key, ident(addr)))
                reply = "found %d %d %s %d %s" % (key, ident(addr), addr, hops, reqid)
            except Exception as e:  # Unreachable, or no event free for a time-out
                reply = "failed %d %s %s" % (key, reqid, str(e).replace(" ", "_"))
            try:
                sendmess(host, port, reply, myip, myport)
            except Exception as e:
                print("cannot answer %s:%d: %s" % (host, port, str(e)))


def on_message(remoteip, remoteport, message, handle):
    parts = message.split(" ")
    try:
        if parts[0] == "rep":
            wake(int(parts[1]), " ".join(parts[2:]))
        elif parts[0] == "req":
            answer = handle_request(parts[2:])
            sendmess(remoteip, remoteport, "rep %s %s" % (parts[1], answer), myip, myport)
        elif parts[0] == "lookup" and len(parts) == 3:
            key = int(parts[1]) % RING
            state.acquire()
            mycontext["queue"].append((key, parts[2], remoteip, remoteport))
            ready.acquire(False)  # whether it was free or not, leave it free: the worker runs
            ready.release()
            state.release()
    except (ValueError, IndexError):
        print("ignored a malformed message from %s:%d" % (remoteip, remoteport))


def handle_request(parts):
    if parts[0] == "step":
        avoid = [] if parts[2] == "-" else parts[2].split(",")
        return step_answer(int(parts[1]), avoid)
    if parts[0] == "state":
        pred = mycontext["pred"]
        return "%s %s" % (pred or "-", ",".join(mycontext["succ"]))
    if parts[0] == "notify":
        candidate = parts[1]
        state.acquire()
        pred = mycontext["pred"]
        if candidate != me and (pred is None or strictly_between(ident(candidate), ident(pred), myid)):
            mycontext["pred"] = candidate
        state.release()
        return "ok"
    return "pong"


if callfunc == "initialize":
    if len(callargs) < 2:
        print("usage: chord.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]")
        exitall()
    me = callargs[0]
    myip, myport = split_address(me)
    peers = callargs[1:]
    myid = node_id(me)
    state = getlock()
    ready = getlock()
    ready.acquire()
    mycontext["ids"] = {}
    mycontext["seq"] = 0
    mycontext["pending"] = {}
    mycontext["queue"] = []
    mycontext["succ"] = [me]
    mycontext["pred"] = None
    mycontext["fingers"] = [None] * M
    recvmess(myip, myport, on_message)
    settimer(0, upkeep, [])
    settimer(0, serve_lookups, [])
