# serialize: exact texts of small values, round trips of every type (types kept exactly),
# big ints, all kinds of characters, random nested values; every proper prefix of a text and
# random corruptions are refused with ValueError only.
#pragma out texts ok
#pragma out round trips ok
#pragma out random values ok 200
#pragma out prefixes refused
#pragma out corruptions: only ValueError
#pragma out errors ok
from serialize import serialize, deserialize


def same(a, b):
    """Equal and of the same types all the way down (True is not 1, (1,) is not [1])."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return repr(a) == repr(b)
    if type(a) is list or type(a) is tuple:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return len(a) == len(b) and all(k in b and same(a[k], b[k]) for k in a)
    return a == b


def random_int(n):
    return int(randomfloat() * n)


def random_value(depth):
    k = random_int(12 if depth < 4 else 7)
    if k == 0:
        return None
    if k == 1:
        return randomfloat() < 0.5
    if k == 2:
        return random_int(2 ** 40) - 2 ** 39
    if k == 3:
        return (randomfloat() - 0.5) * 10 ** random_int(40)
    if k == 4:
        return ''.join(chr(random_int(0x11000)) for _ in range(random_int(6)))
    if k == 5:
        return ''.join(chr(random_int(256)) for _ in range(random_int(6)))
    if k == 6:
        return bytes([random_int(256) for _ in range(random_int(4))])
    if k in (7, 8):
        return [random_value(depth + 1) for _ in range(random_int(4))]
    if k in (9, 10):
        return tuple(random_value(depth + 1) for _ in range(random_int(4)))
    d = {}
    for _ in range(random_int(4)):
        d[random_value(99)] = random_value(depth + 1)   # depth 99: only scalars as keys
    return d


def refused(text):
    try:
        deserialize(text)
    except ValueError as e:
        return str(e)
    return None


if callfunc == 'initialize':
    # Texts written out by hand from the format in the library's docstring.
    expected = [
        (None, 'N'), (True, 'T'), (False, 'F'), (0, 'i1:0'), (255, 'i2:ff'), (-16, 'i3:-10'),
        (0.5, 'f3:0.5'), ('', 's0:'), ('a:b', 's3:a:b'), ('\u00e9', 's2:\xc3\xa9'),
        (b'\x00\xff', 'b2:\x00\xff'), ([1, 'ab', None], 'l3:i1:1s2:abN'), ((), 't0:'),
        ({'k': [True]}, 'd1:s1:kl1:T'),
    ]
    for value, text in expected:
        assert serialize(value) == text, (value, serialize(value), text)
        assert same(deserialize(text), value), (text, deserialize(text))
    print('texts ok')

    values = [
        None, True, False, 0, 1, -1, 2 ** 64, -(7 ** 20000), 0.1 + 0.2, -0.0, 1e308, 5e-324,
        float('inf'), float('-inf'), float('nan'), '', 'line\nbreak\x00nul\r\t', ':::', 'N',
        ''.join(chr(c) for c in range(256)), '\u4e2d\U0001f600\ud800', b'', bytes(range(256)),
        [], (), {}, [[[]]], (1, (2, (3,))), [1, True, 1.0, '1'],
        {None: 1, True: 2, 3: 4, 2.5: 5, 'six': 6, b'7': 7, (8, 'nine'): [10]},
        {'nested': {'deeper': [{'x': (None, [b'y'])}]}},
    ]
    for value in values:
        assert same(deserialize(serialize(value)), value), value
    assert max(ord(c) for c in serialize(values)) < 256
    deep = []
    for _ in range(90):
        deep = [deep]
    assert same(deserialize(serialize(deep)), deep)
    print('round trips ok')

    count = 0
    for _ in range(200):
        value = random_value(0)
        text = serialize(value)
        assert max([ord(c) for c in text] + [0]) < 256, text
        assert same(deserialize(text), value), (value, text)
        count += 1
    print('random values ok', count)

    sample = serialize([values[:12], {'a': (1, 'two', b'3'), 'b': [None, 4.5]}, 'end'])
    for n in range(len(sample)):
        assert refused(sample[:n]) is not None, sample[:n]
    print('prefixes refused')

    for _ in range(500):
        chars = list(sample)
        for _ in range(1 + random_int(3)):
            chars[random_int(len(chars))] = chr(random_int(256))
        try:
            deserialize(''.join(chars))
        except ValueError:
            pass
    print('corruptions: only ValueError')

    checks = [
        ('', 'ends at offset 0'), ('x', "unknown tag 'x'"), ('NN', 'unexpected characters'),
        ('i:0', 'not followed by a length'), ('s5:ab', '5 characters announced'),
        ('i2:0x', 'bad int'), ('i0:', 'bad int'), ('f3:1.x', 'bad float'), ('f2:ee', 'bad float'),
        ('s1:\xff', 'bad UTF-8'), ('l99999999999:', 'items announced'),
        ('d1:l0:N', 'unhashable dict key'), ('l1:' * 200 + 'N', 'nested deeper'),
        ('s99999999999999999999999:', 'not followed by a length'),
    ]
    for text, why in checks:
        message = refused(text)
        assert message is not None and why in message, (text, message)
    loop = []
    loop.append(loop)
    for bad, exc in ((loop, ValueError), (set(), TypeError), (getlock(), TypeError)):
        try:
            serialize(bad)
            assert False, 'serialized %r' % (bad,)
        except exc:
            pass
    print('errors ok')
