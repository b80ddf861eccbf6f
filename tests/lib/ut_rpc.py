# rpc: results of several procedures (values of every type, a 300 KB result), 4 concurrent
# clients, remote exceptions and unknown procedures, a slow procedure against a short
# time-out, a port with nothing listening, and raw servers that send garbage, close early,
# stall, or dribble a reply one byte at a time.
#pragma out add 5
#pragma out echo same
#pragma out big 300000
#pragma out clients: 40 of 40 right
#pragma out remote: ValueError('bad thing')
#pragma out unknown: no procedure 'nothing'
#pragma out unserializable: remote
#pragma out slow: timeout in time
#pragma out refused: refused in time
#pragma out garbage: malformed
#pragma out header: malformed
#pragma out early close: closed
#pragma out stall: timeout in time
#pragma out dribble: 'slowly'
#pragma out stopped: refused
from rpc import rpc_serve, rpc_call, RpcError


def fail(message):
    raise ValueError(message)


def slow():
    sleep(3)
    return 'late'


def failure(name, args, timeout):
    """(kind, message, seconds taken) of a call that must fail."""
    start = getruntime()
    try:
        result = rpc_call('127.0.0.1', mycontext['port'], name, args, timeout=timeout)
    except RpcError as e:
        return e.kind, e.remote, getruntime() - start
    raise AssertionError('%s returned %r' % (name, result))


def client(number):
    # (settimer copies its arguments: the shared list is reached through mycontext.)
    for i in range(10):
        value = rpc_call('127.0.0.1', <port1>, 'add', [number * 100, i])
        with mycontext['lock']:
            mycontext['results'].append(value == number * 100 + i)


def raw_server(ip, port, sock, thiscommhandle, listencommhandle):
    """Reads the request's first bytes, then misbehaves as mycontext['mode'] says."""
    sock.recv(1)
    mode = mycontext['mode']
    if mode == 'garbage':
        sock.send('5:hello')
    elif mode == 'header':
        sock.send('12x:')
    elif mode == 'stall':
        sock.send('100:l2:s2:ok')
        sleep(3)
    elif mode == 'dribble':
        for c in '17:l2:s2:oks6:slowly':
            sock.send(c)
            sleep(0.02)
    sock.close()


if callfunc == 'initialize':
    handlers = {'add': lambda a, b: a + b, 'echo': lambda x: x, 'fail': fail, 'slow': slow,
                'big': lambda n: 'x' * n, 'bad': lambda: set()}
    handle = rpc_serve('127.0.0.1', <port1>, handlers)
    mycontext['port'] = <port1>
    print('add', rpc_call('127.0.0.1', <port1>, 'add', [2, 3]))
    value = [None, True, -2 ** 100, 0.1, 'a\nb\x00', b'\xff', (1, 2), {'k': [{}]}]
    echoed = rpc_call('127.0.0.1', <port1>, 'echo', (value,))
    print('echo', 'same' if echoed == value and type(echoed[6]) is tuple else echoed)
    print('big', len(rpc_call('127.0.0.1', <port1>, 'big', [300000])))

    results = mycontext['results'] = []
    mycontext['lock'] = getlock()
    for n in range(4):
        settimer(0, client, [n])
    deadline = getruntime() + 20
    while len(results) < 40 and getruntime() < deadline:
        sleep(0.05)
    print('clients: %d of 40 right' % results.count(True))

    kind, remote, _ = failure('fail', ['bad thing'], 5)
    print('remote:', remote if kind == 'remote' else kind)
    kind, remote, _ = failure('nothing', [], 5)
    print('unknown:', remote if kind == 'remote' else kind)
    kind, remote, _ = failure('bad', [], 5)
    print('unserializable:', kind, remote)
    kind, _, took = failure('slow', [], 0.5)
    print('slow:', kind, 'in time' if 0.45 < took < 1.5 else took)
    mycontext['port'] = <port2>
    kind, _, took = failure('add', [1, 2], 2)
    print('refused:', kind, 'in time' if took < 2.5 else took)

    waitforconn('127.0.0.1', <port2>, raw_server)
    for mode in ['garbage', 'header', 'early close', 'stall']:
        mycontext['mode'] = mode
        kind, _, took = failure('x', [], 1)
        print('%s: %s' % (mode, kind), 'in time' if mode == 'stall' and 0.9 < took < 2 else '')
    mycontext['mode'] = 'dribble'
    print('dribble:', repr(rpc_call('127.0.0.1', <port2>, 'x', [])))

    stopcomm(handle)
    mycontext['port'] = <port1>
    print('stopped:', failure('add', [1, 2], 2)[0])
    exitall()
