# VirtualNamespace and SafeDict: evaluation, unsafe code and keys, bad contexts.
#pragma out evaluated: 42
#pragma out own globals: 7
#pragma out CodeUnsafeError
#pragma out ContextUnsafeError
#pragma out RepyArgumentError evaluate
#pragma out SafeDict: 2 ['a', 'b']
if callfunc == 'initialize':
    vn = VirtualNamespace('result = x * 2', 'double')
    context = vn.evaluate({'x': 21})
    print('evaluated:', context['result'])
    VirtualNamespace('seven = 7').evaluate(_context)
    print('own globals:', seven)
    try:
        VirtualNamespace('import os', 'bad')
    except CodeUnsafeError as e:
        print('CodeUnsafeError', e)
    try:
        SafeDict({'__class__': 1})
    except ContextUnsafeError as e:
        print('ContextUnsafeError', e)
    try:
        vn.evaluate([1])
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    d = SafeDict({'a': 1})
    d['b'] = 2
    print('SafeDict:', len(d), sorted(d.keys()))
