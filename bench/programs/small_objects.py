# Many small objects: short-lived instances with a few attributes created and dropped by the
# million, method calls and operators on them, and a singly linked list built, walked,
# reversed, filtered and dropped. Values come from a linear congruential generator.
N = 40000
R = 5  # quick: 1


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Point(self.x + other.x, self.y + other.y)

    def __sub__(self, other):
        return Point(self.x - other.x, self.y - other.y)

    def scaled(self, k):
        return Point(self.x * k, self.y * k)

    def manhattan(self):
        return abs(self.x) + abs(self.y)

    def __eq__(self, other):
        return self.x == other.x and self.y == other.y

    def __lt__(self, other):
        return (self.x, self.y) < (other.x, other.y)


class Particle:
    def __init__(self, pos, vel, mass):
        self.pos = pos
        self.vel = vel
        self.mass = mass

    def step(self, bound):
        p = self.pos + self.vel
        if p.x < 0 or p.x >= bound:
            self.vel = Point(-self.vel.x, self.vel.y)
            p = self.pos + self.vel
        if p.y < 0 or p.y >= bound:
            self.vel = Point(self.vel.x, -self.vel.y)
            p = self.pos + self.vel
        self.pos = p
        return self

    def momentum(self):
        return self.vel.scaled(self.mass)


class Node:
    def __init__(self, value, next):
        self.value = value
        self.next = next


class Rng:
    def __init__(self, seed):
        self.state = seed

    def next_int(self, n):
        self.state = (self.state * 1103515245 + 12345) % 2147483648
        return (self.state >> 8) % n


def build_list(rng, n):
    head = None
    for i in range(n):
        head = Node(rng.next_int(1000), head)
    return head


def reverse(head):
    prev = None
    while head is not None:
        nxt = head.next
        head.next = prev
        prev = head
        head = nxt
    return prev


def keep_odd(head):
    # A new list of the odd values, in order, through a sentinel node.
    first = Node(0, None)
    tail = first
    while head is not None:
        if head.value % 2:
            tail.next = Node(head.value, None)
            tail = tail.next
        head = head.next
    return first.next


def checksum(head):
    acc = 0
    i = 1
    while head is not None:
        acc = (acc + i * head.value) % 1000003
        i += 1
        head = head.next
    return acc


def main(N):
    rng = Rng(N)
    acc = 0
    # Short-lived points: each iteration makes and drops several.
    origin = Point(0, 0)
    seed = N
    for i in range(N):
        seed = (seed * 1103515245 + 12345) % 2147483648
        a = Point(seed % 100, (seed >> 12) % 100)
        b = Point(i % 7, i % 11)
        c = (a - b).scaled(3) + origin
        acc += c.manhattan()
        if a == b or c < a:
            acc += 1
    # A small swarm stepped many times: every step makes new Point objects.
    swarm = [Particle(Point(rng.next_int(50), rng.next_int(50)),
                      Point(rng.next_int(5) - 2, rng.next_int(5) - 2), 1 + i % 3)
             for i in range(64)]
    for t in range(N // 100):
        for p in swarm:
            p.step(50)
    total = Point(0, 0)
    for p in swarm:
        total = total + p.momentum()
        acc += p.pos.x * 3 + p.pos.y
    acc += total.x * 7 + total.y
    # A linked list: build, walk, reverse, filter, drop.
    head = build_list(rng, N // 4)
    acc += checksum(head)
    head = reverse(head)
    acc += checksum(head)
    odd = keep_odd(head)
    acc += checksum(odd)
    head = None
    odd = None
    return acc


total = 0
for r in range(R):
    total += main(N)
print("small_objects", N, R, total)
