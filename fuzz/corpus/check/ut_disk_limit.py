#pragma repy disk.restrictions
# Writing past diskused ends the vessel with status 4 before the write.
#pragma out wrote 10000 bytes
#pragma error repy: terminated: disk limit exceeded
if callfunc == 'initialize':
    f = open('big.txt', 'w')
    f.write('x' * 10000)
    print('wrote 10000 bytes')
    f.write('x' * 300000)
    print('never printed')
