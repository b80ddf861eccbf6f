"""clock: a time shared between vessels, by NTP-style offset estimation.

    from clock import clock_serve, sync, gettime
    clock_serve('127.0.0.1', 63100)          # on the vessel whose time the others follow
    sync('10.0.0.5', 63100)                  # on the others: returns the offset found
    gettime()                                # getruntime() + offset: the shared time

Each vessel's getruntime() starts at 0 when it starts, so two vessels' clocks differ by an
unknown offset. One sample measures it: the client notes t1 = getruntime() and sends a
request; the server notes t2 on receiving it and t3 on replying (by its own clock); the
client notes t4 when the reply arrives. Then

    offset = ((t2 - t1) + (t3 - t4)) / 2     the server's clock minus the client's
    delay  = (t4 - t1) - (t3 - t2)           the round trip spent on the network

The offset is exact when both directions take equally long, and wrong by at most delay / 2
otherwise, so of several samples the one with the smallest delay is kept. The samples go
over one TCP connection (the connection's set-up is in no sample), framed as in rpc.
A server answers with gettime() by default, so a synced vessel can serve the others.
"""

from rpc import FrameReader, FrameError, send_frame, arm_deadline, disarm_deadline
from serialize import serialize, deserialize


class ClockError(Exception):
    """No sample could be taken from the server."""


def gettime():
    """getruntime() plus the offset found by the last sync() (0.0 before any)."""
    return getruntime() + mycontext.get('clock.offset', 0.0)


def synced():
    """Whether sync() has succeeded in this program."""
    return 'clock.offset' in mycontext


def clock_serve(ip, port, clock=None, timeout=10.0):
    """Answers time requests on TCP (ip, port) with clock() (default gettime), for at most
    timeout seconds per connection. Returns the listener's commhandle (stopcomm it to stop);
    raises what waitforconn raises."""
    read_clock = gettime if clock is None else clock

    def on_connection(remoteip, remoteport, sock, thiscommhandle, listencommhandle):
        reader = FrameReader(sock)
        try:
            deadline = arm_deadline(sock, timeout)
        except RepyError:
            sock.close()        # no event for the deadline: do not serve unbounded
            return
        try:
            while True:
                reader.read_frame()
                t2 = read_clock()
                send_frame(sock, serialize([t2, read_clock()]))
        except (RepyError, FrameError):
            pass        # the client is done (or too slow)
        disarm_deadline(deadline)
        sock.close()

    return waitforconn(ip, port, on_connection)


def estimate_offset(host, port, samples=8, timeout=5.0):
    """Takes samples (an int >= 1) from the clock_serve server at (host, port) within timeout
    seconds and returns (offset, delay) of the sample with the smallest delay: the server's
    clock is about getruntime() + offset here. Raises ClockError if no sample was taken."""
    try:
        sock = openconn(host, port, timeout=timeout)
    except RepyError as e:
        raise ClockError('estimate_offset: cannot connect to %s:%s: %s' % (host, port, e))
    best = None
    deadline = arm_deadline(sock, timeout)
    reader = FrameReader(sock)
    try:
        for _ in range(samples):
            t1 = getruntime()
            send_frame(sock, 't')
            t2, t3 = deserialize(reader.read_frame())
            t4 = getruntime()
            delay = (t4 - t1) - (t3 - t2)
            if best is None or delay < best[1]:
                best = (((t2 - t1) + (t3 - t4)) / 2, delay)
    except (RepyError, FrameError, ValueError, TypeError) as e:
        if best is None:
            raise ClockError('estimate_offset: no sample from %s:%s: %s' % (host, port, e))
    finally:
        disarm_deadline(deadline)
        sock.close()
    return best


def sync(host, port, samples=8, timeout=5.0):
    """Estimates the offset to the server at (host, port) and makes gettime() follow it.
    Returns the offset; raises ClockError (and gettime() is unchanged) on failure."""
    offset, delay = estimate_offset(host, port, samples, timeout)
    mycontext['clock.offset'] = offset
    mycontext['clock.delay'] = delay
    return offset
