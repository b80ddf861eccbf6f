"""All-pairs ping: every vessel pings every peer once a second over UDP, logs the round-trip
times and serves the latency matrix over HTTP.

    allpairsping.py MYIP:MYPORT HTTPPORT PEER:PORT [PEER:PORT ...]

MYIP:MYPORT is this vessel's UDP address, as its peers know it; HTTPPORT its TCP port for the
page. The peers may include this vessel itself (then it pings itself too). With repy fleet:

    repy fleet --key K --nodes nodes.txt upload examples/allpairsping.py
    repy fleet --key K --nodes nodes.txt start allpairsping.py '{ip}:{port}' '{connport}' '{peers}'

Each reply adds a line `rtt PEER MS ms` to the log. A ping carries the sender's address and send
time; the reply ("pong") also carries the responder's own row of measurements, so every vessel
can show the whole matrix: its own row measured, the others as last reported by them.
"""


def split_address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def row_text():
    # "peer=ms,peer=ms" for the peers measured so far (no spaces: it travels in a message).
    lock.acquire()
    parts = []
    for peer in peers:
        if peer in mycontext["rtt"]:
            parts.append("%s=%.3f" % (peer, mycontext["rtt"][peer]))
    lock.release()
    return ",".join(parts)


def parse_row(text):
    row = {}
    for item in text.split(","):
        if "=" in item:
            peer, ms = item.split("=", 1)
            row[peer] = float(ms)
    return row


def on_message(remoteip, remoteport, message, handle):
    parts = message.split(" ")
    try:
        if parts[0] == "ping" and len(parts) == 4:
            # ping SENDER SEQ SENTAT: answer to the sender's listening address.
            host, port = split_address(parts[1])
            reply = "pong %s %s %s %s" % (me, parts[2], parts[3], row_text())
            sendmess(host, port, reply, myip, myport)
        elif parts[0] == "pong" and len(parts) >= 4:
            peer = parts[1]
            rtt = (getruntime() - float(parts[3])) * 1000.0
            lock.acquire()
            mycontext["rtt"][peer] = rtt
            if len(parts) > 4:
                mycontext["rows"][peer] = parse_row(parts[4])
            lock.release()
            print("rtt %s %.3f ms" % (peer, rtt))
    except ValueError:
        print("ignored a malformed message from %s:%d" % (remoteip, remoteport))


def ping_forever():
    seq = 0
    while True:
        seq += 1
        for peer in peers:
            host, port = split_address(peer)
            try:
                sendmess(host, port, "ping %s %d %.6f" % (me, seq, getruntime()), myip, myport)
            except Exception as e:
                print("cannot ping %s: %s" % (peer, str(e)))
        sleep(1)


def cell(row, peer):
    if peer in row:
        return "%.2f" % row[peer]
    return "-"


def matrix_html():
    lock.acquire()
    rows = {}
    for peer in mycontext["rows"]:
        rows[peer] = mycontext["rows"][peer]
    rows[me] = dict(mycontext["rtt"])
    lock.release()
    html = "<html><head><title>allpairsping %s</title></head><body>\n" % me
    html += "<h1>Round-trip times (ms) measured by each row's vessel</h1>\n<table border=1>\n<tr><th></th>"
    for peer in peers:
        html += "<th>%s</th>" % peer
    html += "</tr>\n"
    for source in peers:
        html += "<tr><th>%s</th>" % source
        row = rows.get(source, {})
        for peer in peers:
            html += "<td>%s</td>" % cell(row, peer)
        html += "</tr>\n"
    html += "</table>\n<p>Page served by %s after %.1f s.</p></body></html>\n" % (me, getruntime())
    return html


def serve(remoteip, remoteport, sock, thiscommhandle, listencommhandle):
    try:
        request = ""
        while "\r\n\r\n" not in request and len(request) < 65536:
            request += sock.recv(4096)
        body = matrix_html()
        head = "HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        data = (head % len(body)) + body
        while data:
            data = data[sock.send(data):]
    except SocketClosedRemote:
        pass
    sock.close()


if callfunc == "initialize":
    if len(callargs) < 3:
        print("usage: allpairsping.py MYIP:MYPORT HTTPPORT PEER:PORT [PEER:PORT ...]")
        exitall()
    me = callargs[0]
    myip, myport = split_address(me)
    httpport = int(callargs[1])
    peers = callargs[2:]
    lock = getlock()
    mycontext["rtt"] = {}
    mycontext["rows"] = {}
    recvmess(myip, myport, on_message)
    waitforconn(myip, httpport, serve)
    print("allpairsping %s: %d peers, matrix at http://%s:%d/" % (me, len(peers), myip, httpport))
    settimer(0, ping_forever, [])
