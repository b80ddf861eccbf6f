//! The sandboxed VM in-process: the builtins whitelist, the removed-name stubs, the Repy
//! exception classes, the runtime guards and the traceback format.

use repy_interpreter::{
    program, sandbox,
    traceback::{format_exception, SourceRegistry},
    values,
    vm::{AsObject, VirtualMachine},
};

/// Runs `source` in a fresh sandbox; Ok(repr of global `result`) or Err(formatted traceback).
fn run(source: &str) -> Result<String, String> {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn({
            let source = source.to_owned();
            move || {
                let interpreter = sandbox::new_interpreter();
                interpreter.enter(|vm: &VirtualMachine| {
                    sandbox::restrict_builtins(vm).expect("sandbox builtins");
                    let sources = SourceRegistry::default();
                    sources.register("t.py", &source);
                    let code = program::compile(vm, &source, "t.py").expect("compiles");
                    let globals = vm.ctx.new_dict();
                    match program::run(vm, code, globals.clone()) {
                        Ok(()) => Ok(globals.get_item("result", vm).map(|r| r.repr(vm).unwrap().to_string()).unwrap_or_default()),
                        Err(exc) => Err(format_exception(vm, &exc, &sources)),
                    }
                })
            }
        })
        .unwrap()
        .join()
        .unwrap()
}

fn last_line(err: String) -> String {
    err.lines().last().unwrap_or_default().to_owned()
}

#[test]
fn ordinary_code_runs() {
    let src = "class A:\n    def __init__(self, x):\n        self.x = x\n    def __add__(self, o):\n        return A(self.x + o.x)\nresult = [(A(1) + A(2)).x, sorted({3, 1, 2}), f'{1+1:>3}', [i * i for i in range(4)]]\n";
    assert_eq!(run(src).unwrap(), "[3, [1, 2, 3], '  2', [0, 1, 4, 9]]");
}

#[test]
fn whitelisted_builtins_exist_and_others_do_not() {
    for name in sandbox::KEPT_BUILTINS {
        assert!(run(&format!("result = {name}")).is_ok(), "{name} should exist");
    }
    for name in [
        "open",
        "SystemExit",
        "KeyboardInterrupt",
        "ExceptionGroup",
        "BaseExceptionGroup",
        "StopAsyncIteration",
        "xrange",
        "unicode",
        "reduce",
    ] {
        let err = run(&format!("result = {name}")).unwrap_err();
        assert!(last_line(err).starts_with("NameError"), "{name} must not exist");
    }
}

#[test]
fn removed_builtins_raise_safety_violation_naming_themselves() {
    for name in sandbox::REMOVED_BUILTINS {
        let err = last_line(run(&format!("{name}()")).unwrap_err());
        assert_eq!(err, format!("SafetyViolationError: {name}: not available in the sandbox"));
    }
    assert_eq!(run("def eval(x):\n    return x * 2\nresult = eval(21)").unwrap(), "42");
}

#[test]
fn standard_exceptions_are_available() {
    assert_eq!(run("try:\n    [][1]\nexcept IndexError as e:\n    result = str(e)").unwrap(), "'list index out of range'");
    assert_eq!(run("result = issubclass(IOError, OSError) and issubclass(EnvironmentError, OSError)").unwrap(), "True");
}

#[test]
fn three_argument_type_is_refused_however_type_was_obtained() {
    for src in [
        "type('X', (), {})",
        "type(int)('X', (), {})",
        "t = type(type(1))\nt('X', (object,), {})",
        "class M(type):\n    pass\nM('X', (), {})",
        "class A:\n    B = type('B', (), {})",
        "def make():\n    return type('X', (), {})\nclass A:\n    x = make()",
    ] {
        let err = last_line(run(src).unwrap_err());
        assert!(err.starts_with("SafetyViolationError: type:"), "{src}: {err}");
    }
    assert_eq!(run("result = type(1) is int and type('x') is str").unwrap(), "True");
    assert_eq!(run("class A:\n    class B:\n        pass\nclass C(A.B):\n    pass\nresult = isinstance(C(), A.B)").unwrap(), "True");
}

#[test]
fn getattr_family_applies_the_identifier_rule() {
    for src in [
        "getattr(1, '__class__')",
        "getattr(1, '_' + '_class__')",
        "hasattr(1, '__cl' + 'ass__')",
        "setattr(1, '__x__', 2)",
        "delattr(1, '__dict__')",
        "getattr(len, 'f_' + 'globals', None)",
    ] {
        let err = last_line(run(src).unwrap_err());
        assert!(err.starts_with("SafetyViolationError:"), "{src}: {err}");
    }
    let err = last_line(run("class S(str):\n    pass\ngetattr(1, S('real'))").unwrap_err());
    assert!(err.starts_with("SafetyViolationError:") && err.contains("exact str"), "{err}");
    assert_eq!(run("class A:\n    pass\na = A()\nsetattr(a, 'x', 1)\nresult = getattr(a, 'x'), hasattr(a, 'y')").unwrap(), "(1, False)");
}

#[test]
fn format_strings_cannot_reach_dunder_attributes() {
    for src in [
        "'{0.__class__}'.format(1)",
        "'{x.__class__.__base__}'.format(x=1)",
        "'{0:{1.__class__}}'.format(1, 2)",
        "'{a.__class__}'.format_map({'a': 1})",
        "('{0.' + '__class__}').format(1)",
        "'{0.gi_frame}'.format(1)",
    ] {
        let err = last_line(run(src).unwrap_err());
        assert!(err.starts_with("SafetyViolationError:"), "{src}: {err}");
    }
    assert_eq!(run("class P:\n    x = 3\nresult = '{0.x}-{1[0]}-{k}'.format(P(), [7], k=2)").unwrap(), "'3-7-2'");
}

#[test]
fn repy_exceptions_have_the_specified_bases() {
    let src = "result = [issubclass(RepyArgumentError, (TypeError)), issubclass(RepyArgumentError, ValueError), issubclass(FileNotFoundError, OSError), issubclass(TimeoutError, RepyError), issubclass(SocketClosedLocal, SocketClosedError), issubclass(LockDoubleReleaseError, RuntimeError), issubclass(CodeUnsafeError, ValueError)]";
    assert_eq!(run(src).unwrap(), "[True, True, True, True, True, True, True]");
}

#[test]
fn tracebacks_show_only_program_frames_with_source_lines() {
    let err = run("def f():\n    raise ValueError('x')\nf()\n").unwrap_err();
    assert_eq!(
        err,
        "Traceback (most recent call last):\n  File \"t.py\", line 3, in <module>\n    f()\n  File \"t.py\", line 2, in f\n    raise ValueError('x')\nValueError: x\n"
    );
}

#[test]
fn implicit_imports_fail_with_lookup_error() {
    let err = last_line(run("'x'.encode('idna')").unwrap_err());
    assert!(err.starts_with("LookupError"), "{err}");
    assert_eq!(run("result = 'é'.encode('utf-8').decode('latin-1')").unwrap(), "'Ã©'");
}

#[test]
fn byte_data_and_deep_copy() {
    let interpreter = sandbox::new_interpreter();
    interpreter.enter(|vm| {
        let s: repy_interpreter::vm::PyObjectRef = vm.ctx.new_str("a\u{ff}").into();
        assert_eq!(values::byte_data(&s, vm).unwrap(), vec![b'a', 0xff]);
        let bad: repy_interpreter::vm::PyObjectRef = vm.ctx.new_str("ab\u{100}").into();
        assert!(values::byte_data(&bad, vm).unwrap_err().contains("index 2"));
        let inner = vm.ctx.new_list(vec![vm.ctx.new_int(1).into()]);
        let outer: repy_interpreter::vm::PyObjectRef = vm.ctx.new_list(vec![inner.clone().into(), inner.clone().into()]).into();
        let copy = values::deep_copy(vm, &outer).unwrap();
        inner.borrow_vec_mut().push(vm.ctx.new_int(2).into());
        assert_eq!(copy.repr(vm).unwrap().to_string(), "[[1], [1]]");
        // shared structure stays shared in the copy
        let items = copy.downcast_ref::<repy_interpreter::vm::builtins::PyList>().unwrap().borrow_vec().to_vec();
        assert!(items[0].is(&items[1]));
        assert_eq!(values::byte_str(vm, &[0x41, 0xe9]).repr(vm).unwrap().to_string(), "'Aé'");
        assert!(!values::is_exact::<repy_interpreter::vm::builtins::PyInt>(&vm.ctx.new_bool(true).into(), vm));
    });
}

#[test]
fn safedict_refuses_internal_values() {
    let interpreter = sandbox::new_interpreter();
    interpreter.enter(|vm| {
        sandbox::restrict_builtins(vm).unwrap();
        use repy_interpreter::safedict::check_value;
        let module: repy_interpreter::vm::PyObjectRef = vm.builtins.clone().into();
        let err = check_value(vm, &module).unwrap_err();
        assert_eq!(err.class().name().to_string(), "ContextUnsafeError");
        let plain: repy_interpreter::vm::PyObjectRef = vm.ctx.new_int(1).into();
        assert!(check_value(vm, &plain).is_ok());
    });
}
