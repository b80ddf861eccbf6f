#pragma repy deny.restrictions
# Call rules and fungible limits from a restrictions file.
#pragma out ResourceForbiddenError sleep: denied by restrictions line
#pragma out sleep(0.1) allowed
#pragma out ResourceExhaustedError settimer: events limit reached (3 of 3 in use)
#pragma out ResourceForbiddenError removefile
#pragma out ResourceExhaustedError open: filesopened limit reached (2 of 2 in use)
#pragma out ResourceForbiddenError randomfloat: the random limit is 0
def wait():
    sleep(0.1)

if callfunc == 'initialize':
    try:
        sleep(0.5)
    except ResourceForbiddenError as e:
        print('ResourceForbiddenError', e)
    sleep(0.1)
    print('sleep(0.1) allowed')
    try:
        for i in range(5):
            settimer(0.5, wait, [])
    except ResourceExhaustedError as e:
        print('ResourceExhaustedError', e)
    try:
        removefile('data.txt')
    except ResourceForbiddenError as e:
        print('ResourceForbiddenError', e)
    kept = [open('a.txt', 'w'), open('b.txt', 'w')]
    try:
        open('c.txt', 'w')
    except ResourceExhaustedError as e:
        print('ResourceExhaustedError', e)
    try:
        randomfloat()
    except ResourceForbiddenError as e:
        print('ResourceForbiddenError', e)
