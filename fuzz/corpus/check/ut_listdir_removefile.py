# listdir() shows the files copied beside the test; removefile() and its errors.
#pragma out data.txt listed: True
#pragma out sorted: True
#pragma out created: True
#pragma out removed: False
#pragma out FileNotFoundError
#pragma out FileInUseError
#pragma out RepyArgumentError
if callfunc == 'initialize':
    names = listdir()
    print('data.txt listed:', 'data.txt' in names)
    print('sorted:', names == sorted(names))
    open('tmp.txt', 'w').close()
    print('created:', 'tmp.txt' in listdir())
    removefile('tmp.txt')
    print('removed:', 'tmp.txt' in listdir())
    try:
        removefile('tmp.txt')
    except FileNotFoundError as e:
        print('FileNotFoundError', e)
    f = open('data.txt')
    try:
        removefile('data.txt')
    except FileInUseError as e:
        print('FileInUseError', e)
    f.close()
    try:
        removefile('../x')
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
