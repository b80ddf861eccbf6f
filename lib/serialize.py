"""serialize: plain values to text and back.

    from serialize import serialize, deserialize
    text = serialize({'peers': [('10.0.0.1', 63100)], 'load': 0.25})
    value = deserialize(text)          # the same value again

Values: None, bool, int (any size), float (exact, inf and nan too), str (any characters),
bytes, and lists, tuples and dicts of these, nested up to MAX_DEPTH levels. The text has one
character per byte (every character below 256), so it can be sent as it is with sendmess or
socket.send.

Format: each value is a tag, and for the tags that carry data a length in decimal, a colon
and that many characters, so nothing needs escaping and a reader never guesses:
    N  None          T, F  True, False
    i<n>:<hex>       int, in hexadecimal with an optional '-' (no digit limit)
    f<n>:<repr>      float, as repr() writes it
    s<n>:<utf-8>     str, its UTF-8 bytes (lone surrogates allowed)
    b<n>:<bytes>     bytes
    l<n>:  t<n>:     list, tuple of n items that follow
    d<n>:            dict of n key, value pairs that follow
e.g. serialize([1, 'ab', None]) == 'l3:i1:1s2:abN'.
"""

MAX_DEPTH = 100


def serialize(value):
    """The text of value. Raises TypeError for a type not listed above and ValueError for
    nesting deeper than MAX_DEPTH (a list that contains itself, for instance)."""
    parts = []
    _put(value, parts, 0)
    return ''.join(parts)


def _put(value, parts, depth):
    if depth > MAX_DEPTH:
        raise ValueError('serialize: nested deeper than %d levels' % MAX_DEPTH)
    kind = type(value)
    if value is None:
        parts.append('N')
    elif kind is bool:
        parts.append('T' if value else 'F')
    elif kind is int:
        _put_data(parts, 'i', '%x' % value)
    elif kind is float:
        _put_data(parts, 'f', repr(value))
    elif kind is str:
        _put_data(parts, 's', value.encode('utf-8', 'surrogatepass').decode('latin-1'))
    elif kind is bytes:
        _put_data(parts, 'b', value.decode('latin-1'))
    elif kind is list or kind is tuple:
        parts.append('%s%d:' % ('l' if kind is list else 't', len(value)))
        for item in value:
            _put(item, parts, depth + 1)
    elif kind is dict:
        parts.append('d%d:' % len(value))
        for key, item in value.items():
            _put(key, parts, depth + 1)
            _put(item, parts, depth + 1)
    else:
        raise TypeError('serialize: cannot serialize a value of %r' % kind)


def _put_data(parts, tag, data):
    parts.append('%s%d:' % (tag, len(data)))
    parts.append(data)


def deserialize(text):
    """The value that serialize() turned into text. Raises ValueError, saying what is wrong
    and where, for anything else: bad tags or lengths, truncated or trailing text, invalid
    numbers or UTF-8, unhashable dict keys, nesting deeper than MAX_DEPTH."""
    if type(text) is bytes:
        text = text.decode('latin-1')
    if type(text) is not str:
        raise ValueError('deserialize: expected a str, not %r' % type(text))
    value, end = _get(text, 0, 0)
    if end != len(text):
        raise ValueError('deserialize: %d unexpected characters after the value at offset %d'
                         % (len(text) - end, end))
    return value


def _get(text, pos, depth):
    """(value, position after it) for the value starting at pos."""
    if depth > MAX_DEPTH:
        raise ValueError('deserialize: nested deeper than %d levels at offset %d' % (MAX_DEPTH, pos))
    if pos >= len(text):
        raise ValueError('deserialize: text ends at offset %d where a value should start' % pos)
    tag = text[pos]
    if tag == 'N':
        return None, pos + 1
    if tag == 'T':
        return True, pos + 1
    if tag == 'F':
        return False, pos + 1
    if tag not in 'ifsbltd':
        raise ValueError('deserialize: unknown tag %r at offset %d' % (tag, pos))
    count, start = _length(text, pos)
    if tag in 'ltd':
        # Every value takes at least one character: a count larger than the rest is wrong.
        if count > len(text) - start:
            raise ValueError('deserialize: %d items announced at offset %d, but only %d characters follow'
                             % (count, pos, len(text) - start))
        return _get_container(text, tag, count, start, depth)
    end = start + count
    if end > len(text):
        raise ValueError('deserialize: %d characters announced at offset %d, but only %d follow'
                         % (count, pos, len(text) - start))
    data = text[start:end]
    if tag == 'i':
        digits = data[1:] if data.startswith('-') else data
        if digits == '' or digits.strip('0123456789abcdef') != '':
            raise ValueError('deserialize: bad int %r at offset %d' % (data, pos))
        return int(data, 16), end
    if tag == 'f':
        if data.strip('0123456789.e+-infa') != '' or data == '':
            raise ValueError('deserialize: bad float %r at offset %d' % (data, pos))
        try:
            return float(data), end
        except ValueError:
            raise ValueError('deserialize: bad float %r at offset %d' % (data, pos))
    if tag == 'b':
        return data.encode('latin-1'), end
    try:
        return data.encode('latin-1').decode('utf-8', 'surrogatepass'), end
    except UnicodeError:
        raise ValueError('deserialize: bad UTF-8 in the str at offset %d' % pos)


def _length(text, pos):
    """The decimal length after the tag at pos, and the position after its colon."""
    colon = text.find(':', pos + 1, pos + 22)
    digits = text[pos + 1:colon]
    if colon < 0 or digits == '' or digits.strip('0123456789') != '':
        raise ValueError('deserialize: tag %r at offset %d is not followed by a length and a colon'
                         % (text[pos], pos))
    return int(digits), colon + 1


def _get_container(text, tag, count, pos, depth):
    items = []
    for _ in range(count * 2 if tag == 'd' else count):
        item, pos = _get(text, pos, depth + 1)
        items.append(item)
    if tag == 'l':
        return items, pos
    if tag == 't':
        return tuple(items), pos
    result = {}
    for index in range(0, len(items), 2):
        try:
            result[items[index]] = items[index + 1]
        except TypeError:
            raise ValueError('deserialize: unhashable dict key %r in the dict ending at offset %d'
                             % (items[index], pos))
    return result, pos
