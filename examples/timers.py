# Timers run concurrently, each in its own thread; a lock protects shared state.
lock = getlock()

def tick(n):
    with lock:
        mycontext["ticks"].append(n)
    print(get_thread_name(), "tick", n)

if callfunc == "initialize":
    mycontext["ticks"] = []
    for i in range(3):
        settimer(0.1 * (i + 1), tick, [i])
    late = settimer(10, tick, [99])
    print("cancelled the late timer:", canceltimer(late))
else:
    print("ticks seen:", sorted(mycontext["ticks"]))
