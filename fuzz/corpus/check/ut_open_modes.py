# open() in every mode and the file object's methods.
#pragma out w+: 'hello world'
#pragma out r: 'first line\n' ['second line\n']
#pragma out iteration: ['first line\n', 'second line\n']
#pragma out a: 'ab'
#pragma out r+: 'Xb'
#pragma out seek: 'b' '' 'Xb'
#pragma out gap: 5 '\x00\x00\x00'
#pragma out read(size): 'fi' 'r'
#pragma out with closed it: True
if callfunc == 'initialize':
    f = open('new.txt', 'w+')
    f.write('hello ')
    f.writelines(['wor', b'ld'])
    f.seek(0)
    print('w+:', repr(f.read()))
    f.close()

    f = open('data.txt', 'r')
    print('r:', repr(f.readline()), f.readlines())
    f.close()
    print('iteration:', [line for line in open('data.txt')])

    f = open('app.txt', 'a')
    f.write('a')
    f.close()
    f = open('app.txt', 'a+')
    f.write('b')
    f.seek(0)
    print('a:', repr(f.read()))
    f.close()

    f = open('app.txt', 'r+')
    f.write('X')
    f.flush()
    f.seek(0)
    print('r+:', repr(f.read()))
    f.seek(-1, 2)
    one = f.read()
    rest = f.read()
    f.seek(0)
    f.seek(0, 1)
    print('seek:', repr(one), repr(rest), repr(f.read()))
    f.close()

    f = open('gap.txt', 'w+')
    f.seek(3)
    f.write('yz')
    f.seek(0)
    data = f.read()
    print('gap:', len(data), repr(data[:3]))
    f.close()

    f = open('data.txt')
    print('read(size):', repr(f.read(2)), repr(f.read(1)))
    f.close()

    with open('data.txt') as f:
        f.read()
    try:
        f.read()
    except FileClosedError:
        print('with closed it:', True)
