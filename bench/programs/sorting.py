# Sorting: built-in sort with and without keys on lists of 1,000, and a hand-written merge
# sort of the whole list. (One sort of the whole list is bench/programs/diag/big_sort.py:
# the VM's timsort is quadratic there, see docs/benchmarks.md.)
N = 60000
R = 4  # quick: 1


def lcg(seed, n):
    out = []
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2147483648
        out.append(x)
    return out


def merge_sort(a):
    if len(a) <= 1:
        return a
    mid = len(a) // 2
    left = merge_sort(a[:mid])
    right = merge_sort(a[mid:])
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out


def main(N):
    data = lcg(42, N)
    acc = 0
    s2 = merge_sort(data)
    acc += s2[0] + s2[-1] + s2[N // 2]
    for start in range(0, N, 1000):
        chunk = data[start:start + 1000]
        s1 = sorted(chunk)
        acc += s1[0] + s1[-1] + s1[len(s1) // 2]
        recs = [(x % 100, str(x), x) for x in chunk]
        recs.sort(key=lambda r: (r[0], r[1]))
        acc += recs[0][2] + recs[-1][2]
        words = [str(x) for x in chunk]
        words.sort(key=len, reverse=True)
        acc += len(words[0]) + int(words[-1])
        chunk.sort(reverse=True)
        acc += chunk[0] - chunk[-1]
    return acc % 1000000007


total = 0
for r in range(R):
    total += main(N)
print("sorting", N, R, total)
