# exitall() ends the program at once: no exit run, pending timers never fire.
#pragma out before
def late():
    print('timer fired')

if callfunc == 'initialize':
    settimer(5, late, [])
    print('before')
    try:
        exitall()
    finally:
        print('finally must not run')
else:
    print('exit run must not run')
