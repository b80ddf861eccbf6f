# examples/tutorial/chat.py
# A two-person chat over UDP between two vessels.
#
#   repy run --cwd DIR examples/tutorial/chat.py NAME MYPORT PEERPORT
#
# Messages arrive by UDP on 127.0.0.1:MYPORT and are printed. Lines appended to the file
# outbox.txt in the vessel directory DIR are sent to 127.0.0.1:PEERPORT. The line /quit
# ends the chat on both sides.


def incoming(remoteip, remoteport, message, commhandle):
    # Runs in a new thread for every datagram that arrives.
    print(message)
    if message.endswith(" left the chat"):
        exitall()


def send(text):
    sendmess("127.0.0.1", mycontext["peerport"], text, "127.0.0.1", mycontext["myport"])


def check_outbox():
    # Read what was appended to outbox.txt since the last check; send the complete lines.
    outbox = open("outbox.txt", "r")
    outbox.seek(mycontext["sent"])
    new = outbox.read()
    outbox.close()
    complete = new[:new.rfind("\n") + 1]
    mycontext["sent"] += len(complete)
    for line in complete.splitlines():
        if line == "/quit":
            send(mycontext["name"] + " left the chat")
            print("bye")
            exitall()
        send(mycontext["name"] + ": " + line)
    settimer(0.2, check_outbox, [])


if callfunc == "initialize":
    if len(callargs) != 3:
        print("usage: chat.py NAME MYPORT PEERPORT")
        exitall()
    mycontext["name"] = callargs[0]
    mycontext["myport"] = int(callargs[1])
    mycontext["peerport"] = int(callargs[2])
    mycontext["sent"] = 0
    open("outbox.txt", "w").close()  # start with an empty outbox
    recvmess("127.0.0.1", mycontext["myport"], incoming)
    settimer(0.2, check_outbox, [])
    print(mycontext["name"] + " is listening on port " + callargs[1] + "; append lines to outbox.txt")
