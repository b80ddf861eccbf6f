//! VirtualNamespace, SafeDict and `_context` (repy-api.md §9).

mod common;

use common::{once, run_program};

#[test]
fn virtual_namespace_evaluates_checked_code_in_a_safedict() {
    let run = run_program(&once(
        "vn = VirtualNamespace(\"y = x * 2\\nprint('in vn', y)\", 'calc')\nctx = vn.evaluate({'x': 21})\nprint(ctx['y'], len(ctx), sorted(ctx.keys()), 'x' in ctx, repr(ctx))\nprint(vn.evaluate(ctx)['y'])\n",
    ));
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "in vn 42\n42 2 ['x', 'y'] True SafeDict({'x': 21, 'y': 42})\nin vn 42\n42\n", "{run:?}");
}

#[test]
fn unsafe_or_invalid_code_raises_code_unsafe_error_with_positions() {
    let run = run_program(&once(
        "for bad in ['import os', 'x.__class__', 'global q', 'def (:']:\n    try:\n        VirtualNamespace(bad, 'bad')\n    except CodeUnsafeError as e:\n        print(e)\n",
    ));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{run:?}");
    assert_eq!(lines[0], "VirtualNamespace: bad:1:8: no library 'os' was loaded with the program");
    assert_eq!(lines[1], "VirtualNamespace: bad:1:3: name '__class__' is not allowed (contains '__')");
    assert!(lines[2].contains("bad:1:1: 'global' is not allowed"), "{run:?}");
    assert!(lines[3].starts_with("VirtualNamespace: bad:1:") && lines[3].contains("syntax error"), "{run:?}");
}

#[test]
fn contexts_with_unsafe_keys_are_refused() {
    let run = run_program(&once(
        "vn = VirtualNamespace('y = 1')\nfor ctx in [{'__builtins__': {}}, {'_C__x': 1}, {'f_globals': 1}]:\n    try:\n        vn.evaluate(ctx)\n    except ContextUnsafeError as e:\n        print('refused', e)\ntry:\n    vn.evaluate({1: 2})\nexcept RepyArgumentError as e:\n    print(e)\ntry:\n    vn.evaluate([1])\nexcept RepyArgumentError as e:\n    print(e)\n",
    ));
    assert_eq!(run.stdout.matches("refused SafeDict: key").count(), 3, "{run:?}");
    assert!(run.stdout.contains("SafeDict: keys must be str, not int\n"), "{run:?}");
    assert!(run.stdout.contains("evaluate: context must be a dict or SafeDict\n"), "{run:?}");
}

#[test]
fn evaluated_code_sees_no_builtins_entry_and_no_api_unless_given() {
    let run = run_program(&once(
        "ctx = VirtualNamespace('x = 1').evaluate({})\nprint(list(ctx), len(ctx))\ntry:\n    VirtualNamespace('sleep(0)').evaluate({})\nexcept NameError:\n    print('no api')\nVirtualNamespace('sleep(0)\\nprint(len([1]))').evaluate({'sleep': sleep})\n",
    ));
    assert_eq!(run.stdout, "['x'] 1\nno api\n1\n", "{run:?}");
}

#[test]
fn safedict_behaves_like_a_dict_with_checked_keys() {
    let run = run_program(&once(
        "sd = SafeDict({'a': 1})\nsd['b'] = 2\nprint(sd == SafeDict({'a': 1, 'b': 2}), sd != SafeDict(), sd.get('c', 5), sd.setdefault('c', 3), sd.pop('a'), sorted(sd), sorted(sd.items()), sorted(sd.values()))\ndel sd['b']\nsd.update({'z': 0})\nprint(sorted(sd.copy().keys()))\ntry:\n    sd['__class__'] = 1\nexcept ContextUnsafeError:\n    print('unsafe key')\ntry:\n    class Sub(SafeDict):\n        pass\nexcept TypeError:\n    print('no subclass')\n",
    ));
    assert_eq!(run.stdout, "True True 5 3 1 ['b', 'c'] [('b', 2), ('c', 3)] [2, 3]\n['c', 'z']\nunsafe key\nno subclass\n", "{run:?}");
}

#[test]
fn context_is_the_programs_own_globals() {
    let run = run_program(&once(
        "_context['made'] = 7\nprint(made)\nx = 4\nVirtualNamespace('z = x + 1').evaluate(_context)\nprint(z, '__builtins__' in _context)\n",
    ));
    assert_eq!(run.stdout, "7\n5 False\n", "{run:?}");
}

#[test]
fn exceptions_propagate_with_the_namespace_name_in_tracebacks() {
    let run = run_program(&once("VirtualNamespace(\"def f():\\n    raise ValueError('in vn')\\nf()\", 'vncode').evaluate({})\n"));
    assert_eq!(run.status, Some(1), "{run:?}");
    assert!(run.stderr.contains("  File \"vncode\", line 2, in f\n    raise ValueError('in vn')\nValueError: in vn\n"), "{run:?}");
}

/// Seattle's SafeDict refuses attributes with a TypeError; entries are items only.
#[test]
fn setting_an_attribute_on_a_safedict_is_a_type_error() {
    let run = run_program(&once(
        "sd = SafeDict({'a': 1})\nfor target in [sd, _context]:\n    try:\n        target.a = 2\n    except TypeError as e:\n        print(e)\ntry:\n    del sd.a\nexcept TypeError:\n    print('no delete')\nprint(sd['a'])\n",
    ));
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        "SafeDict: attributes cannot be set or deleted ('a'); use d['a'] for an entry\n".repeat(2) + "no delete\n1\n",
        "{run:?}"
    );
}

/// `_context` holds itself; printing it shows the inner one as `SafeDict({...})` instead of
/// recursing until the stack is gone.
#[test]
fn printing_the_context_prints_it() {
    let run = run_program(&once("marker = 12345\nprint(_context)\nprint('after')\n"));
    assert_eq!(run.status, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("SafeDict({"), "{run:?}");
    assert!(run.stdout.contains("'marker': 12345"), "{run:?}");
    assert!(run.stdout.contains("'_context': SafeDict({...})"), "{run:?}");
    assert!(run.stdout.ends_with("\nafter\n"), "{run:?}");
}
