# Diagnostic for bench/compare.py, not part of the suite: one sorted() of N random ints.
# CPython does it in milliseconds; the VM's timsort makes ~n*n/100 comparisons here (see
# docs/benchmarks.md), so the process time is almost all sort.
N = 60000  # quick: 20000

data = []
x = 42
for _ in range(N):
    x = (x * 1103515245 + 12345) % 2147483648
    data.append(x)
s = sorted(data)
print("big_sort", N, s[0] + s[-1] + s[N // 2])
