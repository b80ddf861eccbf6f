# examples/tutorial/first.py
# A Repy program runs twice: first with callfunc == "initialize", then, once nothing is
# left to do (no timer, no listener), with callfunc == "exit".
if callfunc == "initialize":
    who = callargs[0] if callargs else "world"
    print("Hello, " + who + "! This is the initialize run.")
    mycontext["greeted"] = who
else:
    print("Goodbye, " + mycontext["greeted"] + ". This is the " + callfunc + " run.")
