"""UDP ping client: sends MESSAGE to the ping server at HOST:PORT, prints the reply and
the round-trip time, and exits after one second.

    repy run examples/udp_ping_client.py HOST:PORT MESSAGE [MYPORT]    (default MYPORT: 12346)
"""


def reply(remoteip, remoteport, message, commhandle):
    elapsed = getruntime() - mycontext["sent_at"]
    print("reply from %s:%d: %s (%.1f ms)" % (remoteip, remoteport, message, elapsed * 1000))


if callfunc == "initialize":
    if len(callargs) < 2:
        print("usage: udp_ping_client.py HOST:PORT MESSAGE [MYPORT]")
        exitall()
    host, port = callargs[0].rsplit(":", 1)
    myport = int(callargs[2]) if len(callargs) > 2 else 12346
    myip = "127.0.0.1" if host.startswith("127.") or host == "localhost" else getmyip()
    recvmess(myip, myport, reply)
    mycontext["sent_at"] = getruntime()
    sendmess(host, int(port), callargs[1], myip, myport)
    settimer(1, exitall, [])
