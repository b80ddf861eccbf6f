"""TCP bulk transfer on loopback for bench/compare.py: TOTAL bytes in 64 KB send() calls
through one openconn/waitforconn connection of one vessel, received with recv(1 MB).

    repy run --restrictions R tcp_bulk.py TOTAL PORT
"""


def serve(remoteip, remoteport, sock, thiscommhandle, listencommhandle):
    total = mycontext["total"]
    got = 0
    while got < total:
        got += len(sock.recv(1048576))
    elapsed = getruntime() - mycontext["start"]
    print("tcp", got, elapsed)
    exitall()


def give_up():
    print("tcp timeout")
    exitall()


if callfunc == "initialize":
    mycontext["total"] = int(callargs[0])
    port = int(callargs[1])
    waitforconn("127.0.0.1", port, serve)
    settimer(300, give_up, [])
    chunk = "x" * 65536
    conn = openconn("127.0.0.1", port)
    mycontext["start"] = getruntime()
    left = mycontext["total"]
    while left > 0:
        data = chunk if left >= 65536 else chunk[:left]
        while data:
            n = conn.send(data)
            left -= n
            data = data[n:]
