"""UDP ping server: echoes every message back to its sender.

    repy run examples/udp_ping_server.py [PORT [IP]]      (default: 12345 127.0.0.1)
"""


def echo(remoteip, remoteport, message, commhandle):
    # Reply from the listening socket, so the client sees the address it pinged.
    sendmess(remoteip, remoteport, message, myip, myport)
    print("echoed", len(message), "bytes to", remoteip + ":" + str(remoteport))


if callfunc == "initialize":
    myport = int(callargs[0]) if len(callargs) > 0 else 12345
    myip = callargs[1] if len(callargs) > 1 else "127.0.0.1"
    recvmess(myip, myport, echo)
    print("ping server listening on " + myip + ":" + str(myport))
