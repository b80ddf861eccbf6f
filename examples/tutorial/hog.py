# examples/tutorial/hog.py
# Asking for more memory than the vessel has ends it at once with status 4.
if callfunc == "initialize":
    print("asking for 10 GB")
    blob = "x" * (10 * 1000 * 1000 * 1000)
    print("never printed")
