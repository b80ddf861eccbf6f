"""T-Man: the vessels build a ring sorted by id, id = FNV-1a 32-bit hash of "IP:PORT".

    tman_ring.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]
    repy fleet ... start tman_ring.py '{ip}:{port}' '{peers}'

A vessel starts knowing only SEED random peers of the list. Every ROUND seconds it sends its view
to its best-ranked neighbours (closest ids before and after its own) and to one random peer of
the list (standing in for a peer-sampling service, so that no part of the ring stays cut off);
the receiver answers with its view and both keep the VIEW entries closest to them on the ring,
half on each side.
Each round it logs `ring round R me ID pred ID succ ID` (ids in hex). A neighbour that misses
MISSES answers in a row is dropped, and ignored until it is heard from again.
"""

ROUND = 0.5
SEED = 3
VIEW = 6
MISSES = 2
SPACE = 1 << 32


def fnv1a(text):
    value = 2166136261
    for ch in text:
        value = ((value ^ ord(ch)) * 16777619) % SPACE
    return value


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def after(peer):
    # Clockwise distance from me to peer; (SPACE - after) is the distance the other way.
    return (ids[peer] - myid) % SPACE


def remember(peer):
    if peer not in ids:
        ids[peer] = fnv1a(peer)


def merge(entries):
    # Called with the lock held: keep the VIEW/2 closest known peers on either side (a gap on one
    # side must not push that side's nearest peer out of the view).
    for peer in entries:
        if peer != me and peer not in state["dead"] and peer not in state["view"]:
            remember(peer)
            state["view"].append(peer)
    view = sorted(state["view"], key=after)
    if len(view) > VIEW:
        view = view[:VIEW // 2] + view[-(VIEW // 2):]
    state["view"] = view


def neighbours():
    view = state["view"]
    if not view:
        return None, None
    succ = min(view, key=after)
    pred = max(view, key=after)
    return pred, succ


def send(peer, kind):
    host, port = address(peer)
    lock.acquire()
    text = "%s %s %s" % (kind, me, ",".join(state["view"]))
    lock.release()
    sendmess(host, port, text, myip, myport)


def on_message(remoteip, remoteport, message, handle):
    parts = message.split(" ")
    if len(parts) != 3 or parts[0] not in ["view", "reply"]:
        return
    sender = parts[1]
    lock.acquire()
    state["dead"].pop(sender, None)
    state["waiting"].pop(sender, None)
    state["misses"][sender] = 0
    merge([sender] + [p for p in parts[2].split(",") if p])
    lock.release()
    if parts[0] == "view":
        send(sender, "reply")


def gossip_forever():
    count = 0
    while True:
        count += 1
        lock.acquire()
        # Peers that did not answer last round's view.
        for peer in list(state["waiting"]):
            state["misses"][peer] = state["misses"].get(peer, 0) + 1
            if state["misses"][peer] >= MISSES and peer not in state["dead"]:
                if peer in state["view"]:
                    state["view"].remove(peer)
                state["dead"][peer] = True
                print("dropping %s" % peer)
        state["waiting"] = {}
        pred, succ = neighbours()
        targets = [p for p in [pred, succ] if p is not None]
        # Dropped peers stay in the sample: one dropped by mistake (not started yet) comes back.
        sample = [p for p in peers if p != me]
        if sample:
            extra = sample[int(randomfloat() * len(sample)) % len(sample)]
            if extra not in targets:
                targets.append(extra)
        for peer in targets:
            state["waiting"][peer] = True
        lock.release()
        for peer in targets:
            send(peer, "view")
        if pred is not None:
            print("ring round %d me %08x pred %08x succ %08x" % (count, myid, ids[pred], ids[succ]))
        sleep(ROUND)


if callfunc == "initialize":
    if len(callargs) < 2:
        print("usage: tman_ring.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]")
        exitall()
    me = callargs[0]
    myip, myport = address(me)
    lock = getlock()
    ids = {}
    myid = fnv1a(me)
    peers = callargs[1:]
    others = [p for p in peers if p != me]
    seeds = []
    while others and len(seeds) < SEED:
        seeds.append(others.pop(int(randomfloat() * len(others)) % len(others)))
    state = {"view": [], "dead": {}, "waiting": {}, "misses": {}}
    merge(seeds)
    recvmess(myip, myport, on_message)
    settimer(0, gossip_forever, [])
