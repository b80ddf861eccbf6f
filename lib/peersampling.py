"""peersampling: a gossip peer-sampling service (Cyclon's shuffle over UDP).

    from peersampling import start_sampling, get_peer, get_view
    start_sampling(getmyip(), 63100, [('10.0.0.5', 63100)])      # seeds: (ip, port) pairs
    peer = get_peer()        # a random (ip, port) from the view, None while it is empty

Each service keeps a view of at most `size` peers, each with an age (rounds since the entry
was made by the peer itself). Every `period` seconds (with jitter) it

1. adds 1 to every age and takes the oldest peer Q out of the view;
2. sends Q `shuffle_length - 1` random entries of its view and a fresh entry for itself
   (age 0);
3. Q answers with up to `shuffle_length` random entries of its own view, and both sides
   merge what they received: skip themselves, keep the younger age of an entry they already
   hold, fill free places, then take the places of the entries they sent away.

A stopped or unreachable peer never makes a fresh entry for itself, so its entries only grow
older, until each holder picks it as the oldest and drops it: dead peers age out of every
view. A service whose view empties starts again from its seeds.
Messages are serialized lists: ['shuffle', id, entries] and ['reply', id, entries], where an
entry is [[ip, port], age]; a datagram that is not one is ignored.

PeerSampler is the service; start_sampling, get_peer, get_view and stop_sampling use one
PeerSampler per program (kept in mycontext['peersampling.service']).
"""

from serialize import serialize, deserialize


class PeerSampler:
    """One service on UDP (ip, port) (port must be a messport). Nothing runs before start()."""

    def __init__(self, ip, port, seeds, size=8, shuffle_length=4, period=1.0):
        self.ip = ip
        self.port = port
        self.me = (ip, port)
        self.seeds = [(s[0], s[1]) for s in seeds]
        self.size = size
        self.shuffle_length = shuffle_length
        self.period = period
        self.lock = getlock()
        self.view = {}          # (ip, port) -> age
        self.pending = None     # (id, peer, addresses sent) of the shuffle in progress
        self.count = 0
        self.timer = None
        self.handle = None
        self.running = False

    def start(self):
        """Listens on (ip, port) and starts the rounds. Raises what recvmess raises."""
        self.handle = recvmess(self.ip, self.port, self._on_message)
        with self.lock:
            self.running = True
            self._add_seeds()
            self.timer = settimer(self.period * randomfloat(), self._round, [])

    def stop(self):
        """Stops the rounds and the listener (a stopped service looks dead to the others)."""
        with self.lock:
            self.running = False
            if self.timer is not None:
                canceltimer(self.timer)
        if self.handle is not None:
            stopcomm(self.handle)

    def get_view(self):
        """A list of ((ip, port), age), youngest first."""
        with self.lock:
            entries = list(self.view.items())
        return sorted(entries, key=lambda e: (e[1], e[0]))

    def get_peer(self):
        """A random (ip, port) of the view, or None if the view is empty."""
        with self.lock:
            peers = list(self.view)
        return peers[int(randomfloat() * len(peers))] if peers else None

    def _add_seeds(self):
        for seed in self.seeds:
            if seed != self.me and len(self.view) < self.size:
                self.view.setdefault(seed, 0)

    def _round(self):
        with self.lock:
            if not self.running:
                return
            for peer in self.view:
                self.view[peer] += 1
            if not self.view:
                self._add_seeds()
            message = None
            if self.view:
                oldest = max(self.view.values())
                target = _pick([p for p in self.view if self.view[p] == oldest], 1)[0]
                del self.view[target]
                sent = _pick(list(self.view), self.shuffle_length - 1)
                self.count += 1
                self.pending = (self.count, target, sent)
                entries = [[p, self.view[p]] for p in sent] + [[self.me, 0]]
                message = serialize(['shuffle', self.count, entries])
            self.timer = settimer(self.period * (0.5 + randomfloat()), self._round, [])
        if message is not None:
            self._send(target, message)

    def _on_message(self, remoteip, remoteport, datagram, commhandle):
        try:
            kind, number, entries = deserialize(datagram)
            received = [((e[0][0], e[0][1]), e[1]) for e in entries]
        except (ValueError, TypeError, IndexError, KeyError):
            return
        reply = None
        with self.lock:
            if not self.running:
                return
            if kind == 'shuffle':
                sender = received[-1][0] if received else None     # its own entry
                sent = _pick([p for p in self.view if p != sender], self.shuffle_length)
                reply = serialize(['reply', number, [[p, self.view[p]] for p in sent]])
                self._merge(received, sent)
            elif kind == 'reply' and self.pending is not None and self.pending[0] == number:
                self._merge(received, self.pending[2])
                self.pending = None
        if reply is not None:
            self._send((remoteip, remoteport), reply)

    def _merge(self, received, sent):
        """Merges received entries, making room by dropping the entries in sent."""
        sent = [p for p in sent if p in self.view]
        for peer, age in received:
            if type(peer[0]) is not str or type(peer[1]) is not int or type(age) is not int:
                continue
            if peer == self.me:
                continue
            if peer in self.view:
                self.view[peer] = min(age, self.view[peer])
                continue
            if len(self.view) >= self.size:
                while sent and sent[-1] not in self.view:
                    sent.pop()
                if not sent:
                    continue
                del self.view[sent.pop()]
            self.view[peer] = age

    def _send(self, peer, message):
        try:
            sendmess(peer[0], peer[1], message, self.ip, self.port)
        except RepyError:
            pass        # as a lost datagram


def _pick(items, k):
    """k random items of the list items (all of them, shuffled, if fewer)."""
    items = list(items)
    for i in range(min(k, len(items))):
        j = i + int(randomfloat() * (len(items) - i))
        items[i], items[j] = items[j], items[i]
    return items[:max(k, 0)]


def start_sampling(ip, port, seeds, size=8, shuffle_length=4, period=1.0):
    """Starts this program's service on UDP (ip, port) from seeds (a list of (ip, port));
    returns the PeerSampler. Raises ValueError if one is already running."""
    if 'peersampling.service' in mycontext:
        raise ValueError('start_sampling: the service is already running')
    service = PeerSampler(ip, port, seeds, size, shuffle_length, period)
    service.start()
    mycontext['peersampling.service'] = service
    return service


def stop_sampling():
    """Stops this program's service, if it runs."""
    service = mycontext.pop('peersampling.service', None)
    if service is not None:
        service.stop()


def get_peer():
    """A random (ip, port) of this program's view, or None (empty view or no service)."""
    service = mycontext.get('peersampling.service')
    return service.get_peer() if service is not None else None


def get_view():
    """This program's view as a list of ((ip, port), age), youngest first ([] if none)."""
    service = mycontext.get('peersampling.service')
    return service.get_view() if service is not None else []
