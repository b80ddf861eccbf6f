# Dict and list churn: inserts, lookups, deletes, appends, pops, comprehensions.
N = 200000
R = 4  # quick: 1


def main(N):
    d = {}
    for i in range(N):
        d[i * 7 % N] = i
    acc = 0
    for i in range(0, N, 3):
        acc += d.get(i, -1)
    for i in range(0, N, 2):
        del d[i]
    acc += len(d)
    words = {}
    for i in range(N):
        key = "k" + str(i % 5000)
        words[key] = words.get(key, 0) + i
    acc += sum(words.values()) % 1000003
    stack = []
    for i in range(N):
        stack.append(i)
        if i % 3 == 0:
            acc += stack.pop()
    acc += len(stack)
    squares = [x * x for x in range(N) if x % 2]
    acc += sum(squares) % 1000003
    pairs = dict((x, x + 1) for x in range(N // 4))
    acc += sum(pairs[k] for k in pairs) % 1000003
    lst = list(range(N // 10))
    while lst:
        acc += lst.pop(0) if len(lst) % 2 else lst.pop()
    return acc


total = 0
for r in range(R):
    total += main(N)
print("dicts_lists", N, R, total)
