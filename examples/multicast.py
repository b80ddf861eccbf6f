"""UDP multicast down a binary tree of peers; every vessel logs `got SEQ TEXT`.

    multicast.py MYIP:MYPORT PEER:PORT [PEER:PORT ...]
    repy fleet ... start multicast.py '{ip}:{port}' '{peers}'

Peer i forwards to peers 2i+1 and 2i+2; the first peer is the root and injects one
"multicast SEQ TEXT" a second."""


def on_message(remoteip, remoteport, message, handle):
    parts = message.split(" ", 2)
    if parts[0] == "multicast" and len(parts) == 3:
        print("got %s %s" % (parts[1], parts[2]))
        for child in [2 * index + 1, 2 * index + 2]:
            if child < len(peers):
                host, port = peers[child].rsplit(":", 1)
                sendmess(host, int(port), message, myip, myport)


if callfunc == "initialize":
    peers = callargs[1:]
    myip, port = callargs[0].rsplit(":", 1)
    myport, index = int(port), peers.index(callargs[0])
    recvmess(myip, myport, on_message)
    seq = 0
    while index == 0:
        seq += 1
        on_message(myip, myport, "multicast %d hello from the root" % seq, None)
        sleep(1)
