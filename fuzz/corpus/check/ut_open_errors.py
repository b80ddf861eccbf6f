# open(): bad names and modes, missing files, files in use, closed files.
#pragma out RepyArgumentError open: file name 'a/b' contains '/'
#pragma out RepyArgumentError open: file name '.hidden' starts with '.'
#pragma out RepyArgumentError open: mode 'rx'
#pragma out FileNotFoundError open: file 'missing.txt' does not exist
#pragma out also a builtin FileNotFoundError: True
#pragma out FileInUseError open: file 'data.txt' is already open
#pragma out FileClosedError file.readline: file 'data.txt' is closed
#pragma out close is idempotent
#pragma out TypeError file.read: size must be an int, not str
if callfunc == 'initialize':
    for name, mode in [('a/b', 'r'), ('.hidden', 'w'), ('data.txt', 'rx')]:
        try:
            open(name, mode)
        except RepyArgumentError as e:
            print('RepyArgumentError', e)
    try:
        open('missing.txt')
    except FileNotFoundError as e:
        print('FileNotFoundError', e)
        print('also a builtin FileNotFoundError:', isinstance(e, OSError) and isinstance(e, FileError))
    f = open('data.txt')
    try:
        open('data.txt', 'r')
    except FileInUseError as e:
        print('FileInUseError', e)
    f.close()
    try:
        f.readline()
    except FileClosedError as e:
        print('FileClosedError', e)
    f.close()
    print('close is idempotent')
    g = open('data.txt')
    try:
        g.read('3')
    except TypeError as e:
        print('TypeError', e)
    g.close()
