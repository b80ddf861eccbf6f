# examples/tutorial/locks.py
# Timers run at the same time. A lock makes the read-modify-write of a shared counter
# atomic; without it, increments can be lost.
lock = getlock()


def add_many(count):
    for i in range(count):
        lock.acquire()
        mycontext["counter"] = mycontext["counter"] + 1
        lock.release()


def add_many_with(count):
    for i in range(count):
        with lock:  # the same, released even if the body raises
            mycontext["counter"] = mycontext["counter"] + 1


if callfunc == "initialize":
    mycontext["counter"] = 0
    settimer(0, add_many, [5000])
    settimer(0, add_many_with, [5000])
    print("two timers are counting")
else:
    print("counter:", mycontext["counter"])
