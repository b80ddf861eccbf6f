"""Push-pull averaging: the vessels estimate how many of them there are.

    aggregate.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]
    repy fleet ... start aggregate.py '{ip}:{port}' '{peers}'

The first peer is the asker: it holds 1.0, every other vessel 0.0. Every ROUND seconds a vessel
sends its value to a random peer ("push"), the peer answers with its own ("pull") and both keep
the mean, so the sum stays 1.0 and every value tends to 1/N. A vessel waiting for an answer
refuses pushes ("busy"), so no exchange overlaps another. The asker logs
`size estimate N round R epoch E` each round, N = 1/value. Every EPOCH rounds the asker starts a
new epoch (values reset, 1.0 re-injected; messages carry the epoch and a vessel that sees a newer
one joins it), so the estimate follows vessels that stop: a peer that misses MISSES answers in a
row is left out for FORGET seconds.
"""

ROUND = 0.5
EPOCH = 40
MISSES = 2
FORGET = 30.0


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def send(peer, message):
    host, port = address(peer)
    sendmess(host, port, message, myip, myport)


def join(epoch):
    # Called with the lock held: a newer epoch starts from scratch.
    state["epoch"] = epoch
    state["value"] = 0.0
    state["pending"] = None


def on_message(remoteip, remoteport, message, handle):
    parts = message.split(" ")
    if len(parts) != 5:
        return
    kind, epoch, ident, sender, value = parts[0], int(parts[1]), parts[2], parts[3], float(parts[4])
    lock.acquire()
    state["misses"][sender] = 0
    if epoch > state["epoch"] and not asker:
        join(epoch)
    answer = None
    if kind == "push":
        if epoch < state["epoch"]:
            answer = "stale"
        elif state["pending"] is not None:
            answer = "busy"
        else:
            answer = "pull %d %s %s %r" % (state["epoch"], ident, me, state["value"])
            state["value"] = (state["value"] + value) / 2
    elif ident == state["pending"]:
        if kind == "pull" and epoch == state["epoch"]:
            state["value"] = (state["value"] + value) / 2
        state["pending"] = None
    lock.release()
    if answer == "stale" or answer == "busy":
        answer = "%s %d %s %s 0" % (answer, state["epoch"], ident, me)
    if answer is not None:
        send(sender, answer)


def alive_peers():
    now = getruntime()
    return [p for p in peers if p != me and state["forgotten"].get(p, -FORGET) + FORGET <= now]


def gossip_forever():
    count = 0
    while True:
        count += 1
        lock.acquire()
        if asker and state["round"] >= EPOCH:
            join(state["epoch"] + 1)
            state["value"] = 1.0
            state["round"] = 0
        state["round"] += 1
        candidates = alive_peers()
        peer = None
        if candidates and state["pending"] is None:
            peer = candidates[int(randomfloat() * len(candidates)) % len(candidates)]
            ident = "%d" % count
            state["pending"] = ident
            push = "push %d %s %s %r" % (state["epoch"], ident, me, state["value"])
        lock.release()
        if peer is not None:
            send(peer, push)
        sleep(ROUND * 0.8)
        lock.acquire()
        if peer is not None and state["pending"] == ident:
            # No answer: the value is unchanged, the peer is suspect.
            state["pending"] = None
            state["misses"][peer] = state["misses"].get(peer, 0) + 1
            if state["misses"][peer] >= MISSES:
                state["forgotten"][peer] = getruntime()
                state["misses"][peer] = 0
                print("forgetting %s for %d s" % (peer, FORGET))
        if asker:
            print("size estimate %.2f round %d epoch %d" % (1.0 / state["value"], state["round"], state["epoch"]))
        lock.release()
        sleep(ROUND * 0.2)


if callfunc == "initialize":
    if len(callargs) < 2:
        print("usage: aggregate.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]")
        exitall()
    me = callargs[0]
    myip, myport = address(me)
    peers = callargs[1:]
    asker = me == peers[0]
    lock = getlock()
    state = {"epoch": 0, "value": 1.0 if asker else 0.0, "pending": None, "round": 0, "misses": {}, "forgotten": {}}
    recvmess(myip, myport, on_message)
    settimer(0, gossip_forever, [])
