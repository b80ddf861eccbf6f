# examples/tutorial/errors.py
# API errors are exceptions: catch the ones you expect. Their messages name the function
# and the culprit.
if callfunc == "initialize":
    try:
        open("missing.txt")
    except FileNotFoundError as e:
        print("FileNotFoundError:", e)

    try:
        sleep("1")
    except RepyArgumentError as e:
        print("RepyArgumentError:", e)

    try:
        recvmess("127.0.0.1", 80, print)
    except ResourceForbiddenError as e:
        print("ResourceForbiddenError:", e)

    lock = getlock()
    try:
        lock.release()
    except LockDoubleReleaseError as e:
        print("LockDoubleReleaseError:", e)

    try:
        VirtualNamespace("import os", "snippet")
    except CodeUnsafeError as e:
        print("CodeUnsafeError:", e)

    # Every API error is a RepyError, so one handler can catch them all.
    try:
        removefile("no such file")
    except RepyError as e:
        print("RepyError:", e)
