"""A tiny HTTP server written as a Repy program: open http://127.0.0.1:8080/ in a browser
or run `curl http://127.0.0.1:8080/`.

    repy run examples/http_server.py [PORT [IP]]          (default: 8080 127.0.0.1)
"""


def read_request(sock):
    request = ""
    while "\r\n\r\n" not in request and len(request) < 65536:
        request += sock.recv(4096)
    return request


def respond(sock, status, body):
    head = "HTTP/1.0 %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    data = (head % (status, len(body))) + body
    while data:
        data = data[sock.send(data):]


def page(remoteip, remoteport, sock, thiscommhandle, listencommhandle):
    try:
        request = read_request(sock)
        fields = request.split(" ")
        path = fields[1] if len(fields) > 2 else "/"
        counter.acquire()
        mycontext["requests"] = mycontext.get("requests", 0) + 1
        count = mycontext["requests"]
        counter.release()
        if path == "/":
            body = "<html><body><h1>Hello from a Repy vessel</h1>"
            body += "<p>You are %s:%d. This is request %d; the vessel has run %.1f s.</p>" % (remoteip, remoteport, count, getruntime())
            body += "</body></html>\n"
            respond(sock, "200 OK", body)
        else:
            respond(sock, "404 Not Found", "<html><body><h1>Not found</h1></body></html>\n")
        print("%s %s" % (fields[0], path))
    except SocketClosedRemote:
        pass
    sock.close()


if callfunc == "initialize":
    counter = getlock()
    myport = int(callargs[0]) if len(callargs) > 0 else 8080
    myip = callargs[1] if len(callargs) > 1 else "127.0.0.1"
    waitforconn(myip, myport, page)
    print("serving http://%s:%d/" % (myip, myport))
