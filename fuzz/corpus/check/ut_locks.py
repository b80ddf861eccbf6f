# getlock(): blocking and non-blocking acquire, with, double release, shared by timers.
#pragma out acquire: True
#pragma out non-blocking while held: False
#pragma out LockDoubleReleaseError
#pragma out also a RuntimeError: True
#pragma out with: True
#pragma out counter: 20
lock = getlock()

def add():
    for i in range(10):
        with lock:
            mycontext['n'] = mycontext['n'] + 1

if callfunc == 'initialize':
    print('acquire:', lock.acquire())
    print('non-blocking while held:', lock.acquire(False))
    lock.release()
    try:
        lock.release()
    except LockDoubleReleaseError as e:
        print('LockDoubleReleaseError', e)
        print('also a RuntimeError:', isinstance(e, RuntimeError))
    with lock:
        print('with:', not lock.acquire(blocking=False))
    mycontext['n'] = 0
    settimer(0, add, [])
    settimer(0, add, [])
else:
    print('counter:', mycontext['n'])
