# udpretry, through a relay on <port3> between the client (<port2>) and the server (<port1>)
# that can drop requests, drop replies or send each reply again later. Checks: a plain
# request; two dropped requests (answered on the third attempt, after two time-outs); a
# request dropped every time (UdpError after exactly 1 + retries attempts); a dropped reply
# (the retry is answered from the server's memory: the handler ran once); a handler that
# answers None twice; late duplicate replies that must not answer the next request; a remote
# error; three threads sharing one client; udp_request on its own port.
#pragma out plain: 'HELLO' after 1 attempts
#pragma out dropped requests: 'AGAIN' after 3 attempts, handler ran 1 times, waited enough
#pragma out all dropped: timeout after 3 attempts
#pragma out dropped reply: 'ONCE' after 2 attempts, handler ran 1 times
#pragma out flaky: 'FLAKY' after 3 attempts, handler ran 3 times
#pragma out duplicates: 'FIRST' then 'SECOND'
#pragma out remote: remote ValueError('no thanks')
#pragma out threads: ['T0', 'T1', 'T2']
#pragma out udp_request: 'SOLO'
from udpretry import udp_serve, UdpClient, udp_request, UdpError


def handler(ip, port, message):
    with mycontext['lock']:
        mycontext['calls'][message] = mycontext['calls'].get(message, 0) + 1
        calls = mycontext['calls'][message]
    if message == 'flaky' and calls <= 2:
        return None
    if message == 'refuse':
        raise ValueError('no thanks')
    if message == 'second':
        sleep(0.6)
    return message.upper()


def relay(ip, port, message, handle):
    if port == <port1>:
        if mycontext['drop_replies'] > 0:
            mycontext['drop_replies'] -= 1
            return
        sendmess('127.0.0.1', <port2>, message, '127.0.0.1', <port3>)
        if mycontext['duplicate']:
            settimer(0.3, sendmess, ['127.0.0.1', <port2>, message, '127.0.0.1', <port3>])
        return
    mycontext['attempts'] += 1
    if mycontext['drop_requests'] > 0:
        mycontext['drop_requests'] -= 1
        return
    sendmess('127.0.0.1', <port1>, message, '127.0.0.1', <port3>)


def via_relay(message, drop_requests=0, drop_replies=0, duplicate=False, retries=2, timeout=0.4):
    mycontext['attempts'] = 0
    mycontext['drop_requests'] = drop_requests
    mycontext['drop_replies'] = drop_replies
    mycontext['duplicate'] = duplicate
    return mycontext['client'].request('127.0.0.1', <port3>, message, timeout=timeout, retries=retries)


def threaded(n):
    reply = mycontext['client'].request('127.0.0.1', <port1>, 't%d' % n, timeout=0.4, retries=2)
    with mycontext['lock']:
        mycontext['threads'].append(reply)


if callfunc == 'initialize':
    mycontext['lock'] = getlock()
    mycontext['calls'] = {}
    server = udp_serve('127.0.0.1', <port1>, handler)
    recvmess('127.0.0.1', <port3>, relay)
    client = mycontext['client'] = UdpClient('127.0.0.1', <port2>)

    reply = via_relay('hello')
    print('plain: %r after %d attempts' % (reply, mycontext['attempts']))

    start = getruntime()
    reply = via_relay('again', drop_requests=2)
    took = getruntime() - start
    print('dropped requests: %r after %d attempts, handler ran %d times,' % (
        reply, mycontext['attempts'], mycontext['calls']['again']),
        'waited enough' if 0.8 <= took < 1.6 else took)

    start = getruntime()
    try:
        via_relay('never', drop_requests=100)
        print('all dropped: answered')
    except UdpError as e:
        took = getruntime() - start
        print('all dropped: %s after %d attempts' % (e.kind, mycontext['attempts']),
              '' if 1.2 <= took < 2.0 else took)
    assert 'never' not in mycontext['calls']

    reply = via_relay('once', drop_replies=1)
    print('dropped reply: %r after %d attempts, handler ran %d times' % (
        reply, mycontext['attempts'], mycontext['calls']['once']))

    reply = via_relay('flaky')
    print('flaky: %r after %d attempts, handler ran %d times' % (
        reply, mycontext['attempts'], mycontext['calls']['flaky']))

    # The copy of FIRST arrives 0.3 s later, while 'second' is still being handled.
    first = via_relay('first', duplicate=True)
    second = via_relay('second', duplicate=True, retries=0, timeout=2.0)
    print('duplicates: %r then %r' % (first, second))
    sleep(0.4)      # let the last copy arrive and be dropped

    try:
        via_relay('refuse')
        print('remote: answered')
    except UdpError as e:
        print('remote:', e.kind, e.remote)

    mycontext['threads'] = []
    for n in range(3):
        settimer(0, threaded, [n])
    deadline = getruntime() + 10
    while len(mycontext['threads']) < 3 and getruntime() < deadline:
        sleep(0.05)
    print('threads:', sorted(mycontext['threads']))

    client.close()
    print('udp_request: %r' % udp_request('127.0.0.1', <port1>, 'solo', '127.0.0.1', <port4>, 0.4, 2))
    stopcomm(server)
    exitall()
