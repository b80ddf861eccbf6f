# String building and slicing: concatenation, join, formatting, slices, find/replace/split.
N = 60000
R = 9  # quick: 2


def main(N):
    parts = []
    for i in range(N):
        parts.append("item%d:%s" % (i, hex(i)))
    text = ",".join(parts)
    acc = len(text)
    s = ""
    for i in range(N // 4):
        s += chr(97 + i % 26)
    acc += len(s)
    for i in range(0, len(s) - 10, 7):
        chunk = s[i:i + 10]
        acc += ord(chunk[3]) + len(chunk[::-1])
    fields = text.split(",")
    for f in fields:
        name, value = f.split(":")
        acc += len(name) + int(value, 16) % 7
    acc += text.count("item1")
    acc += text.find("item%d" % (N - 1))
    t = text.replace("item", "it").upper()
    acc += len(t) + t.count("IT")
    words = []
    for i in range(N):
        w = "w" + str(i * 31 % 977)
        words.append(w.rjust(6, "-").strip("-").lower())
    acc += len(" ".join(words))
    return acc


total = 0
for r in range(R):
    total += main(N)
print("strings", N, R, total)
