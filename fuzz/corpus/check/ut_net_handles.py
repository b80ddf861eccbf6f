#pragma repy net.restrictions
# Handles and less common network errors: re-registering replaces a listener, stopcomm on a
# connection handle, DuplicateTupleError, AddressBindingError, willblock after close.
#pragma out replaced: old handle stopped False, new handle stopped True
#pragma out connection handle stopped: True
#pragma out DuplicateTupleError openconn
#pragma out AddressBindingError recvmess
#pragma out willblock after close: SocketClosedLocal Socket closed
def ignore(*args):
    pass

def close_by_handle(ip, port, sock, thiscommhandle, listencommhandle):
    mycontext['closed'] = stopcomm(thiscommhandle)
    mycontext['done'] = True

if callfunc == 'initialize':
    old = recvmess('127.0.0.1', <port1>, ignore)
    new = recvmess('127.0.0.1', <port1>, ignore)
    print('replaced: old handle stopped %s, new handle stopped %s' % (stopcomm(old), stopcomm(new)))

    listener = waitforconn('127.0.0.1', <port1>, close_by_handle)
    mycontext['done'] = False
    first = openconn('127.0.0.1', <port1>, '127.0.0.1', <port2>)
    while not mycontext['done']:
        sleep(0.05)
    print('connection handle stopped:', mycontext['closed'])
    try:
        openconn('127.0.0.1', <port1>, '127.0.0.1', <port2>)
    except DuplicateTupleError as e:
        print('DuplicateTupleError', e)
    first.close()
    stopcomm(listener)

    try:
        recvmess('192.0.2.1', <port1>, ignore)
    except AddressBindingError as e:
        print('AddressBindingError', e)

    listener = waitforconn('127.0.0.1', <port2>, ignore)
    sock = openconn('127.0.0.1', <port2>)
    sock.close()
    try:
        sock.willblock()
    except SocketClosedLocal as e:
        print('willblock after close: SocketClosedLocal', e)
    stopcomm(listener)
