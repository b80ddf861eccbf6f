#pragma repy memory.restrictions
# A huge allocation ends the vessel with status 4 before it is made.
#pragma out allocating
#pragma error repy: terminated: memory limit exceeded (limit 20000000 bytes)
if callfunc == 'initialize':
    print('allocating')
    x = 'a' * 10**9
    print('never printed')
