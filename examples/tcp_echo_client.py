"""TCP echo client: connects to the echo server at HOST:PORT, sends MESSAGE, prints what
comes back and closes.

    repy run examples/tcp_echo_client.py HOST:PORT MESSAGE
"""

if callfunc == "initialize":
    host, port = callargs[0].rsplit(":", 1)
    message = callargs[1]
    sock = openconn(host, int(port))
    sent = 0
    while sent < len(message):
        sent += sock.send(message[sent:])
    echoed = ""
    while len(echoed) < len(message):
        echoed += sock.recv(len(message) - len(echoed))
    print("echoed: " + echoed)
    sock.close()
