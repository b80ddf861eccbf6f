# peersampling: six services in one vessel, each seeded with the next one only (a ring).
# They must come to full views (4 entries) of members only, never themselves, every
# service in some view; get_peer answers only peers of its view, and not always the same.
# Then two services stop: within the deadline the four others' views must hold live peers
# only (and not be empty), with get_peer answering live peers.
#pragma out joined: full views of members, nobody holds itself, everyone is known
#pragma out get_peer: from the view, 2 or more distinct
#pragma out after 2 stopped: views of live peers only
#pragma out get_peer after: live peers only
#pragma out module functions: True True []
from peersampling import PeerSampler, start_sampling, stop_sampling, get_peer, get_view

PORTS = [<port1>, <port2>, <port3>, <port4>, <port5>, <port6>]


def views(services):
    return dict((s.me, [peer for peer, age in s.get_view()]) for s in services)


def joined(services, members):
    """None when the views are full, of members, without self, and cover everyone."""
    known = set()
    for me, view in views(services).items():
        if len(view) != 4 or me in view or not set(view) <= members:
            return 'view of %r: %r' % (me, view)
        known.update(view)
    return None if known == members else 'never known: %r' % (members - known)


def only_live(services, live):
    for me, view in views(services).items():
        if not view or not set(view) <= live:
            return 'view of %r: %r' % (me, view)
    return None


def wait_for(check, seconds):
    """Calls check() until it answers None, for at most seconds; returns its last answer."""
    deadline = getruntime() + seconds
    why = check()
    while why is not None and getruntime() < deadline:
        sleep(0.2)
        why = check()
    return why


if callfunc == 'initialize':
    addresses = [('127.0.0.1', p) for p in PORTS]
    services = [PeerSampler('127.0.0.1', PORTS[i], [addresses[(i + 1) % 6]], size=4,
                            shuffle_length=3, period=0.2) for i in range(6)]
    for s in services:
        s.start()
    members = set(addresses)
    why = wait_for(lambda: joined(services, members), 10)
    print('joined: full views of members, nobody holds itself, everyone is known' if why is None else why)

    first = services[0]
    picks = [first.get_peer() for _ in range(40)]
    print('get_peer: from the view,' if all(p in members and p != first.me for p in picks) else picks,
          '2 or more distinct' if len(set(picks)) >= 2 else picks)

    services[4].stop()
    services[5].stop()
    live = set(addresses[:4])
    why = wait_for(lambda: only_live(services[:4], live), 15)
    print('after 2 stopped: views of live peers only' if why is None else why)
    picks = [s.get_peer() for s in services[:4] for _ in range(10)]
    print('get_peer after:', 'live peers only' if set(picks) <= live else picks)
    for s in services[:4]:
        s.stop()

    # The program-wide service: a lone one answers None and an empty view.
    service = start_sampling('127.0.0.1', <port7>, [], period=0.2)
    print('module functions:', get_peer() is None, get_view() == service.get_view(), get_view())
    stop_sampling()
    exitall()
