"""Forward a TCP port through this vessel: relay every connection, both ways, to a target.

    tcp_tunnel.py LISTENIP:LISTENPORT TARGETHOST:TARGETPORT

LISTENPORT must be a connport of the vessel. Takes no {peers} list."""


def pump(source, sink):
    try:
        while True:
            data = source.recv(4096)
            while data:
                data = data[sink.send(data):]
    except SocketClosedError:
        pass
    source.close()
    sink.close()


def on_connection(remoteip, remoteport, client, thiscommhandle, listencommhandle):
    target = openconn(targethost, int(targetport))
    settimer(0, pump, [client, target])
    pump(target, client)


if callfunc == "initialize":
    listenip, listenport = callargs[0].rsplit(":", 1)
    targethost, targetport = callargs[1].rsplit(":", 1)
    waitforconn(listenip, int(listenport), on_connection)
