# settimer() and canceltimer(): callbacks with arguments, cancelling, errors.
#pragma out cancel before start: True
#pragma out cancel again: False
#pragma out RepyArgumentError settimer
#pragma out RepyArgumentError canceltimer
#pragma out fired 1 2
#pragma out exit run: ['fired']
def fired(a, b):
    print('fired', a, b)
    mycontext['log'].append('fired')

def never():
    print('never')

if callfunc == 'initialize':
    mycontext['log'] = []
    t = settimer(30, never, [])
    print('cancel before start:', canceltimer(t))
    print('cancel again:', canceltimer(t))
    try:
        settimer('soon', never, [])
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    try:
        canceltimer(42)
    except RepyArgumentError as e:
        print('RepyArgumentError', e)
    settimer(0.1, fired, (1, 2))
else:
    print('exit run:', mycontext['log'])
