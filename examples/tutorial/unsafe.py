# examples/tutorial/unsafe.py
# This program fails the static safety check: nothing of it runs and the status is 3.
import os.path

print("never printed")
secret = ().__class__
