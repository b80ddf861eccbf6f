# Recursion as programs write it: naive Fibonacci, Towers of Hanoi, N-queens by
# backtracking, a binary search tree built, measured and walked recursively, mutual
# recursion, and a recursive build and flatten of nested lists. Keys come from a linear
# congruential generator; no call goes deeper than a few dozen frames.
N = 24
R = 5  # quick: 1


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def hanoi(n, src, dst, via):
    # Number of moves, and a weighted sum of where the moves go.
    if n == 0:
        return 0
    return hanoi(n - 1, src, via, dst) + dst + 3 * src + hanoi(n - 1, via, dst, src)


def queens(n, row, cols, diag1, diag2):
    if row == n:
        return 1
    count = 0
    for col in range(n):
        bit = 1 << col
        d1 = 1 << (row + col)
        d2 = 1 << (row - col + n)
        if cols & bit or diag1 & d1 or diag2 & d2:
            continue
        count += queens(n, row + 1, cols | bit, diag1 | d1, diag2 | d2)
    return count


def insert(node, key):
    # A node is [key, left, right]; returns the (possibly new) subtree.
    if node is None:
        return [key, None, None]
    if key < node[0]:
        node[1] = insert(node[1], key)
    elif key > node[0]:
        node[2] = insert(node[2], key)
    return node


def height(node):
    if node is None:
        return 0
    return 1 + max(height(node[1]), height(node[2]))


def size(node):
    if node is None:
        return 0
    return size(node[1]) + 1 + size(node[2])


def inorder(node, out):
    if node is not None:
        inorder(node[1], out)
        out.append(node[0])
        inorder(node[2], out)


def contains(node, key):
    if node is None:
        return False
    if key == node[0]:
        return True
    return contains(node[1] if key < node[0] else node[2], key)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def nest(depth, seed):
    # A nested list: at depth 0 a number, else a list of two or three nested lists.
    if depth == 0:
        return seed % 1000
    width = 2 + seed % 2
    return [nest(depth - 1, (seed * 1103515245 + 12345 + k) % 2147483648) for k in range(width)]


def flatten(x, out):
    if isinstance(x, list):
        for item in x:
            flatten(item, out)
    else:
        out.append(x)
    return out


def digit_sum(n):
    return n if n < 10 else digit_sum(n // 10) + n % 10


def main(N):
    acc = fib(N)
    acc += hanoi(N - 7, 1, 3, 2)
    acc += queens(N // 3 + 1, 0, 0, 0, 0)
    root = None
    x = N
    for i in range(N * 150):
        x = (x * 1103515245 + 12345) % 2147483648
        root = insert(root, x % 100000)
    out = []
    inorder(root, out)
    for i in range(1, len(out)):
        if out[i - 1] >= out[i]:
            acc -= 1000000
    acc += height(root) * 1000 + size(root) + out[len(out) // 2]
    for k in range(0, 100000, 97):
        if contains(root, k):
            acc += k % 13
    for n in range(N * 60):
        if is_even(n % 60):
            acc += 1
    flat = flatten(nest(N // 2 - 1, N), [])
    acc += len(flat) + sum(flat) % 100003
    for v in flat:
        acc += digit_sum(v * 7919)
    return acc


total = 0
for r in range(R):
    total += main(N)
print("recursion_heavy", N, R, total)
