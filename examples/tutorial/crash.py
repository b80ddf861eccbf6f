# examples/tutorial/crash.py
# An exception nobody catches: a traceback on stderr and exit status 1.
def average(values):
    return sum(values) / len(values)


if callfunc == "initialize":
    print("average of [1, 2]:", average([1, 2]))
    print("average of []:", average([]))
