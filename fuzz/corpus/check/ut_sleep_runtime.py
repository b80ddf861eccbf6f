# sleep() waits at least the time asked; getruntime() is monotonic.
#pragma out slept long enough: True
#pragma out negative sleep returns: True
#pragma out RepyArgumentError sleep
if callfunc == 'initialize':
    start = getruntime()
    sleep(0.2)
    print('slept long enough:', getruntime() - start >= 0.2)
    sleep(-1)
    print('negative sleep returns:', type(getruntime()) is float)
    try:
        sleep('1')
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
