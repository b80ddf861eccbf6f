# examples/tutorial/files.py
# Files live in the vessel directory only. Names are plain (a-z 0-9 . _ -) and data is a
# str with one character per byte.
if callfunc == "initialize":
    log = open("visits.txt", "a")  # created if missing, writes go to the end
    log.write("visit at %.3f\n" % getruntime())
    log.close()

    with open("visits.txt") as log:  # mode "r"
        visits = log.readlines()
    print("this vessel has been visited", len(visits), "time(s)")

    data = open("bytes.bin", "w+")
    data.write(bytes([0, 1, 2, 255]))
    data.seek(0)
    raw = data.read()
    data.close()
    print("read back", [ord(c) for c in raw])

    print("files:", listdir())
    removefile("bytes.bin")
    try:
        open("../escape.txt", "w")
    except RepyArgumentError as e:
        print("refused:", e)
