"""udpretry: UDP request and response with retries.

    from udpretry import udp_serve, UdpClient, udp_request, UdpError
    handle = udp_serve('127.0.0.1', 63100, lambda ip, port, message: message.upper())
    client = UdpClient('127.0.0.1', 63101)
    client.request('127.0.0.1', 63100, 'hello', timeout=0.5, retries=3)    # 'HELLO'
    client.close(); stopcomm(handle)

Design. A datagram may be lost, duplicated, delayed or reordered; so:

* Every request carries an id, unique to the client (a random prefix and a counter), and
  every reply repeats it: 'Q<id>:<message>', 'A<id>:<reply>', 'E<id>:<error>'.
* The client sends the request, waits up to timeout seconds, and sends the same request
  with the same id again, retries times at most, then raises UdpError (kind 'timeout').
  The first reply with the id ends the request, whichever attempt it answers; a reply with
  an id that is no longer awaited (a late duplicate, an answer to an attempt that was
  already answered) is dropped. The wait is a lock released by the reply or by a timer.
* The server remembers each request's reply for `remember` seconds, keyed by sender and
  id: a retransmitted request gets the remembered reply again instead of running the
  handler twice, and a request that arrives while its first copy is still being handled
  is dropped (the client retries). So a handler runs at most once per request, unless it
  returned None ("no reply"), which is not remembered: the next copy runs it again.
* A message and a reply are byte strings (use the serialize library for values); the
  request or reply must fit in one datagram with its header (about 65,000 bytes).
"""


class UdpError(Exception):
    """A request without an answer (kind 'timeout') or whose handler raised (kind
    'remote', remote holding the server's message)."""

    def __init__(self, message, kind, remote=None):
        Exception.__init__(self, message)
        self.kind = kind
        self.remote = remote


def udp_serve(ip, port, handler, remember=30.0):
    """Answers requests on UDP (ip, port): handler(remoteip, remoteport, message) returns
    the reply (a byte str), or None for no reply. An exception of the handler is sent back
    and raised in the client as UdpError of kind 'remote'. Returns the commhandle (stopcomm
    it to stop). Raises what recvmess raises."""
    state = {'replies': {}, 'lock': getlock()}

    def on_datagram(remoteip, remoteport, datagram, commhandle):
        kind, ident, message = _parse(datagram)
        if kind != 'Q':
            return
        key = (remoteip, remoteport, ident)
        now = getruntime()
        with state['lock']:
            _forget_old(state['replies'], now - remember)
            known = state['replies'].get(key)
            if known is None:
                state['replies'][key] = (now, None)     # being handled
        if known is not None:
            if known[1] is not None:
                _send(remoteip, remoteport, known[1], ip, port)
            return
        try:
            reply = handler(remoteip, remoteport, message)
            reply = None if reply is None else 'A%s:%s' % (ident, reply)
        except Exception as e:
            reply = 'E%s:%r' % (ident, e)
        with state['lock']:
            if reply is None:
                state['replies'].pop(key, None)
            else:
                state['replies'][key] = (now, reply)
        if reply is not None:
            _send(remoteip, remoteport, reply, ip, port)

    return recvmess(ip, port, on_datagram)


def _forget_old(replies, before):
    """Drops the replies kept since before (the dict is in arrival order)."""
    for key in list(replies):
        if replies[key][0] >= before:
            break
        del replies[key]


def _parse(datagram):
    """(kind, id, rest) of a datagram '<kind><id>:<rest>', or (None, None, None)."""
    colon = datagram.find(':', 0, 40)
    if colon < 2:
        return None, None, None
    return datagram[0], datagram[1:colon], datagram[colon + 1:]


def _send(host, port, datagram, localip, localport):
    """sendmess, where a failure is a lost datagram (a retry may do better)."""
    try:
        sendmess(host, port, datagram, localip, localport)
    except RepyError:
        pass


class UdpClient:
    """Sends requests from UDP (localip, localport), which it listens on for the replies
    (localport must be a messport). Several threads may use one client at once."""

    def __init__(self, localip, localport):
        self.localip = localip
        self.localport = localport
        self.lock = getlock()
        # id -> {'answer': (kind, text) or None, 'waiter': lock or None, 'attempt': number}
        self.pending = {}
        self.prefix = '%x' % int(randomfloat() * 2 ** 48)
        self.count = 0
        self.handle = recvmess(localip, localport, self._on_reply)

    def close(self):
        """Stops listening for replies."""
        stopcomm(self.handle)

    def request(self, host, port, message, timeout=1.0, retries=3):
        """Sends message to the udp_serve server at (host, port) and returns its reply,
        trying 1 + retries times, timeout seconds each. Raises UdpError (kinds above) and
        what sendmess raises."""
        with self.lock:
            self.count += 1
            ident = '%s.%x' % (self.prefix, self.count)
            slot = {'answer': None, 'waiter': None, 'attempt': 0}
            self.pending[ident] = slot
        datagram = 'Q%s:%s' % (ident, message)
        try:
            for attempt in range(1 + retries):
                waiter = getlock()
                waiter.acquire()
                with self.lock:
                    if slot['answer'] is not None:
                        break
                    slot['waiter'] = waiter
                    slot['attempt'] = attempt
                timer = settimer(timeout, self._wake, [ident, attempt])
                try:
                    sendmess(host, port, datagram, self.localip, self.localport)
                    waiter.acquire()        # released by the reply or the timer
                finally:
                    canceltimer(timer)
                if slot['answer'] is not None:
                    break
        finally:
            with self.lock:
                del self.pending[ident]
        if slot['answer'] is None:
            raise UdpError('udp request to %s:%s: no answer to %d attempts of %s s'
                           % (host, port, 1 + retries, timeout), 'timeout')
        kind, text = slot['answer']
        if kind == 'E':
            raise UdpError('udp request to %s:%s: remote error: %s' % (host, port, text), 'remote', text)
        return text

    def _wake(self, ident, attempt, answer=None):
        """Records the answer, if any, and ends the wait of the attempt (None: any)."""
        with self.lock:
            slot = self.pending.get(ident)
            if slot is None or attempt is not None and attempt != slot['attempt']:
                return
            if answer is not None and slot['answer'] is None:
                slot['answer'] = answer
            waiter = slot['waiter']
            slot['waiter'] = None
        if waiter is not None:
            waiter.release()

    def _on_reply(self, remoteip, remoteport, datagram, commhandle):
        kind, ident, text = _parse(datagram)
        if kind in ('A', 'E'):
            self._wake(ident, None, (kind, text))


def udp_request(host, port, message, localip, localport, timeout=1.0, retries=3):
    """One request from a UdpClient on (localip, localport) made for it and closed after."""
    client = UdpClient(localip, localport)
    try:
        return client.request(host, port, message, timeout, retries)
    finally:
        client.close()
