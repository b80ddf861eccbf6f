"""UDP ping-pong on loopback for bench/compare.py: ROUNDS round trips of a 32-byte message
between two registrations of one vessel, one message in flight at a time.

    repy run --restrictions R udp_pingpong.py ROUNDS PORT_A PORT_B
"""


def on_pong(remoteip, remoteport, message, commhandle):
    # A receives the pong: count the round trip, then ping again or finish.
    mycontext["done"] += 1
    if mycontext["done"] >= mycontext["rounds"]:
        elapsed = getruntime() - mycontext["start"]
        print("udp", mycontext["done"], elapsed, len(message))
        exitall()
    sendmess("127.0.0.1", mycontext["port_b"], message, "127.0.0.1", mycontext["port_a"])


def on_ping(remoteip, remoteport, message, commhandle):
    # B bounces every ping back to its sender.
    sendmess(remoteip, remoteport, message, "127.0.0.1", mycontext["port_b"])


def give_up():
    print("udp timeout after", mycontext["done"], "round trips")
    exitall()


if callfunc == "initialize":
    mycontext["rounds"] = int(callargs[0])
    mycontext["port_a"] = int(callargs[1])
    mycontext["port_b"] = int(callargs[2])
    mycontext["done"] = 0
    recvmess("127.0.0.1", mycontext["port_a"], on_pong)
    recvmess("127.0.0.1", mycontext["port_b"], on_ping)
    settimer(120, give_up, [])
    mycontext["start"] = getruntime()
    sendmess("127.0.0.1", mycontext["port_b"], "x" * 32, "127.0.0.1", mycontext["port_a"])
