# Recursive calls: naive Fibonacci, Ackermann, and a recursive tree walk.
N = 24
R = 30  # quick: 2


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def ack(m, n):
    if m == 0:
        return n + 1
    if n == 0:
        return ack(m - 1, 1)
    return ack(m - 1, ack(m, n - 1))


def build(depth):
    if depth == 0:
        return None
    return (build(depth - 1), depth, build(depth - 1))


def walk(node):
    if node is None:
        return 0
    return walk(node[0]) + node[1] + walk(node[2])


def main(N):
    total = fib(N)
    for i in range(N * 4):
        total += ack(2, i % 40)
    for d in range(N - 10):
        total += walk(build(d))
    return total


total = 0
for r in range(R):
    total += main(N)
print("recursion", N, R, total)
