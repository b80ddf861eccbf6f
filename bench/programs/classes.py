# Classes and method calls: inheritance, super(), attribute access, properties.
N = 60000
R = 5  # quick: 1


class Shape:
    def __init__(self, name):
        self.name = name

    def area(self):
        return 0

    def describe(self):
        return self.name + str(self.area())


class Rect(Shape):
    def __init__(self, w, h):
        super().__init__("rect")
        self.w = w
        self.h = h

    def area(self):
        return self.w * self.h

    def scale(self, k):
        return Rect(self.w * k, self.h * k)


class Square(Rect):
    def __init__(self, s):
        super().__init__(s, s)
        self.name = "square"

    @property
    def side(self):
        return self.w


class Counter:
    def __init__(self):
        self.count = 0

    def add(self, n):
        self.count += n
        return self


class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __add__(self, other):
        return Vec(self.x + other.x, self.y + other.y)

    def dot(self, other):
        return self.x * other.x + self.y * other.y


def main(N):
    c = Counter()
    shapes = []
    for i in range(N):
        if i % 3 == 0:
            s = Square(i % 17 + 1)
            c.add(s.side)
        else:
            s = Rect(i % 13 + 1, i % 7 + 1)
        shapes.append(s)
    acc = 0
    for s in shapes:
        acc += s.area()
        acc += len(s.describe())
        c.add(1).add(2)
    for s in shapes[:N // 4]:
        acc += s.scale(2).area()
    v = Vec(0, 0)
    for i in range(N):
        v = v + Vec(i % 5, i % 3)
        acc += v.dot(Vec(1, -1)) % 11
    return acc + c.count + v.x + v.y


total = 0
for r in range(R):
    total += main(N)
print("classes", N, R, total)
