# examples/tutorial/timers.py
# Timers call a function later, each in a thread of its own. canceltimer() stops one that
# has not started yet; sleep() pauses the calling thread only.


def tick(n):
    print("tick", n, "in", get_thread_name(), "at %.1f s" % getruntime())
    if n < 3:
        settimer(0.3, tick, [n + 1])  # a timer may start the next one


def never():
    print("this never runs")


if callfunc == "initialize":
    settimer(0.3, tick, [1])
    late = settimer(5, never, [])
    print("cancelled:", canceltimer(late))
    sleep(0.1)
    print("the main thread slept; the first tick is still to come")
else:
    print("no timer is left: exit run at %.1f s" % getruntime())
