"""rpc: request and response over TCP, with time-outs.

    from rpc import rpc_serve, rpc_call, RpcError
    handle = rpc_serve('127.0.0.1', 63100, {'add': lambda a, b: a + b})
    rpc_call('127.0.0.1', 63100, 'add', [2, 3])      # 5
    stopcomm(handle)

Each call opens one connection, sends one request frame, reads one reply frame and closes.
A frame is the decimal length of its payload, a colon, and the payload: serialize([name,
args]) for a request, serialize(['ok', result]) or serialize(['error', message]) for a reply.
Arguments and results are the plain values of the serialize library.

Time-outs: a socket's recv() blocks until data comes and has no time-out of its own, but a
recv blocked in one thread ends with SocketClosedLocal when another thread closes the socket.
So each exchange arms a timer that closes the socket at its deadline; the reader then knows
the deadline passed. Every failure of rpc_call is an RpcError whose kind says which.
"""

from serialize import serialize, deserialize

MAX_FRAME = 10000000        # bytes of payload a frame may announce


class RpcError(Exception):
    """A failed rpc_call. kind is one of 'refused' (nothing listens), 'connect' (another
    failure to connect), 'timeout', 'closed' (the server closed without a whole reply),
    'malformed' (a reply that is not a frame of a serialized reply), 'remote' (the
    procedure raised, or does not exist: remote holds the server's message) and 'args'
    (the arguments cannot be serialized)."""

    def __init__(self, message, kind, remote=None):
        Exception.__init__(self, message)
        self.kind = kind
        self.remote = remote


class FrameError(Exception):
    """A byte stream that is not a sequence of frames."""


def rpc_serve(ip, port, handlers, timeout=10.0):
    """Serves handlers (a dict: procedure name -> function) on TCP (ip, port).

    A request for name with args calls handlers[name](*args) in the connection's thread; its
    return value goes back to the caller, an exception it raises goes back as an RpcError of
    kind 'remote' with repr() of the exception. The dict is read at each request, so
    procedures may be added later. A client gets timeout seconds to send its request and
    then to read the reply. Returns the listener's commhandle: stopcomm() it to stop serving
    (calls already accepted finish). Raises what waitforconn raises."""

    def on_connection(remoteip, remoteport, sock, thiscommhandle, listencommhandle):
        _answer(sock, handlers, timeout)

    return waitforconn(ip, port, on_connection)


def _answer(sock, handlers, timeout):
    try:
        deadline = arm_deadline(sock, timeout)
        try:
            payload = FrameReader(sock).read_frame()
        finally:
            disarm_deadline(deadline)
        reply = _dispatch(payload, handlers)
        deadline = arm_deadline(sock, timeout)
        try:
            send_frame(sock, reply)
        finally:
            disarm_deadline(deadline)
    except (RepyError, FrameError):
        pass    # the client went away, was too slow or sent no frame: nobody to tell
    sock.close()


def _dispatch(payload, handlers):
    try:
        request = deserialize(payload)
    except ValueError as e:
        return serialize(['error', 'malformed request: %s' % e])
    if type(request) is not list or len(request) != 2 or type(request[0]) is not str \
            or type(request[1]) is not list:
        return serialize(['error', 'malformed request: not [name, args]'])
    name, args = request
    function = handlers.get(name)
    if function is None:
        return serialize(['error', 'no procedure %r' % name])
    try:
        result = function(*args)
    except Exception as e:
        return serialize(['error', repr(e)])
    try:
        return serialize(['ok', result])
    except (TypeError, ValueError) as e:
        return serialize(['error', 'the result of %r cannot be serialized: %s' % (name, e)])


def rpc_call(host, port, name, args, timeout=5.0):
    """Calls procedure name with args (a list or tuple) on the rpc_serve server at (host,
    port) and returns its result. The whole call, connecting included, takes at most about
    timeout seconds (a number > 0). Raises RpcError (see its kind) on any failure."""
    where = 'rpc_call %s to %s:%s' % (name, host, port)
    start = getruntime()
    try:
        request = serialize([name, list(args)])
    except (TypeError, ValueError) as e:
        raise RpcError('%s: bad arguments: %s' % (where, e), 'args')
    try:
        sock = openconn(host, port, timeout=timeout)
    except ConnectionRefusedError as e:
        raise RpcError('%s: connection refused (%s)' % (where, e), 'refused')
    except TimeoutError as e:
        raise RpcError('%s: timed out after %s s connecting (%s)' % (where, timeout, e), 'timeout')
    except RepyError as e:
        raise RpcError('%s: cannot connect: %s' % (where, e), 'connect')
    try:
        reply = _exchange(sock, request, timeout - (getruntime() - start), where, timeout)
    finally:
        sock.close()
    try:
        reply = deserialize(reply)
    except ValueError as e:
        raise RpcError('%s: malformed reply: %s' % (where, e), 'malformed')
    if type(reply) is list and len(reply) == 2 and reply[0] == 'ok':
        return reply[1]
    if type(reply) is list and len(reply) == 2 and reply[0] == 'error' and type(reply[1]) is str:
        raise RpcError('%s: remote error: %s' % (where, reply[1]), 'remote', reply[1])
    raise RpcError('%s: malformed reply: not [ok, result] or [error, message]' % where, 'malformed')


def _exchange(sock, request, remaining, where, timeout):
    """Sends the request frame on sock and returns the reply's payload within remaining s."""
    if remaining <= 0:
        raise RpcError('%s: timed out after %s s' % (where, timeout), 'timeout')
    try:
        deadline = arm_deadline(sock, remaining)
    except ResourceExhaustedError as e:
        raise RpcError('%s: no event for the time-out: %s' % (where, e), 'connect')
    try:
        send_frame(sock, request)
        return FrameReader(sock).read_frame()
    except SocketClosedLocal:
        raise RpcError('%s: timed out after %s s' % (where, timeout), 'timeout')
    except SocketClosedRemote:
        if deadline['fired']:
            raise RpcError('%s: timed out after %s s' % (where, timeout), 'timeout')
        raise RpcError('%s: the server closed the connection before its whole reply' % where, 'closed')
    except FrameError as e:
        raise RpcError('%s: malformed reply: %s' % (where, e), 'malformed')
    except RepyError as e:
        raise RpcError('%s: %s' % (where, e), 'closed')
    finally:
        disarm_deadline(deadline)


# Frames and deadlines, also for other libraries over TCP (clock uses them).

def arm_deadline(sock, seconds):
    """Closes sock after seconds, unless disarm_deadline comes first. A recv or send
    blocked on sock then raises SocketClosedLocal. Returns the state for disarm_deadline;
    its 'fired' is True once the deadline has passed. Uses one event while pending."""
    state = {'fired': False}

    def fire():
        state['fired'] = True
        sock.close()

    state['timer'] = settimer(seconds, fire, [])
    return state


def disarm_deadline(state):
    canceltimer(state['timer'])


def send_frame(sock, payload):
    """Sends payload (a byte str) as one frame, however many send() calls it takes."""
    data = '%d:%s' % (len(payload), payload)
    while data:
        data = data[sock.send(data):]


class FrameReader:
    """Reads frames from a socket, buffering what recv() returns beyond a frame."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = ''

    def read_frame(self):
        """The payload of the next frame. Raises FrameError for a bad header, and what
        recv raises (SocketClosedRemote when the peer closes before a whole frame)."""
        while ':' not in self.buffer:
            if len(self.buffer) > 10 or self.buffer.strip('0123456789') != '':
                raise FrameError('bad frame header %r' % self.buffer[:12])
            self.buffer += self.sock.recv(4096)
        header, rest = self.buffer.split(':', 1)
        if header == '' or header.strip('0123456789') != '' or int(header) > MAX_FRAME:
            raise FrameError('bad frame header %r' % header[:12])
        size = int(header)
        parts = [rest]
        have = len(rest)
        while have < size:
            chunk = self.sock.recv(min(size - have, 65536))
            parts.append(chunk)
            have += len(chunk)
        data = ''.join(parts)
        self.buffer = data[size:]
        return data[:size]
