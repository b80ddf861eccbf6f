# A three-way sort of N tuples (a, b, c) from a linear congruential generator: sorted() by
# the whole tuple, sorted() by a lambda key on the second field reversed, and list.sort()
# in place with a key combining the first and third fields. Each result is checked in the
# program (order, and the stability of the last sort) and sampled into a checksum. The
# fields stay below 256, cached small ints in CPython and RustPython alike, so the list
# stays well inside the default profile's 100 MB memory limit.
N = 200000  # quick: 50000
R = 1


def make(n, seed):
    data = []
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2147483648
        data.append((x >> 25, (x >> 17) & 255, (x >> 9) & 255))
    return data


def sample(rows, weight):
    # A weighted sum over about a hundred positions, first and last included.
    acc = 0
    step = len(rows) // 97
    for k in list(range(0, len(rows), step)) + [len(rows) - 1]:
        a, b, c = rows[k]
        acc += (k + weight) * (a * 65536 + b * 256 + c)
    return acc % 1000000007


def main(N, seed):
    data = make(N, seed)
    ok = True

    by_tuple = sorted(data)
    for i in range(1, N):
        if by_tuple[i - 1] > by_tuple[i]:
            ok = False
            break

    by_b = sorted(data, key=lambda t: t[1], reverse=True)
    for i in range(1, N):
        if by_b[i - 1][1] < by_b[i][1]:
            ok = False
            break

    # In place, on the list sorted by b descending: rows with equal keys (same a and c)
    # must keep that order, so b never rises within a run of equal keys.
    mixed = by_b[:]
    mixed.sort(key=lambda t: t[0] * 256 - t[2])
    for i in range(1, N):
        p, q = mixed[i - 1], mixed[i]
        kp, kq = p[0] * 256 - p[2], q[0] * 256 - q[2]
        if kp > kq or (kp == kq and p[1] < q[1]):
            ok = False
            break

    if len(by_tuple) != N or len(by_b) != N or len(mixed) != N:
        ok = False
    acc = sample(by_tuple, 1) * 3 + sample(by_b, 2) * 5 + sample(mixed, 3) * 7
    return acc, ok


total = 0
verdict = "ok"
for r in range(R):
    acc, ok = main(N, 12345 + r)
    total += acc
    if not ok:
        verdict = "BAD"
print("sort_tuples", N, R, total, verdict)
