//! The identifier rule of repy-api.md §10.2, shared by the static check and the runtime
//! guards (getattr family, format fields, SafeDict keys).

/// Dunder names that only name ordinary protocol methods.
const ALLOWED_DUNDERS: &[&str] = &[
    "__init__",
    "__str__",
    "__repr__",
    "__len__",
    "__iter__",
    "__next__",
    "__reversed__",
    "__contains__",
    "__getitem__",
    "__setitem__",
    "__delitem__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__hash__",
    "__bool__",
    "__call__",
    "__enter__",
    "__exit__",
    "__int__",
    "__float__",
    "__index__",
    "__neg__",
    "__pos__",
    "__abs__",
    "__invert__",
];

/// Operators whose `__X__`, `__rX__` and `__iX__` forms are allowed.
const OPERATORS: &[&str] =
    &["add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow", "lshift", "rshift", "and", "or", "xor"];

/// Attribute families of frames, code objects, tracebacks, generators, coroutines, async
/// generators and legacy function/method internals.
const UNSAFE_PREFIXES: &[&str] = &["f_", "co_", "tb_", "gi_", "cr_", "ag_", "func_", "im_"];

fn is_allowed_dunder(name: &str) -> bool {
    if ALLOWED_DUNDERS.contains(&name) {
        return true;
    }
    let Some(inner) = name.strip_prefix("__").and_then(|n| n.strip_suffix("__")) else {
        return false;
    };
    let op =
        inner.strip_prefix('r').filter(|o| OPERATORS.contains(o)).or_else(|| inner.strip_prefix('i').filter(|o| OPERATORS.contains(o)));
    OPERATORS.contains(&inner) || op.is_some()
}

/// Whether `name` may be used as an identifier, attribute name or context key.
pub fn is_safe_identifier(name: &str) -> bool {
    unsafe_identifier_reason(name).is_none()
}

/// Why `name` is refused, or None if it is safe. Allocates only when refusing.
pub fn unsafe_identifier_reason(name: &str) -> Option<String> {
    if name.contains("__") {
        if is_allowed_dunder(name) {
            return None;
        }
        return Some(format!("'{name}' is not allowed (contains '__')"));
    }
    UNSAFE_PREFIXES.iter().find(|p| name.starts_with(*p)).map(|p| format!("'{name}' is not allowed (starts with '{p}')"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_and_operator_forms_pass() {
        for name in [
            "__init__",
            "__add__",
            "__radd__",
            "__iadd__",
            "__rmatmul__",
            "__ixor__",
            "__divmod__",
            "__rdivmod__",
            "__exit__",
            "x",
            "f",
            "co",
            "tb",
            "format",
            "_private",
            "a_b",
        ] {
            assert!(is_safe_identifier(name), "{name}");
        }
    }

    #[test]
    fn dunders_mangled_names_and_internal_prefixes_fail() {
        for name in [
            "__class__",
            "__globals__",
            "__builtins__",
            "__dict__",
            "_C__x",
            "a__b",
            "__idivmodx__",
            "__riadd__",
            "f_globals",
            "co_code",
            "tb_frame",
            "gi_frame",
            "cr_frame",
            "ag_frame",
            "func_globals",
            "im_self",
            "__",
        ] {
            assert!(!is_safe_identifier(name), "{name}");
        }
        assert_eq!(unsafe_identifier_reason("gi_frame").unwrap(), "'gi_frame' is not allowed (starts with 'gi_')");
    }
}
