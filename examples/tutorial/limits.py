# examples/tutorial/limits.py
# Run it with examples/tutorial/small.restrictions to meet each kind of limit.


def wait():
    sleep(1)


if callfunc == "initialize":
    # A rate (renewable resource): 10 random numbers a second, so 25 take about 1.5 s.
    start = getruntime()
    numbers = [randomfloat() for i in range(25)]
    print("25 random numbers took %.1f s" % (getruntime() - start))

    # A count (fungible resource): 4 events; this run holds one, so 3 timers fit.
    try:
        for i in range(10):
            settimer(0.5, wait, [])
    except ResourceExhaustedError as e:
        print("refused:", e)

    # A call rule: the restrictions file denies removefile.
    try:
        removefile("anything.txt")
    except ResourceForbiddenError as e:
        print("refused:", e)
