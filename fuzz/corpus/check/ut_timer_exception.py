# An exception in a timer callback ends the whole program: traceback naming the callback,
# status 1, no exit run.
#pragma out initialize done
#pragma error Traceback
#pragma error in callback
#pragma error KeyError: 'missing'
def callback():
    print({}['missing'])

if callfunc == 'initialize':
    settimer(0.05, callback, [])
    print('initialize done')
else:
    print('exit run must not happen')
