#pragma repy net.restrictions
# UDP errors: a port that is not a messport, a non-specific local IP, a message too long,
# localip without localport, a bad handle for stopcomm.
#pragma out ResourceForbiddenError recvmess: UDP port 1 is not a messport
#pragma out ResourceForbiddenError sendmess
#pragma out RepyArgumentError recvmess
#pragma out RepyArgumentError sendmess
#pragma out RepyArgumentError sendmess
#pragma out RepyArgumentError stopcomm
def ignore(ip, port, message, handle):
    pass

if callfunc == 'initialize':
    try:
        recvmess('127.0.0.1', 1, ignore)
    except ResourceForbiddenError as e:
        print('ResourceForbiddenError', e)
    try:
        sendmess('127.0.0.1', <port1>, 'x', '127.0.0.1', 1)
    except ResourceForbiddenError as e:
        print('ResourceForbiddenError', e)
    try:
        recvmess('0.0.0.0', <port1>, ignore)
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    try:
        sendmess('127.0.0.1', <port1>, 'x' * 65508)
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    try:
        sendmess('127.0.0.1', <port1>, 'x', '127.0.0.1')
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    try:
        stopcomm('handle')
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
