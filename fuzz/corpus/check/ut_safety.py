# Runtime guards: removed builtins, getattr with unsafe names, three-argument type(),
# format strings reaching dunders.
#pragma out SafetyViolationError eval: not available in the sandbox
#pragma out SafetyViolationError getattr
#pragma out SafetyViolationError type
#pragma out SafetyViolationError format
#pragma out own eval works: 3
if callfunc == 'initialize':
    try:
        eval('1 + 1')
    except SafetyViolationError as e:
        print('SafetyViolationError', e)
    try:
        getattr(1, '_' + '_class_' + '_')
    except SafetyViolationError as e:
        print('SafetyViolationError getattr', e)
    try:
        type('X', (object,), {})
    except SafetyViolationError as e:
        print('SafetyViolationError type', e)
    try:
        ('{0._' + '_class_' + '_}').format(1)
    except SafetyViolationError as e:
        print('SafetyViolationError format', e)

    def eval(text):
        return len(text)
    print('own eval works:', eval('abc'))
