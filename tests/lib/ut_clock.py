# clock: the offset to a server whose clock runs 5.0 s ahead is found within 0.05 s; after
# sync() gettime() is 5.0 s ahead of getruntime(); a second server serving its default clock
# (gettime, now synced) gives the same offset; of samples whose requests are held back
# 0.3 s on the way (a wrong offset of about 0.15 s each) the undelayed one is chosen; a port
# with nothing listening raises ClockError.
#pragma out skewed: offset ok, delay ok
#pragma out before sync: False, offset ok
#pragma out gettime: 5.00 ahead
#pragma out relayed: offset ok
#pragma out min delay: offset ok, delay ok
#pragma out nothing listening: ClockError
from clock import clock_serve, estimate_offset, sync, gettime, synced, ClockError
from rpc import FrameReader, send_frame
from serialize import serialize


def near(value, target, within):
    return 'ok' if abs(value - target) <= within else '%r (want %r)' % (value, target)


def held_back(ip, port, sock, thiscommhandle, listencommhandle):
    """A clock server 5.0 s ahead that receives all requests but the fourth 0.3 s late."""
    reader = FrameReader(sock)
    for n in range(5):
        reader.read_frame()
        if n != 3:
            sleep(0.3)
        t = getruntime() + 5.0
        send_frame(sock, serialize([t, t]))
    sock.close()


if callfunc == 'initialize':
    clock_serve('127.0.0.1', <port1>, clock=lambda: getruntime() + 5.0)
    offset, delay = estimate_offset('127.0.0.1', <port1>, 8)
    print('skewed: offset %s, delay %s' % (near(offset, 5.0, 0.05), 'ok' if 0 <= delay < 0.1 else delay))

    print('before sync: %s, offset %s' % (synced(), near(gettime() - getruntime(), 0.0, 0.01)))
    sync('127.0.0.1', <port1>)
    assert synced()
    print('gettime: %.2f ahead' % (gettime() - getruntime()))

    clock_serve('127.0.0.1', <port2>)
    offset, delay = estimate_offset('127.0.0.1', <port2>, 4)
    print('relayed: offset %s' % near(offset, 5.0, 0.05))

    waitforconn('127.0.0.1', <port3>, held_back)
    offset, delay = estimate_offset('127.0.0.1', <port3>, 5)
    print('min delay: offset %s, delay %s' % (near(offset, 5.0, 0.05), 'ok' if delay < 0.2 else delay))

    try:
        estimate_offset('127.0.0.1', <port4>, 3, timeout=2)
        print('nothing listening: answered')
    except ClockError as e:
        print('nothing listening: ClockError')
    exitall()
