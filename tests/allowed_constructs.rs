//! Every construct the static check allows (repy-api.md §10.1) runs unchanged.

mod common;

use common::{once, run_program};

fn runs(label: &str, source: &str, expected: &str) {
    let run = run_program(&once(source));
    assert_eq!(run.status, Some(0), "{label}: {run:?}");
    assert_eq!(run.stdout, expected, "{label}: {run:?}");
}

#[test]
fn expressions_and_operators() {
    runs("constants", "print(1, 2.5, 1j, 'a', b'b', True, None, ..., 0x10, 1_000)", "1 2.5 1j a b'b' True None Ellipsis 16 1000\n");
    runs("arithmetic", "print(7 + 2, 7 - 2, 7 * 2, 7 / 2, 7 // 2, 7 % 2, 7 ** 2, -7, +7, ~7)", "9 5 14 3.5 3 1 49 -7 7 -8\n");
    runs("bitwise and boolean", "print(6 & 3, 6 | 3, 6 ^ 3, 1 << 3, 16 >> 2, True and 0, 0 or 5, not 1)", "2 7 5 8 4 0 5 False\n");
    runs("matmul", "class M:\n    def __matmul__(self, o):\n        return 'matmul'\n    def __rmatmul__(self, o):\n        return 'rmatmul'\nprint(M() @ 1, 1 @ M())", "matmul rmatmul\n");
    runs("comparisons", "x = 5\nprint(1 < x <= 5, x == 5 != 4, x is not None, 3 in [3], 4 not in [3])", "True True True True True\n");
    runs("conditional expression", "print('yes' if 1 else 'no')", "yes\n");
    runs(
        "calls with unpacking",
        "def f(a, b, c=0, **k):\n    return a + b + c + len(k)\nargs = [1, 2]\nkw = {'c': 3, 'd': 4}\nprint(f(*args, **kw))",
        "7\n",
    );
    runs("displays", "print([1, *[2]], (1,), {1, 2}, {'a': 1, **{'b': 2}})", "[1, 2] (1,) {1, 2} {'a': 1, 'b': 2}\n");
    runs("subscripts and slices", "s = 'abcdef'\nprint(s[1], s[1:4], s[::-2], s[-1])", "b bcd fdb f\n");
    runs("walrus", "if (n := len('abc')) > 2:\n    print(n)", "3\n");
    runs("f-strings", "x = 3.14159\nw = 8\nprint(f'{x:.2f}|{x!r:>{w}}|{x=}|{{}}')", "3.14| 3.14159|x=3.14159|{}\n");
}

#[test]
fn statements() {
    runs("assignments", "a = b = 1\nc, *d = [1, 2, 3]\ne: int = 4\na += 5\nd[0] -= 1\nprint(a, b, c, d, e)", "6 1 1 [1, 3] 4\n");
    runs("if elif else", "for x in (1, 2, 3):\n    if x == 1:\n        print('one')\n    elif x == 2:\n        print('two')\n    else:\n        print('other')", "one\ntwo\nother\n");
    runs("loops with else, break, continue, pass", "for i in range(5):\n    if i == 1:\n        continue\n    if i == 3:\n        break\n    pass\n    print(i)\nelse:\n    print('no')\nn = 0\nwhile n < 2:\n    n += 1\nelse:\n    print('while else', n)", "0\n2\nwhile else 2\n");
    runs("try except else finally raise from", "try:\n    try:\n        {}['k']\n    except KeyError as e:\n        raise ValueError('v') from e\nexcept (TypeError, ValueError) as e:\n    print('caught', e, type(e.args))\nelse:\n    print('no')\nfinally:\n    print('finally')\ntry:\n    pass\nexcept Exception:\n    pass\nelse:\n    print('else')", "caught v <class 'tuple'>\nfinally\nelse\n");
    runs(
        "assert and del",
        "x = [1, 2]\ndel x[0]\nassert x == [2], 'bad'\ntry:\n    assert False, 'msg'\nexcept AssertionError as e:\n    print(e, x)",
        "msg [2]\n",
    );
    runs("with a lock", "l = getlock()\nwith l:\n    print(l.acquire(False))\nprint(l.acquire(False))", "False\nTrue\n");
}

#[test]
fn functions_and_classes() {
    runs(
        "all parameter kinds",
        "def f(a, /, b, *args, c, d=4, **kw):\n    return (a, b, args, c, d, kw)\nprint(f(1, 2, 3, c=5, e=6))",
        "(1, 2, (3,), 5, 4, {'e': 6})\n",
    );
    runs("lambda and closures", "def adder(n):\n    return lambda x: x + n\nprint(adder(2)(3))", "5\n");
    runs("nonlocal", "def counter():\n    n = 0\n    def inc():\n        nonlocal n\n        n += 1\n        return n\n    return inc\nc = counter()\nc()\nprint(c())", "2\n");
    runs(
        "decorators",
        "def twice(f):\n    def g(x):\n        return f(f(x))\n    return g\n@twice\ndef inc(x):\n    return x + 1\nprint(inc(0))",
        "2\n",
    );
    runs("classes with bases, decorators, properties, super", "def tag(cls):\n    cls.tagged = True\n    return cls\nclass Base:\n    def __init__(self, x):\n        self.x = x\n    def describe(self):\n        return 'base'\n@tag\nclass Child(Base):\n    def __init__(self, x):\n        super().__init__(x * 2)\n    @property\n    def double(self):\n        return self.x * 2\n    @staticmethod\n    def s():\n        return 's'\n    @classmethod\n    def c(cls):\n        return cls.tagged\n    def describe(self):\n        return 'child+' + super().describe()\nk = Child(1)\nprint(k.x, k.double, Child.s(), Child.c(), k.describe(), isinstance(k, Base))", "2 4 s True child+base True\n");
    runs("dunder protocol methods", "class V:\n    def __init__(self, n):\n        self.n = n\n    def __len__(self):\n        return self.n\n    def __iter__(self):\n        return iter(range(self.n))\n    def __getitem__(self, i):\n        return i * 10\n    def __eq__(self, o):\n        return self.n == o.n\n    def __hash__(self):\n        return self.n\n    def __repr__(self):\n        return 'V(%d)' % self.n\n    def __call__(self):\n        return 'called'\nv = V(3)\nprint(len(v), list(v), v[2], v == V(3), repr(v), v(), hash(v))", "3 [0, 1, 2] 20 True V(3) called 3\n");
}

#[test]
fn comprehensions_generators_and_match() {
    runs(
        "comprehensions",
        "print([i * i for i in range(4) if i], {i % 2 for i in range(4)}, {i: str(i) for i in range(2)}, sum(i for i in range(4)))",
        "[1, 4, 9] {0, 1} {0: '0', 1: '1'} 6\n",
    );
    runs(
        "yield and yield from",
        "def inner():\n    yield 1\n    yield 2\ndef outer():\n    yield 0\n    yield from inner()\nprint(list(outer()))",
        "[0, 1, 2]\n",
    );
    runs(
        "match with every pattern kind",
        "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.y = y\nLIMIT = 5\ndef m(v):\n    match v:\n        case 0 | 1:\n            return 'small'\n        case None:\n            return 'none'\n        case [a, *rest]:\n            return 'seq %s %s' % (a, rest)\n        case {'k': kv, **others}:\n            return 'map %s %s' % (kv, others)\n        case Point(x=0, y=yy) as p:\n            return 'point on axis %s' % yy\n        case str() as s:\n            return 'str ' + s\n        case _:\n            return 'other'\nfor v in [1, None, [1, 2, 3], {'k': 1, 'z': 2}, Point(0, 7), 'hi', 9.5]:\n    print(m(v))",
        "small\nnone\nseq 1 [2, 3]\nmap 1 {'z': 2}\npoint on axis 7\nstr hi\nother\n",
    );
}
