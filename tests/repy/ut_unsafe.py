# A static safety violation: nothing runs, one FILE:LINE:COL line per violation (exit 3).
#pragma error ut_unsafe.py:4:
#pragma error ut_unsafe.py:5:
import os.path
x = ().__class__
print('never printed')
