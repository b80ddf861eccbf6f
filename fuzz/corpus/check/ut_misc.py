# randomfloat(), get_thread_name(), getruntime() and their types.
#pragma out random in [0, 1): True
#pragma out different: True
#pragma out main: MainThread
#pragma out runtime is a float: True
#pragma out timer: _EVENT:Thread:
def name_of_timer():
    print('timer:', get_thread_name())

if callfunc == 'initialize':
    values = [randomfloat() for i in range(100)]
    print('random in [0, 1):', all(0.0 <= v < 1.0 for v in values))
    print('different:', len(set(values)) > 90)
    print('main:', get_thread_name())
    print('runtime is a float:', type(getruntime()) is float)
    settimer(0, name_of_timer, [])
