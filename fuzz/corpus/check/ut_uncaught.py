# An uncaught exception: traceback on stderr naming the file and line, exit status 1.
#pragma out started
#pragma error Traceback
#pragma error ut_uncaught.py", line 10
#pragma error ZeroDivisionError
def divide(a, b):
    return a / b

print('started')
divide(1, 0)
