#pragma repy net.restrictions
# UDP on loopback: recvmess, sendmess from the listening socket, replies, stopcomm.
#pragma out got 'hello' from 127.0.0.1:<port2>
#pragma out reply 'HELLO' from 127.0.0.1:<port1>
#pragma out stopped: True
#pragma out stopped again: False
#pragma out exit run: sent 5
def server(ip, port, message, handle):
    print('got', repr(message), 'from %s:%d' % (ip, port))
    sendmess(ip, port, message.upper(), '127.0.0.1', <port1>)

def client(ip, port, message, handle):
    print('reply', repr(message), 'from %s:%d' % (ip, port))
    print('stopped:', stopcomm(mycontext['server']))
    print('stopped again:', stopcomm(mycontext['server']))
    stopcomm(handle)

if callfunc == 'initialize':
    mycontext['server'] = recvmess('127.0.0.1', <port1>, server)
    recvmess('127.0.0.1', <port2>, client)
    # Printed in the exit run: the callbacks may print before sendmess returns.
    mycontext['sent'] = sendmess('127.0.0.1', <port1>, 'hello', '127.0.0.1', <port2>)
else:
    print('exit run: sent', mycontext['sent'])
