#pragma repy net.restrictions
# TCP errors: nobody listening, a port that is not a connport, a bad timeout, a bad recv size.
#pragma out ConnectionRefusedError openconn
#pragma out ResourceForbiddenError waitforconn: TCP port 1 is not a connport
#pragma out RepyArgumentError openconn
#pragma out RepyArgumentError socket.recv: bytes must be an int of at least 1
def serve(ip, port, sock, thiscommhandle, listencommhandle):
    sock.close()

if callfunc == 'initialize':
    try:
        openconn('127.0.0.1', <port2>)
    except ConnectionRefusedError as e:
        print('ConnectionRefusedError', e)
    try:
        waitforconn('127.0.0.1', 1, serve)
    except ResourceForbiddenError as e:
        print('ResourceForbiddenError', e)
    try:
        openconn('127.0.0.1', <port2>, timeout=0)
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    listener = waitforconn('127.0.0.1', <port1>, serve)
    sock = openconn('127.0.0.1', <port1>)
    try:
        sock.recv(0)
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    sock.close()
    stopcomm(listener)
