#pragma repy net.restrictions
# TCP on loopback: waitforconn, openconn, send, recv, willblock, close, SocketClosedRemote,
# SocketClosedLocal, stopcomm.
#pragma out willblock: (True, False)
#pragma out server got 'ping'
#pragma out client got 'PING'
#pragma out server saw SocketClosedRemote Socket closed
#pragma out listener stopped: True
#pragma out exit run: close True then False
#pragma out exit run: SocketClosedLocal Socket closed
def serve(ip, port, sock, thiscommhandle, listencommhandle):
    data = ''
    while len(data) < 4:
        data += sock.recv(4 - len(data))
    print('server got', repr(data))
    sock.send(data.upper())
    try:
        sock.recv(10)
    except SocketClosedRemote as e:
        print('server saw SocketClosedRemote', e)
    sock.close()
    print('listener stopped:', stopcomm(listencommhandle))

if callfunc == 'initialize':
    waitforconn('127.0.0.1', <port1>, serve)
    sock = openconn('127.0.0.1', <port1>, timeout=5)
    print('willblock:', sock.willblock())
    sock.send('ping')
    reply = ''
    while len(reply) < 4:
        reply += sock.recv(4 - len(reply))
    print('client got', repr(reply))
    # Printed in the exit run: the server may see the close before this thread prints.
    mycontext['close'] = (sock.close(), sock.close())
    try:
        sock.send('more')
    except SocketClosedLocal as e:
        mycontext['closed'] = 'SocketClosedLocal ' + str(e)
else:
    print('exit run: close %s then %s' % mycontext['close'])
    print('exit run:', mycontext['closed'])
