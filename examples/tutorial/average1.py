# examples/tutorial/average1.py
# Push-pull averaging: each vessel holds a number; every round it sends its number to a
# random peer (push), the peer answers with its own (pull), and both move halfway towards
# each other. The sum of all numbers never changes, so each number tends to the average.
#
#   repy fleet ... run average1.py '{ip}:{port}' '{peers}'
#
# The first peer starts with 1.0 and the others with 0.0, so all end near 1/N.


def address(peer):
    host, port = peer.rsplit(":", 1)
    return host, int(port)


def random_peer():
    others = [p for p in peers if p != me]
    return others[int(randomfloat() * len(others))]


def move(amount):
    lock.acquire()
    state["value"] += amount
    lock.release()


def on_message(remoteip, remoteport, message, handle):
    kind, sender, theirs, mine = message.split(" ")
    if kind == "push":
        # Answer with the number this vessel had, then move halfway towards theirs.
        ours = state["value"]
        host, port = address(sender)
        sendmess(host, port, "pull %s %r %s" % (me, ours, theirs), myip, myport)
        move((float(theirs) - ours) / 2)
    elif kind == "pull":
        # `mine` is what this vessel sent: it moves by the same amount the peer moved,
        # the other way, even if its number changed meanwhile.
        move((float(theirs) - float(mine)) / 2)


def gossip():
    for round in range(1, rounds + 1):
        host, port = address(random_peer())
        sendmess(host, port, "push %s %r -" % (me, state["value"]), myip, myport)
        sleep(0.2)
        print("round %d value %.4f" % (round, state["value"]))
    sleep(1)
    stopcomm(listener)


if callfunc == "initialize":
    me, peers, rounds = callargs[0], callargs[1:], 40
    myip, myport = address(me)
    lock = getlock()
    state = {"value": 1.0 if me == peers[0] else 0.0}
    listener = recvmess(myip, myport, on_message)
    settimer(0, gossip, [])
