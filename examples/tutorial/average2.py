# examples/tutorial/average2.py
# The size of the network from averaging: the asker (the first peer) starts with 1.0 and
# everyone else with 0.0, so every number tends to 1/N and the asker prints 1/value as its
# estimate of N each round. The exchange is average1.py's, with its messages in one place.
#
#   repy fleet ... run average2.py '{ip}:{port}' '{peers}'


def address(peer):
    host, port = peer.rsplit(":", 1)
    return host, int(port)


def send(peer, kind, theirs, mine):
    host, port = address(peer)
    sendmess(host, port, "%s %s %r %r" % (kind, me, theirs, mine), myip, myport)


def move(amount):
    lock.acquire()
    state["value"] += amount
    lock.release()


def on_message(remoteip, remoteport, message, handle):
    kind, sender, theirs, mine = message.split(" ")
    if kind == "push":
        ours = state["value"]
        send(sender, "pull", ours, float(theirs))
        move((float(theirs) - ours) / 2)
    elif kind == "pull":
        move((float(theirs) - float(mine)) / 2)


def gossip():
    others = [p for p in peers if p != me]
    for round in range(1, rounds + 1):
        send(others[int(randomfloat() * len(others))], "push", state["value"], 0.0)
        sleep(0.2)
        if me == peers[0]:
            value = state["value"]
            estimate = "%.2f" % (1 / value) if value > 0 else "unknown"
            print("round %d size estimate %s" % (round, estimate))
    sleep(1)
    stopcomm(listener)


if callfunc == "initialize":
    me, peers, rounds = callargs[0], callargs[1:], 40
    myip, myport = address(me)
    lock = getlock()
    state = {"value": 1.0 if me == peers[0] else 0.0}
    listener = recvmess(myip, myport, on_message)
    settimer(0, gossip, [])
