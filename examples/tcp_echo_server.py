"""TCP echo server: sends back every byte each client sends, until the client closes.

    repy run examples/tcp_echo_server.py [PORT [IP]]      (default: 12347 127.0.0.1)
"""


def serve(remoteip, remoteport, sock, thiscommhandle, listencommhandle):
    try:
        while True:
            data = sock.recv(4096)
            while data:
                data = data[sock.send(data):]
    except SocketClosedRemote:
        pass
    sock.close()
    print("connection from %s:%d closed" % (remoteip, remoteport))


if callfunc == "initialize":
    myport = int(callargs[0]) if len(callargs) > 0 else 12347
    myip = callargs[1] if len(callargs) > 1 else "127.0.0.1"
    waitforconn(myip, myport, serve)
    print("echo server listening on " + myip + ":" + str(myport))
