# Sorting: built-in sort with and without keys, and a hand-written merge sort.
N = 60000  # quick: 15000


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


data = lcg(42, N)
acc = 0
s1 = sorted(data)
acc += s1[0] + s1[-1] + s1[N // 2]
s2 = merge_sort(data)
acc += 1 if s1 == s2 else 0
recs = [(x % 1000, str(x), x) for x in data]
recs.sort(key=lambda r: (r[0], r[1]))
acc += recs[0][2] + recs[-1][2]
words = [str(x) for x in data[: N // 2]]
words.sort(key=len, reverse=True)
acc += len(words[0]) + int(words[-1])
data.sort(reverse=True)
acc += data[0] - data[-1]
print("sorting", N, acc % 1000000007)
