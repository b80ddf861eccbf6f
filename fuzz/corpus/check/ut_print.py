# print: sep, end, file= a Repy file object, and a bad file argument.
#pragma out a-b-c!
#pragma out 1 2.5 None [1, 'x']
#pragma out from file: 'x y\n'
#pragma out RepyArgumentError print
if callfunc == 'initialize':
    print('a', 'b', 'c', sep='-', end='!\n')
    print(1, 2.5, None, [1, 'x'])
    f = open('printed.txt', 'w')
    print('x', 'y', file=f)
    f.close()
    print('from file:', repr(open('printed.txt').read()))
    try:
        print('z', file=42)
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
