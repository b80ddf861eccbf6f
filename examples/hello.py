# The smallest Repy program: it runs twice, once with callfunc == "initialize" and, when
# nothing is left to do, once more with callfunc == "exit".
if callfunc == "initialize":
    name = callargs[0] if callargs else "world"
    print("Hello, " + name + "!")
    mycontext["started"] = getruntime()
elif callfunc == "exit":
    print("Goodbye after %.2f seconds." % (getruntime() - mycontext["started"]))
